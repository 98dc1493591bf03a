"""Event kinds workflow reads but may not import: documents/ and intake/ declare them, and the
layout (../shared/DESIGN.md) puts documents/ beside workflow and intake/ above it.

Each kind is named here once, with a Protocol of the fields workflow reads (`VIEWS`);
tests/test_event_kinds.py checks the names against the declarations and each Protocol against
the declaring model, so a renamed kind or a dropped field fails there, not silently in a fold.
"""

from __future__ import annotations

from typing import Protocol, cast

from ledger.events import EventBody

DOCUMENT_ISSUED = "document.issued"  # documents/events.py: DocumentIssued
REVIEW_UNCLEAR = "review.unclear"  # intake/events.py: ReviewUnclear


class IssuedDocument(Protocol):
    """What workflow reads of a `document.issued`: the filing's state becomes issued and lists it."""

    filing_id: str
    round: int
    unit: str
    doc_type: str
    template: str
    cert_no: str
    pdf_blob: str
    reissue_of: int | None


VIEWS: dict[type, str] = {IssuedDocument: DOCUMENT_ISSUED}


def issued_document(body: EventBody) -> IssuedDocument | None:
    """The body as a document issuance, or None for any other kind."""
    return cast(IssuedDocument, body) if body.kind == DOCUMENT_ISSUED else None
