"""The ledger's tables, its append-only triggers and the connection guard.

Triggers and the authorizer stop accidents (a stray UPDATE, a migration that
drops a table); they do not stop someone with the file and a SQLite shell. The
Merkle tree and the signed checkpoints held outside the database are the proof.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

LEDGER_TABLES = ("ledger_events", "ledger_nodes", "ledger_checkpoints")
FORMAT_VERSION = "1"
# ledger_nodes.id packs (level, index): level in the high bits, so one integer key per node
NODE_LEVEL_SHIFT = 48
# Complete subtrees of fewer than 2**MIN_STORED_LEVEL leaves are not stored: recomputing one
# from at most 8 leaves is one indexed range read, and skipping them cuts node rows 16-fold.
MIN_STORED_LEVEL = 4

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS ledger_events (
        seq INTEGER PRIMARY KEY,
        ts TEXT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        subject TEXT NOT NULL,
        payload TEXT NOT NULL,
        leaf_hash BLOB NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS ledger_events_subject ON ledger_events(subject, seq)",
    # no index on kind: every insert would pay for it, and scans by kind are rare (log, audits)
    """CREATE TABLE IF NOT EXISTS ledger_nodes (
        id INTEGER PRIMARY KEY,
        hash BLOB NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS ledger_checkpoints (
        id INTEGER PRIMARY KEY,
        size INTEGER NOT NULL,
        root BLOB NOT NULL,
        ts TEXT NOT NULL,
        note TEXT NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ledger_projections (name TEXT PRIMARY KEY, ddl_sha256 TEXT NOT NULL)",
    """CREATE TRIGGER IF NOT EXISTS ledger_events_consecutive BEFORE INSERT ON ledger_events
        WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM ledger_events)
        BEGIN SELECT RAISE(ABORT, 'ledger_events: seq must be the next consecutive number'); END""",
]
for _table in LEDGER_TABLES:
    SCHEMA.append(
        f"""CREATE TRIGGER IF NOT EXISTS {_table}_no_update BEFORE UPDATE ON {_table}
        BEGIN SELECT RAISE(ABORT, '{_table} is append-only: UPDATE refused'); END"""
    )
    SCHEMA.append(
        f"""CREATE TRIGGER IF NOT EXISTS {_table}_no_delete BEFORE DELETE ON {_table}
        BEGIN SELECT RAISE(ABORT, '{_table} is append-only: DELETE refused'); END"""
    )

_GUARDED = frozenset(LEDGER_TABLES)


def _authorizer(action: int, arg1: str | None, arg2: str | None, db_name: str | None, source: str | None) -> int:
    """Refuse DROP and ALTER of ledger tables (and of their triggers) on application connections."""
    if action == sqlite3.SQLITE_DROP_TABLE and arg1 in _GUARDED:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_ALTER_TABLE and arg2 in _GUARDED:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_DROP_TRIGGER and arg2 in _GUARDED:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_DROP_INDEX and arg2 in _GUARDED:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def read_only_uri(path: Path) -> str:
    """A SQLite URI (open with uri=True, then PRAGMA query_only) that reads a WAL database without leaving a trace.

    It never creates the file. While a -wal file exists (another process is writing, or a
    crash left one) it is mode=ro, since a read-write handle closing last would checkpoint
    that file into the database; otherwise mode=rw, so that closing removes the -wal and
    -shm files SQLite makes while reading and the folder is as it was. (immutable=1 would
    make no files at all, but reads pages unlocked while another process may write.)
    """
    mode = "ro" if Path(f"{path}-wal").exists() else "rw"
    return f"{Path(path).absolute().as_uri()}?mode={mode}"


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A guarded connection: WAL, synchronous=FULL, busy timeout, DROP/ALTER of ledger tables refused.

    A read-only one never creates or changes a file (see read_only_uri).
    """
    if read_only:
        target = read_only_uri(path)
        conn = sqlite3.connect(target, uri=True, isolation_level=None, check_same_thread=False, timeout=30.0)
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA busy_timeout = 30000")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA temp_store = MEMORY")
    # the subject index takes inserts all over its B-tree; a larger page cache keeps them off the disk
    conn.execute(f"PRAGMA cache_size = {-16384 if read_only else -65536}")
    if read_only:
        conn.execute("PRAGMA query_only = ON")
    conn.set_authorizer(_authorizer)
    return conn


def create_schema(conn: sqlite3.Connection) -> None:
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"cannot switch the ledger to WAL (journal_mode is {mode})")
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in SCHEMA:
            conn.execute(statement)
        conn.execute("INSERT OR IGNORE INTO ledger_meta(key, value) VALUES ('format_version', ?)", (FORMAT_VERSION,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def node_id(level: int, index: int) -> int:
    return (level << NODE_LEVEL_SHIFT) | index
