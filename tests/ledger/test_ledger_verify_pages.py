"""Verify streams rows in aligned pages and builds the tree page by page: the page size must not matter.

The default page (32,768 leaves) is larger than any ledger a test builds, so these
tests shrink it to 32 leaves and check that a multi-page verify reports exactly what
a one-page verify reports - on a clean ledger and after each kind of tampering - and
that hashing some pages in second processes (workers) changes nothing either.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from ledger_support import ORIGIN, Counter, drop_guards, raw_connection

from ledger import Ledger, VerifyReport, generate_key_files, load_verifier, verify_events, verify_ledger, verify_pages
from ledger.schema import connect

EVENTS = 300
# strings that JSON must escape (or, for DEL and U+2028, must not): the SQL-built leaf and the
# Python one have to agree, or the fallback has to reach the same verdict
AWKWARD_SUBJECTS = ['引号"与\\反斜杠', "控制\x01字符\n换行", "删除\x7f与\u2028分隔", "普通单位"]


def build(folder: Path) -> tuple[Path, Path]:
    key, pub = folder / "keys" / "ledger.key", folder / "keys" / "ledger.pub"
    generate_key_files(key, pub, ORIGIN)
    db = folder / "ledger.sqlite3"
    checkpoints = folder / "checkpoints.log"
    with Ledger.open(
        db, signing_key_path=key, checkpoint_file=checkpoints, origin=ORIGIN, checkpoint_interval_seconds=0
    ) as ledger:
        for offset in range(0, EVENTS, 70):  # batches that straddle page boundaries
            ledger.append_many(
                [
                    (Counter(n=i), "审核员\t甲", AWKWARD_SUBJECTS[i % len(AWKWARD_SUBJECTS)])
                    for i in range(offset, min(EVENTS, offset + 70))
                ]
            )
    return db, pub


def run_verify(
    folder: Path, db: Path, pub: Path, page_level: int, monkeypatch: pytest.MonkeyPatch, workers: int = 0
) -> VerifyReport:
    with monkeypatch.context() as patch:
        patch.setattr(verify_events, "PAGE_LEVEL", page_level)
        patch.setattr(verify_events, "PAGE_ROWS", 1 << page_level)
        return verify_ledger(
            db, verifier=load_verifier(pub), checkpoint_files=[folder / "checkpoints.log"], workers=workers
        )


def edit_payload(db: Path) -> None:
    execute(db, """UPDATE ledger_events SET payload = '{"n":9999}' WHERE seq = 100""")


def edit_leaf_hash(db: Path) -> None:
    execute(db, "UPDATE ledger_events SET leaf_hash = zeroblob(32) WHERE seq = 200")


def edit_node(db: Path) -> None:
    execute(db, "UPDATE ledger_nodes SET hash = zeroblob(32) WHERE id = (4 << 48) | 9")  # leaves 145..160


def delete_node(db: Path) -> None:
    execute(db, "DELETE FROM ledger_nodes WHERE id = (5 << 48) | 2")  # leaves 65..96


def shorten_node(db: Path) -> None:
    """31 of the 32 bytes: the level's joined hashes are one byte short, each node must be compared."""
    execute(db, "UPDATE ledger_nodes SET hash = substr(hash, 1, 31) WHERE id = (4 << 48) | 9")


def delete_row(db: Path) -> None:
    execute(db, "DELETE FROM ledger_events WHERE seq = 150")


def newline_in_payload(db: Path) -> None:
    """A raw newline splits the page's joined leaves into one piece too many: the page is re-read row by row."""
    execute(db, "UPDATE ledger_events SET payload = replace(payload, '{', '{' || char(10)) WHERE seq = 250")


def blob_field(db: Path) -> None:
    """Same bytes, another type: SQLite's json_array refuses a BLOB, so Python must judge the row."""
    execute(db, "UPDATE ledger_events SET ts = CAST(ts AS BLOB) WHERE seq = 120")


def swap_rows(db: Path) -> None:
    """Rows 40 and 41 trade contents and leaf hashes: each hashes right, but at the other's position."""
    conn = raw_connection(db)
    drop_guards(conn)
    cols = "ts, kind, actor, subject, payload, leaf_hash"
    first = conn.execute(f"SELECT {cols} FROM ledger_events WHERE seq = 40").fetchone()
    second = conn.execute(f"SELECT {cols} FROM ledger_events WHERE seq = 41").fetchone()
    update = (
        "UPDATE ledger_events SET ts = ?, kind = ?, actor = ?, subject = ?, payload = ?, leaf_hash = ? WHERE seq = ?"
    )
    conn.execute(update, (*second, 40))
    conn.execute(update, (*first, 41))
    conn.close()


TAMPERING = [
    (None, None),
    (edit_payload, ("content_changed", 100)),
    (edit_leaf_hash, ("content_changed", 200)),
    (edit_node, ("node_mismatch", 145)),
    (delete_node, ("node_missing", None)),
    (shorten_node, ("node_mismatch", 145)),
    (delete_row, ("gap", 150)),
    (newline_in_payload, ("content_changed", 250)),
    (swap_rows, ("reordered", 40)),
    (blob_field, ("content_changed", 120)),
]
TAMPERING_IDS = [
    "clean",
    "payload",
    "leaf_hash",
    "node",
    "node_deleted",
    "node_short",
    "gap",
    "newline",
    "swap",
    "blob_field",
]


def execute(db: Path, statement: str) -> None:
    conn = raw_connection(db)
    drop_guards(conn)
    conn.execute(statement)
    conn.close()


def assert_verdict(report: VerifyReport, expected: tuple[str, int | None] | None) -> None:
    """A clean ledger verifies; a tampered one is caught first at the expected (code, seq)."""
    if expected is None:
        assert report.ok, report.problems
    else:
        first = report.first_problem()
        assert first is not None and (first.code, first.seq) == expected, report.problems


@pytest.mark.parametrize(("tamper", "expected"), TAMPERING, ids=TAMPERING_IDS)
def test_page_size_does_not_change_the_verdict(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tamper: Callable[[Path], None] | None,
    expected: tuple[str, int | None] | None,
) -> None:
    db, pub = build(tmp_path)
    if tamper is not None:
        tamper(db)
    one_page = run_verify(tmp_path, db, pub, 15, monkeypatch)
    many_pages = run_verify(tmp_path, db, pub, 5, monkeypatch)
    assert many_pages.problems == one_page.problems
    assert (many_pages.size, many_pages.root) == (one_page.size, one_page.root)
    assert_verdict(one_page, expected)
    if expected is None:
        assert one_page.size == EVENTS and one_page.checkpoints_checked > 0


def test_rows_the_sql_fast_path_gets_wrong_are_recomputed_and_the_tree_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fast path that does not escape strings mismatches on the awkward subjects; nothing may be reported."""
    db, pub = build(tmp_path)
    monkeypatch.setattr(
        verify_events,
        "OPEN_LEAF_EXPR",
        "'[' || seq || ',\"' || ts || '\",\"' || kind || '\",\"' || actor || '\",\"' || subject || '\",' || payload",
    )
    for page_level, workers in ((15, 0), (5, 0), (5, 2)):
        report = run_verify(tmp_path, db, pub, page_level, monkeypatch, workers)
        assert report.ok, report.problems
        assert report.size == EVENTS
    edit_payload(db)
    delete_row(db)  # a gap sends verify down the row-by-row path, which must fall back the same way
    for workers in (0, 2):
        report = run_verify(tmp_path, db, pub, 5, monkeypatch, workers)
        first = report.first_problem()
        assert first is not None and (first.code, first.seq) == ("content_changed", 100), report.problems
        assert {(p.code, p.seq) for p in report.problems} >= {("content_changed", 100), ("gap", 150)}


@pytest.mark.parametrize(("tamper", "expected"), TAMPERING, ids=TAMPERING_IDS)
def test_pages_hashed_in_worker_processes_give_the_same_verdict(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tamper: Callable[[Path], None] | None,
    expected: tuple[str, int | None] | None,
) -> None:
    db, pub = build(tmp_path)
    if tamper is not None:
        tamper(db)
    alone = run_verify(tmp_path, db, pub, 5, monkeypatch, workers=0)
    for workers in (1, 2):
        with caplog.at_level(logging.WARNING, logger="ledger.verify_pages"):
            shared = run_verify(tmp_path, db, pub, 5, monkeypatch, workers=workers)
        assert not caplog.records, "a worker failed, so this compared the ledger with itself"
        assert shared.problems == alone.problems
        assert (shared.size, shared.root, shared.checkpoints_checked) == (
            alone.size,
            alone.root,
            alone.checkpoints_checked,
        )
    assert_verdict(alone, expected)


@pytest.mark.parametrize("failure", ["worker_exits", "no_interpreter"])
def test_a_failing_worker_costs_time_not_the_verdict(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    db, pub = build(tmp_path)
    if failure == "worker_exits":  # the child starts but finds no script: exit status 2
        monkeypatch.setattr(verify_pages, "__file__", str(tmp_path / "no-such-worker.py"))
    else:  # the child cannot even start
        monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    report = run_verify(tmp_path, db, pub, 5, monkeypatch, workers=2)
    assert report.ok, report.problems
    assert report.size == EVENTS
    edit_payload(db)
    report = run_verify(tmp_path, db, pub, 5, monkeypatch, workers=2)
    first = report.first_problem()
    assert first is not None and (first.code, first.seq) == ("content_changed", 100)


def test_the_page_fast_path_confirms_every_clean_page(tmp_path: Path) -> None:
    """Escaped subjects, a tab in the actor, CJK text: the one-query page must match the stored hashes by itself.

    (Were it to miss, verify would still be right - the row path decides - but slow.)
    """
    db, _pub = build(tmp_path)
    conn = connect(db, read_only=True)
    try:
        query = verify_pages.page_query(verify_events.OPEN_LEAF_EXPR)
        stored = [bytes(row[0]) for row in conn.execute("SELECT leaf_hash FROM ledger_events ORDER BY seq")]
        pages = [
            verify_pages.hash_page(conn, query, first, min(32, EVENTS - first + 1))
            for first in range(1, EVENTS + 1, 32)
        ]
        assert all(page is not None for page in pages)
        assert [leaf for page in pages for leaf in page or []] == stored
        # and it refuses a page it cannot confirm: one row too many asked for, or a stored hash changed
        assert verify_pages.hash_page(conn, query, EVENTS - 9, 11) is None
    finally:
        conn.close()
    edit_leaf_hash(db)
    conn = connect(db, read_only=True)
    try:
        assert verify_pages.hash_page(conn, query, 193, 32) is None
        assert verify_pages.hash_page(conn, query, 161, 32) is not None
    finally:
        conn.close()


def test_a_worker_confirms_the_pages_the_fast_path_confirms_here(tmp_path: Path) -> None:
    """The child's leaves and page nodes are byte for byte what this process computes for the same pages."""
    db, _pub = build(tmp_path)
    level, min_level = 5, 4
    with verify_pages.PageWorker(
        db,
        tmp_path / "pages.bin",
        first_page=2,
        end_page=10,
        page_level=level,
        min_level=min_level,
        size=EVENTS,
        open_leaf_expr=verify_events.OPEN_LEAF_EXPR,
    ) as worker:
        done = worker.results()
    assert sorted(done) == list(range(2, 10))  # page 9 holds the last 12 events only
    conn = connect(db, read_only=True)
    try:
        query = verify_pages.page_query(verify_events.OPEN_LEAF_EXPR)
        for page, (leaves, levels) in done.items():
            rows = min(32, EVENTS - 32 * page)
            here = verify_pages.hash_page(conn, query, 32 * page + 1, rows)
            assert here is not None and bytes(leaves) == b"".join(here)
            expected = verify_pages.subtree_levels(here, min_level)
            assert [bytes(nodes) for nodes in levels] == [
                b"".join(expected[n]) if n < len(expected) else b"" for n in range(min_level, level + 1)
            ]
    finally:
        conn.close()


@pytest.mark.parametrize("tamper", [None, edit_payload], ids=["clean", "payload"])
def test_this_process_stops_where_the_descending_worker_has_got_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tamper: Callable[[Path], None] | None
) -> None:
    """A slow parent: the worker finishes every page before the parent's first look, so it hashes none.

    Pages the worker could not confirm (the edited one) are still decided here, row by row.
    """
    db, pub = build(tmp_path)
    if tamper is not None:
        tamper(db)
    alone = run_verify(tmp_path, db, pub, 5, monkeypatch, workers=0)

    class FinishFirst(verify_pages.PageWorker):
        def poll(self) -> set[int]:
            if self.proc is not None:
                self.proc.wait(timeout=60)
            return super().poll()

    hashed_here: list[int] = []
    original = verify_events._scan_page

    def counting(scan: object, query: str, size: int, page: int) -> None:
        hashed_here.append(page)
        original(scan, query, size, page)  # type: ignore[arg-type]

    monkeypatch.setattr(verify_events, "PageWorker", FinishFirst)
    monkeypatch.setattr(verify_events, "_scan_page", counting)
    shared = run_verify(tmp_path, db, pub, 5, monkeypatch, workers=1)
    assert shared.problems == alone.problems
    assert (shared.size, shared.root) == (alone.size, alone.root)
    assert hashed_here == ([] if tamper is None else [3])  # seq 100 is on page 3
