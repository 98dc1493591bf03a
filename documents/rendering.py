"""Renders a 产权登记表 (documents/form.py, flowing over pages) or a 产权登记证 (documents/certificate.py, one page).

Both return the PDF bytes and where the seal's place landed, so that the signer can put
its stamp exactly there. Every string goes through one `Typesetter` per document (the
primary CJK face, fallback faces for what it lacks, a visible placeholder for what no face
has); a document with placeholders also says so in a note, and reports them in
`missing_chars` for the issuance record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from documents.certificate import render_certificate
from documents.common import RenderedDocument, missing_note
from documents.fonts import DEFAULT_FALLBACK_FONT_FILES, DEFAULT_FONT_FILE, font_chain
from documents.form import render_form
from documents.model import DocumentData
from documents.templates import CERTIFICATE, FORM, PrintTemplate
from documents.typeset import Typesetter

__all__ = ["RenderedDocument", "missing_note", "render"]


def render(
    data: DocumentData,
    template: PrintTemplate,
    font_file: str = DEFAULT_FONT_FILE,
    fallback_font_files: Sequence[str] = DEFAULT_FALLBACK_FONT_FILES,
) -> RenderedDocument:
    """Dispatches on the document type; the template must be one of that type."""
    if template.doc_type != data.doc_type:
        raise ValueError(f"template {template.name!r} is a {template.doc_type}, not a {data.doc_type}")
    ts = Typesetter(font_chain(font_file, fallback_font_files))
    if data.doc_type == FORM:
        rendered = render_form(data, template, ts, with_note=False)
        if ts.missing:  # known only once laid out: lay out again, now with the note saying so
            rendered = render_form(data, template, ts, with_note=True)
        return replace(rendered, missing_chars=ts.missing_chars)
    if data.doc_type == CERTIFICATE:
        return replace(render_certificate(data, template, ts), missing_chars=ts.missing_chars)
    raise ValueError(f"unknown document type {data.doc_type!r}")
