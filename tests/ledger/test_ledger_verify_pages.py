"""Verify streams rows in aligned pages and builds the tree page by page: the page size must not matter.

The default page (32,768 leaves) is larger than any ledger a test builds, so these
tests shrink it to 32 leaves and check that a multi-page verify reports exactly what
a one-page verify reports - on a clean ledger and after each kind of tampering.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from ledger_support import ORIGIN, Counter, drop_guards, raw_connection

from ledger import Ledger, VerifyReport, generate_key_files, load_verifier, verify_ledger
from ledger import verify as verify_module

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


def run_verify(folder: Path, db: Path, pub: Path, page_level: int, monkeypatch: pytest.MonkeyPatch) -> VerifyReport:
    with monkeypatch.context() as patch:
        patch.setattr(verify_module, "_PAGE_LEVEL", page_level)
        patch.setattr(verify_module, "_PAGE_ROWS", 1 << page_level)
        return verify_ledger(db, verifier=load_verifier(pub), checkpoint_files=[folder / "checkpoints.log"])


def edit_payload(db: Path) -> None:
    execute(db, """UPDATE ledger_events SET payload = '{"n":9999}' WHERE seq = 100""")


def edit_leaf_hash(db: Path) -> None:
    execute(db, "UPDATE ledger_events SET leaf_hash = zeroblob(32) WHERE seq = 200")


def edit_node(db: Path) -> None:
    execute(db, "UPDATE ledger_nodes SET hash = zeroblob(32) WHERE id = (4 << 48) | 9")  # leaves 145..160


def delete_row(db: Path) -> None:
    execute(db, "DELETE FROM ledger_events WHERE seq = 150")


def execute(db: Path, statement: str) -> None:
    conn = raw_connection(db)
    drop_guards(conn)
    conn.execute(statement)
    conn.close()


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (None, None),
        (edit_payload, ("content_changed", 100)),
        (edit_leaf_hash, ("content_changed", 200)),
        (edit_node, ("node_mismatch", 145)),
        (delete_row, ("gap", 150)),
    ],
    ids=["clean", "payload", "leaf_hash", "node", "gap"],
)
def test_page_size_does_not_change_the_verdict(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    tamper: Callable[[Path], None] | None,
    expected: tuple[str, int] | None,
) -> None:
    db, pub = build(tmp_path)
    if tamper is not None:
        tamper(db)
    one_page = run_verify(tmp_path, db, pub, 15, monkeypatch)
    many_pages = run_verify(tmp_path, db, pub, 5, monkeypatch)
    assert many_pages.problems == one_page.problems
    assert (many_pages.size, many_pages.root) == (one_page.size, one_page.root)
    if expected is None:
        assert one_page.ok, one_page.problems
        assert one_page.size == EVENTS and one_page.checkpoints_checked > 0
    else:
        first = one_page.first_problem()
        assert first is not None and (first.code, first.seq) == expected, one_page.problems


def test_rows_the_sql_fast_path_gets_wrong_are_recomputed_and_the_tree_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fast path that does not escape strings mismatches on the awkward subjects; nothing may be reported."""
    db, pub = build(tmp_path)
    monkeypatch.setattr(
        verify_module,
        "_LEAF_SQL",
        "SELECT seq, CAST(x'00' || '[' || seq || ',\"' || ts || '\",\"' || kind || '\",\"' || actor || '\",\"'"
        " || subject || '\",' || payload || ']' AS BLOB), leaf_hash FROM ledger_events ORDER BY seq",
    )
    for page_level in (15, 5):
        report = run_verify(tmp_path, db, pub, page_level, monkeypatch)
        assert report.ok, report.problems
        assert report.size == EVENTS
    edit_payload(db)
    report = run_verify(tmp_path, db, pub, 5, monkeypatch)
    first = report.first_problem()
    assert first is not None and (first.code, first.seq) == ("content_changed", 100)
