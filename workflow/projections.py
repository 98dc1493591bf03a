"""Workflow's projections: derived tables in the ledger database, rebuilt from events.

Here the filings projection (with the filings counted by first-level group and state, which
首页's overviews read instead of walking the tree) and the list of all; the unit tree, designations
and accounts are in workflow/unit_projections.py. Every projection reacts through a table keyed by
event class.

Each `apply` runs inside the transaction that appends the event, so the tables never
disagree with the log; `chanquan ledger rebuild` replays them from nothing and compares.
Rows hold only what the events say (times are event times), so a rebuild is identical.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ledger.events import EventBody, StoredEvent
from workflow import machine
from workflow.events import (
    FilingApproved,
    FilingInvalid,
    FilingReceived,
    FilingReturned,
    FilingWithdrawn,
    ReviewDecided,
    ReviewRequested,
    UnitAdded,
    UnitMoved,
)
from workflow.foreign_kinds import DOCUMENT_ISSUED, body_of
from workflow.machine import FilingStatus
from workflow.unit_projections import AccountsProjection, UnitsProjection, dumps, event_time

FILING_EVENTS: tuple[type[EventBody], ...] = (
    FilingReceived,
    FilingInvalid,
    ReviewRequested,
    ReviewDecided,
    FilingReturned,
    FilingApproved,
    FilingWithdrawn,
)
# document.issued too: documents/ declares it, out of workflow's reach (workflow/foreign_kinds.py)
FILING_KINDS = frozenset({*(cls.kind for cls in FILING_EVENTS), DOCUMENT_ISSUED})
# unit events that place a unit in a first-level group (`wf_unit_groups`, `wf_group_counts`)
GROUP_KINDS = frozenset({UnitAdded.kind, UnitMoved.kind})


def load_filing(conn: sqlite3.Connection, filing_id: str) -> machine.FilingState | None:
    row = conn.execute("SELECT state FROM wf_filings WHERE filing_id = ?", (filing_id,)).fetchone()
    return None if row is None else machine.FilingState.from_json(json.loads(row[0]))


# Stands in for the registration while the rest of a state is serialized; its text is then
# replaced by the registration's own (random, so no opinion or name can contain it).
_PLACEHOLDER = f"registration-{secrets.token_hex(16)}"
_PLACEHOLDER_JSON = dumps(_PLACEHOLDER)


def state_text(state: machine.FilingState, registration_text: str | None) -> str:
    """`dumps(state.to_json())`, reusing the registration's JSON when it is already known
    (the registration is most of a state, and it does not change after the filing is received)."""
    body = state.to_json()
    if registration_text is None or state.registration is None:
        return dumps(body)
    body["registration"] = _PLACEHOLDER
    return dumps(body).replace(_PLACEHOLDER_JSON, registration_text, 1)


@dataclass
class _Written:
    """A state as this projection last wrote it."""

    text: str
    state: machine.FilingState
    registration: dict[str, Any] | None  # the object `registration_text` was made from
    registration_text: str | None


class _StateCache:
    """The last states this projection wrote, keyed by filing id with the exact JSON text stored.

    A filing's events usually come in pairs in one transaction (received + review requested);
    the second need not parse what the first just wrote, nor serialize its registration again.
    An entry is used only when the row still holds exactly the text it was made from, so a
    rolled-back transaction or a write by anything else simply misses; it is taken out while
    `machine.apply` mutates its state.
    """

    LIMIT = 512  # a few batches of filings; registrations are kilobytes each

    def __init__(self) -> None:
        self._entries: dict[str, _Written] = {}

    def take(self, filing_id: str, text: str) -> _Written | None:
        entry = self._entries.pop(filing_id, None)
        return entry if entry is not None and entry.text == text else None

    def put(self, filing_id: str, entry: _Written) -> None:
        if len(self._entries) >= self.LIMIT:
            self._entries.clear()
        self._entries[filing_id] = entry


class FilingsProjection:
    """Filings with their state, the review queue, approved registrations by period, issued documents,
    every review decision by reviewing unit (what the portal lists and checks visibility by), and the
    filings counted by first-level group and state.

    For the counts it keeps each unit's group itself (`wf_unit_groups`, from unit.added and
    unit.moved) rather than reading the units projection's tables: a projection reads only its own,
    so that it can be rebuilt alone."""

    name = "workflow.filings"
    tables = [  # noqa: RUF012
        "wf_filings",
        "wf_items",
        "wf_queue",
        "wf_registrations",
        "wf_reviews",
        "wf_unit_groups",
        "wf_group_counts",
    ]
    ddl = [  # noqa: RUF012
        "CREATE TABLE IF NOT EXISTS wf_filings ("
        " filing_id TEXT PRIMARY KEY, year INTEGER NOT NULL, unit TEXT NOT NULL, filer TEXT NOT NULL,"
        " period TEXT NOT NULL, round INTEGER NOT NULL, status TEXT NOT NULL, level INTEGER NOT NULL,"
        " review_unit TEXT NOT NULL, received_at TEXT NOT NULL, updated_at TEXT NOT NULL, state TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS wf_filings_unit ON wf_filings(unit, period, status)",
        "CREATE INDEX IF NOT EXISTS wf_filings_filer ON wf_filings(filer)",
        "CREATE TABLE IF NOT EXISTS wf_items ("
        " item_id TEXT PRIMARY KEY, filing_id TEXT NOT NULL, round INTEGER NOT NULL)",
        # the filing's unit and period ride along, so a queue is listed without reading wf_filings' states
        "CREATE TABLE IF NOT EXISTS wf_queue ("
        " filing_id TEXT PRIMARY KEY, round INTEGER NOT NULL, level INTEGER NOT NULL, unit TEXT NOT NULL,"
        " reviewers TEXT NOT NULL, requested_at TEXT NOT NULL, requested_seq INTEGER NOT NULL,"
        " filing_unit TEXT NOT NULL, period TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS wf_queue_unit ON wf_queue(unit, requested_seq)",
        "CREATE TABLE IF NOT EXISTS wf_registrations ("
        " filing_id TEXT PRIMARY KEY, unit TEXT NOT NULL, period TEXT NOT NULL, round INTEGER NOT NULL,"
        " approved_seq INTEGER NOT NULL, approved_at TEXT NOT NULL, ent_name TEXT NOT NULL,"
        " registration TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS wf_registrations_unit ON wf_registrations(unit, period)",
        "CREATE TABLE IF NOT EXISTS wf_reviews ("
        " seq INTEGER PRIMARY KEY, filing_id TEXT NOT NULL, round INTEGER NOT NULL, level INTEGER NOT NULL,"
        " unit TEXT NOT NULL, reviewer TEXT NOT NULL, decision TEXT NOT NULL, opinion TEXT NOT NULL,"
        " decided_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS wf_reviews_unit ON wf_reviews(unit, seq)",
        "CREATE INDEX IF NOT EXISTS wf_reviews_filing ON wf_reviews(filing_id, seq)",
        # each unit's first-level group: the level-1 unit above it, or itself ('' for the root)
        "CREATE TABLE IF NOT EXISTS wf_unit_groups ("
        " code TEXT PRIMARY KEY, parent TEXT NOT NULL, grp TEXT NOT NULL) WITHOUT ROWID",
        "CREATE INDEX IF NOT EXISTS wf_unit_groups_parent ON wf_unit_groups(parent)",
        # filings by state per first-level group, counted by the unit filed for (a filing of a unit in
        # no group is not counted); no row counts zero
        "CREATE TABLE IF NOT EXISTS wf_group_counts ("
        " grp TEXT NOT NULL, status TEXT NOT NULL, filings INTEGER NOT NULL, PRIMARY KEY (grp, status))"
        " WITHOUT ROWID",
    ]

    def __init__(self) -> None:
        self._states = _StateCache()

    def apply(self, conn: sqlite3.Connection, event: StoredEvent) -> None:
        if event.kind in GROUP_KINDS:
            _place_unit(conn, event.body)
        if event.kind not in FILING_KINDS:
            return
        body = body_of(event)  # document.issued is declared by documents/, which this process may not import
        filing_id = str(getattr(body, "filing_id", event.subject))
        at = event_time(event)
        written = self._fold(conn, filing_id, body, at)
        if written is None:
            return
        _queue_row(conn, event, body, written.state, at)
        rows = FILING_ROWS.get(type(body))
        if rows is not None:
            rows(conn, event, body, written, at)

    def _fold(self, conn: sqlite3.Connection, filing_id: str, body: EventBody, at: str) -> _Written | None:
        """Fold the event into the filing's stored state and write it back; None if it has no filing."""
        row = conn.execute("SELECT state FROM wf_filings WHERE filing_id = ?", (filing_id,)).fetchone()
        written = None if row is None else self._states.take(filing_id, row[0])
        if written is not None:
            before: machine.FilingState | None = written.state
        else:
            before = None if row is None else machine.FilingState.from_json(json.loads(row[0]))
        counted = None if before is None else (before.unit, before.status)  # read before `apply` changes it
        state = machine.apply(before, body, at)
        if state is None:
            return None
        if counted != (state.unit, state.status):
            group = _group(conn, state.unit)
            if counted is not None:
                old_unit, old_status = counted
                _count(conn, group if old_unit == state.unit else _group(conn, old_unit), old_status, -1)
            _count(conn, group, state.status, 1)
        registration_text = None
        if state.registration is not None:
            if written is not None and written.registration is state.registration:
                registration_text = written.registration_text
            else:
                registration_text = dumps(state.registration)
        text = state_text(state, registration_text)
        conn.execute(
            "INSERT OR REPLACE INTO wf_filings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                state.filing_id,
                _filing_year(state.filing_id),
                state.unit,
                state.filer,
                state.period,
                state.round,
                state.status,
                state.level,
                state.review_unit,
                state.received_at,
                state.updated_at,
                text,
            ),
        )
        now = _Written(text, state, state.registration, registration_text)
        self._states.put(state.filing_id, now)
        return now


def _queue_row(
    conn: sqlite3.Connection, event: StoredEvent, body: EventBody, state: machine.FilingState, at: str
) -> None:
    """A filing is in `wf_queue` exactly while a step of it waits for a decision."""
    if state.status != FilingStatus.IN_REVIEW:
        conn.execute("DELETE FROM wf_queue WHERE filing_id = ?", (state.filing_id,))
    elif isinstance(body, ReviewRequested) and body.reason != "reviewers_added":
        conn.execute(
            "INSERT OR REPLACE INTO wf_queue VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                state.filing_id,
                state.round,
                state.level,
                state.review_unit,
                dumps(state.reviewers),
                at,
                event.seq,
                state.unit,
                state.period,
            ),
        )
    else:  # same step, more reviewers asked: the step keeps waiting since its request
        conn.execute("UPDATE wf_queue SET reviewers = ? WHERE filing_id = ?", (dumps(state.reviewers), state.filing_id))


def _group(conn: sqlite3.Connection, unit: str) -> str:
    """The first-level group `unit` is counted in; "" outside any group (the root, an unknown unit)."""
    row = conn.execute("SELECT grp FROM wf_unit_groups WHERE code = ?", (unit,)).fetchone()
    return "" if row is None else str(row[0])


def _count(conn: sqlite3.Connection, group: str, status: str, delta: int) -> None:
    """Add `delta` filings in `status` to `group`'s count (none outside a group)."""
    if not group:
        return
    conn.execute(
        "INSERT INTO wf_group_counts VALUES (?, ?, ?)"
        " ON CONFLICT (grp, status) DO UPDATE SET filings = filings + excluded.filings",
        (group, status, delta),
    )
    if delta < 0:
        conn.execute("DELETE FROM wf_group_counts WHERE grp = ? AND status = ? AND filings = 0", (group, status))


def _place_unit(conn: sqlite3.Connection, body: EventBody) -> None:
    """Put an added or moved unit, and whatever is already below it, in its group (its parent's, or
    its own at level 1); when that puts filings into another group (a move, a unit added again, a
    unit added after filings were made for its code), count every group anew: rare, and exact
    whatever the tree did."""
    if isinstance(body, UnitAdded):
        code, parent, level = body.code, body.parent, body.level
    elif isinstance(body, UnitMoved):
        code, parent, level = body.code, body.new_parent, body.new_level
    else:
        return
    before = conn.execute("SELECT grp FROM wf_unit_groups WHERE code = ?", (code,)).fetchone()
    if before is None and isinstance(body, UnitMoved):
        return  # a unit the tree does not know; the units projection passes it over too
    above = conn.execute("SELECT grp FROM wf_unit_groups WHERE code = ?", (parent,)).fetchone()
    group = code if level == 1 else (str(above[0]) if above is not None and level > 1 else "")
    conn.execute("INSERT OR REPLACE INTO wf_unit_groups VALUES (?, ?, ?)", (code, parent, group))
    if before is not None and before[0] == group:
        return
    below = conn.execute("SELECT 1 FROM wf_unit_groups WHERE parent = ? LIMIT 1", (code,)).fetchone()
    if below is not None and level >= 1:  # the root's children are groups of their own
        conn.execute(
            "WITH RECURSIVE sub(code) AS"
            " (SELECT ? UNION SELECT g.code FROM wf_unit_groups g JOIN sub ON g.parent = sub.code)"
            " UPDATE wf_unit_groups SET grp = ? WHERE code IN (SELECT code FROM sub)",
            (code, group),
        )
    own = conn.execute("SELECT 1 FROM wf_filings WHERE unit = ? LIMIT 1", (code,)).fetchone()
    if below is not None or own is not None:
        conn.execute("DELETE FROM wf_group_counts")
        conn.execute(
            "INSERT INTO wf_group_counts SELECT g.grp, f.status, count(*) FROM wf_filings f"
            " JOIN wf_unit_groups g ON g.code = f.unit WHERE g.grp != '' GROUP BY g.grp, f.status"
        )


def _item_row(conn: sqlite3.Connection, event: StoredEvent, body: FilingReceived, written: _Written, at: str) -> None:
    conn.execute("INSERT OR IGNORE INTO wf_items VALUES (?, ?, ?)", (body.item_id, body.filing_id, body.round))


def _review_row(conn: sqlite3.Connection, event: StoredEvent, body: ReviewDecided, written: _Written, at: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO wf_reviews VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (event.seq, body.filing_id, body.round, body.level, body.unit, body.reviewer, body.decision, body.opinion, at),
    )


def _registration_row(
    conn: sqlite3.Connection, event: StoredEvent, body: FilingApproved, written: _Written, at: str
) -> None:
    state = written.state
    if state.registration is None:
        return
    conn.execute(
        "INSERT OR REPLACE INTO wf_registrations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            body.filing_id,
            state.unit,
            state.period,
            state.round,
            event.seq,
            at,
            str(state.registration.get("ent_name") or ""),
            written.registration_text,
        ),
    )


# The filings projection's rows besides the state and the queue, by kind:
# (connection, the event, its body of the key's class, the state as just written, event time).
RowWriter = Callable[[sqlite3.Connection, StoredEvent, Any, _Written, str], None]
FILING_ROWS: dict[type[EventBody], RowWriter] = {
    FilingReceived: _item_row,
    ReviewDecided: _review_row,
    FilingApproved: _registration_row,
}


def _filing_year(filing_id: str) -> int:
    digits = filing_id[2:6]
    return int(digits) if digits.isdigit() else 0


def all_projections() -> list[Any]:
    """Workflow's projections in the order they must be applied."""
    return [UnitsProjection(), AccountsProjection(), FilingsProjection()]
