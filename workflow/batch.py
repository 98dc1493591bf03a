"""Helpers for submitting many filings at once (`Workflow.submit_many`).

A drained backlog must not pay one lock round, one ledger commit and two sequential
fsyncs per filing: the blobs of a whole batch are stored by one `BlobStore.put_many`
(shared fsync waits) and the batch's events go into one `append_many`. Filings that
could see each other (same subject unit, or the same item twice) are split into
successive rounds, so every filing is judged against the state its predecessors
left, exactly as one-by-one submits would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from validation.bundle import Bundle
from workflow.units import Designation, Unit, UnitsView

if TYPE_CHECKING:  # checking pulls in the workbook reader, which the workflow itself never needs
    from validation.check import CheckResult

# The doors a filing (and a decision) comes through; recorded in filing.received and review.decided.
Channel = Literal["dropbox", "smtp", "web"]
# how people are told which door it was (a filing's history, the portal, receipts and mails)
CHANNEL_LABELS: dict[str, str] = {"dropbox": "投递目录", "smtp": "电子邮件", "web": "网页门户"}


@dataclass(frozen=True)
class SubmitRequest:
    """One filing to submit: what `Workflow.submit` takes as arguments (intake builds it from its item)."""

    item_id: str
    filer: str
    channel: Channel
    reply_to: str  # where the answers go: a mail address, "" for the drop folder and the web
    bundle: Bundle
    check_result: CheckResult  # validation's own rules; submit adds the ledger-aware ones under its lock
    original_name: str = ""  # the dropped bundle's, the mail's or the upload's file names, as the filer gave them
    message_id: str = ""  # the filer's mail, "" for the drop folder and the web


def rounds(keys: Sequence[tuple[str, str]]) -> list[list[int]]:
    """Splits request indexes into rounds in which no (item id, subject) key repeats.

    `keys[i]` is (item id, subject unit). Order is kept: a request never runs before an
    earlier one with the same item id or subject.
    """
    remaining = list(range(len(keys)))
    out: list[list[int]] = []
    while remaining:
        taken: list[int] = []
        deferred: list[int] = []
        seen_items: set[str] = set()
        seen_subjects: set[str] = set()
        for index in remaining:
            item_id, subject = keys[index]
            # a request waits when an earlier one (taken or itself waiting) shares its item or subject
            (deferred if item_id in seen_items or subject in seen_subjects else taken).append(index)
            seen_items.add(item_id)
            seen_subjects.add(subject)
        out.append(taken)
        remaining = deferred
    return out


class MemoUnits(UnitsView):
    """The unit tree, and each group's designation, read once per code: a batch's ledger rules ask
    for the same parents, first-level units and designations again and again. Only for use while
    neither can change (under the workflow's lock, which every change of the tree and every
    designation event also takes)."""

    def __init__(self, units: UnitsView) -> None:
        super().__init__(units._reader, units.root_code)
        self._memo: dict[str, Unit | None] = {}
        self._designations: dict[str, Designation] = {}

    def get(self, code: str) -> Unit | None:
        key = code.strip().upper()
        if key not in self._memo:
            self._memo[key] = super().get(key)
        return self._memo[key]

    def designation(self, first_level: str) -> Designation:
        key = first_level.strip().upper()
        if key not in self._designations:
            self._designations[key] = super().designation(key)
        return self._designations[key]
