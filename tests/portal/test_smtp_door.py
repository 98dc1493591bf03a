"""The portal and SMTP AUTH are two doors to one account: one lockout counter, and a password
changed by the 修改密码 mail ends the web sessions. A real aiosmtpd listener on loopback."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest
from portal_helpers import PASSWORD, THIRD, TOKEN_KEY, Site, post_login

from chanquan.client import build_password_change
from intake.dropbox import DropboxConfig
from intake.service import IntakeConfig, IntakeService
from intake.smtp import SmtpConfig, free_port
from validation.check import CheckResult

GUIDE_LOGIN = "https://cq.example.cn/help/login"


@pytest.fixture
def smtp_port(site: Site) -> Iterator[int]:
    """Intake's SMTP listener over the portal's workflow (no drop folder, no worker)."""
    config = IntakeConfig(
        inbound_dir=site.data / "inbound",
        processing_dir=site.data / "processing",
        dropbox=DropboxConfig(site.data / "dropbox"),
        smtp=SmtpConfig(port=free_port()),
        enable_dropbox=False,
        enable_worker=False,
        check_processes=0,
        password_help_url=GUIDE_LOGIN,  # as chanquan.app.open_intake sets it from web.public_url
    )
    service = IntakeService(
        config,
        ledger=site.wf.ledger,
        workflow=site.wf,
        check_bundle=lambda *_: CheckResult(None),
        confirm_key=TOKEN_KEY,
    )
    service.start()
    assert service.smtp is not None
    yield service.smtp.port
    service.stop()


def smtp_login(port: int, user: str, password: str) -> smtplib.SMTP:
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=20)
    try:
        smtp.ehlo()
        smtp.login(user, password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def smtp_text(error: smtplib.SMTPResponseException) -> str:
    """The server's answer (smtplib types it bytes | str; the reply it read is bytes)."""
    answer = error.smtp_error
    return answer.decode() if isinstance(answer, bytes) else answer


def test_failures_on_the_web_lock_smtp_too(site: Site, smtp_port: int) -> None:
    site.wf.accounts.set_password(THIRD, PASSWORD)
    client = site.client()
    for _ in range(4):
        assert "用户名或密码错误。" in post_login(client, THIRD, "wrong-password").text
    locked = post_login(client, THIRD, "wrong-password")
    assert "账户已锁定" in locked.text
    # the right password is refused at both doors now
    assert "已锁定" in post_login(site.client(), THIRD, PASSWORD).text
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        smtp_login(smtp_port, THIRD, PASSWORD)
    assert "锁定" in smtp_text(refused.value)
    assert [e.subject for e in site.wf.ledger.events(kind="account.locked")] == [THIRD]


def test_failures_over_smtp_lock_the_web_login(site: Site, smtp_port: int) -> None:
    site.wf.accounts.set_password(THIRD, PASSWORD)
    for _ in range(5):
        with pytest.raises(smtplib.SMTPAuthenticationError):
            smtp_login(smtp_port, THIRD, "wrong-password")
    response = post_login(site.client(), THIRD, PASSWORD)
    assert response.status_code == 200
    assert "锁定" in response.text
    assert "cq_session" not in response.cookies


def test_a_password_changed_by_mail_ends_the_web_sessions(site: Site, smtp_port: int) -> None:
    site.wf.accounts.set_password(THIRD, PASSWORD)
    browser = site.login(THIRD, PASSWORD)
    assert browser.get("/").status_code == 200
    new = "Changed#ByMail2026"
    with smtp_login(smtp_port, THIRD, PASSWORD) as smtp:
        smtp.send_message(build_password_change("tb@third.example.cn", "filing@chanquan.localhost", new))
    ended = browser.get("/")
    assert ended.status_code == 303 and ended.headers["location"] == "/login?reason=changed"
    assert "该账户的密码已修改或重置" in site.client().get("/login?reason=changed").text
    assert site.app.state.portal.sessions.count(THIRD) == 0
    assert post_login(site.client(), THIRD, new).headers["location"] == "/"


def test_a_refused_password_change_by_mail_points_to_the_guide(site: Site, smtp_port: int) -> None:
    site.wf.accounts.set_password(THIRD, PASSWORD)
    generation = site.wf.accounts.generation(THIRD)
    with smtp_login(smtp_port, THIRD, PASSWORD) as smtp, pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.send_message(build_password_change("tb@third.example.cn", "filing@chanquan.localhost", "short"))
    answer = smtp_text(refused.value)
    assert "至少需要 10 个字符" in answer and f"密码要求见用户手册：{GUIDE_LOGIN}" in answer
    assert site.client().get("/help/login").status_code == 200  # the chapter is there under that path
    assert site.wf.accounts.generation(THIRD) == generation  # nothing changed
