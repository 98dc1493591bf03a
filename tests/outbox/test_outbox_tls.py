"""The relay connection modes: STARTTLS with AUTH, SMTPS, and a refused AUTH (kept queued)."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from outbox_testing import RelayHandler, free_port, make_sender, spool_messages

from outbox.sender import SendReport
from outbox.spool import Spool
from outbox.transport import RelayConfig, SmtpRelay


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def client_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


class Logins:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []

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
    relay = SmtpRelay(
        RelayConfig(
            "localhost",
            port,
            security="starttls",
            user="relayuser",
            password="s3cret",
            ssl_context=client_context(certificate),
            timeout_seconds=5,
        )
    )
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
    relay = SmtpRelay(
        RelayConfig(
            "localhost",
            port,
            security="starttls",
            user="relayuser",
            password="wrong",
            ssl_context=client_context(certificate),
            timeout_seconds=5,
        )
    )
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
