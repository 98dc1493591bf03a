"""The filings projection writes exactly what a plain fold and `to_json` would, cache or no cache.

The projection keeps the states it last wrote (a filing's events come in pairs within one
transaction) and reuses the registration's JSON; these tests hold it to the slow, obvious
path: every row equals `json.dumps(machine fold of the events so far)`, also after a
transaction that was rolled back or a row changed behind its back.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import documents.events  # noqa: F401  (declares document.issued, which the projection folds)
from ledger.events import EventBody, StoredEvent, body_type
from workflow.machine import FilingState, apply
from workflow.projections import FilingsProjection, state_text
from workflow.unit_projections import dumps as _dumps

FILING = "CQ2026-000001"
REGISTRATION = {
    "ent_name": "重庆测试子公司",
    "reg_capital": "1000.0000",
    "investors": [{"investor_name": "出资企业", "share_pct": "100.00"}],
    "note": 'quotes " and \\ and a fake "registration":null',
}


def received(round_no: int = 1, registration: dict[str, Any] | None = REGISTRATION) -> tuple[str, dict[str, Any]]:
    return (
        "filing.received",
        {
            "filing_id": FILING,
            "round": round_no,
            "unit": "U",
            "filer": "U",
            "period": "2025-03-01",
            "channel": "dropbox",
            "reply_to": "",
            "registration": registration,
            "workbook_blob": "ab" * 32,
            "item_id": f"IN{round_no}",
        },
    )


def requested(level: int, round_no: int = 1) -> tuple[str, dict[str, Any]]:
    payload = {"filing_id": FILING, "round": round_no, "level": level, "unit": "P", "reviewers": ["p@x.cn"]}
    return "review.requested", {**payload, "reason": "submitted"}


def decided(level: int, decision: str, opinion: str, round_no: int = 1) -> tuple[str, dict[str, Any]]:
    payload = {"filing_id": FILING, "round": round_no, "level": level, "unit": "P", "reviewer": "p@x.cn"}
    return "review.decided", {**payload, "decision": decision, "opinion": opinion}


RETURNED = ("filing.returned", {"filing_id": FILING, "round": 1, "level": 1, "opinion": "缺章程", "by": "P"})
APPROVED = ("filing.approved", {"filing_id": FILING, "round": 2, "unit": "U", "period": "2025-03-01"})
ISSUED = (
    "document.issued",
    {
        "filing_id": FILING,
        "round": 2,
        "unit": "U",
        "period": "2025-03-01",
        "doc_type": "form",
        "template": "t",
        "cert_no": "1",
        "pdf_blob": "cd" * 32,
        "sha256": "cd" * 32,
        "approval_seq": 8,
        "content_hash": "ef" * 32,
        "pages": 1,
    },
)


def _body(kind: str, payload: dict[str, Any]) -> EventBody:
    return body_type(kind).model_validate(payload)


class Db:
    """The projection on a real SQLite database, fed one event per call."""

    def __init__(self) -> None:
        self.conn = sqlite3.connect(":memory:", isolation_level=None)
        self.projection = FilingsProjection()
        for statement in self.projection.ddl:
            self.conn.execute(statement)
        self.seq = 0

    def apply(self, kind: str, payload: dict[str, Any]) -> None:
        self.seq += 1
        moment = datetime(2026, 1, 1, 0, 0, self.seq % 60, tzinfo=UTC)
        event = StoredEvent(self.seq, moment, kind, "actor", FILING, _dumps(payload), b"")
        self.projection.apply(self.conn, event)

    def state_text(self) -> str:
        return str(self.conn.execute("SELECT state FROM wf_filings WHERE filing_id = ?", (FILING,)).fetchone()[0])


def expected_text(events: list[tuple[str, dict[str, Any]]]) -> str:
    """The obvious path: fold from nothing, then `to_json` (a deep copy) and dump."""
    state: FilingState | None = None
    for n, (kind, payload) in enumerate(events, start=1):
        at = datetime(2026, 1, 1, 0, 0, n % 60, tzinfo=UTC).isoformat(timespec="seconds")
        state = apply(state, body_type(kind).model_validate_json(_dumps(payload)), at)
    assert state is not None
    return _dumps(state.to_json())


def test_every_row_equals_the_fold_of_the_events_so_far() -> None:
    events = [
        received(),
        requested(1),
        decided(1, "退回", '意见里有 "registration" 和 \\ 反斜杠'),
        RETURNED,
        received(round_no=2, registration={**REGISTRATION, "ent_name": "改名后的公司"}),
        requested(1, round_no=2),
        decided(1, "通过", "同意", round_no=2),
        APPROVED,
        ISSUED,
    ]
    db = Db()
    for count, event in enumerate(events, start=1):
        db.apply(*event)
        assert db.state_text() == expected_text(events[:count]), events[count - 1][0]
    approved = db.conn.execute("SELECT registration FROM wf_registrations").fetchone()[0]
    assert json.loads(approved)["ent_name"] == "改名后的公司"


def test_a_rolled_back_event_is_not_remembered() -> None:
    db = Db()
    db.apply(*received())
    db.conn.execute("BEGIN")
    db.apply(*requested(1))
    db.conn.execute("ROLLBACK")  # e.g. another request of the same batch failed
    db.seq -= 1  # the writer numbers the next events again from where the ledger stands
    db.apply(*decided(1, "退回", "缺章程"))
    plain = Db()  # the same events without the rolled-back one
    plain.apply(*received())
    plain.apply(*decided(1, "退回", "缺章程"))
    assert db.state_text() == plain.state_text()
    assert json.loads(db.state_text())["status"] == "received"  # the request never happened


def test_a_row_changed_by_someone_else_is_read_again() -> None:
    db = Db()
    db.apply(*received())
    changed = json.loads(db.state_text())
    changed["reply_to"] = "changed@x.cn"
    db.conn.execute("UPDATE wf_filings SET state = ? WHERE filing_id = ?", (_dumps(changed), FILING))
    db.apply(*requested(1))
    assert json.loads(db.state_text())["reply_to"] == "changed@x.cn"


def test_state_text_matches_to_json_with_and_without_a_registration() -> None:
    for registration in (REGISTRATION, None):
        state = apply(None, _body(*received(registration=registration)), "2026-01-01T00:00:00+00:00")
        assert state is not None
        state = apply(state, _body(*decided(1, "退回", "x")), "2026-01-01T00:00:01+00:00")
        assert state is not None
        known = None if registration is None else _dumps(registration)
        assert state.to_json() == asdict(state)  # the same values, only without the deep copy
        assert state_text(state, known) == _dumps(asdict(state))
        assert state_text(state, None) == _dumps(asdict(state))


def test_unit_and_account_projections_name_every_kind_they_handle() -> None:
    """They skip any event outside `kinds` before parsing it, so a new unit.* or account.* kind left
    out of the set would silently never reach its table."""
    import workflow.events
    from workflow.unit_projections import AccountsProjection, UnitsProjection

    declared = [
        cls
        for cls in vars(workflow.events).values()
        if isinstance(cls, type) and issubclass(cls, EventBody) and cls.__module__ == "workflow.events"
    ]
    units = ("unit.", "designation.")  # designations: who files below a first-level, part of the tree's state
    assert set(UnitsProjection.consumes) == {cls for cls in declared if cls.kind.startswith(units)}
    assert set(AccountsProjection.consumes) == {cls for cls in declared if cls.kind.startswith("account.")}
    for projection in (UnitsProjection, AccountsProjection):
        assert projection.kinds == {cls.kind for cls in projection.consumes}


def test_projections_and_the_machine_react_through_tables_keyed_by_event_class() -> None:
    """Issue 13: one small handler per event class, not a chain of cases; the tables are what each
    projection consumes, and the machine folds exactly the kinds the filings projection reads."""
    from workflow import machine, projections
    from workflow.events import FilingReceived
    from workflow.foreign_kinds import DOCUMENT_ISSUED
    from workflow.unit_projections import AccountsProjection, UnitsProjection

    for projection in (UnitsProjection, AccountsProjection):
        assert tuple(projection.HANDLERS) == projection.consumes
        assert all(isinstance(cls, type) and issubclass(cls, EventBody) for cls in projection.HANDLERS)
    assert set(machine.FOLDS) | {FilingReceived} == set(projections.FILING_EVENTS)
    assert set(machine.FOREIGN_FOLDS) == {DOCUMENT_ISSUED}
    assert set(projections.FILING_ROWS) <= set(projections.FILING_EVENTS)


def test_unit_and_account_projections_leave_other_events_unparsed() -> None:
    from workflow.unit_projections import AccountsProjection, UnitsProjection

    event = StoredEvent(1, datetime(2026, 1, 1, tzinfo=UTC), "intake.received", "intake", "IN1", "not json", b"")
    conn = sqlite3.connect(":memory:")
    for projection in (UnitsProjection(), AccountsProjection()):
        projection.apply(conn, event)  # would raise on the payload if it were parsed
    assert event._payload is None


FOLD_WITHOUT_DOCUMENTS = """
import json, sqlite3, sys
from datetime import UTC, datetime
from ledger.events import StoredEvent
from workflow.foreign_kinds import body_of
from workflow.projections import FilingsProjection
from workflow.unit_projections import dumps
conn = sqlite3.connect(":memory:", isolation_level=None)
projection = FilingsProjection()
for statement in projection.ddl:
    conn.execute(statement)
for seq, (kind, payload) in enumerate(json.loads(sys.stdin.read()), start=1):
    event = StoredEvent(seq, datetime(2026, 1, 1, 0, 0, seq % 60, tzinfo=UTC), kind, "actor", "F", dumps(payload), b"")
    projection.apply(conn, event)
    last = body_of(event)
assert "documents" not in sys.modules and "documents.events" not in sys.modules
print(conn.execute("SELECT state FROM wf_filings").fetchone()[0])
print(type(last).__name__, last.cert_no)
"""


def test_a_process_without_documents_folds_an_issued_document_the_same() -> None:
    """document.issued is declared by documents/, which workflow may not import: a projection rebuilt (or
    a history listed) by a process that has not imported it folds the payload's view to the same state."""
    events = [received(), requested(1), decided(1, "approve", "同意"), APPROVED, ISSUED]
    db = Db()
    for kind, payload in events:
        db.apply(kind, payload)
    done = subprocess.run(
        [sys.executable, "-c", FOLD_WITHOUT_DOCUMENTS],
        input=json.dumps(events),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    state, view = done.stdout.splitlines()
    assert state == db.state_text() and '"status": "issued"' in state.replace('":"', '": "')
    assert view == "_IssuedDocumentView 1"
