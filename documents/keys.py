"""The document-signing identity: a small CA of our own and one signing certificate.

RSA-2048 because every PDF validator we care about (pyHanko, poppler/NSS, Acrobat)
accepts it. The signing certificate carries KeyUsage digitalSignature+nonRepudiation
and ExtendedKeyUsage emailProtection (poppler refuses a signer without it) plus
documentSigning. An operator may configure an existing PKCS#12 instead.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from ledger.durable import write_new

log = logging.getLogger(__name__)

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
SIGNER_P12 = "signer.p12"
DOCUMENT_SIGNING_EKU = ObjectIdentifier("1.3.6.1.5.5.7.3.36")


class SigningIdentityError(Exception):
    """The signing identity is missing or unreadable; `message_zh` is shown to the user."""

    def __init__(self, path: Path, message_zh: str) -> None:
        super().__init__(message_zh)
        self.path = path
        self.message_zh = message_zh


@dataclass(frozen=True)
class IdentityFiles:
    """Where the identity lives: the PKCS#12 to sign with and the CA certificate(s) to trust."""

    pkcs12: Path
    password: bytes | None
    trust_roots: tuple[Path, ...]


def identity_files(keys_dir: Path, pkcs12_file: str = "", pkcs12_password: str = "") -> IdentityFiles:
    """The configured PKCS#12 if there is one, else the one `create_signing_identity` made."""
    if pkcs12_file:
        path = Path(pkcs12_file)
        roots = (keys_dir / CA_CERT,) if (keys_dir / CA_CERT).exists() else ()
        return IdentityFiles(path, pkcs12_password.encode() or None, roots)
    return IdentityFiles(keys_dir / SIGNER_P12, None, (keys_dir / CA_CERT,))


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write_private(path: Path, data: bytes) -> None:
    """Private key material: owner-only from the first byte, durable with its folder entry, and never
    written over an existing file."""
    write_new(path, data, mode=0o600)


def _key_usage(*, signing: bool) -> x509.KeyUsage:
    """A CA signs certificates and CRLs; the signer signs documents (digitalSignature + nonRepudiation)."""
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=signing,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signing,
        crl_sign=not signing,
        encipher_only=False,
        decipher_only=False,
    )


def _ca(authority: str, now: dt.datetime) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """The self-signed trust anchor: 20 years, CA with path length 0."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = _name(f"{authority} 产权登记 CA", authority)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * 20))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signing=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _signer(
    authority: str, mail_domain: str, now: dt.datetime, ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """The document-signing certificate the CA issues: 10 years, documentSigning, the service's address."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{authority} 产权登记电子签章", authority))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=365 * 10))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(signing=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING_EKU]), critical=False
        )
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(f"noreply@{mail_domain}")]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def create_signing_identity(keys_dir: Path, authority: str, *, mail_domain: str = "chanquan.localhost") -> bool:
    """Creates ca.pem, ca.key (0600) and signer.p12 (0600) unless they exist; True when it made them.

    Some but not all of them present is refused, never completed by a new CA: the signer may already
    have signed documents that verify only against the existing files (a crash while creating them
    leaves the same state, and a person must decide)."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    names = (CA_CERT, CA_KEY, SIGNER_P12)
    present = [name for name in names if (keys_dir / name).exists()]
    if len(present) == len(names):
        return False
    if present:
        missing = "、".join(name for name in names if name not in present)
        raise SigningIdentityError(
            keys_dir,
            f"签章证书文件不完整：{keys_dir} 中有 {'、'.join(present)}，缺少 {missing}。为免替换已用于签发的"
            "证书，系统不会重新生成。请从备份恢复缺少的文件；若确认从未签发过文书，可把这些文件移走后重新运行"
            " chanquan init。",
        )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
    ca_key, ca_cert = _ca(authority, now)
    signer_key, signer_cert = _signer(authority, mail_domain, now, ca_key, ca_cert)
    _write_private(
        keys_dir / CA_KEY,
        ca_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )
    _write_private(
        keys_dir / SIGNER_P12,
        pkcs12.serialize_key_and_certificates(
            b"chanquan-signer", signer_key, signer_cert, [ca_cert], serialization.NoEncryption()
        ),
    )
    write_new(keys_dir / CA_CERT, ca_cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    log.info("pdf.identity_created", extra={"keys_dir": str(keys_dir)})
    return True
