"""Replies and filings through the whole intake: unclear replies, TNEF, reassignment, contact filings, status."""

from __future__ import annotations

import json
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from intake_helpers import CHILD, FILER, PASSWORD, REVIEWER, Env, build_env, close_env, valid_zip

from validation.codes import make_org_code

EML = Path(__file__).parent / "eml"


def send(env: Env, message: EmailMessage | bytes, *, login: bool = False, to: str = "", sender: str = "") -> None:
    with smtplib.SMTP("127.0.0.1", env.port, timeout=20) as smtp:
        if login:
            smtp.login(CHILD, PASSWORD)
        if isinstance(message, bytes):
            smtp.sendmail(sender, [to], message)
        else:
            smtp.send_message(message)


def mail(sender: str, to: str, subject: str, text: str, attachment: bytes = b"", name: str = "") -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Message-ID"] = make_msgid(domain="example.cn")
    message.set_content(text)
    if attachment:
        message.add_attachment(attachment, maintype="application", subtype="zip", filename=name)
    return message


def file_and_get_token(env: Env) -> tuple[str, str]:
    send(env, mail(FILER, "filing@chanquan.localhost", "报送", "见附件", valid_zip(), "资料.zip"), login=True)
    env.wait_for(lambda: len(env.kinds("review.requested")) == 1)
    request = env.kinds("review.requested")[0].payload
    token = env.wf.review_token(request["filing_id"], request["round"], request["level"], REVIEWER)
    return request["filing_id"], f"review+{token}@chanquan.localhost"


def outcomes(env: Env) -> list[str]:
    return [ev.payload["outcome"] for ev in env.kinds("intake.processed")]


def test_unclear_reply_is_answered_once_per_sender_and_step(running: Env) -> None:
    filing_id, address = file_and_get_token(running)
    for text in ("收到，我看一下", "明天回复你", "好"):
        send(running, mail(REVIEWER, address, "Re: 审核", text))
    running.wait_for(lambda: len(running.kinds("intake.processed")) == 4)
    unclear = running.kinds("review.unclear")
    assert len(unclear) == 1  # loop guard: one answer, however many unclear replies
    assert unclear[0].payload["filing_id"] == filing_id and unclear[0].payload["sender"] == REVIEWER
    assert "-r1-l1" in unclear[0].payload["step"] and len(unclear[0].payload["step"].split("-")) == 4
    assert outcomes(running) == ["filed", "unclear", "unclear-again", "unclear-again"]
    assert running.kinds("review.decided") == []


def test_auto_reply_from_the_corpus_never_decides_nor_gets_answered(running: Env) -> None:
    _, address = file_and_get_token(running)
    raw = (EML / "outlook_autoreply_zh.eml").read_bytes()
    raw = raw.replace(b"review+cq2026-000001-r1-l1-abcdefghijklmnop@chanquan.localhost", address.encode())
    send(running, raw, to=address, sender=REVIEWER)
    running.wait_for(lambda: len(running.kinds("intake.processed")) == 2)
    assert outcomes(running)[-1] == "ignored"
    assert running.kinds("review.unclear") == [] and running.kinds("review.decided") == []


def test_chinese_outlook_reply_from_the_corpus_decides(running: Env) -> None:
    filing_id, address = file_and_get_token(running)
    raw = (EML / "outlook_zh_approve.eml").read_bytes()
    raw = raw.replace(b"review+cq2026-000001-r1-l1-abcdefghijklmnop@chanquan.localhost", address.encode())
    raw = raw.replace(b"zhangwei@cqjt.com.cn", REVIEWER.encode())
    send(running, raw, to=address, sender=REVIEWER)
    running.wait_for(lambda: len(running.kinds("review.decided")) == 1)
    decided = running.kinds("review.decided")[0].payload
    assert decided["filing_id"] == filing_id and decided["decision"] == "通过"
    assert decided["opinion"].startswith("材料齐全，同意上报。") and "发件人" not in decided["opinion"]


def test_decision_after_reassignment_is_refused(running: Env) -> None:
    _, address = file_and_get_token(running)
    other = make_org_code("50000003")
    running.wf.units.add(other, "另一集团有限公司", reviewer_emails=["other@second.example.cn"])
    running.wf.units.move(CHILD, other)  # the filing restarts under the new chain
    send(running, mail(REVIEWER, address, "Re: 审核", "通过"))
    running.wait_for(lambda: len(running.kinds("intake.processed")) == 2)
    assert outcomes(running)[-1] == "refused"
    assert running.kinds("review.decided") == []
    assert len(running.kinds("review.refused")) == 1


def test_tnef_mail_is_rejected_with_a_chinese_request_for_plain_attachments(running: Env) -> None:
    raw = (EML / "outlook_tnef_winmail.eml").read_bytes()
    with smtplib.SMTP("127.0.0.1", running.port, timeout=20) as smtp:
        smtp.login(CHILD, PASSWORD)
        smtp.sendmail("rtf@cqjt.com.cn", ["filing@chanquan.localhost"], raw)
    running.wait_for(lambda: len(running.kinds("intake.rejected")) == 1)
    rejected = running.kinds("intake.rejected")[0].payload
    assert rejected["code"] == "mail-tnef" and "winmail.dat" in rejected["message"]
    assert rejected["reply_to"] == "rtf@cqjt.com.cn"
    assert running.kinds("filing.received") == []


def test_contact_filing_waits_for_confirmation_from_the_same_address(tmp_path: Path) -> None:
    env = build_env(tmp_path / "data", accept_contact_filings=True)
    env.service.start()
    try:
        send(env, mail(FILER, "filing@chanquan.localhost", "报送", "见附件", valid_zip(), "资料.zip"))
        env.wait_for(lambda: len(env.kinds("intake.confirmation_requested")) == 1)
        request = env.kinds("intake.confirmation_requested")[0].payload
        assert request["filer"] == CHILD and request["sender"] == FILER
        assert env.kinds("filing.received") == []
        confirm = request["confirm_address"]
        send(env, mail("intruder@evil.example", confirm, "Re: 确认", "确认"))  # token alone is not enough
        env.wait_for(lambda: len(env.kinds("intake.processed")) == 2)
        assert env.kinds("filing.received") == []
        send(env, mail(FILER, confirm, "Re: 确认", "确认"))
        env.wait_for(lambda: len(env.kinds("filing.received")) == 1)
        env.wait_for(lambda: len(env.kinds("intake.processed")) == 3)
        assert outcomes(env) == ["awaiting-confirmation", "confirmation-refused", "confirmed"]
        assert env.kinds("filing.received")[0].payload["item_id"] == request["item_id"]
    finally:
        close_env(env)


def test_unknown_sender_without_auth_is_refused_even_when_contact_filings_are_on(tmp_path: Path) -> None:
    env = build_env(tmp_path / "data", accept_contact_filings=True)
    env.service.start()
    try:
        with smtplib.SMTP("127.0.0.1", env.port, timeout=20) as smtp:
            smtp.ehlo()
            smtp.mail("stranger@example.com")
            code, _ = smtp.rcpt("filing@chanquan.localhost")
        assert code == 550
    finally:
        close_env(env)


def test_status_shows_waiting_items_and_last_errors(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from chanquan.cli import main
    from chanquan.commands.serve import collect_status

    env = build_env(tmp_path / "data", enable_worker=False, enable_smtp=False)
    unit_dir = env.dropbox / CHILD
    unit_dir.mkdir(parents=True)
    (unit_dir / "a.zip").write_bytes(b"not a zip at all")
    (unit_dir / "b.zip").write_bytes(valid_zip())
    env.service.start()
    try:
        env.wait_for(lambda: len(env.kinds("intake.received")) == 2)
        broken = next(ev for ev in env.kinds("intake.received") if ev.payload["original_name"] == "a.zip")
        env.service.processor.process(broken.payload["item_id"])
    finally:
        close_env(env)
    status = collect_status(tmp_path / "data")
    assert status["inbound_waiting"] == 1 and status["inbound_processed"] == 1
    assert status["oldest_waiting_item"].startswith("IN")
    assert [e["code"] for e in status["last_errors"]] == ["bundle-not-zip"]
    assert main(["--data", str(tmp_path / "data"), "status", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["inbound_waiting"] == 1
    assert main(["--data", str(tmp_path / "data"), "status"]) == 0
    assert "待处理收件：1" in capsys.readouterr().out
