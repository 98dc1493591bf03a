"""Read-side values the CLI, the outbox and the PDF printer get from the workflow.

The rows of lists (a queue, a unit's filings, returned filings, decisions taken) are NamedTuples:
immutable like the rest, and made by the hundred per page of the portal, where a frozen
dataclass's field-by-field `__init__` costs three times as much.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from validation.findings import Finding
from validation.model import Registration
from workflow.machine import STATUS_ZH, Decision, FilingStatus


@dataclass(frozen=True)
class HistoryEntry:
    """One step of a filing as `filings show` prints it."""

    seq: int
    at: str
    kind: str
    actor: str
    round: int
    level: int
    unit: str
    decision: str
    opinion: str
    text_zh: str


@dataclass(frozen=True)
class FilingFile:
    """A file a filing's events name (so the portal serves it by hash only when the filing names it)."""

    kind: str  # workbook | attachment | annotated | document
    blob: str  # sha256 hex
    round: int
    at: str
    label_zh: str  # e.g. 登记表（第 1 轮）
    number: int = 0  # attachment: its place among the round's attachments (1-based, sorted by file name)
    original_name: str = ""  # what the filer called it (shown, escaped; never used as a path or a header)


@dataclass(frozen=True)
class FilingView:
    filing_id: str
    unit: str
    filer: str
    round: int
    state: str
    period: str
    channel: str
    reply_to: str
    level: int
    review_unit: str
    reviewers: list[str]
    registration_data: dict[str, Any] | None
    workbook_blob: str
    received_at: str
    updated_at: str
    decisions: list[Decision] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    files: list[FilingFile] = field(default_factory=list)  # every blob its events name, oldest first
    findings: list[dict[str, str]] = field(default_factory=list)  # of the current round when it was invalid

    @property
    def registration(self) -> Registration | None:
        return None if self.registration_data is None else Registration.from_canonical(self.registration_data)

    @property
    def state_zh(self) -> str:
        return STATUS_ZH.get(self.state, self.state)

    @property
    def is_approved(self) -> bool:
        return self.state in (FilingStatus.APPROVED, FilingStatus.ISSUED)


class FilingSummary(NamedTuple):
    filing_id: str
    unit: str
    unit_name: str
    filer: str
    period: str
    round: int
    state: str
    level: int
    review_unit: str
    updated_at: str

    @property
    def state_zh(self) -> str:
        return STATUS_ZH.get(self.state, self.state)


class QueueEntry(NamedTuple):
    filing_id: str
    round: int
    level: int
    unit: str
    filing_unit: str
    filing_unit_name: str
    period: str
    reviewers: list[str]
    requested_at: str


@dataclass(frozen=True)
class PreviousApproval:
    """The approved registration a filing is compared with: its filing and its approval event's seq
    (the two name it for good: an approved registration never changes), and its canonical data as
    stored, parsed by `data()` only when it is needed (a page may already know the comparison)."""

    filing_id: str
    approved_seq: int
    registration_json: str

    def data(self) -> dict[str, Any]:
        return dict(json.loads(self.registration_json))


@dataclass(frozen=True)
class ApprovedRegistration:
    """A registration approved by SASAC, as `print --list` shows it."""

    filing_id: str
    unit: str
    unit_name: str
    period: str
    round: int
    approved_at: str
    unit_level: int
    first_level: str

    @property
    def is_first_level(self) -> bool:
        return self.unit_level == 1


@dataclass(frozen=True)
class SubmitOutcome:
    """What `submit` did; a repeated item_id gets the first outcome back with `duplicate` set."""

    item_id: str
    filing_id: str
    round: int
    state: str  # "invalid" | "in_review"
    findings: list[Finding]
    review_unit: str = ""  # accepted: the unit asked to review first
    duplicate: bool = False
    annotated_blob: str = ""  # invalid: the workbook with the wrong cells marked (a blob hash)

    @property
    def accepted(self) -> bool:
        return self.state == FilingStatus.IN_REVIEW


@dataclass(frozen=True)
class DecisionOutcome:
    """What a reviewer's reply did: applied, or refused (recorded as review.refused)."""

    applied: bool
    filing_id: str
    reason_zh: str = ""
    decision: str = ""
    state: str = ""
    next_unit: str = ""
    code: str = ""  # why it was refused (machine.RefusalCode), "" when applied
    decided_by: str = ""  # already-decided: who decided the step (a mail address or an account)
    decided_at: str = ""  # and when (ISO, UTC)


class ReturnedEntry(NamedTuple):
    """A filing returned to its filer, with the returning unit's opinion (the portal's 被退回)."""

    filing_id: str
    unit: str
    unit_name: str
    period: str
    round: int
    by_unit: str
    by_unit_name: str
    opinion: str
    returned_at: str


class ReviewedEntry(NamedTuple):
    """One decision a unit's reviewers took (the portal lists them as 已审核)."""

    filing_id: str
    unit: str
    unit_name: str
    period: str
    round: int
    level: int
    decision: str
    opinion: str
    decided_at: str
    state: str

    @property
    def state_zh(self) -> str:
        return STATUS_ZH.get(self.state, self.state)
