"""The unit tree, designations and accounts as projections: one small handler per event class.

Split from workflow/projections.py (the filings projection, which also lists them all); the
rules there hold here too: each handler runs inside the append's transaction and writes only
what its event says, times being event times, so `chanquan ledger rebuild` rebuilds them exactly.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any, ClassVar

from ledger.events import EventBody, StoredEvent
from workflow.events import (
    AccountCreated,
    AccountLocked,
    AccountPasswordChanged,
    AccountReset,
    AccountUnlocked,
    DesignationApplied,
    DesignationApproved,
    DesignationRejected,
    UnitAdded,
    UnitContactsSet,
    UnitDesignated,
    UnitMoved,
    UnitUpdated,
)

_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def dumps(value: Any) -> str:
    """The JSON text of a projection's column: compact and key-sorted, so that a rebuild writes the same bytes."""
    return _ENCODER.encode(value)


def event_time(event: StoredEvent) -> str:
    """A row's time: the event's own, to the second, never the clock's (a rebuild must match)."""
    return event.ts.isoformat(timespec="seconds")


# A projection's reaction to one kind: (connection, the event, its body of the key's class).
Handler = Callable[[sqlite3.Connection, StoredEvent, Any], None]


def _unit_added(conn: sqlite3.Connection, event: StoredEvent, p: UnitAdded) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO wf_units VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?)",
        (
            p.code,
            p.name,
            p.level,
            p.parent,
            int(p.overseas),
            p.holding,
            dumps(p.filer_emails),
            dumps(p.reviewer_emails),
            p.username,
            event.seq,
            event.seq,
        ),
    )


def _unit_updated(conn: sqlite3.Connection, event: StoredEvent, p: UnitUpdated) -> None:
    conn.execute(
        "UPDATE wf_units SET name = ?, holding = ?, overseas = ?, changed_seq = ? WHERE code = ?",
        (p.name, p.holding, int(p.overseas), event.seq, p.code),
    )


def _unit_contacts_set(conn: sqlite3.Connection, event: StoredEvent, p: UnitContactsSet) -> None:
    conn.execute(
        "UPDATE wf_units SET filer_emails = ?, reviewer_emails = ?, changed_seq = ? WHERE code = ?",
        (dumps(p.filer_emails), dumps(p.reviewer_emails), event.seq, p.code),
    )


def _unit_moved(conn: sqlite3.Connection, event: StoredEvent, p: UnitMoved) -> None:
    row = conn.execute("SELECT level FROM wf_units WHERE code = ?", (p.code,)).fetchone()
    if row is None:
        return
    delta = p.new_level - int(row[0])
    conn.execute(
        "WITH RECURSIVE sub(code) AS"
        " (SELECT ? UNION SELECT u.code FROM wf_units u JOIN sub ON u.parent = sub.code)"
        " UPDATE wf_units SET level = level + ?, changed_seq = ? WHERE code IN (SELECT code FROM sub)",
        (p.code, delta, event.seq),
    )
    conn.execute("UPDATE wf_units SET parent = ? WHERE code = ?", (p.new_parent, p.code))


def _designation(conn: sqlite3.Connection, first_level: str, seq: int, **values: object) -> None:
    """Set some columns of a first-level's designation row (created on the base rule first)."""
    conn.execute(
        "INSERT OR IGNORE INTO wf_designations VALUES"
        " (?, 'self', '', '', '', '', '', 0, '', '', '', '', 0, '', '', '', ?)",
        (first_level, seq),
    )
    columns = ", ".join(f"{name} = ?" for name in values)
    conn.execute(
        f"UPDATE wf_designations SET {columns}, changed_seq = ? WHERE first_level = ?",
        (*values.values(), seq, first_level),
    )


def _filer(conn: sqlite3.Connection, first_level: str, filer: str, seq: int) -> None:
    conn.execute("UPDATE wf_units SET designated_filer = ?, changed_seq = ? WHERE code = ?", (filer, seq, first_level))


def _unit_designated(conn: sqlite3.Connection, event: StoredEvent, p: UnitDesignated) -> None:
    # before applications existed: it took effect at once, so it reads as approved, without a reference
    _filer(conn, p.first_level, p.filer, event.seq)
    _designation(
        conn,
        p.first_level,
        event.seq,
        mode="designated" if p.filer else "self",
        unit=p.filer,
        reference="",
        reason="",
        approved_by=event.actor,
        approved_at=event_time(event),
        legacy=1,
    )


def _designation_applied(conn: sqlite3.Connection, event: StoredEvent, p: DesignationApplied) -> None:
    _designation(
        conn,
        p.first_level,
        event.seq,
        pending_mode=p.mode,
        pending_unit=p.unit,
        pending_reason=p.reason,
        pending_by=p.by,
        pending_seq=event.seq,
        pending_at=event_time(event),
        rejected_opinion="",
        rejected_at="",
    )


_NOTHING_PENDING: dict[str, object] = {
    "pending_mode": "",
    "pending_unit": "",
    "pending_reason": "",
    "pending_by": "",
    "pending_seq": 0,
    "pending_at": "",
}


def _designation_approved(conn: sqlite3.Connection, event: StoredEvent, p: DesignationApproved) -> None:
    unit = p.unit if p.mode == "designated" else ""
    _filer(conn, p.first_level, unit, event.seq)
    row = conn.execute("SELECT pending_reason FROM wf_designations WHERE first_level = ?", (p.first_level,)).fetchone()
    _designation(
        conn,
        p.first_level,
        event.seq,
        mode=p.mode,
        unit=unit,
        reference=p.reference,
        reason=str(row[0]) if row else "",
        approved_by=p.by,
        approved_at=event_time(event),
        legacy=0,
        **_NOTHING_PENDING,
    )


def _designation_rejected(conn: sqlite3.Connection, event: StoredEvent, p: DesignationRejected) -> None:
    _designation(
        conn, p.first_level, event.seq, **_NOTHING_PENDING, rejected_opinion=p.opinion, rejected_at=event_time(event)
    )


class HandledProjection:
    """A projection that reacts through its HANDLERS, one per event class; `consumes` and `kinds` follow.

    A subclass gives name, tables, ddl and HANDLERS. Every append passes through every projection,
    so an event of a kind it has no handler for is passed over before its payload is parsed.
    """

    HANDLERS: ClassVar[dict[type[EventBody], Handler]] = {}
    consumes: ClassVar[tuple[type[EventBody], ...]] = ()
    kinds: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.consumes = tuple(cls.HANDLERS)
        cls.kinds = frozenset(kind.kind for kind in cls.consumes)

    def apply(self, conn: sqlite3.Connection, event: StoredEvent) -> None:
        if event.kind not in self.kinds:
            return
        body = event.body
        self.HANDLERS[type(body)](conn, event, body)


class UnitsProjection(HandledProjection):
    """`wf_units`: the enterprise tree as it stands; `wf_designations`: who files below each first-level."""

    name = "workflow.units"
    tables = ["wf_units", "wf_designations"]  # noqa: RUF012
    ddl = [  # noqa: RUF012
        "CREATE TABLE IF NOT EXISTS wf_units ("
        " code TEXT PRIMARY KEY, name TEXT NOT NULL, level INTEGER NOT NULL, parent TEXT NOT NULL,"
        " overseas INTEGER NOT NULL, holding TEXT NOT NULL, filer_emails TEXT NOT NULL,"
        " reviewer_emails TEXT NOT NULL, username TEXT NOT NULL, designated_filer TEXT NOT NULL DEFAULT '',"
        " added_seq INTEGER NOT NULL, changed_seq INTEGER NOT NULL)",
        "CREATE INDEX IF NOT EXISTS wf_units_parent ON wf_units(parent)",
        # one row per first-level enterprise that ever applied (or was designated the old way);
        # pending_seq 0 = no application waiting
        "CREATE TABLE IF NOT EXISTS wf_designations ("
        " first_level TEXT PRIMARY KEY, mode TEXT NOT NULL, unit TEXT NOT NULL, reference TEXT NOT NULL,"
        " reason TEXT NOT NULL, approved_by TEXT NOT NULL, approved_at TEXT NOT NULL, legacy INTEGER NOT NULL,"
        " pending_mode TEXT NOT NULL, pending_unit TEXT NOT NULL, pending_reason TEXT NOT NULL,"
        " pending_by TEXT NOT NULL, pending_seq INTEGER NOT NULL, pending_at TEXT NOT NULL,"
        " rejected_opinion TEXT NOT NULL, rejected_at TEXT NOT NULL, changed_seq INTEGER NOT NULL)",
    ]

    HANDLERS: ClassVar[dict[type[EventBody], Handler]] = {
        UnitAdded: _unit_added,
        UnitUpdated: _unit_updated,
        UnitContactsSet: _unit_contacts_set,
        UnitDesignated: _unit_designated,
        UnitMoved: _unit_moved,
        DesignationApplied: _designation_applied,
        DesignationApproved: _designation_approved,
        DesignationRejected: _designation_rejected,
    }


def _account_created(conn: sqlite3.Connection, event: StoredEvent, p: AccountCreated) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO wf_accounts(username, unit, created_at, must_change) VALUES (?, ?, ?, 1)",
        (p.username, p.unit, event_time(event)),
    )


def _account_password_changed(conn: sqlite3.Connection, event: StoredEvent, p: AccountPasswordChanged) -> None:
    conn.execute(
        "UPDATE wf_accounts SET must_change = 0, password_changed_at = ?, locked_until = NULL WHERE username = ?",
        (event_time(event), p.username),
    )


def _account_locked(conn: sqlite3.Connection, event: StoredEvent, p: AccountLocked) -> None:
    conn.execute(
        "UPDATE wf_accounts SET locked_at = ?, locked_until = ? WHERE username = ?",
        (event_time(event), p.until, p.username),
    )


def _account_reset(conn: sqlite3.Connection, event: StoredEvent, p: AccountReset) -> None:
    conn.execute(
        "UPDATE wf_accounts SET must_change = 1, reset_at = ?, locked_until = NULL WHERE username = ?",
        (event_time(event), p.username),
    )


def _account_unlocked(conn: sqlite3.Connection, event: StoredEvent, p: AccountUnlocked) -> None:
    conn.execute("UPDATE wf_accounts SET locked_until = NULL WHERE username = ?", (p.username,))


class AccountsProjection(HandledProjection):
    """`wf_accounts`: public facts about accounts (never a credential)."""

    name = "workflow.accounts"
    tables = ["wf_accounts"]  # noqa: RUF012
    ddl = [  # noqa: RUF012
        "CREATE TABLE IF NOT EXISTS wf_accounts ("
        " username TEXT PRIMARY KEY, unit TEXT NOT NULL, created_at TEXT NOT NULL,"
        " must_change INTEGER NOT NULL, password_changed_at TEXT, locked_at TEXT, locked_until TEXT, reset_at TEXT)",
    ]

    HANDLERS: ClassVar[dict[type[EventBody], Handler]] = {
        AccountCreated: _account_created,
        AccountPasswordChanged: _account_password_changed,
        AccountLocked: _account_locked,
        AccountReset: _account_reset,
        AccountUnlocked: _account_unlocked,
    }
