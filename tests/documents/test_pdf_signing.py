"""Signing and signature checks: valid as issued, and every kind of later change is caught."""

from __future__ import annotations

import hashlib
import io
import shutil
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID
from pdf_support import font_dicts, is_embedded, page_texts
from pypdf import PdfReader, PdfWriter

from documents import (
    CERTIFICATE,
    FORM,
    DocumentSigner,
    IssuanceRecord,
    SigningIdentityError,
    SignRequest,
    TemplateCatalog,
    check_signature,
    create_signing_identity,
    identity_files,
    load_trust_roots,
    render,
    verify_document,
)
from documents.samples import sample_document


@pytest.fixture(scope="module")
def signed_certificate(signer: DocumentSigner, catalog: TemplateCatalog) -> bytes:
    doc = render(sample_document(CERTIFICATE), catalog.get(CERTIFICATE, "标准"))
    return signer.sign(SignRequest(doc.pdf, doc.seal_page, doc.seal_box, "产权登记证", "重庆"))


@pytest.fixture(scope="module")
def roots(keys_dir: Path) -> list[object]:
    return load_trust_roots((keys_dir / "ca.pem",))


def test_signature_validates_with_pyhanko(signed_certificate: bytes, roots: list[object]) -> None:
    check = check_signature(signed_certificate, roots)
    assert check.ok, check.reason_zh
    assert "重庆市国资委" in check.signer


def test_signed_file_still_embeds_every_font(signed_certificate: bytes) -> None:
    fonts = font_dicts(signed_certificate)
    assert len(fonts) >= 2  # the page's face and the stamp's subset
    assert all(is_embedded(f) for f in fonts)


def test_signed_form_keeps_its_text(signer: DocumentSigner, catalog: TemplateCatalog, roots: list[object]) -> None:
    data = sample_document(FORM, investors=30)
    doc = render(data, catalog.get(FORM, "标准"))
    pdf = signer.sign(SignRequest(doc.pdf, doc.seal_page, doc.seal_box, "产权登记表", "重庆"))
    assert check_signature(pdf, roots).ok
    text = "\n".join(page_texts(pdf))
    assert data.enterprise_name in text and data.registration["investors"][-1]["investor_name"] in text


@pytest.mark.parametrize("where", [0.3, 0.6])
def test_one_flipped_byte_in_the_content_breaks_the_signature(
    signed_certificate: bytes, roots: list[object], where: float
) -> None:
    damaged = bytearray(signed_certificate)
    damaged[int(len(damaged) * where)] ^= 0x01
    check = check_signature(bytes(damaged), roots)
    assert not check.ok
    assert check.reason_zh


def test_a_flip_the_signature_cannot_see_is_caught_by_the_hash(signed_certificate: bytes, roots: list[object]) -> None:
    """Bytes in the zero padding after the CMS blob are outside what the signature checks."""
    contents = signed_certificate.rindex(b"/Contents <")
    padding = signed_certificate.index(b"0000000000>", contents) + 2
    damaged = bytearray(signed_certificate)
    damaged[padding] = ord("1")
    digest = hashlib.sha256(signed_certificate).hexdigest()
    record = IssuanceRecord(1, "2026-01-01T00:00:00+00:00", "CQ1", "U", "登记证", "DJZ-1", None, proof_ok=True)
    report = verify_document(bytes(damaged), roots, lambda h: record if h == digest else None)
    assert not report.ok
    assert any("逐字节" in p for p in report.problems)


def test_incremental_update_fails(signed_certificate: bytes, roots: list[object]) -> None:
    writer = PdfWriter(io.BytesIO(signed_certificate), incremental=True)
    writer.add_metadata({"/Title": "已修改"})
    out = io.BytesIO()
    writer.write(out)
    edited = out.getvalue()
    assert edited.startswith(signed_certificate)  # really an append, the signed bytes untouched
    check = check_signature(edited, roots)
    assert not check.ok
    assert "增量" in check.reason_zh


def test_resaved_copy_fails(signed_certificate: bytes, roots: list[object]) -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(signed_certificate)))
    out = io.BytesIO()
    writer.write(out)
    assert not check_signature(out.getvalue(), roots).ok


def test_foreign_ca_is_not_trusted(signed_certificate: bytes, tmp_path: Path) -> None:
    create_signing_identity(tmp_path, "别的机构")
    check = check_signature(signed_certificate, load_trust_roots((tmp_path / "ca.pem",)))
    assert not check.ok and "不受信任" in check.reason_zh


def test_unsigned_pdf_is_reported(catalog: TemplateCatalog, roots: list[object]) -> None:
    doc = render(sample_document(CERTIFICATE), catalog.get(CERTIFICATE, "标准"))
    check = check_signature(doc.pdf, roots)
    assert not check.ok and "没有电子签名" in check.reason_zh
    assert "无法解析" in check_signature(b"not a pdf at all", roots).reason_zh


def test_verify_document_needs_the_issuance_record(signed_certificate: bytes, roots: list[object]) -> None:
    digest = hashlib.sha256(signed_certificate).hexdigest()
    record = IssuanceRecord(1, "2026-01-01T00:00:00+00:00", "CQ1", "U", "登记证", "DJZ-1", None, proof_ok=True)
    report = verify_document(signed_certificate, roots, lambda h: record if h == digest else None)
    assert report.ok and report.issuance == record
    missing = verify_document(signed_certificate, roots, lambda h: None)
    assert not missing.ok and any("签发记录" in p for p in missing.problems)


@pytest.mark.parametrize("lost", ["ca.pem", "ca.key", "signer.p12"])
def test_an_incomplete_identity_is_refused_not_completed_by_a_new_ca(keys_dir: Path, tmp_path: Path, lost: str) -> None:
    """The signer may already have signed documents that verify only against the files left: never replaced."""
    keys_dir = Path(shutil.copytree(keys_dir, tmp_path / "keys"))  # the shared identity stays whole
    (keys_dir / lost).unlink()
    before = {path.name: path.read_bytes() for path in keys_dir.iterdir() if path.is_file()}
    with pytest.raises(SigningIdentityError) as refused:
        create_signing_identity(keys_dir, "重庆市国资委")
    assert lost in refused.value.message_zh and "不会重新生成" in refused.value.message_zh
    assert {path.name: path.read_bytes() for path in keys_dir.iterdir() if path.is_file()} == before


def test_identity_is_created_once_with_private_modes(keys_dir: Path, tmp_path: Path) -> None:
    before = {name: (keys_dir / name).read_bytes() for name in ("ca.pem", "ca.key", "signer.p12")}
    assert create_signing_identity(keys_dir, "重庆市国资委") is False
    assert {name: (keys_dir / name).read_bytes() for name in before} == before
    for name in ("ca.key", "signer.p12"):
        assert stat.S_IMODE((keys_dir / name).stat().st_mode) == 0o600
    _key, cert, _chain = pkcs12.load_key_and_certificates((keys_dir / "signer.p12").read_bytes(), None)
    assert cert is not None
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    ca = x509.load_pem_x509_certificate(before["ca.pem"])
    assert cert.issuer == ca.subject and ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_configured_pkcs12_with_password(keys_dir: Path, tmp_path: Path, roots: list[object]) -> None:
    key, cert, chain = pkcs12.load_key_and_certificates((keys_dir / "signer.p12").read_bytes(), None)
    protected = tmp_path / "external.p12"
    protected.write_bytes(
        pkcs12.serialize_key_and_certificates(b"ext", key, cert, chain, BestAvailableEncryption(b"s3cret"))  # type: ignore[arg-type]
    )
    identity = identity_files(keys_dir, str(protected), "s3cret")
    signer = DocumentSigner(identity, "重庆市国资委")
    catalog = TemplateCatalog()
    doc = render(sample_document(CERTIFICATE), catalog.get(CERTIFICATE, "横版"))
    assert check_signature(signer.sign(SignRequest(doc.pdf, 0, doc.seal_box, "r", "l")), roots).ok
    with pytest.raises(SigningIdentityError) as info:
        DocumentSigner(identity_files(keys_dir, str(protected), "wrong"), "重庆市国资委")
    assert "签章证书" in info.value.message_zh
    with pytest.raises(SigningIdentityError):
        DocumentSigner(identity_files(tmp_path / "none"), "重庆市国资委")
