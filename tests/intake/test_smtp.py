"""The SMTP listener with a real aiosmtpd server on loopback and smtplib clients."""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import make_msgid

import pytest
from intake_helpers import CHILD, FILER, FIRST, PASSWORD, REVIEWER, Env, filing_mail


def chinese_first(text: bytes | str) -> bool:
    """A status text as a person reads it: after the enhanced code (if any), Chinese comes first."""
    line = text.decode() if isinstance(text, bytes) else text
    return re.match(r"(\d\.\d{1,3}\.\d{1,3} )?[\u4e00-\u9fff]", line) is not None


def client(env: Env, user: str | None = CHILD, password: str = PASSWORD) -> smtplib.SMTP:
    smtp = smtplib.SMTP("127.0.0.1", env.port, timeout=20)
    smtp.ehlo()
    if user is not None:
        smtp.login(user, password)
    return smtp


def test_authenticated_filing_is_spooled_recorded_and_filed(running: Env) -> None:
    with client(running) as smtp:
        assert smtp.send_message(filing_mail()) == {}  # no recipient refused
    running.wait_for(lambda: len(running.kinds("intake.processed")) == 1)
    received = running.kinds("intake.received")[0].payload
    assert received["channel"] == "smtp" and received["filer"] == CHILD and received["purpose"] == "filing"
    filing = running.kinds("filing.received")[0].payload
    assert filing["item_id"] == received["item_id"] and filing["reply_to"] == FILER and filing["channel"] == "smtp"
    assert running.kinds("intake.processed")[0].payload["outcome"] == "filed"
    assert list((running.data / "inbound").glob("*.msg")) == []  # the spool file goes once recorded


def test_250_carries_the_item_id_and_a_resent_message_gets_the_first_one(running: Env) -> None:
    raw = filing_mail().as_bytes(policy=SMTP_POLICY)
    with client(running) as smtp:
        smtp.mail(FILER)
        smtp.rcpt("filing@chanquan.localhost")
        first = smtp.data(raw)
        smtp.rset()
        smtp.mail(FILER)
        smtp.rcpt("filing@chanquan.localhost")
        second = smtp.data(raw)
    assert first[0] == 250 and second[0] == 250
    running.wait_for(lambda: len(running.kinds("intake.received")) == 1)  # recorded after the 250, in batches
    item_id = running.kinds("intake.received")[0].payload["item_id"]
    assert item_id.encode() in first[1] and item_id.encode() in second[1]
    assert "重复".encode() in second[1]
    running.wait_for(lambda: len(running.kinds("intake.processed")) == 1)
    assert len(running.kinds("intake.received")) == 1
    assert len(running.kinds("filing.received")) == 1


def test_oversize_mail_gets_552_before_the_handler(running: Env) -> None:
    big = b"x" * (3 * 1024 * 1024)  # the test server's limit is 2 MB
    with client(running) as smtp:
        with pytest.raises(smtplib.SMTPSenderRefused) as by_size:
            smtp.send_message(filing_mail(big=big))  # SIZE= declared: refused at MAIL FROM
        assert by_size.value.smtp_code == 552
        assert chinese_first(by_size.value.smtp_error) and b"2 MB" in by_size.value.smtp_error
        smtp.rset()
        smtp.mail(FILER)  # no SIZE declared: the limit bites during DATA
        smtp.rcpt("filing@chanquan.localhost")
        code, text = smtp.data(filing_mail(big=big).as_bytes(policy=SMTP_POLICY))
        assert code == 552
        assert chinese_first(text) and "邮件过大".encode() in text
    assert running.kinds("intake.received") == []
    assert list((running.data / "inbound").glob("*.msg")) == []


def test_unauthenticated_filing_is_refused_with_550(running: Env) -> None:
    with client(running, user=None) as smtp, pytest.raises(smtplib.SMTPRecipientsRefused) as caught:
        smtp.send_message(filing_mail())
    code, text = caught.value.recipients["filing@chanquan.localhost"]
    assert code == 550 and "组织机构代码".encode() in text and chinese_first(text)
    assert running.kinds("intake.received") == []


def test_wrong_password_then_lockout(running: Env) -> None:
    smtp = client(running, user=None)
    try:
        for _ in range(4):
            with pytest.raises(smtplib.SMTPAuthenticationError) as wrong:
                smtp.login(CHILD, "wrong-password-1")
            assert wrong.value.smtp_code == 535 and chinese_first(wrong.value.smtp_error)
        with pytest.raises(smtplib.SMTPAuthenticationError) as locked:
            smtp.login(CHILD, "wrong-password-1")
        assert "锁定".encode() in locked.value.smtp_error
        with pytest.raises(smtplib.SMTPAuthenticationError) as still:
            smtp.login(CHILD, PASSWORD)  # even the right password while locked
        assert "锁定".encode() in still.value.smtp_error
    finally:
        smtp.close()


def test_login_is_normalized_like_the_manual_says(running: Env) -> None:
    spaced = f"{CHILD[:8].lower()}-{CHILD[8:]}"
    with client(running, user=spaced) as smtp:
        smtp.send_message(filing_mail())
    running.wait_for(lambda: len(running.kinds("intake.received")) == 1)
    assert running.kinds("intake.received")[0].payload["filer"] == CHILD


def test_must_change_account_may_only_change_its_password(running: Env) -> None:
    new_password = "Neu#Passwort2026"
    with client(running, user=FIRST, password=FIRST) as smtp:  # initial password = the code
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.send_message(filing_mail())
        assert refused.value.smtp_code == 553 and "修改密码".encode() in refused.value.smtp_error
        assert chinese_first(refused.value.smtp_error)
        change = EmailMessage()
        change["From"], change["To"], change["Subject"] = FILER, "filing@chanquan.localhost", "修改密码"
        change.set_content(f"{new_password}\n{new_password}x\n")
        smtp.rset()
        with pytest.raises(smtplib.SMTPDataError) as mismatch:
            smtp.send_message(change)
        assert mismatch.value.smtp_code == 554 and chinese_first(mismatch.value.smtp_error)
        del change["Subject"]
        change["Subject"] = "修改密码"
        change.set_content(f"{new_password}\n{new_password}\n")
        smtp.rset()
        smtp.send_message(change)
    assert running.kinds("intake.received") == []  # a password never reaches the spool or the blobs
    assert [ev.subject for ev in running.kinds("account.password_changed")].count(FIRST) == 1
    with client(running, user=FIRST, password=new_password) as smtp:
        smtp.send_message(filing_mail())
    running.wait_for(lambda: len(running.kinds("intake.received")) == 1)


def test_reviewer_reply_decides_and_forged_from_is_refused(running: Env) -> None:
    with client(running) as smtp:
        smtp.send_message(filing_mail())
    running.wait_for(lambda: len(running.kinds("review.requested")) == 1)
    request = running.kinds("review.requested")[0].payload
    token = running.wf.review_token(request["filing_id"], request["round"], request["level"], REVIEWER)
    address = f"review+{token}@chanquan.localhost"

    def reply(sender: str, text: str, **headers: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = sender, address, "回复：请审核"
        message["Message-ID"] = make_msgid(domain="first.example.cn")
        for key, value in headers.items():
            message[key.replace("_", "-")] = value
        message.set_content(text)
        with client(running, user=None) as smtp:
            smtp.send_message(message)

    reply("intruder@evil.example", "通过")  # valid token, forged sender
    reply(REVIEWER, "Out of office", Auto_Submitted="auto-replied")
    reply(f"审核人 <{REVIEWER.upper()}>", "退回：附件不全\n\n发件人: 产权登记\n通过")
    reply(REVIEWER, "通过")  # replayed decision after the step is decided
    running.wait_for(lambda: len(running.kinds("intake.processed")) == 5)
    outcomes = [ev.payload["outcome"] for ev in running.kinds("intake.processed")]
    assert outcomes == ["filed", "refused", "ignored", "decided", "refused"]
    decided = running.kinds("review.decided")
    assert len(decided) == 1
    assert decided[0].payload["decision"] == "退回" and decided[0].payload["opinion"] == "附件不全"
    refusals = [ev.payload["reason"] for ev in running.kinds("review.refused")]
    assert "发件人" in refusals[0] and "已由" in refusals[1]
