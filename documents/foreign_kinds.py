"""Event kinds documents/ reads but may not import: workflow/ declares them, and the layout
(../shared/DESIGN.md) puts documents/ beside workflow, not above it.

Each kind is named here once, with a Protocol of the fields documents/ reads (`VIEWS`);
tests/test_event_kinds.py checks the names against the declarations and each Protocol against
the declaring model. Reading one needs workflow/events.py imported, which every issuer has (it
is handed the workflow).
"""

from __future__ import annotations

from typing import Protocol, cast

from ledger.events import EventBody

REVIEW_DECIDED = "review.decided"  # workflow/events.py: ReviewDecided


class DecidedReply(Protocol):
    """A reviewer's decision: which step, and the reply mail it came in (its signature name is printed)."""

    round: int
    level: int
    mail_blob: str


VIEWS: dict[type, str] = {DecidedReply: REVIEW_DECIDED}


def decided_reply(body: EventBody) -> DecidedReply | None:
    """The body as a review decision, or None for any other kind."""
    return cast(DecidedReply, body) if body.kind == REVIEW_DECIDED else None
