"""Verify's fast path: hash one aligned page of leaves with a single SQL query.

A million rows fetched one by one cost more than hashing them (a tuple and three objects
per row), so a page of up to 32,768 rows comes back as one aggregate row: the leaf bytes
of every event joined by a newline, the stored leaf hashes joined, the row count and the
number of stored hashes that are not 32 bytes long. Canonical leaf bytes never contain a raw newline (JSON
escapes it; SQLite's json_array builds the head of the array, the payload is canonical
JSON), so splitting gives one piece per row exactly when no payload holds a newline. The
page is *confirmed* only if the count, the pieces and every stored hash match; anything
else returns None and the caller re-reads that page row by row and decides there (the
fast path can confirm, never accuse).

Imports nothing but the standard library: verify runs this file as a script in a second
process (`python -I -S verify_pages.py`), which starts in a few milliseconds because it
imports no package, so two cores share the pages of one ledger.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

NODE_PREFIX = b"\x01"
HEADER = struct.Struct("<qqq")  # page number, confirmed (1/0), rows in the page


def page_query(open_leaf_expr: str) -> str:
    """The aggregate query for the seq range (?, ?); the subquery's ORDER BY fixes the join order.

    (The length test sits in the subquery: cheaper there than as aggregates outside.)

    `open_leaf_expr` is a row's leaf bytes without the closing bracket: the separator supplies
    it (with the newline and the next leaf's 0x00 prefix), saving a concatenation per row.
    """
    return (
        "SELECT count(*), total(bad_length),"
        " CAST(group_concat(leaf, ']' || x'0a00') AS BLOB), CAST(group_concat(leaf_hash, '') AS BLOB)"
        f" FROM (SELECT {open_leaf_expr} AS leaf, leaf_hash, length(leaf_hash) <> 32 AS bad_length"
        " FROM ledger_events WHERE seq >= ? AND seq <= ? ORDER BY seq)"
    )


def hash_page(conn: sqlite3.Connection, query: str, first_seq: int, rows: int) -> list[bytes] | None:
    """Leaf hashes of seqs first_seq .. first_seq + rows - 1, or None if the fast path cannot confirm them all."""
    try:
        count, bad_lengths, joined, stored = conn.execute(query, (first_seq, first_seq + rows - 1)).fetchone()
    except sqlite3.OperationalError:  # e.g. json_array refusing a BLOB field: the row-by-row path will say which
        return None
    if count != rows or bad_lengths != 0 or joined is None:
        return None
    # the separator is "]" + newline + the leaf prefix 0x00: every piece but the first already starts
    # with the prefix, and every piece but the last already ends with its bracket
    pieces = joined.split(b"\n")
    if len(pieces) != rows:
        return None
    if rows == 1:
        pieces[0] = b"\x00" + pieces[0] + b"]"
    else:
        pieces[0] = b"\x00" + pieces[0]
        pieces[-1] += b"]"
    sha256 = hashlib.sha256
    leaves = [sha256(piece).digest() for piece in pieces]
    if b"".join(leaves) != stored:
        return None
    return leaves


def subtree_levels(leaves: list[bytes], min_level: int) -> list[list[bytes]]:
    """Complete-subtree hashes of an aligned run of leaves, per level from 1 up; levels below min_level left empty.

    Pairing whole levels with one comprehension each is several times cheaper than a
    Python call per node. An odd last node has no complete parent and is dropped.
    """
    sha256 = hashlib.sha256
    levels: list[list[bytes]] = [[]]
    current = leaves
    while len(current) > 1:
        pairs = iter(current)
        current = [sha256(NODE_PREFIX + left + right).digest() for left, right in zip(pairs, pairs, strict=False)]
        levels.append(current if len(levels) >= min_level else [])
    return levels


def write_pages(out: BinaryIO, conn: sqlite3.Connection, job: dict[str, int | str]) -> None:
    """Hash pages job['first_page'] .. job['end_page'] - 1 (from the top if job['descending']) into `out`.

    Per page: HEADER, then for a confirmed page the leaf hashes and, for every level from
    min_level to page_level, that level's nodes - all fixed-size 32-byte hashes, so the
    reader knows every length from the row count.
    """
    page_level, min_level, size = int(job["page_level"]), int(job["min_level"]), int(job["size"])
    page_rows = 1 << page_level
    query = page_query(str(job["open_leaf_expr"]))
    pages = range(int(job["first_page"]), int(job["end_page"]))
    for page in reversed(pages) if job.get("descending") else pages:
        first = page * page_rows
        rows = min(page_rows, size - first)
        leaves = hash_page(conn, query, first + 1, rows)
        out.write(HEADER.pack(page, leaves is not None, rows))
        if leaves is None:
            continue
        out.write(b"".join(leaves))
        levels = subtree_levels(leaves, min_level)
        for level in range(min_level, page_level + 1):
            nodes = levels[level] if level < len(levels) else []
            out.write(b"".join(nodes))
        out.flush()  # page by page: the parent may read finished pages while this one goes on


class PageWorker:
    """Pages [first_page, end_page) hashed by this file, run as a script in a second process.

    The child is a bare interpreter (-I -S) running a stdlib-only file, so it starts in
    milliseconds; it writes its results to a file rather than a pipe, so it never waits for
    this process to read. Leaving the `with` block kills it if it is still running.

    A `descending` worker works from the top page down while the parent works up from the
    bottom; the parent reads the finished pages as they come (`poll`) and stops the child
    where they meet (`stop`), so the faster of the two - on a busy machine, the one that gets
    more of the CPU - hashes more pages.
    """

    def __init__(
        self,
        db: Path,
        out: Path,
        *,
        first_page: int,
        end_page: int,
        page_level: int,
        min_level: int,
        size: int,
        open_leaf_expr: str,
        descending: bool = False,
    ) -> None:
        self.first_page = first_page
        self.end_page = end_page
        self.page_level = page_level
        self.min_level = min_level
        self.out = out
        self.done: dict[int, tuple[memoryview, list[memoryview]]] = {}  # confirmed pages read so far
        self.finished: set[int] = set()  # pages with a complete record, confirmed or not
        self._read = 0  # bytes of `out` parsed so far
        out.touch()
        job = {
            "db": str(db.resolve()),
            "out": str(out),
            "first_page": first_page,
            "end_page": end_page,
            "page_level": page_level,
            "min_level": min_level,
            "size": size,
            "open_leaf_expr": open_leaf_expr,
            "descending": descending,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", __file__, json.dumps(job)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:  # no interpreter to start (embedded Python, no processes left): hash them here
            log.warning("verify.worker_not_started", extra={"error": str(exc)})

    def __enter__(self) -> PageWorker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()

    def results(self) -> dict[int, tuple[memoryview, list[memoryview]]]:
        """Wait for the child; confirmed pages by number: (joined leaves, joined nodes per level from min_level).

        Empty if the child failed: its pages are then hashed by the caller.
        """
        if self.proc is None:
            return {}
        _, errors = self.proc.communicate()
        if self.proc.returncode != 0:
            log.warning(
                "verify.worker_failed",
                extra={"returncode": self.proc.returncode, "stderr": errors.decode(errors="replace")[-2000:]},
            )
            return {}
        self.poll()
        return self.done

    def stop(self) -> dict[int, tuple[memoryview, list[memoryview]]]:
        """End the child now; the confirmed pages it finished before that (a page cut short is ignored)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.communicate()
        self.poll()
        return self.done

    def poll(self) -> set[int]:
        """Read the pages the child has finished since the last call; returns all finished pages so far."""
        if self.proc is None:
            return self.finished
        with self.out.open("rb") as handle:
            handle.seek(self._read)
            data = memoryview(handle.read())
        offset = 0
        while offset + HEADER.size <= len(data):
            page, confirmed, rows = HEADER.unpack_from(data, offset)
            sizes = (
                [rows] + [rows >> level for level in range(self.min_level, self.page_level + 1)] if confirmed else []
            )
            end = offset + HEADER.size + 32 * sum(sizes)
            if end > len(data):
                break  # still being written
            if not self.first_page <= page < self.end_page:
                log.warning("verify.worker_output_damaged", extra={"page": page})
                break
            offset += HEADER.size
            parts = []
            for count in sizes:
                parts.append(data[offset : offset + 32 * count])
                offset += 32 * count
            if confirmed:
                self.done[page] = (parts[0], parts[1:])
            self.finished.add(page)
        self._read += offset
        return self.finished


def main(argv: list[str]) -> int:
    """Worker entry: argv[1] is the job as JSON (database and output paths, page range, sizes, leaf expression)."""
    job = json.loads(argv[1])
    conn = sqlite3.connect(str(job["db"]), isolation_level=None)
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("BEGIN")
        with open(str(job["out"]), "wb") as out:
            write_pages(out, conn, job)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
