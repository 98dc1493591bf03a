"""Verify's events stage: every leaf recomputed from its row, and the stored subtrees of each page.

A gapless ledger (the normal case) is read in aligned pages of 32,768 rows, each page one
aggregate query (see ledger.verify_pages); a second process per spare core hashes pages at
the same time, working down from the top while this one works up. A page the fast path
cannot confirm, and a ledger with a gap, are read row by row; a row whose SQL-built leaf
does not match is recomputed in Python before anything is reported. Either way the result
is the same: leaves and page-level nodes, joined, in `ctx.leaves` and `ctx.page_nodes`,
and the findings.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.canonical import leaf_data
from ledger.schema import MIN_STORED_LEVEL
from ledger.verify_pages import PageWorker, hash_page, page_query, subtree_levels

if TYPE_CHECKING:
    from ledger.verify import VerifyReport, _Context

MAX_CLASSIFIED = 200  # mismatched rows examined for being moved rather than edited

# The leaf bytes are assembled by SQLite: json_array(seq, ts, kind, actor, subject, '') is the
# canonical array's head (SQLite escapes strings exactly like Python's encode_basestring) with an
# empty string as a placeholder last element; trimming its `""]` leaves the head and a comma, to
# which the stored payload is appended - the payload bytes exactly as stored, never re-parsed.
# The closing bracket is added by the caller. A row whose SQL-built leaf does not match is
# recomputed in Python before anything is reported, so the fast path can never cause a false
# finding; and since json_array is itself an unambiguous JSON encoding, a match on the fast
# path can never hide an edit either.
OPEN_LEAF_EXPR = "rtrim(json_array(seq, ts, kind, actor, subject, ''), '\"]') || payload"
PAGE_LEVEL = 15
PAGE_ROWS = 1 << PAGE_LEVEL  # pages are aligned subtrees, so each page's nodes are final once hashed
_UNBUILT = bytes(32)  # stands for a leaf SQLite could not build; recognised by identity, left to Python
_WORKER_MIN_PAGES = 4  # below this a second process costs more than it saves
_MAX_WORKERS = 3


def _read_rows(conn: sqlite3.Connection, after: int, limit: int) -> list[Any]:
    """(seq, SQL-built leaf bytes or None, stored hash) of the next `limit` rows after seq `after`.

    None where SQLite cannot build the leaf at all (json_array refuses a BLOB field): those
    rows are left to Python like any other unconfirmed row.
    """
    leaf = f"CAST(x'00' || {OPEN_LEAF_EXPR} || ']' AS BLOB)"
    query = "SELECT seq, {}, leaf_hash FROM ledger_events WHERE seq > ? ORDER BY seq LIMIT ?"
    try:
        return conn.execute(query.format(leaf), (after, limit)).fetchall()
    except sqlite3.OperationalError:
        return conn.execute(query.format("NULL"), (after, limit)).fetchall()


def default_workers() -> int:
    """Second processes worth starting: one per spare core this process may run on, at most _MAX_WORKERS."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(0, min(cores - 1, _MAX_WORKERS))


@dataclass
class _Scan:
    """Leaves in tree order as pages come in, with the seq bookkeeping that finds gaps."""

    ctx: _Context
    total: int
    expected: int = 1
    suspicious: list[tuple[int, int]] = field(default_factory=list)  # (leaf position, seq) not confirmed

    def add_confirmed(self, leaves: bytes | memoryview, levels: Sequence[bytes | memoryview]) -> None:
        """A page whose every leaf the fast path matched with its stored hash (seqs known to be consecutive).

        `leaves` and each of `levels` (from MIN_STORED_LEVEL up, index 0 = MIN_STORED_LEVEL) are joined hashes.
        """
        ctx = self.ctx
        _keep_page_nodes(ctx, len(ctx.leaves) // 32, levels)
        ctx.leaves += leaves
        self.expected += len(leaves) // 32
        ctx.tick("events", len(ctx.leaves) // 32, self.total)

    def add_rows(self, rows: list[Any]) -> None:
        """(seq, SQL-built leaf bytes, stored hash) rows in seq order; they start at the next leaf position."""
        ctx = self.ctx
        report = ctx.report
        base = len(ctx.leaves) // 32
        expected = self.expected
        # seq is the INTEGER PRIMARY KEY (unique, ascending): first and last tell whether a page has a gap
        if rows[0][0] != expected or rows[-1][0] != expected + len(rows) - 1:
            for position, (seq, _data, _stored) in enumerate(rows):
                if seq != expected:
                    detail = f"缺少第 {expected} 至 {seq - 1} 号" if seq > expected else "序号重复"
                    report.add("gap", expected, detail)
                    if ctx.gap_at is None:
                        ctx.gap_at = base + position
                    expected = seq
                expected += 1
        else:
            expected += len(rows)
        self.expected = expected
        sha256 = hashlib.sha256
        computed = [_UNBUILT if data is None else sha256(data).digest() for _seq, data, _stored in rows]
        stored = [row[2] for row in rows]
        if computed != stored or _UNBUILT in computed:
            self.suspicious.extend(
                (base + i, rows[i][0])
                for i, (mine, theirs) in enumerate(zip(computed, stored, strict=True))
                if mine != theirs or mine is _UNBUILT
            )
        _store_page_nodes(ctx, base, computed)
        ctx.leaves += b"".join(computed)
        ctx.tick("events", base + len(rows), self.total)


def scan_events(ctx: _Context) -> None:
    """Recompute every leaf from its row; detect gaps, edits and swaps."""
    report = ctx.report
    # three queries, not one: SQLite answers count(*) from the smallest index and a lone min() or
    # max() from the end of the rowid tree, but min and max together cost a scan of every row
    count, lowest, highest = (
        ctx.conn.execute(f"SELECT {aggregate} FROM ledger_events").fetchone()[0]
        for aggregate in ("count(*)", "coalesce(min(seq), 1)", "coalesce(max(seq), 0)")
    )
    scan = _Scan(ctx, int(highest))
    if lowest == 1 and count == highest:  # seqs are unique, so these are exactly 1..count
        _scan_pages(scan, int(count))
    else:  # a gap: leaf positions part from seq - 1, so walk the rows in order
        after = int(lowest) - 1
        while rows := _read_rows(ctx.conn, after, PAGE_ROWS):
            scan.add_rows(rows)
            after = rows[-1][0]
    _recheck_suspicious(ctx, scan.suspicious)
    report.size = len(ctx.leaves) // 32
    ctx.max_seq = scan.expected - 1


def _scan_pages(scan: _Scan, size: int) -> None:
    """Aligned pages of a gapless ledger, hashed here and in second processes at the same time.

    This process works up from page 0 while the first worker works down from the top of the
    two lowest shares; they meet wherever their speeds (on a busy machine: their shares of the
    CPU) take them. Further workers, if any, take fixed shares above.
    """
    ctx = scan.ctx
    pages = -(-size // PAGE_ROWS)
    workers = min(ctx.workers, pages // _WORKER_MIN_PAGES)
    bounds = [pages * share // (workers + 1) for share in range(workers + 2)]
    shared_end = bounds[2] if workers else pages
    query = page_query(OPEN_LEAF_EXPR)
    with contextlib.ExitStack() as stack:
        started: list[PageWorker] = []
        if workers:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="chanquan-verify-")))
            for i in range(1, workers + 1):
                worker = PageWorker(
                    ctx.db_path,
                    scratch / f"pages-{i}.bin",
                    first_page=0 if i == 1 else bounds[i],
                    end_page=bounds[i + 1],
                    page_level=PAGE_LEVEL,
                    min_level=MIN_STORED_LEVEL,
                    size=size,
                    open_leaf_expr=OPEN_LEAF_EXPR,
                    descending=i == 1,
                )
                started.append(stack.enter_context(worker))
        page = 0
        while page < shared_end and not (started and page in started[0].poll()):
            _scan_page(scan, query, size, page)
            page += 1
        for index, worker in enumerate(started):
            done = worker.stop() if index == 0 else worker.results()
            for later in range(page if index == 0 else worker.first_page, worker.end_page):
                if later in done:
                    scan.add_confirmed(*done.pop(later))
                else:  # not confirmed there (or the worker failed): decide here, row by row if need be
                    _scan_page(scan, query, size, later)


def _scan_page(scan: _Scan, query: str, size: int, page: int) -> None:
    conn = scan.ctx.conn
    first = page * PAGE_ROWS
    rows = min(PAGE_ROWS, size - first)
    leaves = hash_page(conn, query, first + 1, rows)
    if leaves is not None:
        levels = subtree_levels(leaves, MIN_STORED_LEVEL)[MIN_STORED_LEVEL:]
        scan.add_confirmed(b"".join(leaves), [b"".join(level) for level in levels])
    else:
        scan.add_rows(_read_rows(conn, first, rows))


def _python_leaf(fields: Sequence[Any]) -> bytes | None:
    """Canonical leaf bytes of (seq, ts, kind, actor, subject, payload), or None for a field type no event has."""
    try:
        return leaf_data(*fields[:6])
    except (TypeError, ValueError):
        return None


def _recheck_suspicious(ctx: _Context, suspicious: list[tuple[int, int]]) -> None:
    """Rows the SQL-built leaf did not confirm: recompute in Python, then classify what really differs."""
    report = ctx.report
    leaves = ctx.leaves
    sha256 = hashlib.sha256
    mismatched: list[tuple[int, str, str, str, str, str, bytes]] = []
    changed_pages: set[int] = set()
    for position, suspect_seq in suspicious:
        seq, ts, kind, actor, subject, payload, stored_leaf = ctx.conn.execute(
            "SELECT seq, ts, kind, actor, subject, payload, leaf_hash FROM ledger_events WHERE seq = ?",
            (suspect_seq,),
        ).fetchone()
        data = _python_leaf((seq, ts, kind, actor, subject, payload))
        if data is None:  # fields no event can have: hash what is there, so the tree shows the damage too
            recomputed = sha256(b"\x00" + repr((ts, kind, actor, subject, payload)).encode()).digest()
        else:
            recomputed = sha256(b"\x00" + data).digest()
        if leaves[32 * position : 32 * position + 32] != recomputed:
            leaves[32 * position : 32 * position + 32] = recomputed
            changed_pages.add(position // PAGE_ROWS)
        if data is not None and recomputed == stored_leaf:
            continue
        ctx.bad_leaves.add(position)
        if len(mismatched) < MAX_CLASSIFIED:
            mismatched.append((seq, ts, kind, actor, subject, payload, stored_leaf))
        else:
            report.add("content_changed", seq, f"类型 {kind}，主体 {subject}")
    for page in changed_pages:  # the tree must rest on the Python-recomputed leaves
        start = page * PAGE_ROWS
        _store_page_nodes(ctx, start, split_hashes(leaves[32 * start : 32 * (start + PAGE_ROWS)]))
    _classify_mismatches(report, mismatched)


def _store_page_nodes(ctx: _Context, start: int, page: list[bytes]) -> None:
    """Hash the complete subtrees of an aligned page of leaves; keep the levels the database stores.

    Built page by page as rows stream in, so no whole level below the page's top is ever held;
    levels below MIN_STORED_LEVEL are dropped (nothing stored to compare them with) and
    stage_tree derives the few it needs for checkpoint roots from the leaves.
    """
    levels = subtree_levels(page, MIN_STORED_LEVEL)[MIN_STORED_LEVEL:]
    _keep_page_nodes(ctx, start, [b"".join(level) for level in levels])


def _keep_page_nodes(ctx: _Context, start: int, levels: Sequence[bytes | memoryview]) -> None:
    """Put an aligned page's joined nodes (levels[0] is MIN_STORED_LEVEL) in place, replacing any from before."""
    for level, nodes in enumerate(levels, MIN_STORED_LEVEL):
        first = 32 * (start >> level)
        ctx.page_nodes[level][first : first + len(nodes)] = nodes


def split_hashes(joined: bytes | bytearray | memoryview) -> list[bytes]:
    """Joined 32-byte hashes back into a list."""
    return [bytes(joined[i : i + 32]) for i in range(0, len(joined), 32)]


def _classify_mismatches(report: VerifyReport, rows: list[tuple[int, str, str, str, str, str, bytes]]) -> None:
    """A row whose content and stored hash belong to another bad position was moved, not edited."""
    positions = [row[0] for row in rows]
    for seq, ts, kind, actor, subject, payload, stored in rows:
        origin = next(
            (
                other
                for other in positions
                if other != seq
                and (data := _python_leaf((other, ts, kind, actor, subject, payload))) is not None
                and hashlib.sha256(b"\x00" + data).digest() == stored
            ),
            None,
        )
        if origin is not None:
            report.add("reordered", seq, f"此位置上是原第 {origin} 号事件（类型 {kind}，主体 {subject}）")
        else:
            report.add("content_changed", seq, f"类型 {kind}，主体 {subject}")
