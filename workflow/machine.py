"""The review state machine as pure functions over events.

`apply(state, kind, payload, at)` folds one event into a filing's state; the projection
and the live decision path both use it, so what a replay rebuilds is exactly what the
service acted on. `check_decision` says whether a reviewer's reply may be applied to the
current state, and why not; it decides nothing by itself and touches no storage.

States: received → invalid | in_review (at a level) → returned → (new round) → ... →
approved → issued; withdrawn from received, in_review or returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any


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


def apply(state: FilingState | None, kind: str, payload: dict[str, Any], at: str) -> FilingState | None:
    """The filing's state after one event; events of other kinds leave it unchanged."""
    if kind == "filing.received":
        registration = payload.get("registration")
        if state is None or payload["round"] == 1:
            return FilingState(
                filing_id=payload["filing_id"],
                unit=payload["unit"],
                filer=payload["filer"],
                period=payload["period"],
                round=payload["round"],
                status=FilingStatus.RECEIVED,
                channel=payload["channel"],
                reply_to=payload["reply_to"],
                received_at=at,
                updated_at=at,
                registration=registration,
                workbook_blob=payload["workbook_blob"],
            )
        state.round = payload["round"]
        state.status = FilingStatus.RECEIVED
        state.filer = payload["filer"]
        state.period = payload["period"] or state.period
        state.channel = payload["channel"]
        state.reply_to = payload["reply_to"]
        state.registration = registration
        state.workbook_blob = payload["workbook_blob"]
        state.level, state.review_unit, state.reviewers = 0, "", []
        state.updated_at = at
        return state
    if state is None:
        return None
    if kind == "filing.invalid":
        state.status = FilingStatus.INVALID
    elif kind == "review.requested":
        if payload.get("reason") == "reviewers_added" and state.level == payload["level"]:
            state.reviewers = state.reviewers + [r for r in payload["reviewers"] if r not in state.reviewers]
        else:
            state.reviewers = list(payload["reviewers"])
        state.status = FilingStatus.IN_REVIEW
        state.level = payload["level"]
        state.review_unit = payload["unit"]
    elif kind == "review.decided":
        state.decisions.append(
            Decision(
                round=payload["round"],
                level=payload["level"],
                unit=payload["unit"],
                reviewer=payload["reviewer"],
                decision=payload["decision"],
                opinion=payload["opinion"],
                at=at,
            )
        )
    elif kind == "filing.returned":
        state.status = FilingStatus.RETURNED
        state.review_unit, state.reviewers = "", []
    elif kind == "filing.approved":
        state.status = FilingStatus.APPROVED
        state.review_unit, state.reviewers = "", []
    elif kind == "filing.withdrawn":
        state.status = FilingStatus.WITHDRAWN
        state.review_unit, state.reviewers = "", []
    elif kind == "document.issued":
        state.status = FilingStatus.ISSUED
        state.documents.append(
            {k: payload.get(k) for k in ("doc_type", "template", "cert_no", "pdf_blob", "reissue_of")} | {"at": at}
        )
    else:
        return state
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
    current = state.status == FilingStatus.IN_REVIEW and state.round == round_no and state.level == level
    if not current:
        earlier = state.decision_for(round_no, level)
        if earlier is not None:
            when = earlier.at.replace("T", " ").replace("+00:00", " UTC")
            return Refusal(
                f"该审核环节已由 {earlier.reviewer} 于 {when} 作出决定（{earlier.decision}），本次回复不予处理。",
                RefusalCode.ALREADY_DECIDED,
                earlier,
            )
        if state.status in (FilingStatus.WITHDRAWN,):
            return Refusal(f"申报 {state.filing_id} 已撤回，无需审核。", RefusalCode.WITHDRAWN)
        return Refusal(
            f"该审核环节（第 {round_no} 轮第 {level} 级）已不是申报 {state.filing_id} 的当前环节，本次回复不予处理。",
            RefusalCode.STALE_ROUND,
        )
    if sender not in unit_reviewers:
        return Refusal(f"发件人 {sender} 不是{unit_name}的审核人，本次回复不予处理。", RefusalCode.NOT_REVIEWER)
    if decision == ReviewDecision.RETURN and not opinion.strip():
        return Refusal("退回时必须填写审核意见，请在“退回”之后写明退回原因。", RefusalCode.MISSING_OPINION)
    return None
