"""What intake knows about its items, as a ledger projection rebuilt from intake's events.

The table is updated inside the same transaction that appends each event, so
"received but not processed" can never disagree with the ledger: that is the list of
items to resume at start, the resent-mail index, and the figures of `chanquan status`.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from intake.events import IntakeFolderUnknown, IntakeProcessed, IntakeReceived, ReviewUnclear
from intake.item import InboundItem
from ledger import StoredEvent

_ITEM_NAMES = (
    "item_id",
    "channel",
    "purpose",
    "raw_blob",
    "content_sha256",
    "sender",
    "filer",
    "reply_to",
    "original_name",
    "message_id",
    "recipient",
    "received_at",
    "received_seq",
)
_ITEM_COLUMNS = ", ".join(_ITEM_NAMES)


class IntakeProjection:
    """Ledger projection `intake`: one row per item, plus the once-only guards."""

    def __init__(self) -> None:
        self.name = "intake"
        self.tables = list(_TABLES)
        self.ddl = list(_DDL)

    def apply(self, conn: sqlite3.Connection, event: StoredEvent) -> None:
        handler = _APPLY.get(event.kind)
        if handler is not None:
            handler(conn, event)


_TABLES = ("intake_items", "intake_reported_folders", "intake_unclear_answers")
_DDL = (
    """CREATE TABLE IF NOT EXISTS intake_items (
            item_id TEXT PRIMARY KEY,
            channel TEXT NOT NULL,
            purpose TEXT NOT NULL,
            raw_blob TEXT NOT NULL,
            content_sha256 TEXT NOT NULL,
            sender TEXT NOT NULL,
            filer TEXT NOT NULL,
            reply_to TEXT NOT NULL,
            original_name TEXT NOT NULL,
            message_id TEXT NOT NULL,
            recipient TEXT NOT NULL,
            received_at TEXT NOT NULL,
            received_seq INTEGER NOT NULL,
            processed_seq INTEGER,
            outcome TEXT,
            filing_id TEXT
        )""",
    "CREATE INDEX IF NOT EXISTS intake_items_pending ON intake_items(processed_seq, received_seq)",
    "CREATE INDEX IF NOT EXISTS intake_items_resent ON intake_items(message_id, content_sha256)",
    "CREATE TABLE IF NOT EXISTS intake_reported_folders (folder TEXT PRIMARY KEY, seq INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS intake_unclear_answers (
            sender TEXT NOT NULL, step TEXT NOT NULL, seq INTEGER NOT NULL,
            PRIMARY KEY (sender, step))""",
)


def _apply_received(conn: sqlite3.Connection, event: StoredEvent) -> None:
    p = event.body_as(IntakeReceived)
    conn.execute(
        f"INSERT OR IGNORE INTO intake_items ({_ITEM_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            p.item_id,
            p.channel,
            p.purpose,
            p.raw_blob,
            p.content_sha256,
            p.sender,
            p.filer,
            p.reply_to,
            p.original_name,
            p.message_id,
            p.recipient,
            event.ts.isoformat(),
            event.seq,
        ),
    )


def _apply_processed(conn: sqlite3.Connection, event: StoredEvent) -> None:
    p = event.body_as(IntakeProcessed)
    conn.execute(
        "UPDATE intake_items SET processed_seq = ?, outcome = ?, filing_id = ? "
        "WHERE item_id = ? AND processed_seq IS NULL",
        (event.seq, p.outcome, p.filing_id, p.item_id),
    )


def _apply_folder_unknown(conn: sqlite3.Connection, event: StoredEvent) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO intake_reported_folders (folder, seq) VALUES (?, ?)",
        (event.body_as(IntakeFolderUnknown).folder, event.seq),
    )


def _apply_unclear(conn: sqlite3.Connection, event: StoredEvent) -> None:
    p = event.body_as(ReviewUnclear)
    conn.execute(
        "INSERT OR IGNORE INTO intake_unclear_answers (sender, step, seq) VALUES (?, ?, ?)",
        (p.sender.lower(), p.step, event.seq),
    )


_APPLY = {
    IntakeReceived.kind: _apply_received,
    IntakeProcessed.kind: _apply_processed,
    IntakeFolderUnknown.kind: _apply_folder_unknown,
    ReviewUnclear.kind: _apply_unclear,
}


def _item(row: sqlite3.Row | tuple[Any, ...]) -> InboundItem:
    return InboundItem(**dict(zip(_ITEM_NAMES, row, strict=True)))


def get_item(conn: sqlite3.Connection, item_id: str) -> InboundItem | None:
    row = conn.execute(f"SELECT {_ITEM_COLUMNS} FROM intake_items WHERE item_id = ?", (item_id,)).fetchone()
    return _item(row) if row else None


def is_recorded(conn: sqlite3.Connection, item_id: str) -> bool:
    return conn.execute("SELECT 1 FROM intake_items WHERE item_id = ?", (item_id,)).fetchone() is not None


def is_processed(conn: sqlite3.Connection, item_id: str) -> bool:
    row = conn.execute("SELECT processed_seq FROM intake_items WHERE item_id = ?", (item_id,)).fetchone()
    return bool(row and row[0] is not None)


def pending_items(conn: sqlite3.Connection, limit: int = 100_000) -> list[tuple[str, str]]:
    """(item_id, purpose) of items received but not processed, oldest first: what a restart resumes."""
    rows = conn.execute(
        "SELECT item_id, purpose FROM intake_items WHERE processed_seq IS NULL ORDER BY received_seq LIMIT ?",
        (limit,),
    )
    return [(r[0], r[1]) for r in rows]


def find_resent(conn: sqlite3.Connection, message_id: str, content_sha256: str) -> tuple[str, str] | None:
    """(item_id, filing_id) of an earlier item with the same Message-ID and content."""
    if not message_id:
        return None
    row = conn.execute(
        "SELECT item_id, COALESCE(filing_id, '') FROM intake_items WHERE message_id = ? AND content_sha256 = ? "
        "ORDER BY received_seq LIMIT 1",
        (message_id, content_sha256),
    ).fetchone()
    return (row[0], row[1]) if row else None


def folder_reported(conn: sqlite3.Connection, folder: str) -> bool:
    return conn.execute("SELECT 1 FROM intake_reported_folders WHERE folder = ?", (folder,)).fetchone() is not None


def unclear_answered(conn: sqlite3.Connection, sender: str, step: str) -> bool:
    """The loop guard: one 'please reply 通过 or 退回' per sender and review step."""
    row = conn.execute(
        "SELECT 1 FROM intake_unclear_answers WHERE sender = ? AND step = ?", (sender.lower(), step)
    ).fetchone()
    return row is not None


@dataclass(frozen=True)
class QueueStatus:
    waiting: int
    oldest_item: str
    oldest_received_at: str
    processed: int


def queue_status(conn: sqlite3.Connection) -> QueueStatus:
    waiting = conn.execute("SELECT COUNT(*) FROM intake_items WHERE processed_seq IS NULL").fetchone()[0]
    processed = conn.execute("SELECT COUNT(*) FROM intake_items WHERE processed_seq IS NOT NULL").fetchone()[0]
    oldest = conn.execute(
        "SELECT item_id, received_at FROM intake_items WHERE processed_seq IS NULL ORDER BY received_seq LIMIT 1"
    ).fetchone()
    return QueueStatus(waiting, oldest[0] if oldest else "", oldest[1] if oldest else "", processed)


REFUSED_OUTCOMES = ("refused",)
UNCLEAR_OUTCOMES = ("unclear", "unclear-again")


def reply_outcomes_since(conn: sqlite3.Connection, since: datetime) -> dict[str, int]:
    """Reviewer replies received since `since` and closed, counted by outcome (for `chanquan status`)."""
    rows = conn.execute(
        "SELECT outcome, COUNT(*) FROM intake_items WHERE purpose = 'review_reply' AND processed_seq IS NOT NULL"
        " AND received_at >= ? GROUP BY outcome",
        (since.astimezone(UTC).isoformat(),),  # received_at is written in UTC
    )
    return {str(outcome): int(count) for outcome, count in rows}
