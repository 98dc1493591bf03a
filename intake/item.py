"""The one record of an inbound item, whatever door it came through.

A dropped bundle, a mail (a filing, a reviewer's reply, a confirmation) and a web upload
are each an `InboundItem`: built when the item arrives (spooled mails carry it as their
first line), completed by the recording (`intake.received`: raw blob, time, sequence) and
read back from the `intake_items` projection by the worker. Filings leave intake as
workflow's `SubmitRequest`, built from the item in one place (`submit_request`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # the check processes import this module and need none of workflow at run time
    from validation.bundle import Bundle
    from validation.check import CheckResult
    from workflow.batch import Channel, SubmitRequest

# What an item is for: it decides the stages it runs through (intake.processing.STAGES_BY_PURPOSE).
Purpose = Literal["filing", "review_reply", "confirmation", "contact_filing"]


@dataclass(frozen=True)
class InboundItem:
    """One inbound item: what is known when it arrives, then (once recorded) where its raw bytes are."""

    item_id: str
    channel: Channel
    purpose: Purpose
    sender: str  # the account (drop folder: the unit's folder; SMTP AUTH; the portal) or the envelope sender
    filer: str  # the unit the item is filed for ("" for replies and confirmations)
    reply_to: str  # the mail address answers go to ("" for the drop folder and the web)
    original_name: str  # the bundle's, the mail's attachments' or the upload's file names, as given
    message_id: str  # the mail's Message-ID ("" for the drop folder and the web)
    recipient: str = ""  # the review+/confirm+ address a reply was sent to
    # set by the recording (`intake.received`), empty before
    raw_blob: str = ""
    content_sha256: str = ""
    received_at: str = ""
    received_seq: int = 0

    def recorded(self, raw_blob: str) -> InboundItem:
        """The item as `intake.received` records it (the blob is named by the SHA-256 of its bytes)."""
        return dataclasses.replace(self, raw_blob=raw_blob, content_sha256=raw_blob)

    def submit_request(self, bundle: Bundle, check_result: CheckResult) -> SubmitRequest:
        """The filing this item carries, as workflow takes it."""
        from workflow.batch import SubmitRequest

        return SubmitRequest(
            item_id=self.item_id,
            filer=self.filer,
            channel=self.channel,
            reply_to=self.reply_to,
            bundle=bundle,
            check_result=check_result,
            original_name=self.original_name,
            message_id=self.message_id,
        )


# The fields the spool's first line and the projection's row hold, in the projection's column order.
ITEM_FIELDS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(InboundItem))
ARRIVAL_FIELDS: tuple[str, ...] = ITEM_FIELDS[: ITEM_FIELDS.index("raw_blob")]
