"""The review state machine as pure functions over events.

`apply(state, body, at)` folds one event (its typed body) into a filing's state; the projection
and the live decision path both use it, so what a replay rebuilds is exactly what the
service acted on. `check_decision` says whether a reviewer's reply may be applied to the
current state, and why not; it decides nothing by itself and touches no storage.

States: received → invalid | in_review (at a level) → returned → (new round) → ... →
approved → issued; withdrawn from received, in_review or returned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, cast

from ledger.events import EventBody
from ledger.localtime import reader_time
from workflow.events import (
    FilingApproved,
    FilingInvalid,
    FilingReceived,
    FilingReturned,
    FilingWithdrawn,
    ReviewDecided,
    ReviewRequested,
)
from workflow.foreign_kinds import DOCUMENT_ISSUED, IssuedDocument


class FilingStatus(StrEnum):
    RECEIVED = "received"
    INVALID = "invalid"
    IN_REVIEW = "in_review"
    RETURNED = "returned"
    APPROVED = "approved"
    ISSUED = "issued"
    WITHDRAWN = "withdrawn"


STATUS_ZH: dict[str, str] = {
    FilingStatus.RECEIVED: "已接收",
    FilingStatus.INVALID: "校验未通过",
    FilingStatus.IN_REVIEW: "审核中",
    FilingStatus.RETURNED: "已退回",
    FilingStatus.APPROVED: "已通过",
    FilingStatus.ISSUED: "已出证",
    FilingStatus.WITHDRAWN: "已撤回",
}
OPEN_STATUSES = frozenset({FilingStatus.RECEIVED, FilingStatus.IN_REVIEW})
WITHDRAWABLE = frozenset({FilingStatus.RECEIVED, FilingStatus.IN_REVIEW, FilingStatus.RETURNED})


class ReviewDecision(StrEnum):
    APPROVE = "通过"
    RETURN = "退回"


@dataclass(frozen=True)
class Decision:
    round: int
    level: int
    unit: str
    reviewer: str
    decision: str
    opinion: str
    at: str


@dataclass
class FilingState:
    filing_id: str
    unit: str
    filer: str
    period: str
    round: int
    status: str
    channel: str
    reply_to: str
    received_at: str
    updated_at: str
    level: int = 0  # current review step (1 = first reviewer) while in review
    review_unit: str = ""  # the unit whose reviewers decide the current step
    reviewers: list[str] = field(default_factory=list)  # who was asked for the current step
    registration: dict[str, Any] | None = None
    workbook_blob: str = ""
    decisions: list[Decision] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-shaped values sharing the registration and lists with the state, not a deep copy:
        the result is serialized at once (the filings projection, on every filing event) and the
        copy was most of the cost of appending one."""
        out = {name: getattr(self, name) for name in _STATE_FIELDS}
        out["decisions"] = [vars(decision) for decision in self.decisions]
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FilingState:
        values = dict(data)
        values["decisions"] = [Decision(**d) for d in data.get("decisions", [])]
        return cls(**values)

    def decision_for(self, round_no: int, level: int) -> Decision | None:
        """The last decision taken on that step, if any."""
        found = [d for d in self.decisions if d.round == round_no and d.level == level]
        return found[-1] if found else None


_STATE_FIELDS = tuple(f.name for f in fields(FilingState))


# How each kind after `filing.received` changes an existing state: (state, body of the key's class, at).
Fold = Callable[[FilingState, Any, str], None]


def _received(state: FilingState | None, body: FilingReceived, at: str) -> FilingState:
    """Round 1 starts the state; a later round restarts the review on the resubmitted workbook."""
    if state is None or body.round == 1:
        return FilingState(
            filing_id=body.filing_id,
            unit=body.unit,
            filer=body.filer,
            period=body.period,
            round=body.round,
            status=FilingStatus.RECEIVED,
            channel=body.channel,
            reply_to=body.reply_to,
            received_at=at,
            updated_at=at,
            registration=body.registration,
            workbook_blob=body.workbook_blob,
        )
    state.round = body.round
    state.status = FilingStatus.RECEIVED
    state.filer = body.filer
    state.period = body.period or state.period
    state.channel = body.channel
    state.reply_to = body.reply_to
    state.registration = body.registration
    state.workbook_blob = body.workbook_blob
    state.level, state.review_unit, state.reviewers = 0, "", []
    state.updated_at = at
    return state


def _invalid(state: FilingState, body: FilingInvalid, at: str) -> None:
    state.status = FilingStatus.INVALID


def _requested(state: FilingState, body: ReviewRequested, at: str) -> None:
    if body.reason == "reviewers_added" and state.level == body.level:
        # the same step, more reviewers asked: they join those already asked
        state.reviewers = state.reviewers + [r for r in body.reviewers if r not in state.reviewers]
    else:
        state.reviewers = list(body.reviewers)
        state.level = body.level
    state.status = FilingStatus.IN_REVIEW
    state.review_unit = body.unit


def _decided(state: FilingState, body: ReviewDecided, at: str) -> None:
    decision = Decision(
        round=body.round,
        level=body.level,
        unit=body.unit,
        reviewer=body.reviewer,
        decision=body.decision,
        opinion=body.opinion,
        at=at,
    )
    state.decisions.append(decision)


def _closed_step(status: FilingStatus) -> Fold:
    """A fold ending the current step with `status`: nobody is asked any more."""

    def fold(state: FilingState, body: EventBody, at: str) -> None:
        state.status = status
        state.review_unit, state.reviewers = "", []

    return fold


def _issued(state: FilingState, body: EventBody, at: str) -> None:
    issued = cast(IssuedDocument, body)  # FOREIGN_FOLDS holds it under document.issued only
    state.status = FilingStatus.ISSUED
    state.documents.append(
        {
            "doc_type": issued.doc_type,
            "template": issued.template,
            "cert_no": issued.cert_no,
            "pdf_blob": issued.pdf_blob,
            "reissue_of": issued.reissue_of,
            "at": at,
        }
    )


FOLDS: dict[type[EventBody], Fold] = {
    FilingInvalid: _invalid,
    ReviewRequested: _requested,
    ReviewDecided: _decided,
    FilingReturned: _closed_step(FilingStatus.RETURNED),
    FilingApproved: _closed_step(FilingStatus.APPROVED),
    FilingWithdrawn: _closed_step(FilingStatus.WITHDRAWN),
}
# kinds workflow may not import the class of (workflow/foreign_kinds.py), by kind
FOREIGN_FOLDS: dict[str, Fold] = {DOCUMENT_ISSUED: _issued}


def apply(state: FilingState | None, body: EventBody, at: str) -> FilingState | None:
    """The filing's state after one event; events of other kinds leave it unchanged.

    `filing.received` is the one kind that may start a state, so it comes before the table of folds."""
    if isinstance(body, FilingReceived):
        return _received(state, body, at)
    fold = FOLDS.get(type(body)) or FOREIGN_FOLDS.get(body.kind)
    if state is None or fold is None:
        return state
    fold(state, body, at)
    state.updated_at = at
    return state


class RefusalCode(StrEnum):
    """Why a reply was not applied, stable for the outbox (which picks the answer by it) and for tools."""

    MISSING_OPINION = "missing-opinion"
    WRONG_SENDER = "wrong-sender"  # the reply address was issued to another reviewer address
    NOT_REVIEWER = "not-reviewer"  # the address was asked, but is no longer a reviewer of the unit
    ALREADY_DECIDED = "already-decided"
    STALE_ROUND = "stale-round"  # the step is not (or no longer, or not yet) the filing's current one
    WITHDRAWN = "withdrawn"
    INVALID_TOKEN = "invalid-token"  # forged or damaged reply address
    UNKNOWN_FILING = "unknown-filing"


@dataclass(frozen=True)
class Refusal:
    """Why a reply cannot be applied, in Chinese for the reviewer and the audit trail."""

    reason_zh: str
    code: RefusalCode = RefusalCode.STALE_ROUND
    earlier: Decision | None = None  # already-decided: the decision taken on that step


def check_step(state: FilingState, *, round_no: int, level: int, attempt: str = "回复") -> Refusal | None:
    """None when (round, level) is the filing's current step; else why a decision on it is refused.

    `attempt` names what is refused in the Chinese reason: a mail 回复, or an 操作 in the portal.
    """
    if state.status == FilingStatus.IN_REVIEW and state.round == round_no and state.level == level:
        return None
    earlier = state.decision_for(round_no, level)
    if earlier is not None:
        when = reader_time(earlier.at, style="second")
        return Refusal(
            f"该审核环节已由 {earlier.reviewer} 于 {when} 作出决定（{earlier.decision}），本次{attempt}不予处理。",
            RefusalCode.ALREADY_DECIDED,
            earlier,
        )
    if state.status in (FilingStatus.WITHDRAWN,):
        return Refusal(f"申报 {state.filing_id} 已撤回，无需审核。", RefusalCode.WITHDRAWN)
    return Refusal(
        f"该审核环节（第 {round_no} 轮第 {level} 级）已不是申报 {state.filing_id} 的当前环节，本次{attempt}不予处理。",
        RefusalCode.STALE_ROUND,
    )


def check_opinion(decision: ReviewDecision, opinion: str) -> Refusal | None:
    """A 退回 must say why: the filer has to know what to change."""
    if decision == ReviewDecision.RETURN and not opinion.strip():
        return Refusal("退回时必须填写审核意见，请在“退回”之后写明退回原因。", RefusalCode.MISSING_OPINION)
    return None


def check_decision(
    state: FilingState,
    *,
    round_no: int,
    level: int,
    sender: str,
    unit_reviewers: list[str],
    unit_name: str,
    decision: ReviewDecision,
    opinion: str,
) -> Refusal | None:
    """None when this reply decides the current step; otherwise the refusal to record."""
    refusal = check_step(state, round_no=round_no, level=level)
    if refusal is not None:
        return refusal
    if sender not in unit_reviewers:
        return Refusal(f"发件人 {sender} 不是{unit_name}的审核人，本次回复不予处理。", RefusalCode.NOT_REVIEWER)
    return check_opinion(decision, opinion)
