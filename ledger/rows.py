"""Reading the ledger tables: shared by the Ledger's readers, its writer and verify-free tools."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger import merkle
from ledger.canonical import parse_ts
from ledger.errors import LedgerError
from ledger.events import StoredEvent
from ledger.schema import MIN_STORED_LEVEL, node_id

EVENT_COLUMNS = "seq, ts, kind, actor, subject, payload, leaf_hash"


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    ts: str
    note: str


def row_to_event(row: Sequence[Any]) -> StoredEvent:
    return StoredEvent(row[0], parse_ts(row[1]), row[2], row[3], row[4], row[5], row[6])


def node_source(conn: sqlite3.Connection) -> merkle.NodeSource:
    """Lookups of complete subtrees: leaves from ledger_events, inner nodes from ledger_nodes."""

    def lookup(level: int, index: int) -> bytes:
        if level == 0:
            row = conn.execute("SELECT leaf_hash FROM ledger_events WHERE seq = ?", (index + 1,)).fetchone()
        elif level < MIN_STORED_LEVEL:
            # small subtrees are not stored: recompute them from their (at most 2**level) leaves
            first, count = (index << level) + 1, 1 << level
            leaves = [
                bytes(r[0])
                for r in conn.execute(
                    "SELECT leaf_hash FROM ledger_events WHERE seq >= ? AND seq < ? ORDER BY seq",
                    (first, first + count),
                )
            ]
            if len(leaves) != count:
                raise LedgerError(f"leaves {first}..{first + count - 1} are missing from the database")
            return merkle.root_from_leaves(leaves)
        else:
            row = conn.execute("SELECT hash FROM ledger_nodes WHERE id = ?", (node_id(level, index),)).fetchone()
        if row is None:
            raise LedgerError(f"Merkle node (level {level}, index {index}) is missing from the database")
        return bytes(row[0])

    return lookup


def db_size(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(seq), 0) FROM ledger_events").fetchone()[0])


def last_checkpoint_size(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(size), 0) FROM ledger_checkpoints").fetchone()[0])
