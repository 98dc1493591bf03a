"""Page images of a document, for a look before printing (the portal's 预览, `chanquan print --preview`).

A preview is rendered from the same facts and template as the printed document but is never
signed or recorded: only pictures of it leave this module, so it cannot be mistaken for (or
passed off as) an issued document, and looking costs no ledger event.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from documents.issue import DocumentIssuer
from documents.rendering import render

MAX_PREVIEW_PAGES = 30  # a 200-investor form has a dozen pages


@dataclass(frozen=True)
class Preview:
    """What a preview shows: the document's kind, number and template, and one PNG per page."""

    doc_type: str
    cert_no: str
    template: str
    period: str
    pages: list[bytes]
    page_count: int  # pages in the document (more than `pages` when it was cut at MAX_PREVIEW_PAGES)


@contextmanager
def _opened(pdf: bytes) -> Iterator[Any]:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        document.init_forms()  # without it pdfium leaves out form widgets, i.e. the signature stamp
        yield document
    finally:
        document.close()


def page_images(pdf: bytes, *, scale: float = 1.5, max_pages: int = MAX_PREVIEW_PAGES) -> list[bytes]:
    """PNG images of the first `max_pages` pages, through pdfium (the engine Chrome uses)."""
    images = []
    with _opened(pdf) as document:
        for index in range(min(len(document), max_pages)):
            page = document[index]
            try:
                out = BytesIO()
                page.render(scale=scale).to_pil().save(out, format="PNG", optimize=False)
                images.append(out.getvalue())
            finally:
                page.close()
    return images


def preview(issuer: DocumentIssuer, unit_code: str, period: str, template: str | None = None) -> Preview:
    """The unsigned pages of what `print_document(unit_code, period, template=template)` would issue.

    Refuses exactly as printing does (PrintRefused, TemplateError) before anything is rendered.
    """
    filing_id = issuer.find_approved(unit_code, period)
    data = issuer.build_data(filing_id)
    chosen = issuer.templates.get(data.doc_type, template or issuer.default_template)
    rendered = render(data, chosen, issuer.font_file, issuer.fallback_font_files)
    return Preview(
        doc_type=data.doc_type,
        cert_no=data.cert_no,
        template=chosen.name,
        period=data.period,
        pages=page_images(rendered.pdf),
        page_count=rendered.page_count,
    )
