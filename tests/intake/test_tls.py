"""STARTTLS with a configured certificate; AUTH refused without TLS off loopback."""

from __future__ import annotations

import smtplib
import ssl
from pathlib import Path

import pytest
from intake_helpers import CHILD, PASSWORD, build_env, close_env
from support.tls import self_signed_certificate

from intake.smtp import SmtpConfig, free_port


def self_signed(folder: Path) -> tuple[Path, Path]:
    return self_signed_certificate(folder, "chanquan.localhost")


def client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the test certificate is self-signed
    return context


def test_starttls_then_auth_on_a_public_address(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    port = free_port("0.0.0.0")
    smtp_config = SmtpConfig(host="0.0.0.0", port=port, tls_cert_file=str(cert), tls_key_file=str(key))
    env = build_env(tmp_path / "data", smtp=smtp_config, enable_dropbox=False, enable_worker=False)
    env.service.start()
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as smtp:
            smtp.ehlo()
            assert smtp.has_extn("starttls")
            with pytest.raises(smtplib.SMTPException) as plain:
                smtp.login(CHILD, PASSWORD)  # no AUTH before TLS off loopback
            assert "538" in str(plain.value) or "not supported" in str(plain.value)
            smtp.starttls(context=client_context())
            smtp.ehlo()
            smtp.login(CHILD, PASSWORD)
            raw = b"Subject: t\r\nMessage-ID: <tls-1@x>\r\n\r\nbody\r\n"
            smtp.sendmail("filer@child.example.cn", ["filing@x"], raw)
        env.wait_for(lambda: len(env.kinds("intake.received")) == 1)  # recorded right after the 250
    finally:
        close_env(env)
