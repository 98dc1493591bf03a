"""Decisions in the browser: the reviewing unit's account decides by the mail rules, with the same events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers import SASAC, Tree, file_registration

from workflow import DecisionOutcome, FilingStatus, ReviewDecision, Workflow

APPROVE, RETURN = ReviewDecision.APPROVE, ReviewDecision.RETURN


def file_c(wf: Workflow, t: Tree) -> str:
    """C's filing: reviewed by B (level 1), A, G, then SASAC."""
    outcome = file_registration(wf, t.c, t.c, "测试四级公司", 4, t.b)
    assert outcome.state == FilingStatus.IN_REVIEW, outcome.findings
    return outcome.filing_id


def web(
    wf: Workflow, fid: str, username: str, decision: ReviewDecision = APPROVE, opinion: str = "同意", level: int = 1
) -> tuple[DecisionOutcome, list[Any]]:
    """One decision from a page showing (round 1, level); the outcome and the events it recorded."""
    before = wf.ledger.size()
    outcome = wf.decide_as_account(fid, round=1, level=level, username=username, decision=decision, opinion=opinion)
    return outcome, list(wf.ledger.events(after_seq=before))


def test_approval_in_the_portal_records_the_mail_events_with_channel_web(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    outcome, events = web(wf, fid, tree.b.lower(), opinion=" 材料齐全 ")  # the account name as typed at login
    assert outcome.applied and outcome.next_unit == tree.a and outcome.state == FilingStatus.IN_REVIEW
    assert [e.kind for e in events] == ["review.decided", "review.requested"]
    decided = events[0].payload
    assert decided["channel"] == "web" and decided["reviewer"] == tree.b and decided["unit"] == tree.b
    assert decided["opinion"] == "材料齐全" and decided["mail_blob"] == "" and events[0].actor == tree.b
    assert events[1].payload["unit"] == tree.a and events[1].payload["reason"] == "approved_below"
    # and so on up the chain, by mail or by page alike, until SASAC's account approves
    token = wf.review_token(fid, 1, 2, "sh@a.cn")
    assert wf.decide(token, "sh@a.cn", APPROVE, "同意").applied
    assert web(wf, fid, tree.g, level=3)[0].applied
    outcome, events = web(wf, fid, SASAC, level=4)
    assert outcome.applied and outcome.state == FilingStatus.APPROVED
    assert [e.kind for e in events] == ["review.decided", "filing.approved"]
    view = wf.filing(fid)
    assert view is not None and [d.reviewer for d in view.decisions] == [tree.b, "sh@a.cn", tree.g, SASAC]


def test_return_in_the_portal_needs_an_opinion_and_then_returns_the_filing(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    outcome, events = web(wf, fid, tree.b, RETURN, "   ")
    assert not outcome.applied and outcome.code == "missing-opinion" and "审核意见" in outcome.reason_zh
    assert events == [], "a form error is shown on the page, not recorded"
    outcome, events = web(wf, fid, tree.b, RETURN, "缺少章程")
    assert outcome.applied and outcome.state == FilingStatus.RETURNED
    assert [e.kind for e in events] == ["review.decided", "filing.returned"]
    assert events[1].payload["opinion"] == "缺少章程" and events[1].payload["by"] == tree.b


def test_only_the_unit_asked_for_the_step_may_decide_it(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    for outsider in (tree.a, tree.d, tree.c):  # the next reviewer, an unrelated unit, the filer itself
        outcome, events = web(wf, fid, outsider)
        assert not outcome.applied and outcome.code == "not-reviewer", outsider
        assert "不是" in outcome.reason_zh and "审核单位" in outcome.reason_zh
        (refused,) = events
        assert refused.kind == "review.refused" and refused.payload["channel"] == "web"
        assert refused.payload["sender"] == outsider and refused.payload["token"] == f"{fid.lower()}-r1-l1"
    assert wf.filing(fid).level == 1  # type: ignore[union-attr]


def test_a_second_click_or_a_stale_page_is_refused_with_who_decided_and_when(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    assert web(wf, fid, tree.b)[0].applied
    outcome, events = web(wf, fid, tree.b, RETURN, "再看看")
    assert not outcome.applied and outcome.code == "already-decided"
    assert outcome.decided_by == tree.b and outcome.decided_at and tree.b in outcome.reason_zh
    assert "本次操作不予处理" in outcome.reason_zh
    (refused,) = events
    assert refused.payload["channel"] == "web" and refused.payload["decided_by"] == tree.b
    assert wf.filing(fid).level == 2  # type: ignore[union-attr]


def test_a_step_decided_by_mail_is_refused_in_the_portal_and_the_other_way_round(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    assert wf.decide(wf.review_token(fid, 1, 1, "fu@b.cn"), "fu@b.cn", APPROVE, "同意").applied
    outcome, events = web(wf, fid, tree.b)
    assert outcome.code == "already-decided" and outcome.decided_by == "fu@b.cn" and "fu@b.cn" in outcome.reason_zh
    assert events[0].payload["decided_at"] == outcome.decided_at
    assert web(wf, fid, tree.a, level=2)[0].applied
    refused = wf.decide(wf.review_token(fid, 1, 2, "sh@a.cn"), "sh@a.cn", RETURN, "不同意")
    assert refused.code == "already-decided" and refused.decided_by == tree.a


def test_restarted_and_withdrawn_steps_are_refused(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    # C moves under D: its filing restarts at level 1, now asked of D; B's open page is stale
    wf.units.move(tree.c, tree.d)
    outcome, events = web(wf, fid, tree.b)
    assert outcome.code == "stale-round" and "其他单位" in outcome.reason_zh
    assert events[0].payload["channel"] == "web"
    assert web(wf, fid, tree.d)[0].applied
    wf.withdraw(fid, reason="填报有误")
    outcome, events = web(wf, fid, tree.g, level=2)
    assert outcome.code == "withdrawn" and "撤回" in outcome.reason_zh and events[0].payload["channel"] == "web"


def test_unknown_filings_and_steps_only_come_back(wf: Workflow, tree: Tree) -> None:
    fid = file_c(wf, tree)
    for filing_id, level in (("CQ2026-999999", 1), (fid, 0), (fid, 10**9)):
        outcome, events = web(wf, filing_id, tree.b, level=level)
        assert not outcome.applied and outcome.code == "unknown-filing", (filing_id, level)
        assert events == [], "nothing was attempted on any filing: nothing is recorded"


def test_the_outbox_mails_nothing_for_refusals_in_the_portal(wf: Workflow, tree: Tree, tmp_path: Path) -> None:
    """The page shows the reason; a mail to the account name would go nowhere, and must not be tried."""
    from outbox import MaildirDelivery, Outbox, OutboxConfig

    fid = file_c(wf, tree)
    assert web(wf, fid, tree.b)[0].applied
    assert web(wf, fid, tree.b)[0].code == "already-decided"
    assert web(wf, fid, tree.d, level=2)[0].code == "not-reviewer"
    box = Outbox(wf.ledger, wf, tmp_path / "outbox", OutboxConfig(), transport=MaildirDelivery(tmp_path / "maildir"))
    try:
        box.dispatch_pending()
        purposes = [info.purpose for info in box.list()]
    finally:
        box.close()
    assert "review-refused" not in purposes
    assert purposes.count("review-request") >= 2  # the mail side of the same events still goes out
