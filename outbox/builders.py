"""Which builder turns which ledger event into notices: the whole mapping in one ordered table.

Keyed by event class. The kinds intake declares are out of the outbox's reach (the layout
keeps the two apart), so they are keyed by the names outbox/foreign_kinds.py gives them.
"""

from __future__ import annotations

from collections.abc import Callable

from documents.events import DocumentIssued
from ledger.events import EventBody, StoredEvent
from outbox.foreign_kinds import CONFIRMATION_REQUESTED, INTAKE_REJECTED, REVIEW_UNCLEAR
from outbox.notices import (
    Notice,
    NoticeContext,
    on_confirmation_requested,
    on_credentials,
    on_document_issued,
    on_filing_invalid,
    on_filing_received,
    on_intake_rejected,
    on_password_changed,
)
from outbox.review_notices import (
    on_filing_returned,
    on_review_decided,
    on_review_refused,
    on_review_requested,
    on_review_unclear,
)
from workflow.events import (
    AccountPasswordChanged,
    CredentialsMailRequested,
    FilingInvalid,
    FilingReceived,
    FilingReturned,
    ReviewDecided,
    ReviewRefused,
    ReviewRequested,
)

Builder = Callable[[NoticeContext, StoredEvent], list[Notice]]

BUILDERS: dict[type[EventBody], Builder] = {
    FilingReceived: on_filing_received,
    FilingInvalid: on_filing_invalid,
    ReviewRequested: on_review_requested,
    ReviewDecided: on_review_decided,
    FilingReturned: on_filing_returned,
    DocumentIssued: on_document_issued,
    CredentialsMailRequested: on_credentials,
    AccountPasswordChanged: on_password_changed,
    ReviewRefused: on_review_refused,
}

FOREIGN_BUILDERS: dict[str, Builder] = {
    INTAKE_REJECTED: on_intake_rejected,
    REVIEW_UNCLEAR: on_review_unclear,
    CONFIRMATION_REQUESTED: on_confirmation_requested,
}


def builder_for(body: EventBody) -> Builder | None:
    return BUILDERS.get(type(body)) or FOREIGN_BUILDERS.get(body.kind)
