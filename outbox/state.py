"""outbox/state.sqlite3: the dispatcher's cursor over the ledger and the sender's bookkeeping.

This is the outbox's own durable memory, separate from the ledger: the ledger says
what happened, this file says how far the outbox has acted on it. Losing it costs at
most re-dispatching (harmless: spool names are deterministic) and retry counters.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger import read_only_uri

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS delivery (name TEXT PRIMARY KEY, attempts INTEGER NOT NULL DEFAULT 0,"
    " next_at REAL NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '')",
    "CREATE TABLE IF NOT EXISTS outcomes (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
    " message_id TEXT NOT NULL, payload TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS reviews (filing_id TEXT NOT NULL, round INTEGER NOT NULL, level INTEGER NOT NULL,"
    " unit TEXT NOT NULL, reviewers TEXT NOT NULL, requested_at REAL NOT NULL, reminders INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (filing_id, round, level))",
)


_UPSERT_DELIVERY = (
    "INSERT INTO delivery (name, attempts, next_at, last_error) VALUES (?, ?, ?, ?) ON CONFLICT(name)"
    " DO UPDATE SET attempts = excluded.attempts, next_at = excluded.next_at, last_error = excluded.last_error"
)


@dataclass(frozen=True)
class DeliveryState:
    attempts: int = 0
    next_at: float = 0.0
    last_error: str = ""


@dataclass(frozen=True)
class PendingReview:
    filing_id: str
    round: int
    level: int
    unit: str
    reviewers: list[str]
    requested_at: float
    reminders: int


class OutboxState:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        for statement in _SCHEMA:
            self._conn.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- cursor ---------------------------------------------------------------------------
    def cursor(self) -> int:
        rows = self._run("SELECT value FROM meta WHERE key = 'cursor'")
        return int(rows[0][0]) if rows else 0

    def set_cursor(self, seq: int) -> None:
        self._run(
            "INSERT INTO meta (key, value) VALUES ('cursor', ?) ON CONFLICT(key) DO UPDATE SET value = ?",
            (str(seq), str(seq)),
        )

    # -- delivery attempts ------------------------------------------------------------------
    def delivery(self, name: str) -> DeliveryState:
        rows = self._run("SELECT attempts, next_at, last_error FROM delivery WHERE name = ?", (name,))
        return DeliveryState(*rows[0]) if rows else DeliveryState()

    def deliveries(self) -> dict[str, DeliveryState]:
        rows = self._run("SELECT name, attempts, next_at, last_error FROM delivery")
        return {str(r[0]): DeliveryState(r[1], r[2], r[3]) for r in rows}

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Many rows in one transaction: one fsync for a whole group."""
        if not rows:
            return
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(sql, rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def set_deliveries(self, items: list[tuple[str, DeliveryState]]) -> None:
        self._many(_UPSERT_DELIVERY, [(n, s.attempts, s.next_at, s.last_error) for n, s in items])

    def set_delivery(self, name: str, state: DeliveryState) -> None:
        self.set_deliveries([(name, state)])

    # -- outcomes waiting for the ledger ---------------------------------------------------------
    def add_outcomes(self, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
        """(kind, message_id, payload) rows, in one transaction."""
        self._many(
            "INSERT INTO outcomes (kind, message_id, payload) VALUES (?, ?, ?)",
            [(k, m, json.dumps(p, ensure_ascii=False, sort_keys=True)) for k, m, p in rows],
        )

    def outcomes(self) -> list[tuple[int, str, str, dict[str, Any]]]:
        rows = self._run("SELECT id, kind, message_id, payload FROM outcomes ORDER BY id")
        return [(int(r[0]), str(r[1]), str(r[2]), json.loads(r[3])) for r in rows]

    def drop_outcomes(self, ids: list[int]) -> None:
        self._many("DELETE FROM outcomes WHERE id = ?", [(i,) for i in ids])

    # -- reviews waiting (for reminders) -------------------------------------------------------
    def review_requested(
        self, filing_id: str, *, round_: int, level: int, unit: str, reviewers: list[str], at: float, added: bool
    ) -> None:
        """A request replaces the filing's waiting step; reviewers added to the same step join it."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._conn.execute(
                    "SELECT reviewers FROM reviews WHERE filing_id = ? AND round = ? AND level = ? AND unit = ?",
                    (filing_id, round_, level, unit),
                ).fetchone()
                if added and row is not None:
                    merged = list(dict.fromkeys([*json.loads(row[0]), *reviewers]))
                    self._conn.execute(
                        "UPDATE reviews SET reviewers = ? WHERE filing_id = ? AND round = ? AND level = ?",
                        (json.dumps(merged), filing_id, round_, level),
                    )
                else:
                    self._conn.execute("DELETE FROM reviews WHERE filing_id = ?", (filing_id,))
                    self._conn.execute(
                        "INSERT INTO reviews (filing_id, round, level, unit, reviewers, requested_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (filing_id, round_, level, unit, json.dumps(reviewers), at),
                    )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def review_closed(self, filing_id: str) -> None:
        """Any decision ends every reminder for the filing: the next level gets its own request."""
        self._run("DELETE FROM reviews WHERE filing_id = ?", (filing_id,))

    def pending_reviews(self) -> list[PendingReview]:
        rows = self._run(
            "SELECT filing_id, round, level, unit, reviewers, requested_at, reminders FROM reviews"
            " ORDER BY requested_at"
        )
        return [PendingReview(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6]) for r in rows]

    def set_reminders(self, filing_id: str, round_: int, level: int, count: int) -> None:
        self._run(
            "UPDATE reviews SET reminders = ? WHERE filing_id = ? AND round = ? AND level = ?",
            (count, filing_id, round_, level),
        )


def read_cursor(path: Path) -> int:
    """How far the outbox has acted on the ledger, read without writing anything (`chanquan status`):
    0 when the outbox never ran."""
    if not path.exists():
        return 0
    conn = sqlite3.connect(read_only_uri(path), uri=True, timeout=30)
    try:
        conn.execute("PRAGMA query_only = 1")
        row = conn.execute("SELECT value FROM meta WHERE key = 'cursor'").fetchone()
    except sqlite3.OperationalError:  # created but its schema not yet written
        return 0
    finally:
        conn.close()
    return int(row[0]) if row else 0
