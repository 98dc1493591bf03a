"""The state machine alone: pure folds over typed event bodies, no ledger involved."""

from __future__ import annotations

import documents.events  # noqa: F401  (declares document.issued, which the machine folds)
from ledger.events import EventBody, body_type
from workflow.machine import FilingState, FilingStatus, ReviewDecision, apply, check_decision

Event = tuple[str, dict[str, object]]  # (kind, payload), as the ledger stores it


def body(kind: str, payload: dict[str, object]) -> EventBody:
    return body_type(kind).model_validate(payload)


def fold(events: list[Event]) -> FilingState | None:
    state = None
    for n, (kind, payload) in enumerate(events):
        state = apply(state, body(kind, payload), f"2026-01-0{n % 9 + 1}T00:00:00+00:00")
    return state


RECEIVED = {
    "filing_id": "CQ2026-000001",
    "round": 1,
    "unit": "U",
    "filer": "U",
    "period": "2025-03-01",
    "channel": "smtp",
    "reply_to": "u@x.cn",
    "registration": {"ent_name": "U"},
    "workbook_blob": "ab",
    "item_id": "IN1",
}


def requested(level: int, unit: str, reviewers: list[str], reason: str = "submitted", round_no: int = 1) -> Event:
    return (
        "review.requested",
        {
            "filing_id": "CQ2026-000001",
            "round": round_no,
            "level": level,
            "unit": unit,
            "reviewers": reviewers,
            "reason": reason,
        },
    )


def decided(level: int, unit: str, reviewer: str, decision: str, opinion: str = "", round_no: int = 1) -> Event:
    return (
        "review.decided",
        {
            "filing_id": "CQ2026-000001",
            "round": round_no,
            "level": level,
            "unit": unit,
            "reviewer": reviewer,
            "decision": decision,
            "opinion": opinion,
        },
    )


def test_fold_through_return_and_second_round() -> None:
    events = [
        ("filing.received", RECEIVED),
        requested(1, "P", ["p@x.cn"]),
        decided(1, "P", "p@x.cn", "通过"),
        requested(2, "G", ["g@x.cn"], "approved_below"),
        decided(2, "G", "g@x.cn", "退回", "缺章程"),
        ("filing.returned", {"filing_id": "CQ2026-000001", "round": 1, "level": 2, "opinion": "缺章程", "by": "G"}),
    ]
    state = fold(events)
    assert state is not None and state.status == FilingStatus.RETURNED and state.review_unit == ""
    assert [d.decision for d in state.decisions] == ["通过", "退回"]
    state = fold([*events, ("filing.received", {**RECEIVED, "round": 2}), requested(1, "P", ["p@x.cn"], round_no=2)])
    assert state is not None and (state.status, state.round, state.level) == (FilingStatus.IN_REVIEW, 2, 1)
    stale = check_decision(
        state,
        round_no=1,
        level=2,
        sender="g@x.cn",
        unit_reviewers=["p@x.cn"],
        unit_name="P",
        decision=ReviewDecision.APPROVE,
        opinion="",
    )
    assert stale is not None and "已由 g@x.cn" in stale.reason_zh
    assert "于 2026-01-05 08:00:00（北京时间） 作出决定" in stale.reason_zh  # the supervisor's zone, not UTC
    ok = check_decision(
        state,
        round_no=2,
        level=1,
        sender="p@x.cn",
        unit_reviewers=["p@x.cn"],
        unit_name="P",
        decision=ReviewDecision.APPROVE,
        opinion="",
    )
    assert ok is None


def test_added_reviewers_join_the_waiting_step_and_issue_is_terminal() -> None:
    state = fold(
        [
            ("filing.received", RECEIVED),
            requested(1, "P", ["p@x.cn"]),
            requested(1, "P", ["new@x.cn"], "reviewers_added"),
        ]
    )
    assert state is not None and state.reviewers == ["p@x.cn", "new@x.cn"]
    approved = {"filing_id": "CQ2026-000001", "round": 1, "unit": "U", "period": "2025-03-01"}
    state = apply(state, body("filing.approved", approved), "t")
    issued = {
        **approved,
        "doc_type": "产权登记表",
        "template": "标准",
        "cert_no": "N1",
        "pdf_blob": "cd",
        "sha256": "cd",
        "approval_seq": 9,
        "content_hash": "ef",
        "pages": 1,
    }
    state = apply(state, body("document.issued", issued), "t")
    assert state is not None and state.status == FilingStatus.ISSUED and state.documents[0]["cert_no"] == "N1"
    assert state.documents[0] == {
        "doc_type": "产权登记表",
        "template": "标准",
        "cert_no": "N1",
        "pdf_blob": "cd",
        "reissue_of": None,
        "at": "t",
    }
    # events of an unknown filing fold to nothing
    assert apply(None, body(*decided(1, "P", "p@x.cn", "通过")), "t") is None
    assert FilingState.from_json(state.to_json()) == state
