"""Does the database still extend the newest checkpoint held outside it?

Checkpoints are appended to checkpoints.log (and to a witness copy) only after the
commit they cover, so the database may be ahead of a file (a crash in between, or
another process that has not appended its line yet) but never behind it, and its
root at the file's size must be the signed one. A database rolled back to an old
copy, truncated, deleted or rewritten breaks that; appending to it would have the
service's own key sign a checkpoint that conflicts with one already given out.

Only the newest line of each file is read (from the end of the file, so opening
stays fast however long the file grows); `ledger verify` checks every line.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ledger import merkle
from ledger.errors import LedgerError, LedgerForkError
from ledger.note import NoteError, NoteVerifier, open_any, read_unverified
from ledger.rows import db_size, node_source

log = logging.getLogger(__name__)

_TAIL_CHUNK = 4096


@dataclass(frozen=True)
class SignedHead:
    """The newest checkpoint of a file: its signature checked (or no key was available to check it)."""

    source: Path
    size: int
    root: bytes


@dataclass(frozen=True)
class DamagedHead:
    """A newest line that does not verify: the file was edited or damaged, never silently skipped."""

    source: Path
    detail: str


Head = SignedHead | DamagedHead


def newest_head(path: Path, verifiers: Sequence[NoteVerifier]) -> Head | None:
    """The newest complete line of a checkpoint file, checked; None when the file is missing or empty.

    The line must verify with one of `verifiers` (the current key, then retired ones: after a key
    rotation the newest line may still carry the old key); with none at all it is read unverified.

    A trailing fragment that is not JSON is what a crash in the middle of an append leaves
    (the writer starts its next line on a line of its own): it is logged, and the line before
    it is the newest. Anything else that does not parse or verify is a DamagedHead.
    """
    try:
        line = _last_line(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return DamagedHead(path, f"无法读取：{exc.strerror or exc}")
    if line is None:
        return None
    try:
        record = json.loads(line)
        note, claimed = record["note"], record["size"]
    except (ValueError, KeyError, TypeError):
        note = claimed = None
    if not isinstance(note, str) or not isinstance(claimed, int):
        return DamagedHead(path, "不是有效的检查点记录")
    try:
        checkpoint = open_any(note, verifiers) if verifiers else read_unverified(note)
    except NoteError as exc:
        return DamagedHead(path, f"签名无效或格式错误（{exc}）")
    if checkpoint.size != claimed:
        return DamagedHead(path, "记录中的条目数与签名内容不一致")
    return SignedHead(path, checkpoint.size, checkpoint.root)


def _last_line(path: Path) -> bytes | None:
    with path.open("rb") as f:
        end = f.seek(0, os.SEEK_END)
        chunk = _TAIL_CHUNK
        while True:
            start = max(0, end - chunk)
            f.seek(start)
            parts = f.read(end - start).split(b"\n")
            fragment = parts.pop()  # what follows the last newline: b"" when the file ends with one
            if start > 0:
                if not parts:  # not one whole line in this chunk yet
                    chunk *= 4
                    continue
                parts.pop(0)  # the chunk may start inside a line
            if fragment.strip():
                try:
                    json.loads(fragment)
                    return fragment  # complete, only its newline is missing
                except ValueError:
                    log.info("ledger.checkpoint_line_torn", extra={"file": str(path), "bytes": len(fragment)})
            for part in reversed(parts):
                if part.strip():
                    return part
            if start == 0:
                return None
            chunk *= 4


def _has_events_table(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_events'").fetchone()
    return row is not None


def database_size(conn: sqlite3.Connection) -> int:
    """Events in the database; 0 for an empty file or one without the ledger's tables."""
    return db_size(conn) if _has_events_table(conn) else 0


def find_fork(db_path: Path, conn: sqlite3.Connection | None, heads: Sequence[Head]) -> LedgerForkError | None:
    """The first head the database does not extend (None when it extends them all).

    `conn` is None when there is no database file at all; any head then is a refusal,
    since creating a new empty ledger next to signed checkpoints would fork it.
    """
    if not heads:
        return None
    size = None if conn is None else database_size(conn)
    source = node_source(conn) if conn is not None and size else None

    roots: dict[int, bytes | None] = {}  # the log and the witness usually name the same size

    def root(n: int) -> bytes | None:
        if n not in roots:
            roots[n] = _root(source, n)
        return roots[n]

    def fork(reason: str, head: Head, at: bytes | None = None) -> LedgerForkError:
        signed = head if isinstance(head, SignedHead) else None
        return LedgerForkError(
            reason=reason,
            db_path=str(db_path),
            db_size=size,
            db_root=root(size) if size is not None else None,
            source=str(head.source),
            log_size=signed.size if signed is not None else None,
            log_root=signed.root if signed is not None else None,
            db_root_at_log_size=at,
            detail=head.detail if isinstance(head, DamagedHead) else "",
        )

    for head in heads:
        if isinstance(head, DamagedHead):
            return fork("damaged", head)
        if size is None or (size == 0 and head.size > 0):
            return fork("missing", head)
        if size < head.size:
            return fork("behind", head)
        at = root(head.size)
        if at != head.root:
            return fork("root_differs", head, at)
    return None


def _root(source: merkle.NodeSource | None, size: int) -> bytes | None:
    if size == 0:
        return merkle.EMPTY_ROOT
    if source is None:
        return None
    try:
        return merkle.root_from_source(source, size)
    except (LedgerError, sqlite3.DatabaseError):
        return None  # a damaged tree; `ledger verify` says where
