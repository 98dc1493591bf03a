"""The ledger event kinds intake records (see docs/architecture.md, "Event kinds").

Subjects are item ids. `intake.received` is written before anything else happens to
an item, so every later stage can be resumed from it after a crash.
"""

from __future__ import annotations

from ledger import EventBody, event_kind


@event_kind("intake.received")
class IntakeReceived(EventBody):
    """One inbound item, stored raw in the blob store; the start of its processing."""

    item_id: str
    channel: str  # workflow.batch.Channel: "dropbox" | "smtp" | "web"
    purpose: str  # "filing" | "review_reply" | "contact_filing" | "confirmation"
    raw_blob: str
    content_sha256: str
    sender: str  # the account (drop folder, SMTP AUTH, portal) or the envelope sender
    filer: str  # organization code the item is filed for ("" for replies)
    reply_to: str  # mail address answers go to ("" for the drop folder)
    original_name: str
    message_id: str
    recipient: str = ""


@event_kind("intake.rejected")
class IntakeRejected(EventBody):
    """An item that cannot become a filing; the outbox answers the sender with `message`."""

    item_id: str
    channel: str
    reply_to: str
    filer: str
    code: str
    message: str
    original_name: str = ""


@event_kind("intake.processed")
class IntakeProcessed(EventBody):
    """The last stage of an item: nothing will be resumed for it any more."""

    item_id: str
    filing_id: str
    outcome: str  # "filed" | "invalid" | "rejected" | "decided" | "refused" | "unclear" | "ignored" | ...


@event_kind("review.unclear")
class ReviewUnclear(EventBody):
    """A reviewer reply without a recognizable decision; the outbox answers once."""

    filing_id: str
    step: str  # the token's readable part (filing-round-level), never its MAC
    sender: str
    message_id: str
    item_id: str
    reason: str = ""  # intake.replies.Unclear: no-decision | both-decisions | negated | question


@event_kind("intake.folder_unknown")
class IntakeFolderUnknown(EventBody):
    """A drop-folder subfolder named after no known unit; reported once and left alone."""

    folder: str
    message: str


@event_kind("intake.confirmation_requested")
class IntakeConfirmationRequested(EventBody):
    """A filing mailed unauthenticated from a unit's contact address waits for a confirmation reply.

    `confirm_address` is the one-time reply address; it is only honoured for mail
    coming from `sender`, so knowing it does not let anybody else file.
    """

    item_id: str
    filer: str
    sender: str
    confirm_address: str
    original_subject: str


@event_kind("intake.confirmed")
class IntakeConfirmed(EventBody):
    """The contact address confirmed a pending filing, which is then processed."""

    item_id: str
    confirmation_item_id: str
    sender: str
