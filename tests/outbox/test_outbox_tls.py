"""The relay connection modes: STARTTLS with AUTH, SMTPS, and a refused AUTH (kept queued)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from outbox_testing import RelayHandler, free_port, make_sender, spool_messages
from support.tls import self_signed_certificate

from outbox.sender import SendReport
from outbox.spool import Spool
from outbox.transport import RelayConfig, SmtpRelay


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"), "localhost")


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def client_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def starttls_client(port: int, certificate: tuple[Path, Path], *, password: str) -> SmtpRelay:
    """The outbox's relay connection as `relayuser`, upgrading with STARTTLS and verifying the test certificate."""
    config = RelayConfig(
        "localhost",
        port,
        security="starttls",
        user="relayuser",
        password=password,
        ssl_context=client_context(certificate),
        timeout_seconds=5,
    )
    return SmtpRelay(config)


class Logins:
    def __init__(self) -> None:
        self.seen: list[tuple[str | bool, bool]] = []  # ("tls" or False, authenticated)

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        ok = auth_data.login == b"relayuser" and auth_data.password == b"s3cret"
        self.seen.append((session.ssl is not None and "tls", ok))
        return AuthResult(success=ok)


@pytest.fixture
def starttls_relay(certificate: tuple[Path, Path]) -> Iterator[tuple[int, RelayHandler, Logins]]:
    handler, logins, port = RelayHandler(), Logins(), free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=logins,
        auth_require_tls=True,
    )
    controller.start()
    try:
        yield port, handler, logins
    finally:
        controller.stop()


def test_starttls_and_auth(
    tmp_path: Path, certificate: tuple[Path, Path], starttls_relay: tuple[int, RelayHandler, Logins]
) -> None:
    port, handler, logins = starttls_relay
    spool = Spool(tmp_path / "outbox")
    ids = spool_messages(spool, 2)
    relay = starttls_client(port, certificate, password="s3cret")
    reports: list[SendReport] = []
    sender, state = make_sender(tmp_path / "outbox", relay, reports)
    try:
        assert sender.send_pending() == 2
    finally:
        state.close()
    assert handler.message_ids() == ids
    assert logins.seen == [("tls", True)], "one TLS session, authenticated once, reused for both messages"


def test_wrong_password_keeps_mail_queued(
    tmp_path: Path, certificate: tuple[Path, Path], starttls_relay: tuple[int, RelayHandler, Logins]
) -> None:
    port, handler, logins = starttls_relay
    spool = Spool(tmp_path / "outbox")
    spool_messages(spool, 1)
    relay = starttls_client(port, certificate, password="wrong")
    reports: list[SendReport] = []
    sender, state = make_sender(tmp_path / "outbox", relay, reports, max_attempts=5)
    try:
        assert sender.send_pending() == 0
    finally:
        state.close()
    assert [r.kind for r in reports] == ["mail.deferred"]
    # smtplib tries PLAIN (535) and then LOGIN, which this relay leaves unanswered: either way it is temporary
    assert ("tls", False) in logins.seen
    assert len(list(spool.entries("queue"))) == 1 and handler.received == []


def test_smtps(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    handler, port = RelayHandler(), free_port()
    controller = Controller(
        handler, hostname="127.0.0.1", port=port, server_hostname="localhost", ssl_context=server_context(certificate)
    )
    controller.start()
    spool = Spool(tmp_path / "outbox")
    ids = spool_messages(spool, 1)
    relay = SmtpRelay(
        RelayConfig("localhost", port, security="smtps", ssl_context=client_context(certificate), timeout_seconds=5)
    )
    reports: list[SendReport] = []
    sender, state = make_sender(tmp_path / "outbox", relay, reports)
    try:
        assert sender.send_pending() == 1
    finally:
        state.close()
        controller.stop()
    assert handler.message_ids() == ids
