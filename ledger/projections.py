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
from typing import Protocol, runtime_checkable

from ledger.events import StoredEvent


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
