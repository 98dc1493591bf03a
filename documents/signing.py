"""PAdES B-B signatures whose visible appearance is the round red seal, through pyHanko.

Two costs are paid once per process, not per document: parsing the PKCS#12 (the
`SimpleSigner` is kept), and the stamp's appearance. The stamp is drawn once with
reportlab, which embeds only the dozen CJK glyphs it uses; pyHanko imports that
small page as the signature widget's appearance. Letting pyHanko typeset Chinese
itself would embed the whole 17 MB face each time (~0.45 s per signature).
"""

from __future__ import annotations

import binascii
import io
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import tsp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from pyhanko.pdf_utils.content import ImportedPdfPage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import BoxConstraints
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers, timestamps
from pyhanko.sign.attributes import CMSAttributeProvider, SigningCertificateV2Provider
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator.util import get_pyca_cryptography_hash
from reportlab.pdfgen.canvas import Canvas

from documents.fonts import DEFAULT_FALLBACK_FONT_FILES, DEFAULT_FONT_FILE, canvas_maker, font_chain
from documents.keys import IdentityFiles, SigningIdentityError
from documents.seal import SEAL_SIZE, draw_round_seal
from documents.typeset import Typesetter

log = logging.getLogger(__name__)

SIGNATURE_FIELD = "ChanquanSeal"
# room for the CMS container: certificates (~2.5 KB for our chain) + signature + attributes; a configured
# PKCS#12 with a longer chain gets more through the hex length check in `sign`.
SIGNATURE_BYTES_RESERVED = 12 * 1024
TIMESTAMP_BYTES_RESERVED = 8 * 1024


def render_stamp(
    authority: str,
    font_file: str = DEFAULT_FONT_FILE,
    fallback_font_files: Sequence[str] = DEFAULT_FALLBACK_FONT_FILES,
) -> tuple[bytes, tuple[str, ...]]:
    """The seal's appearance as a one-page PDF (drawn once; only its glyphs are embedded).

    A round red seal with the authority's name around the rim (documents/seal.py), on a square
    page the size of the place the page reserves for it. Also returns the characters of the
    name that no face has (drawn as placeholders), so that every document signed with this
    stamp can record them.
    """
    ts = Typesetter(font_chain(font_file, fallback_font_files))
    buf = io.BytesIO()
    canv: Canvas = canvas_maker(ts.font)(buf, pagesize=(SEAL_SIZE, SEAL_SIZE), invariant=1)
    draw_round_seal(canv, ts, (SEAL_SIZE / 2, SEAL_SIZE / 2), SEAL_SIZE / 2, authority)
    canv.showPage()
    canv.save()
    return buf.getvalue(), ts.missing_chars


class _StampPage(ImportedPdfPage):
    """pyHanko's ImportedPdfPage, importing from a reader kept in memory.

    The reader caches the objects it has parsed, so after the first signature only
    the copy into the new document remains (callers serialise access).
    """

    def __init__(self, reader: PdfFileReader) -> None:
        init: Any = super().__init__  # pyHanko leaves this constructor unannotated
        init(file_name="<stamp>", page_ix=0)
        self._reader = reader

    def render(self) -> bytes:
        writer = self._ensure_writer
        xobj = writer.import_page_as_xobject(self._reader, page_ix=0)
        name = b"/Seal" + binascii.hexlify(id(self).to_bytes(8, "little"))
        self.resources.xobject[name.decode("ascii")] = xobj
        x1, y1, x2, y2 = xobj.get_object()["/BBox"]
        self.box = BoxConstraints(width=abs(x1 - x2), height=abs(y1 - y2))
        return name + b" Do"


class _CachedKeySigner(signers.SimpleSigner):
    """SimpleSigner that parses its private key once.

    pyHanko's SimpleSigner re-loads the key from DER on every signature, and
    cryptography's RSA consistency check makes that ~50 ms; we sign with the key
    object kept from the first load.
    """

    _cached_key: Any = None
    _cached_signing_cert_attr: bytes = b""

    def _signed_attr_providers(self, *args: Any, **kwargs: Any) -> Any:
        """pyHanko's providers, with the signing-certificate-v2 value built once.

        That value depends only on our certificate, but asn1crypto needs ~5 ms to build and
        encode it (the issuer name is re-encoded), twice per signature.
        """
        for provider in super()._signed_attr_providers(*args, **kwargs):
            if isinstance(provider, SigningCertificateV2Provider):
                if not self._cached_signing_cert_attr:
                    self._cached_signing_cert_attr = as_signing_certificate_v2(self.signing_cert).dump()
                yield _CachedAttributeProvider(provider.attribute_type, self._cached_signing_cert_attr)
            else:
                yield provider

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm).signature_algo
        if self._cached_key is None:
            self._cached_key = serialization.load_der_private_key(self.signing_key.dump(), password=None)
        key = self._cached_key
        hash_algo = get_pyca_cryptography_hash(digest_algorithm)
        if mechanism == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPrivateKey):
            return bytes(key.sign(data, PKCS1v15(), hash_algo))
        if mechanism == "ecdsa" and isinstance(key, ec.EllipticCurvePrivateKey):
            return bytes(key.sign(data, ec.ECDSA(hash_algo)))
        if mechanism == "ed25519" and isinstance(key, ed25519.Ed25519PrivateKey):
            return bytes(key.sign(data))
        return bytes(super().sign_raw(data, digest_algorithm))


class _CachedAttributeProvider(CMSAttributeProvider):
    """Serves a pre-encoded signing-certificate-v2 value (parsed lazily, so it dumps from its bytes)."""

    def __init__(self, attribute_type: str, der: bytes) -> None:
        self.attribute_type = attribute_type
        self._der = der

    async def build_attr_value(self, dry_run: bool = False) -> Any:
        return tsp.SigningCertificateV2.load(self._der)


@dataclass(frozen=True)
class SignRequest:
    pdf: bytes
    page: int
    box: tuple[float, float, float, float]
    reason: str
    location: str


class DocumentSigner:
    """Signs documents with one identity; thread-safe, the key parsed once."""

    def __init__(
        self,
        identity: IdentityFiles,
        authority: str,
        *,
        timestamp_url: str = "",
        font_file: str = DEFAULT_FONT_FILE,
        fallback_font_files: Sequence[str] = DEFAULT_FALLBACK_FONT_FILES,
    ) -> None:
        if not identity.pkcs12.exists():
            raise SigningIdentityError(
                identity.pkcs12,
                f"找不到签章证书 {identity.pkcs12}；请先运行 chanquan init，或在 pdf.pkcs12_file 中配置。",
            )
        try:
            load: Any = signers.SimpleSigner.load_pkcs12  # unannotated in pyHanko
            loaded = load(str(identity.pkcs12), passphrase=identity.password)
        except Exception as exc:
            raise SigningIdentityError(identity.pkcs12, f"签章证书 {identity.pkcs12} 无法读取：{exc}") from exc
        if loaded is None:
            raise SigningIdentityError(identity.pkcs12, f"签章证书 {identity.pkcs12} 无法读取（密码错误或文件损坏）。")
        signer = _CachedKeySigner(
            signing_cert=loaded.signing_cert,
            signing_key=loaded.signing_key,
            cert_registry=loaded.cert_registry,
        )
        self._signer: Any = signer
        self.identity = identity
        self.authority = authority
        self.signer_name = str(loaded.signing_cert.subject.native.get("common_name", authority))
        self._timestamper = timestamps.HTTPTimeStamper(timestamp_url) if timestamp_url else None
        self.stamp_pdf, self.stamp_missing_chars = render_stamp(authority, font_file, fallback_font_files)
        self._stamp_reader = PdfFileReader(io.BytesIO(self.stamp_pdf))
        self._lock = threading.Lock()
        self._reserved = SIGNATURE_BYTES_RESERVED + (TIMESTAMP_BYTES_RESERVED if timestamp_url else 0)

    def sign(self, request: SignRequest) -> bytes:
        """Appends a PAdES B-B signature (an incremental update) whose widget sits on the seal area."""
        meta = signers.PdfSignatureMetadata(
            field_name=SIGNATURE_FIELD,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            reason=request.reason,
            location=request.location,
            name=self.signer_name,
        )
        x1, y1, x2, y2 = request.box
        pdf_signer = signers.PdfSigner(
            meta,
            signer=self._signer,
            timestamper=self._timestamper,
            stamp_style=StaticStampStyle(background=_StampPage(self._stamp_reader), border_width=0),
            new_field_spec=fields.SigFieldSpec(
                SIGNATURE_FIELD, on_page=request.page, box=(int(x1), int(y1), int(x2), int(y2))
            ),
        )
        writer = IncrementalPdfFileWriter(io.BytesIO(request.pdf), strict=False)
        with self._lock:  # one SimpleSigner; pyHanko's signing path is not documented as thread-safe
            # a fixed reservation skips pyHanko's size estimate, which is a whole dry-run signature
            out = pdf_signer.sign_pdf(writer, bytes_reserved=self._reserved)
        return bytes(out.getbuffer())


def load_trust_roots(paths: tuple[Path, ...]) -> list[Any]:
    """asn1crypto certificates from PEM files (several per file allowed)."""
    from asn1crypto import pem, x509

    roots: list[Any] = []
    for path in paths:
        data = path.read_bytes()
        if pem.detect(data):
            roots.extend(x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True))
        else:
            roots.append(x509.Certificate.load(data))
    return roots
