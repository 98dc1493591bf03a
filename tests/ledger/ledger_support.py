"""Event kinds and helpers shared by the ledger tests (also imported by the crash child)."""

from __future__ import annotations

import sqlite3
from datetime import date
from decimal import Decimal
from pathlib import Path

from pydantic import Field

from ledger import EventBody, Ledger, StoredEvent, event_kind, generate_key_files

ORIGIN = "test.chanquan/ledger"


@event_kind("test.unit_added")
class UnitAdded(EventBody):
    code: str
    name: str
    capital: Decimal
    founded: date | None = None


@event_kind("test.file_stored")
class FileStored(EventBody):
    name: str
    content_blob: str
    extra_blobs: list[str] = Field(default_factory=list)


@event_kind("test.counter")
class Counter(EventBody):
    n: int


def make_keys(folder: Path) -> tuple[Path, Path]:
    key, pub = folder / "keys" / "ledger.key", folder / "keys" / "ledger.pub"
    generate_key_files(key, pub, ORIGIN)
    return key, pub


def open_test_ledger(folder: Path, **kwargs: object) -> Ledger:
    key, _pub = make_keys(folder)
    options: dict[str, object] = {
        "signing_key_path": key,
        "checkpoint_file": folder / "checkpoints.log",
        "origin": ORIGIN,
        "checkpoint_interval_seconds": 0.0,
    }
    options.update(kwargs)
    return Ledger.open(folder / "ledger.sqlite3", **options)  # type: ignore[arg-type]


class UnitsProjection:
    """A small projection like workflow's: one row per unit, counting its events."""

    # plain class attributes, as the Projection protocol reads them (a ClassVar would not match it)
    name = "test_units"
    ddl = ["CREATE TABLE test_units (code TEXT PRIMARY KEY, name TEXT NOT NULL, events INTEGER NOT NULL)"]  # noqa: RUF012
    tables = ["test_units"]  # noqa: RUF012

    def __init__(self, fail_on: str | None = None) -> None:
        self.fail_on = fail_on

    def apply(self, conn: sqlite3.Connection, event: StoredEvent) -> None:
        if event.kind != "test.unit_added":
            return
        body = event.body
        assert isinstance(body, UnitAdded)
        if body.code == self.fail_on:
            raise ValueError(f"projection refuses {body.code}")
        conn.execute(
            "INSERT INTO test_units(code, name, events) VALUES (?, ?, 1) "
            "ON CONFLICT(code) DO UPDATE SET name = excluded.name, events = events + 1",
            (body.code, body.name),
        )


def raw_connection(db: Path) -> sqlite3.Connection:
    """An unguarded connection, as an attacker with a SQLite shell would have."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    return conn


def drop_guards(conn: sqlite3.Connection) -> None:
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f'DROP TRIGGER "{name}"')
