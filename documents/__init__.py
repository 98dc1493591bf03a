"""Signed PDF registration forms (产权登记表) and certificates (产权登记证); see docs/documents.md."""

from documents.fonts import DEFAULT_FALLBACK_FONT_FILES, DEFAULT_FONT_FILE, FontError, register_cjk_font
from documents.issue import DocumentIssuer, IssuedDocument, PrintRefused, doc_type_for_level
from documents.keys import IdentityFiles, SigningIdentityError, create_signing_identity, identity_files
from documents.model import DocumentData, ReviewEntry
from documents.render import RenderedDocument, render
from documents.signing import DocumentSigner, SignRequest, load_trust_roots
from documents.templates import CERTIFICATE, FORM, PrintTemplate, TemplateCatalog, TemplateError
from documents.verify import IssuanceRecord, SignatureCheck, VerificationReport, check_signature, verify_document

__all__ = [
    "CERTIFICATE",
    "DEFAULT_FALLBACK_FONT_FILES",
    "DEFAULT_FONT_FILE",
    "FORM",
    "DocumentData",
    "DocumentIssuer",
    "DocumentSigner",
    "FontError",
    "IdentityFiles",
    "IssuanceRecord",
    "IssuedDocument",
    "PrintRefused",
    "PrintTemplate",
    "RenderedDocument",
    "ReviewEntry",
    "SignRequest",
    "SignatureCheck",
    "SigningIdentityError",
    "TemplateCatalog",
    "TemplateError",
    "VerificationReport",
    "check_signature",
    "create_signing_identity",
    "doc_type_for_level",
    "identity_files",
    "load_trust_roots",
    "register_cjk_font",
    "render",
    "verify_document",
]
