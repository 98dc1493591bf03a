"""Event kinds the outbox answers but may not import: intake/ declares them, and the layout
(../shared/DESIGN.md) keeps the outbox and intake apart (they meet only in the ledger).

Each kind is named here once, with a Protocol of the fields the outbox reads (`VIEWS`);
tests/test_event_kinds.py checks the names against the declarations and each Protocol against
the declaring model. Reading one needs intake/events.py imported (its kinds registered), which
the application does; were it not, the body would raise UnknownKindError and the dispatcher stop
at that event, not skip it.
"""

from __future__ import annotations

from typing import Protocol, cast

from ledger.events import EventBody

INTAKE_RECEIVED = "intake.received"  # intake/events.py: IntakeReceived
INTAKE_REJECTED = "intake.rejected"  # intake/events.py: IntakeRejected
REVIEW_UNCLEAR = "review.unclear"  # intake/events.py: ReviewUnclear
CONFIRMATION_REQUESTED = "intake.confirmation_requested"  # intake/events.py: IntakeConfirmationRequested


class ReceivedItem(Protocol):
    """An inbound item: its mail's Message-ID, so that an answer threads under it."""

    message_id: str


class RejectedItem(Protocol):
    """An item that cannot become a filing; the sender is told why."""

    item_id: str
    channel: str
    reply_to: str
    filer: str
    code: str
    message: str
    original_name: str


class UnclearReply(Protocol):
    """A reviewer reply without a recognizable decision."""

    filing_id: str
    step: str
    sender: str
    message_id: str
    reason: str  # no-decision | both-decisions | negated | question ("" in old events)


class ConfirmationRequest(Protocol):
    """A filing mailed from a contact address, waiting for that address to confirm it."""

    filer: str
    sender: str
    confirm_address: str
    original_subject: str


VIEWS: dict[type, str] = {
    ReceivedItem: INTAKE_RECEIVED,
    RejectedItem: INTAKE_REJECTED,
    UnclearReply: REVIEW_UNCLEAR,
    ConfirmationRequest: CONFIRMATION_REQUESTED,
}


class ForeignKindError(Exception):
    """A builder was handed an event of another kind than the one it answers."""

    def __init__(self, kind: str, expected: str) -> None:
        super().__init__(f"a {kind!r} event read as {expected!r}")
        self.kind = kind
        self.expected = expected


def _view(body: EventBody, kind: str) -> EventBody:
    if body.kind != kind:
        raise ForeignKindError(body.kind, kind)
    return body


def received_item(body: EventBody) -> ReceivedItem:
    return cast(ReceivedItem, _view(body, INTAKE_RECEIVED))


def rejected_item(body: EventBody) -> RejectedItem:
    return cast(RejectedItem, _view(body, INTAKE_REJECTED))


def unclear_reply(body: EventBody) -> UnclearReply:
    return cast(UnclearReply, _view(body, REVIEW_UNCLEAR))


def confirmation_request(body: EventBody) -> ConfirmationRequest:
    return cast(ConfirmationRequest, _view(body, CONFIRMATION_REQUESTED))
