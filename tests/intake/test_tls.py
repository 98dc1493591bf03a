"""STARTTLS with a configured certificate; AUTH refused without TLS off loopback."""

from __future__ import annotations

import datetime as dt
import smtplib
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from intake_helpers import CHILD, PASSWORD, build_env, close_env

from intake.smtp import SmtpConfig, free_port


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chanquan.localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


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
