"""Every mail template rendered with fixed data and compared with its reviewed snapshot.

The snapshots under snapshots/ are the specification of what people receive. A missing one fails
the test. To record or change one on purpose: CHANQUAN_UPDATE_SNAPSHOTS=1 pytest tests/outbox, then
read the diff.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from outbox_testing import FIXED, composer

from outbox.compose import Composer, MailSpec

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE_SNAPSHOTS = "CHANQUAN_UPDATE_SNAPSHOTS"
TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "mail"
FILING = "CQ2026-000001"
REPLY = "review+cq2026-000001-r1-l1-abcdefghijklmnop@chanquan.test"
UNIT = {
    "unit_name": "重庆渝新置业有限公司",
    "unit_code": "MA5U00028",
    "period": "2025-12-31",
    "period_label": "经济行为日期",
    "round": 1,
}


def _rows(items: list[dict[str, Any]], keys: list[str]) -> list[dict[str, Any]]:
    return [{**item, "row": [item[k] for k in keys]} for item in items]


CONTEXTS: dict[str, dict[str, Any]] = {
    "receipt": {
        **UNIT,
        "original_name": "2025年度产权登记-渝新置业.zip",
        "workbook_name": "产权登记表（2025年度）.xlsx",
        "received_at": FIXED,
        "channel_label": "上传目录",
        "registration_kind": "占有产权登记",
        "files": _rows(
            [{"name": "产权登记表（2025年度）.xlsx", "size": "38 KB"}, {"name": "申请文件.pdf", "size": "1.2 MB"}],
            ["name", "size"],
        ),
    },
    "error_report": {
        **UNIT,
        "original_name": "2025年度产权登记-渝新置业.zip",
        "workbook_name": "产权登记表（2025年度）.xlsx",
        "received_at": FIXED,
        "channel_label": "上传目录",
        "errors": _rows(
            [
                {"n": 1, "where": "基本信息!C5", "message": "统一社会信用代码校验位错误，应为 0"},
                {"n": 2, "where": "出资人情况!E8", "message": "出资比例合计为 90.00%，应为 100%"},
            ],
            ["n", "where", "message"],
        ),
        "warnings": _rows(
            [{"n": 1, "where": "基本信息!C20", "message": "联系电话格式可能有误"}], ["n", "where", "message"]
        ),
        "annotated_name": f"{FILING}_错误标注.xlsx",
    },
    "intake_rejected": {
        "received_at": FIXED,
        "channel_label": "电子邮件",
        "original_name": "登记材料.rar",
        "code": "bundle-unreadable",
        "message": "压缩包“登记材料.rar”无法打开：只接受 .zip 压缩包、单个 .xlsx 文件或文件夹。",
    },
    "review_request": {
        **UNIT,
        "reviewer_unit_name": "重庆渝新产业投资集团有限公司",
        "original_name": "产权登记表.xlsx、营业执照.pdf",
        "workbook_name": "产权登记表.xlsx",
        "summary": [("企业名称", "重庆渝新置业有限公司"), ("登记类型", "变动产权登记"), ("注册资本", "5000.0000")],
        "has_previous": True,
        "previous": {
            "filing_id": "CQ2025-000107",
            "period": "2012-06-30",
            "period_label": "数据时点",
            "approved_at": FIXED,
        },
        "changes": _rows(
            [
                {"label": "注册资本", "old": "3000.0000", "new": "5000.0000"},
                {"label": "出资人“重庆渝新产业投资集团有限公司” 出资比例", "old": "100.00", "new": "60.00"},
            ],
            ["label", "old", "new"],
        ),
        "files": _rows(
            [
                {"name": f"{FILING}_登记表.xlsx", "size": "38 KB", "attached": True, "state": "已附上"},
                {"name": "营业执照.pdf", "size": "12.5 MB", "attached": False, "state": "未附上"},
            ],
            ["name", "size", "state"],
        ),
        "attach_limit": "10.0 MB",
        "reply_address": REPLY,
    },
    "reminder": {
        **UNIT,
        "reviewer_unit_name": "重庆渝新产业投资集团有限公司",
        "requested_at": datetime(2026, 2, 20, 2, 0, tzinfo=UTC),
        "waiting_days": 10,
        "number": 2,
        "copied_unit_name": "重庆市国资委",
        "reply_address": REPLY,
    },
    "level_approved": {
        **UNIT,
        "decided_at": FIXED,
        "reviewer_unit_name": "重庆渝新产业投资集团有限公司",
        "next_unit_name": "重庆市国资委",
        "opinion": "同意，请市国资委审核。",
    },
    "returned": {
        **UNIT,
        "decided_at": FIXED,
        "reviewer_unit_name": "重庆市国资委",
        "opinion": "出资人情况与工商登记不一致，请核实后重新报送。<b>注意</b>",
    },
    "approved": {
        **UNIT,
        "doc_label": "产权登记表",
        "cert_no": "渝国资产登〔2026〕0001号",
        "issued_at": FIXED,
        "pdf_name": f"{FILING}_产权登记表.pdf",
        "sha256": "0" * 64,
    },
    "credentials": {
        "unit_name": "渝新（香港）有限公司",
        "first_level_name": "重庆渝新产业投资集团有限公司",
        "username": "JW0001001",
    },
    "password_changed": {"username": "MA5U00028", "unit_name": "重庆渝新置业有限公司", "changed_at": FIXED},
    "reply_unclear": {
        "reply_address": REPLY,
        "unit_name": "重庆渝新置业有限公司",
        "unit_code": "MA5U00028",
        "why": "第一行同时含有“通过”和“退回”两种结论，无法判断您的决定",
    },
    "review_refused": {
        "code": "missing-opinion",
        "reason": "退回时必须填写审核意见，请在“退回”之后写明退回原因。",
        "sender": "audit1@yuxin.test",
        "decision": "退回",
        "unit_name": "重庆渝新置业有限公司",
        "step_label": "第 1 轮第 1 级审核",
        "addressed_hint": "",
        "decided_by": "",
        "decided_at": "",
        "decided": "",
        "received_at": FIXED,
        "reply_address": REPLY,
    },
    "confirm_filing": {
        "unit_name": "重庆渝新置业有限公司",
        "unit_code": "MA5U00028",
        "received_at": FIXED,
        "original_subject": "2025年度产权登记",
        "confirm_address": "confirm+q7x2k9@chanquan.test",
    },
}
WITH_FILING = {
    "receipt",
    "error_report",
    "review_request",
    "reminder",
    "level_approved",
    "returned",
    "approved",
    "reply_unclear",
    "review_refused",
}
# What each refusal code changes in the review_refused context; all are rendered into one snapshot.
REFUSAL_CASES: dict[str, dict[str, Any]] = {
    "missing-opinion": {},
    "wrong-sender": {"addressed_hint": "a***@yuxin.test", "decision": "通过", "reply_address": ""},
    "not-reviewer": {"decision": "通过", "reply_address": ""},
    "already-decided": {
        "decided_by": "audit2@yuxin.test",
        "decided_at": "2026-03-01T02:00:00+00:00",
        "decided": "通过",
        "reply_address": "",
    },
    "stale-round": {"step_label": "第 1 轮第 2 级审核", "decision": "通过", "reply_address": ""},
    "withdrawn": {"decision": "通过", "reply_address": ""},
    "invalid-token": {"decision": "通过", "unit_name": "", "reply_address": ""},
    "unknown-filing": {"decision": "通过", "unit_name": "", "reply_address": ""},
    "": {"reason": "发件人 x@b.cn 不是该单位的审核人。", "decision": "通过", "reply_address": ""},
}


def check_snapshot(name: str, rendered: str) -> None:
    """`rendered` must equal the reviewed snapshot `name`. A missing snapshot fails: it is written only
    when asked (CHANQUAN_UPDATE_SNAPSHOTS=1), never by a run that merely did not find it."""
    path = SNAPSHOTS / name
    if os.environ.get(UPDATE_SNAPSHOTS) == "1":
        path.write_text(rendered, encoding="utf-8")
    if not path.exists():
        pytest.fail(f"snapshot {name} is missing: read the output, then record it with {UPDATE_SNAPSHOTS}=1")
    assert rendered == path.read_text(encoding="utf-8")


def test_a_missing_snapshot_fails_and_is_not_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "SNAPSHOTS", tmp_path)
    monkeypatch.delenv(UPDATE_SNAPSHOTS, raising=False)
    with pytest.raises(pytest.fail.Exception, match="missing"):
        check_snapshot("new.txt", "rendered")
    assert not (tmp_path / "new.txt").exists()
    monkeypatch.setenv(UPDATE_SNAPSHOTS, "1")
    check_snapshot("new.txt", "rendered")
    assert (tmp_path / "new.txt").read_text(encoding="utf-8") == "rendered"


def sample_spec(
    template: str,
    *,
    to: str = "x@example.test",
    key: str = "1",
    purpose: str = "",
    filing_id: str = FILING,
    **extra: Any,
) -> MailSpec:
    """A message of `template` with its sample context at the fixed date; `purpose` defaults to the template."""
    return MailSpec(
        purpose=purpose or template,
        template=template,
        to=[to],
        key=key,
        date=FIXED,
        context=CONTEXTS[template],
        filing_id=filing_id,
        **extra,
    )


def test_every_template_has_a_snapshot_case() -> None:
    names = {p.name.removesuffix(".subject.j2") for p in TEMPLATES.glob("*.subject.j2")}
    assert names == set(CONTEXTS)
    for name in names:
        assert (TEMPLATES / f"{name}.txt.j2").exists() and (TEMPLATES / f"{name}.html.j2").exists()


@pytest.mark.parametrize("template", sorted(CONTEXTS))
def test_template_matches_snapshot(template: str) -> None:
    spec = sample_spec(template, filing_id=FILING if template in WITH_FILING else "")
    subject, text, html = composer().render_parts(spec)
    rendered = f"Subject: {subject}\n\n===== text/plain =====\n{text}\n===== text/html =====\n{html}"
    check_snapshot(f"{template}.txt", rendered)
    if template in WITH_FILING:
        assert subject.startswith(f"[{FILING}] ")
    assert "<html" in html and "{{" not in text and "{{" not in html


def test_review_refused_says_why_and_what_to_do_for_every_code() -> None:
    rendered = []
    for code, changes in REFUSAL_CASES.items():
        context = {**CONTEXTS["review_refused"], "code": code, **changes}
        with_filing = code not in ("invalid-token", "unknown-filing")
        spec = MailSpec(
            purpose="review-refused",
            template="review_refused",
            to=["audit1@yuxin.test"],
            key="1",
            date=FIXED,
            context=context,
            filing_id=FILING if with_filing else "",
        )
        subject, text, html = composer().render_parts(spec)
        assert "原因：" in text and "请您：" in text and "原因：" in html and "请您：" in html
        assert "{{" not in text + html and "None" not in text + html
        rendered.append(f"##### code={code or '(none)'}\nSubject: {subject}\n\n{text}")
    check_snapshot("review_refused.codes.txt", "\n".join(rendered))


def test_html_is_autoescaped_and_text_is_not() -> None:
    spec = sample_spec("returned")
    _, text, html = composer().render_parts(spec)
    assert "&lt;b&gt;注意&lt;/b&gt;" in html and "<b>注意</b>" not in html
    assert "<b>注意</b>" in text


def _compose(template: str, **extra: Any) -> EmailMessage:
    spec = sample_spec(template, purpose="review-request", to="audit1@yuxin.test", key="7", reply_to=REPLY, **extra)
    _, raw = composer().compose(spec)
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_full_message_headers_snapshot_and_threading() -> None:
    from outbox.compose import Attachment

    msg = _compose("review_request", attachments=[Attachment(f"{FILING}_登记表.xlsx", b"PK\x03\x04 fake")])
    check_snapshot("review_request.headers.txt", "".join(f"{k}: {v}\n" for k, v in msg.items()))
    assert msg["In-Reply-To"] == msg["References"] == f"<filing-{FILING}@chanquan.test>"
    assert msg["Auto-Submitted"] == "auto-generated" and msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Reply-To"] == REPLY
    assert msg["Date"] == "Mon, 02 Mar 2026 09:30:00 +0800"
    body = msg.get_body(("plain",))
    assert body is not None and "第一行只写“通过”或“退回”" in body.get_content()
    html = msg.get_body(("html",))
    assert html is not None and "<table" in html.get_content()
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_filename() == f"{FILING}_登记表.xlsx"
    assert attachment.get_content() == b"PK\x03\x04 fake"


def test_rendering_is_byte_identical_and_ids_are_deterministic() -> None:
    spec = sample_spec("receipt", to="a@example.test", key="12")
    first = composer().compose(spec)
    second = composer().compose(spec)
    assert first == second
    other = sample_spec("receipt", to="b@example.test", key="12")
    assert composer().compose(other)[0].message_id != first[0].message_id
    raw_headers = first[1].split(b"\r\n\r\n", 1)[0]
    assert raw_headers.isascii(), "headers on the wire are 7-bit: Chinese goes RFC 2047 encoded"


def test_wire_format_is_strict_mime_without_defects() -> None:
    from outbox.compose import Attachment

    long_name = "重庆渝新产业投资集团有限公司关于产权登记的业务办理申请文件（二〇二六年度，第一次补充材料）.pdf"
    spec = sample_spec(
        "review_request",
        purpose="review-request",
        to="audit1@yuxin.test",
        cc=["c@x.test"],
        key="9",
        reply_to=REPLY,
        attachments=[
            Attachment(long_name, b"%PDF-1.4 data" * 100, "application/pdf"),
            Attachment("plain.xlsx", b"PK\x03\x04"),
        ],
    )
    _, raw = composer().compose(spec)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n")), "headers are folded"
    assert b"\n" not in raw.replace(b"\r\n", b""), "CRLF line ends only"
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    for part in msg.walk():
        assert not part.defects, (part.get_content_type(), part.defects)
    assert msg["Cc"] == "c@x.test"
    assert msg["From"].addresses[0].display_name == "产权登记系统"
    names = [(a.get_filename(), a.get_content_type(), a.get_content()) for a in msg.iter_attachments()]
    assert names == [
        (long_name, "application/pdf", b"%PDF-1.4 data" * 100),
        ("plain.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK\x03\x04"),
    ]
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    subject, plain, rich = composer().render_parts(spec)
    assert msg["Subject"] == subject
    assert text.get_content().replace("\r\n", "\n") == plain
    assert html.get_content().replace("\r\n", "\n") == rich


def test_every_time_in_a_mail_is_in_the_supervisors_zone_and_says_so() -> None:
    """The receipt (also the 回执 file's text) in the default zone, and in another configured one."""
    _subject, beijing, html = composer().render_parts(sample_spec("receipt"))
    assert "2026年3月2日 09:30（北京时间）" in beijing and "（北京时间）" in html
    berlin = Composer("chanquan.test", common={"supervisor_name": "重庆市国资委"}, zone="Europe/Berlin")
    _subject, text, _html = berlin.render_parts(sample_spec("receipt"))
    assert "2026年3月2日 02:30（Europe/Berlin 时间）" in text and "北京时间" not in text
    _envelope, raw = berlin.compose(sample_spec("receipt"))
    assert b"Date: Mon, 02 Mar 2026 02:30:00 +0100" in raw
