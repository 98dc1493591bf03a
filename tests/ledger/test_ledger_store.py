"""Appending, reading, concurrency, guards and projections on real SQLite files."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from ledger_support import Counter, UnitAdded, UnitsProjection, open_test_ledger

from ledger import EventNotFoundError, Ledger, LedgerError, merkle


def unit(code: str, name: str = "测试单位") -> UnitAdded:
    return UnitAdded(code=code, name=name, capital=Decimal("100.50"), founded=date(2020, 1, 2))


def test_append_returns_durable_typed_events_with_gapless_seq(ledger: Ledger) -> None:
    first = ledger.append(unit("U1"), actor="SASAC0001", subject="U1")
    more = ledger.append_many([(Counter(n=i), "sys", f"S{i % 2}") for i in range(5)])
    assert first.seq == 1
    assert [e.seq for e in more] == [2, 3, 4, 5, 6]
    assert ledger.size() == 6
    stored = ledger.get(1)
    assert stored == first
    assert stored.payload == {"capital": "100.50", "code": "U1", "founded": "2020-01-02", "name": "测试单位"}
    assert stored.payload_json == '{"capital":"100.50","code":"U1","founded":"2020-01-02","name":"测试单位"}'
    body = stored.body
    assert isinstance(body, UnitAdded) and body.capital == Decimal("100.50")
    assert stored.ts.tzinfo is UTC and abs(stored.ts - datetime.now(UTC)) < timedelta(minutes=1)
    with pytest.raises(EventNotFoundError):
        ledger.get(7)


def test_events_filters_by_kind_subject_since_and_pages(ledger: Ledger) -> None:
    ledger.append_many([(Counter(n=i), "sys", "A" if i % 3 else "B") for i in range(4500)])
    ledger.append(unit("U9"), "x", "B")
    assert [e.seq for e in ledger.events(after_seq=4498)] == [4499, 4500, 4501]
    assert len(list(ledger.events())) == 4501
    assert len(list(ledger.events(subject="B"))) == 1500 + 1
    assert [e.seq for e in ledger.events(kind="test.unit_added")] == [4501]
    assert list(ledger.events(since=datetime.now(UTC) + timedelta(hours=1))) == []
    assert len(list(ledger.events(kind="test.counter", subject="B", until_seq=10))) == 4


def test_unknown_kinds_stay_readable_as_payload(tmp_path: Path) -> None:
    with open_test_ledger(tmp_path) as opened:
        opened.append(Counter(n=1), "a", "s")
    conn = sqlite3.connect(tmp_path / "ledger.sqlite3")
    conn.execute("DROP TRIGGER ledger_events_no_update")
    conn.execute("UPDATE ledger_events SET kind = 'retired.kind'")
    conn.commit()
    conn.close()
    with open_test_ledger(tmp_path) as opened:
        event = opened.get(1)
        assert event.payload == {"n": 1}
        with pytest.raises(LedgerError):
            _ = event.body


def test_concurrent_appends_share_commits_and_stay_gapless(ledger: Ledger) -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def worker(thread_no: int) -> None:
        for i in range(100):
            event = ledger.append(Counter(n=thread_no * 1000 + i), f"t{thread_no}", "S")
            with lock:
                seen.append(event.seq)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(1, 801))
    # all events of one transaction carry its timestamp: concurrent callers must share commits
    transactions = len({e.ts for e in ledger.events()})
    assert transactions <= 800 // 3, transactions
    leaves = [e.leaf_hash for e in ledger.events()]
    assert ledger.root() == merkle.root_from_leaves(leaves)
    assert ledger.verify().ok


def test_reopen_keeps_the_tree_and_appends_continue(tmp_path: Path) -> None:
    with open_test_ledger(tmp_path) as first:
        first.append_many([(Counter(n=i), "a", "s") for i in range(37)])
        root = first.root()
    with open_test_ledger(tmp_path) as second:
        assert second.size() == 37 and second.root() == root
        second.append(Counter(n=99), "a", "s")
        leaves = [e.leaf_hash for e in second.events()]
        assert second.root() == merkle.root_from_leaves(leaves)
        assert second.consistency_proof(37) and merkle.verify_consistency(
            37, 38, root, second.root(), second.consistency_proof(37)
        )


CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {support!r})
from ledger_support import Counter, open_test_ledger
with open_test_ledger(Path({folder!r})) as opened:
    for i in range(150):
        opened.append(Counter(n=i), "proc{n}", "S")
"""


def test_several_processes_append_to_one_file(tmp_path: Path) -> None:
    with open_test_ledger(tmp_path) as opened:
        opened.append(Counter(n=-1), "parent", "S")
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    CHILD.format(support=str(Path(__file__).parent), folder=str(tmp_path), n=n),
                ]
            )
            for n in range(2)
        ]
        for i in range(150):
            opened.append(Counter(n=i), "parent", "S")
        for child in children:
            assert child.wait(timeout=120) == 0
        assert opened.size() == 451
        actors = [e.actor for e in opened.events()]
        assert actors.count("proc0") == actors.count("proc1") == actors.count("parent") - 1 == 150
        # the parent's view of the tree followed the other processes' appends
        opened.append(Counter(n=0), "parent", "S")
        report = opened.verify()
        assert report.ok, report.problems
        assert report.size == 452


def test_append_only_triggers_refuse_update_delete_and_seq_jumps(ledger: Ledger) -> None:
    ledger.append_many([(Counter(n=i), "a", "s") for i in range(40)])
    ledger.checkpoint_now()
    conn = sqlite3.connect(ledger.path)
    try:
        for statement in (
            "UPDATE ledger_events SET payload = '{}' WHERE seq = 1",
            "DELETE FROM ledger_events WHERE seq = 40",
            "DELETE FROM ledger_nodes",
            "UPDATE ledger_checkpoints SET size = 0",
            "INSERT INTO ledger_events VALUES (9, 't', 'k', 'a', 's', '{}', x'00')",
        ):
            with pytest.raises(sqlite3.IntegrityError):
                conn.execute(statement)
    finally:
        conn.close()


def test_application_connections_refuse_drop_and_alter(ledger: Ledger) -> None:
    ledger.append(Counter(n=1), "a", "s")
    with ledger.reader() as conn:
        for statement in (
            "DROP TABLE ledger_events",
            "ALTER TABLE ledger_events RENAME TO old_events",
            "DROP TRIGGER ledger_events_no_update",
            "INSERT INTO ledger_meta VALUES ('x', 'y')",
        ):
            with pytest.raises(sqlite3.DatabaseError):
                conn.execute(statement)
    assert ledger.size() == 1


def test_projection_runs_in_the_append_transaction(tmp_path: Path) -> None:
    projection = UnitsProjection(fail_on="BAD")
    with open_test_ledger(tmp_path, projections=[projection]) as opened:
        opened.append(unit("U1", "甲"), "a", "U1")
        with pytest.raises(ValueError, match="BAD"):
            opened.append_many([(unit("U2"), "a", "U2"), (unit("BAD"), "a", "BAD")])
        # the failed request left no event and no projection row; the seq stays gapless
        assert opened.size() == 1
        second = opened.append(unit("U1", "甲改"), "a", "U1")
        assert second.seq == 2
        with opened.reader() as conn:
            assert conn.execute("SELECT code, name, events FROM test_units").fetchall() == [("U1", "甲改", 2)]
        assert opened.compare_projections() == []
        assert opened.verify().ok


def test_concurrent_failure_in_one_request_does_not_hurt_the_others(tmp_path: Path) -> None:
    projection = UnitsProjection(fail_on="BAD")
    errors: list[BaseException] = []
    with open_test_ledger(tmp_path, projections=[projection]) as opened:

        def worker(code: str) -> None:
            for _ in range(30):
                try:
                    opened.append(unit(code), "a", code)
                except ValueError as exc:
                    errors.append(exc)

        threads = [threading.Thread(target=worker, args=(c,)) for c in ("U1", "BAD", "U2")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(errors) == 30
        assert opened.size() == 60
        assert [e.seq for e in opened.events()] == list(range(1, 61))
        assert opened.verify().ok


def test_rebuild_detects_a_drifted_projection_and_new_projections_catch_up(tmp_path: Path) -> None:
    with open_test_ledger(tmp_path) as opened:
        opened.append_many([(unit(f"U{i}"), "a", f"U{i}") for i in range(5)])
    # a projection registered later is filled by replaying the existing events
    with open_test_ledger(tmp_path, projections=[UnitsProjection()]) as opened:
        with opened.reader() as conn:
            assert conn.execute("SELECT count(*) FROM test_units").fetchone()[0] == 5
        assert opened.compare_projections() == []
    conn = sqlite3.connect(tmp_path / "ledger.sqlite3")
    conn.execute("UPDATE test_units SET name = '被改' WHERE code = 'U3'")
    conn.commit()
    conn.close()
    with open_test_ledger(tmp_path, projections=[UnitsProjection()]) as opened:
        differences = opened.compare_projections()
        assert len(differences) == 1
        assert (differences[0].table, differences[0].only_live, differences[0].only_rebuilt) == ("test_units", 1, 1)


def test_closed_ledger_refuses_appends(tmp_path: Path) -> None:
    opened = open_test_ledger(tmp_path)
    opened.close()
    opened.close()
    with pytest.raises(LedgerError):
        opened.append(Counter(n=1), "a", "s")


def test_backup_is_a_complete_verifiable_copy(ledger: Ledger, tmp_path: Path) -> None:
    ledger.append_many([(Counter(n=i), "a", "s") for i in range(500)])
    out = tmp_path / "copy" / "backup.sqlite3"
    ledger.backup(out)
    copy = Ledger.open(out, blobs_dir=tmp_path / "blobs")
    try:
        assert copy.size() == 500 and copy.root() == ledger.root()
    finally:
        copy.close()
