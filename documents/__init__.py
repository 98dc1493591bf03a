"""Signed PDF registration forms (产权登记表) and certificates (产权登记证); see docs/documents.md.

The names below load their modules on first use (PEP 562): the PDF stack (reportlab, pyHanko and
its HTTP clients) takes about half a second to import, and code that needs only `documents.events`
(the outbox, `chanquan status`, every CLI command's start-up) should not pay for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from documents.fonts import DEFAULT_FALLBACK_FONT_FILES, DEFAULT_FONT_FILE, FontError, register_cjk_font
    from documents.issue import DocumentIssuer, IssuedDocument, PrintRefused, doc_type_for_level
    from documents.keys import IdentityFiles, SigningIdentityError, create_signing_identity, identity_files
    from documents.model import DocumentData, ReviewEntry
    from documents.rendering import RenderedDocument, render
    from documents.signing import DocumentSigner, SignRequest, load_trust_roots
    from documents.templates import CERTIFICATE, FORM, PrintTemplate, TemplateCatalog, TemplateError
    from documents.verify import IssuanceRecord, SignatureCheck, VerificationReport, check_signature, verify_document

_EXPORTS: dict[str, str] = {
    "DEFAULT_FALLBACK_FONT_FILES": "documents.fonts",
    "DEFAULT_FONT_FILE": "documents.fonts",
    "FontError": "documents.fonts",
    "register_cjk_font": "documents.fonts",
    "DocumentIssuer": "documents.issue",
    "IssuedDocument": "documents.issue",
    "PrintRefused": "documents.issue",
    "doc_type_for_level": "documents.issue",
    "IdentityFiles": "documents.keys",
    "SigningIdentityError": "documents.keys",
    "create_signing_identity": "documents.keys",
    "identity_files": "documents.keys",
    "DocumentData": "documents.model",
    "ReviewEntry": "documents.model",
    "RenderedDocument": "documents.rendering",
    "render": "documents.rendering",
    "DocumentSigner": "documents.signing",
    "SignRequest": "documents.signing",
    "load_trust_roots": "documents.signing",
    "CERTIFICATE": "documents.templates",
    "FORM": "documents.templates",
    "PrintTemplate": "documents.templates",
    "TemplateCatalog": "documents.templates",
    "TemplateError": "documents.templates",
    "IssuanceRecord": "documents.verify",
    "SignatureCheck": "documents.verify",
    "VerificationReport": "documents.verify",
    "check_signature": "documents.verify",
    "verify_document": "documents.verify",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'documents' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups do not come here again
    return value


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
