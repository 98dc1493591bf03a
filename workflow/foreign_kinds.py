"""Event kinds workflow reads but may not import: documents/ and intake/ declare them, and the
layout (../shared/DESIGN.md) puts documents/ beside workflow and intake/ above it.

Each kind is named here once, with a Protocol of the fields workflow reads (`VIEWS`);
tests/test_event_kinds.py checks the names against the declarations and each Protocol against
the declaring model, so a renamed kind or a dropped field fails there, not silently in a fold.
"""

from __future__ import annotations

from typing import Protocol, cast

from pydantic import ConfigDict

from ledger.errors import UnknownKindError
from ledger.events import EventBody, StoredEvent

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


class _ForeignView(EventBody):
    """A foreign kind's payload read by its field names, in a process that has not imported the package
    that declares it (a projection rebuilt, a history listed, by code that needs only workflow)."""

    model_config = ConfigDict(frozen=True, extra="allow")


class _IssuedDocumentView(_ForeignView):
    kind = DOCUMENT_ISSUED
    reissue_of: int | None = None  # DocumentIssued's default: events written before the field lack it


class _ReviewUnclearView(_ForeignView):
    kind = REVIEW_UNCLEAR


_VIEW_CLASSES: dict[str, type[EventBody]] = {view.kind: view for view in (_IssuedDocumentView, _ReviewUnclearView)}


def body_of(event: StoredEvent) -> EventBody:
    """`event.body`; for a foreign kind this process does not declare, a view of its payload with the
    same fields (the Protocols above name the ones workflow reads), so a fold never depends on which
    packages happen to be imported. Any other undeclared kind raises `UnknownKindError` as before."""
    try:
        return event.body
    except UnknownKindError:
        view = _VIEW_CLASSES.get(event.kind)
        if view is None:
            raise
        return view.model_validate(event.payload)
