"""Which builder turns which ledger event kind into notices: the whole mapping in one ordered table."""

from __future__ import annotations

from collections.abc import Callable

from ledger.events import StoredEvent
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

Builder = Callable[[NoticeContext, StoredEvent], list[Notice]]

BUILDERS: dict[str, Builder] = {
    "filing.received": on_filing_received,
    "filing.invalid": on_filing_invalid,
    "intake.rejected": on_intake_rejected,
    "review.requested": on_review_requested,
    "review.decided": on_review_decided,
    "filing.returned": on_filing_returned,
    "document.issued": on_document_issued,
    "credentials.mail_requested": on_credentials,
    "account.password_changed": on_password_changed,
    "review.unclear": on_review_unclear,
    "review.refused": on_review_refused,
    "intake.confirmation_requested": on_confirmation_requested,
}
