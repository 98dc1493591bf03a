"""The optional RFC 3161 timestamp: a real HTTP time-stamping authority on loopback."""

from __future__ import annotations

import datetime as dt
import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pdf_support import AUTHORITY
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from documents import CERTIFICATE, DocumentSigner, SignRequest, TemplateCatalog, identity_files, load_trust_roots
from documents import render as render_document
from documents.samples import sample_document


def _tsa_identity(keys_dir: Path) -> tuple[asn1_x509.Certificate, asn1_keys.PrivateKeyInfo]:
    """A time-stamping certificate issued by our CA (EKU timeStamping, critical, as RFC 3161 asks)."""
    ca_key = serialization.load_pem_private_key((keys_dir / "ca.key").read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate((keys_dir / "ca.pem").read_bytes())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "loopback TSA")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    der_key = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return (
        asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        asn1_keys.PrivateKeyInfo.load(der_key),
    )


@pytest.fixture
def tsa_url(keys_dir: Path) -> Iterator[str]:
    cert, key = _tsa_identity(keys_dir)
    stamper = DummyTimeStamper(tsa_cert=cert, tsa_key=key)
    served: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
            body = stamper.request_tsa_response(request).dump()
            served.append(len(body))
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert served, "the TSA was never asked"


def test_signature_carries_a_valid_timestamp(keys_dir: Path, tsa_url: str) -> None:
    signer = DocumentSigner(identity_files(keys_dir), AUTHORITY, timestamp_url=tsa_url)
    doc = render_document(sample_document(CERTIFICATE), TemplateCatalog().get(CERTIFICATE, "标准"))
    pdf = signer.sign(SignRequest(doc.pdf, doc.seal_page, doc.seal_box, "产权登记证", "重庆"))
    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    context = ValidationContext(trust_roots=load_trust_roots((keys_dir / "ca.pem",)), allow_fetching=False)
    status = validate_pdf_signature(signature, context, ts_validation_context=context)
    assert status.bottom_line
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.intact and status.timestamp_validity.valid and status.timestamp_validity.trusted
