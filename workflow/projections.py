"""Workflow's projections: derived tables in the ledger database, rebuilt from events.

Each `apply` runs inside the transaction that appends the event, so the tables never
disagree with the log; `chanquan ledger rebuild` replays them from nothing and compares.
Rows hold only what the events say (times are event times), so a rebuild is identical.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass
from typing import Any

from ledger.events import StoredEvent
from workflow import machine
from workflow.machine import FilingStatus

_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def _ts(event: StoredEvent) -> str:
    return event.ts.isoformat(timespec="seconds")


class UnitsProjection:
    """`wf_units`: the enterprise tree as it stands."""

    name = "workflow.units"
    tables = ["wf_units"]  # noqa: RUF012
    ddl = [  # noqa: RUF012
        "CREATE TABLE IF NOT EXISTS wf_units ("
        " code TEXT PRIMARY KEY, name TEXT NOT NULL, level INTEGER NOT NULL, parent TEXT NOT NULL,"
        " overseas INTEGER NOT NULL, holding TEXT NOT NULL, filer_emails TEXT NOT NULL,"
        " reviewer_emails TEXT NOT NULL, username TEXT NOT NULL, designated_filer TEXT NOT NULL DEFAULT '',"
        " added_seq INTEGER NOT NULL, changed_seq INTEGER NOT NULL)",
        "CREATE INDEX IF NOT EXISTS wf_units_parent ON wf_units(parent)",
    ]

    kinds = frozenset({"unit.added", "unit.updated", "unit.contacts_set", "unit.designated", "unit.moved"})

    def apply(self, conn: sqlite3.Connection, event: StoredEvent) -> None:
        if event.kind not in self.kinds:
            return  # every append passes through every projection: no payload parse for the others
        p = event.payload
        if event.kind == "unit.added":
            conn.execute(
                "INSERT OR REPLACE INTO wf_units VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?)",
                (
                    p["code"],
                    p["name"],
                    p["level"],
                    p["parent"],
                    int(p["overseas"]),
                    p["holding"],
                    _dumps(p["filer_emails"]),
                    _dumps(p["reviewer_emails"]),
                    p["username"],
                    event.seq,
                    event.seq,
                ),
            )
        elif event.kind == "unit.updated":
            conn.execute(
                "UPDATE wf_units SET name = ?, holding = ?, overseas = ?, changed_seq = ? WHERE code = ?",
                (p["name"], p["holding"], int(p["overseas"]), event.seq, p["code"]),
            )
        elif event.kind == "unit.contacts_set":
            conn.execute(
                "UPDATE wf_units SET filer_emails = ?, reviewer_emails = ?, changed_seq = ? WHERE code = ?",
                (_dumps(p["filer_emails"]), _dumps(p["reviewer_emails"]), event.seq, p["code"]),
            )
        elif event.kind == "unit.designated":
            conn.execute(
                "UPDATE wf_units SET designated_filer = ?, changed_seq = ? WHERE code = ?",
                (p["filer"], event.seq, p["first_level"]),
            )
        elif event.kind == "unit.moved":
            row = conn.execute("SELECT level FROM wf_units WHERE code = ?", (p["code"],)).fetchone()
            if row is None:
                return
            delta = int(p["new_level"]) - int(row[0])
            conn.execute(
                "WITH RECURSIVE sub(code) AS"
                " (SELECT ? UNION SELECT u.code FROM wf_units u JOIN sub ON u.parent = sub.code)"
                " UPDATE wf_units SET level = level + ?, changed_seq = ? WHERE code IN (SELECT code FROM sub)",
                (p["code"], delta, event.seq),
            )
            conn.execute("UPDATE wf_units SET parent = ? WHERE code = ?", (p["new_parent"], p["code"]))


class AccountsProjection:
    """`wf_accounts`: public facts about accounts (never a credential)."""

    name = "workflow.accounts"
    tables = ["wf_accounts"]  # noqa: RUF012
    ddl = [  # noqa: RUF012
        "CREATE TABLE IF NOT EXISTS wf_accounts ("
        " username TEXT PRIMARY KEY, unit TEXT NOT NULL, created_at TEXT NOT NULL,"
        " must_change INTEGER NOT NULL, password_changed_at TEXT, locked_at TEXT, locked_until TEXT, reset_at TEXT)",
    ]

    kinds = frozenset({"account.created", "account.password_changed", "account.locked", "account.reset"})

    def apply(self, conn: sqlite3.Connection, event: StoredEvent) -> None:
        if event.kind not in self.kinds:
            return  # every append passes through every projection: no payload parse for the others
        p = event.payload
        at = _ts(event)
        if event.kind == "account.created":
            conn.execute(
                "INSERT OR IGNORE INTO wf_accounts(username, unit, created_at, must_change) VALUES (?, ?, ?, 1)",
                (p["username"], p["unit"], at),
            )
        elif event.kind == "account.password_changed":
            conn.execute(
                "UPDATE wf_accounts SET must_change = 0, password_changed_at = ?, locked_until = NULL"
                " WHERE username = ?",
                (at, p["username"]),
            )
        elif event.kind == "account.locked":
            conn.execute(
                "UPDATE wf_accounts SET locked_at = ?, locked_until = ? WHERE username = ?",
                (at, p["until"], p["username"]),
            )
        elif event.kind == "account.reset":
            conn.execute(
                "UPDATE wf_accounts SET must_change = 1, reset_at = ?, locked_until = NULL WHERE username = ?",
                (at, p["username"]),
            )


FILING_KINDS = frozenset(
    {
        "filing.received",
        "filing.invalid",
        "review.requested",
        "review.decided",
        "filing.returned",
        "filing.approved",
        "filing.withdrawn",
        "document.issued",
    }
)


def load_filing(conn: sqlite3.Connection, filing_id: str) -> machine.FilingState | None:
    row = conn.execute("SELECT state FROM wf_filings WHERE filing_id = ?", (filing_id,)).fetchone()
    return None if row is None else machine.FilingState.from_json(json.loads(row[0]))


# Stands in for the registration while the rest of a state is serialized; its text is then
# replaced by the registration's own (random, so no opinion or name can contain it).
_PLACEHOLDER = f"registration-{secrets.token_hex(16)}"
_PLACEHOLDER_JSON = _dumps(_PLACEHOLDER)


def state_text(state: machine.FilingState, registration_text: str | None) -> str:
    """`_dumps(state.to_json())`, reusing the registration's JSON when it is already known
    (the registration is most of a state, and it does not change after the filing is received)."""
    body = state.to_json()
    if registration_text is None or state.registration is None:
        return _dumps(body)
    body["registration"] = _PLACEHOLDER
    return _dumps(body).replace(_PLACEHOLDER_JSON, registration_text, 1)


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
    and every review decision by reviewing unit (what the portal lists and checks visibility by)."""

    name = "workflow.filings"
    tables = ["wf_filings", "wf_items", "wf_queue", "wf_registrations", "wf_reviews"]  # noqa: RUF012
    ddl = [  # noqa: RUF012
        "CREATE TABLE IF NOT EXISTS wf_filings ("
        " filing_id TEXT PRIMARY KEY, year INTEGER NOT NULL, unit TEXT NOT NULL, filer TEXT NOT NULL,"
        " period TEXT NOT NULL, round INTEGER NOT NULL, status TEXT NOT NULL, level INTEGER NOT NULL,"
        " review_unit TEXT NOT NULL, received_at TEXT NOT NULL, updated_at TEXT NOT NULL, state TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS wf_filings_unit ON wf_filings(unit, period, status)",
        "CREATE INDEX IF NOT EXISTS wf_filings_filer ON wf_filings(filer)",
        "CREATE TABLE IF NOT EXISTS wf_items ("
        " item_id TEXT PRIMARY KEY, filing_id TEXT NOT NULL, round INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS wf_queue ("
        " filing_id TEXT PRIMARY KEY, round INTEGER NOT NULL, level INTEGER NOT NULL, unit TEXT NOT NULL,"
        " reviewers TEXT NOT NULL, requested_at TEXT NOT NULL, requested_seq INTEGER NOT NULL)",
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
    ]

    def __init__(self) -> None:
        self._states = _StateCache()

    def apply(self, conn: sqlite3.Connection, event: StoredEvent) -> None:
        if event.kind not in FILING_KINDS:
            return
        p = event.payload
        filing_id = str(p.get("filing_id", event.subject))
        at = _ts(event)
        row = conn.execute("SELECT state FROM wf_filings WHERE filing_id = ?", (filing_id,)).fetchone()
        written = None if row is None else self._states.take(filing_id, row[0])
        if written is not None:
            before: machine.FilingState | None = written.state
        else:
            before = None if row is None else machine.FilingState.from_json(json.loads(row[0]))
        state = machine.apply(before, event.kind, p, at)
        if state is None:
            return
        registration_text = None
        if state.registration is not None:
            if written is not None and written.registration is state.registration:
                registration_text = written.registration_text
            else:
                registration_text = _dumps(state.registration)
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
        self._states.put(state.filing_id, _Written(text, state, state.registration, registration_text))
        if event.kind == "filing.received":
            conn.execute("INSERT OR IGNORE INTO wf_items VALUES (?, ?, ?)", (p["item_id"], filing_id, p["round"]))
        elif event.kind == "review.decided":
            conn.execute(
                "INSERT OR REPLACE INTO wf_reviews VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.seq,
                    filing_id,
                    p["round"],
                    p["level"],
                    p["unit"],
                    p["reviewer"],
                    p["decision"],
                    p["opinion"],
                    at,
                ),
            )
        if state.status == FilingStatus.IN_REVIEW:
            if event.kind == "review.requested" and p.get("reason") != "reviewers_added":
                conn.execute(
                    "INSERT OR REPLACE INTO wf_queue VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (filing_id, state.round, state.level, state.review_unit, _dumps(state.reviewers), at, event.seq),
                )
            else:  # same step, more reviewers asked: the step keeps waiting since its request
                conn.execute(
                    "UPDATE wf_queue SET reviewers = ? WHERE filing_id = ?", (_dumps(state.reviewers), filing_id)
                )
        else:
            conn.execute("DELETE FROM wf_queue WHERE filing_id = ?", (filing_id,))
        if event.kind == "filing.approved" and state.registration is not None:
            conn.execute(
                "INSERT OR REPLACE INTO wf_registrations VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    filing_id,
                    state.unit,
                    state.period,
                    state.round,
                    event.seq,
                    at,
                    str(state.registration.get("ent_name") or ""),
                    registration_text,
                ),
            )


def _filing_year(filing_id: str) -> int:
    digits = filing_id[2:6]
    return int(digits) if digits.isdigit() else 0


def all_projections() -> list[Any]:
    """Workflow's projections in the order they must be applied."""
    return [UnitsProjection(), AccountsProjection(), FilingsProjection()]
