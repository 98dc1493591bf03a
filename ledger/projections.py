"""Derived tables kept in the ledger's database and rebuilt from events.

Workflow needs queryable state (units, filings, pending reviews) that can never
drift from the facts: each projection is updated inside the very transaction
that appends the event, and can be rebuilt from nothing by replaying the log and
compared against the live tables.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from ledger.events import StoredEvent
from ledger.rows import EVENT_COLUMNS, row_to_event
from ledger.schema import connect


@runtime_checkable
class Projection(Protocol):
    """A derived view; `apply` may only read and write the projection's own `tables`."""

    name: str
    ddl: list[str]
    tables: list[str]

    def apply(self, conn: sqlite3.Connection, event: StoredEvent) -> None: ...


def ddl_digest(projection: Projection) -> str:
    return hashlib.sha256("\n;\n".join(projection.ddl).encode("utf-8")).hexdigest()


@dataclass
class TableDifference:
    projection: str
    table: str
    only_live: int
    only_rebuilt: int
    examples: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"{self.projection}.{self.table}: {self.only_live} row(s) only in the live table, "
            f"{self.only_rebuilt} only in the rebuilt one"
        )


def table_exists(conn: sqlite3.Connection, schema: str, table: str) -> bool:
    row = conn.execute(
        f"SELECT 1 FROM {schema}.sqlite_master WHERE type = 'table' AND name = ?",
        (table,),
    ).fetchone()
    return row is not None


def compare_tables(
    conn: sqlite3.Connection, projections: Sequence[Projection], rebuilt_schema: str
) -> list[TableDifference]:
    """Row-set differences between main.<table> and <rebuilt_schema>.<table> for every projection table."""
    differences: list[TableDifference] = []
    for projection in projections:
        for table in projection.tables:
            live = f'main."{table}"'
            rebuilt = f'{rebuilt_schema}."{table}"'
            only_live = conn.execute(f"SELECT * FROM {live} EXCEPT SELECT * FROM {rebuilt}").fetchall()
            only_rebuilt = conn.execute(f"SELECT * FROM {rebuilt} EXCEPT SELECT * FROM {live}").fetchall()
            if only_live or only_rebuilt:
                examples = [f"live: {row!r}" for row in only_live[:3]] + [
                    f"rebuilt: {row!r}" for row in only_rebuilt[:3]
                ]
                differences.append(TableDifference(projection.name, table, len(only_live), len(only_rebuilt), examples))
    return differences


def replay(conn: sqlite3.Connection, projections: Sequence[Projection], events: Iterable[StoredEvent]) -> int:
    count = 0
    for event in events:
        for projection in projections:
            projection.apply(conn, event)
        count += 1
    return count


def stale_projections(conn: sqlite3.Connection, projections: Sequence[Projection]) -> list[str]:
    """Names of the projections whose tables are missing or were built from another DDL."""
    stale = []
    for projection in projections:
        row = conn.execute("SELECT ddl_sha256 FROM ledger_projections WHERE name = ?", (projection.name,)).fetchone()
        tables_present = all(table_exists(conn, "main", t) for t in projection.tables)
        if row is None or row[0] != ddl_digest(projection) or not tables_present:
            stale.append(projection.name)
    return stale


def build_stale_projections(conn: sqlite3.Connection, projections: Sequence[Projection]) -> list[str]:
    """Give each stale projection fresh tables filled by replaying the log, one transaction each;
    returns the names of those rebuilt. A projection whose DDL changed is rebuilt, never migrated."""
    stale = stale_projections(conn, projections)
    for projection in (p for p in projections if p.name in stale):
        digest = ddl_digest(projection)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table in projection.tables:
                conn.execute(f'DROP TABLE IF EXISTS "{table}"')
            for statement in projection.ddl:
                conn.execute(statement)
            cursor = conn.execute(f"SELECT {EVENT_COLUMNS} FROM ledger_events ORDER BY seq")
            for event_row in cursor:
                projection.apply(conn, row_to_event(event_row))
            conn.execute(
                "INSERT OR REPLACE INTO ledger_projections(name, ddl_sha256) VALUES (?, ?)",
                (projection.name, digest),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return stale


def rebuild_into(target: Path, projections: Sequence[Projection], events: Iterable[StoredEvent]) -> None:
    """Replay `events` into fresh projection tables in the SQLite file `target` (replaced if present).

    The file is scratch, compared and thrown away, so it is written without a journal or syncs."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    out = sqlite3.connect(target, isolation_level=None)
    try:
        out.execute("PRAGMA journal_mode = OFF")
        out.execute("PRAGMA synchronous = OFF")
        out.execute("BEGIN")
        for projection in projections:
            for statement in projection.ddl:
                out.execute(statement)
        replay(out, projections, events)
        out.execute("COMMIT")
    finally:
        out.close()


def compare_files(path: Path, rebuilt: Path, projections: Sequence[Projection]) -> list[TableDifference]:
    """Differences between the projection tables of the ledger at `path` and those in `rebuilt`,
    read in one snapshot of the ledger through a read-only connection."""
    conn = connect(path, read_only=True)
    try:
        conn.execute("ATTACH DATABASE ? AS rebuilt", (str(rebuilt),))
        conn.execute("BEGIN")
        differences = compare_tables(conn, projections, "rebuilt")
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE rebuilt")
    finally:
        conn.close()
    return differences
