"""The review request compares the enterprise with its last approved registration, and says which one that was.

The filing-description fields (登记类型, 登记情形, 产权登记形式, 数据时点, 经济行为日期, 批准文号) differ from
any earlier filing by nature: listing them as "changes" buried the one change a reviewer must judge.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from pathlib import Path

from flow_fixtures import GROUP, GROUP_NAME, SUB, SUB_NAME, Flow, delivered, text_of
from support.registrations import document_rows, registration_bundle, registration_values, sole_investor

from validation.check import check_bundle
from workflow import ReviewDecision


def _requests(data: Path, filing_id: str) -> list[EmailMessage]:
    return [mail for mail in delivered(data, "review-request") if filing_id in str(mail["Subject"])]


def _text(mail: EmailMessage) -> str:
    return text_of(mail).replace("\r\n", "\n")


def _approve(f: Flow, filing_id: str) -> None:
    for _ in range(3):
        view = f.wf.filing(filing_id)
        assert view is not None
        if view.is_approved:
            return
        reviewer = view.reviewers[0]
        token = f.wf.review_token(filing_id, view.round, view.level, reviewer)
        assert f.wf.decide(token, reviewer, ReviewDecision.APPROVE, "同意。").applied
    raise AssertionError("not approved")


def test_change_filing_is_compared_with_the_named_approved_registration(f: Flow) -> None:
    box = f.outbox()
    try:
        first = f.file()  # 占有产权登记, 经济行为日期 2025-03-01
        _approve(f, first.filing_id)
        values = registration_values(SUB, SUB_NAME, 2, GROUP, capital=2500, act_date=dt.date(2025, 11, 3))
        values |= {"reg_type": "变动产权登记", "reg_situation": "注册资本变动", "approval_ref": "渝新集团〔2025〕45号"}
        values.pop("is_biz_registered")
        bundle = registration_bundle(values, sole_investor(GROUP, 2, 2500, name=GROUP_NAME), document_rows())
        result = check_bundle(bundle, extra_rules=f.wf.ledger_rules(SUB))
        assert not [x for x in result.findings if x.is_error], result.findings
        second = f.wf.submit(
            "item-change", filer=SUB, channel="dropbox", reply_to="", bundle=bundle, check_result=result
        )
        assert second.accepted
        box.dispatch_pending()
        box.send_pending()
    finally:
        box.close()
    text = _text(_requests(f.data, second.filing_id)[0])
    changes = text.split("相比的变化：", 1)[1].split("材料：", 1)[0]
    assert f"对比的是登记 {first.filing_id}：经济行为日期 2025-03-01" in changes
    assert "- 注册资本（万元）：1000 → 2500" in changes
    for label in ("登记类型", "登记情形", "经济行为日期", "批准文号", "是否已办工商", "数据时点"):
        assert f"- {label}" not in changes, label
    assert "经济行为日期：2025-11-03" in text  # the summary names the period by what it is
    assert "数据时点" not in text.split("相比的变化：", 1)[0]
