"""Full audit of a ledger file: every leaf, every stored node, every checkpoint, every blob.

Verification trusts nothing stored except what is signed: leaves are recomputed
from the row contents, the tree is recomputed from those leaves, and its roots
are compared with signed checkpoints - those in the database and, above all,
those in checkpoint files kept elsewhere (a consistent rewrite of the whole
database can only be caught by a root that was copied out before it).

Stages run in order from `STAGES`; each adds `Problem` values to the report and
never raises for a finding.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.blobs import BlobStore
from ledger.canonical import leaf_data
from ledger.merkle import EMPTY_ROOT, NODE_PREFIX, root_from_leaves
from ledger.note import NoteError, NoteVerifier, open_note
from ledger.schema import MIN_STORED_LEVEL, NODE_LEVEL_SHIFT, connect

Progress = Callable[[str, int, int], None]  # stage, done, total
_MAX_PROBLEMS_PER_CODE = 20
_MAX_CLASSIFIED = 200  # mismatched rows examined for being moved rather than edited

PROBLEM_TEXT = {
    "content_changed": "事件内容被修改（叶哈希不符）",
    "reordered": "事件顺序被调换",
    "gap": "序号不连续（有事件被删除）",
    "node_mismatch": "默克尔树节点与事件不符",
    "node_missing": "默克尔树节点缺失",
    "truncated": "账本被截断：已签名检查点的条目数大于现有条目数",
    "root_mismatch": "根哈希与已签名检查点不符（账本被改写）",
    "bad_signature": "检查点签名无效",
    "bad_checkpoint": "检查点无法解析",
    "no_public_key": "缺少公钥，未能核验检查点签名",
    "blob_missing": "引用的文件（blob）缺失",
    "blob_altered": "引用的文件（blob）内容与哈希不符",
}


@dataclass(frozen=True)
class Problem:
    code: str
    seq: int | None
    detail: str

    @property
    def message(self) -> str:
        where = f"第 {self.seq} 号事件：" if self.seq is not None else ""
        return f"{where}{PROBLEM_TEXT.get(self.code, self.code)}（{self.detail}）"


@dataclass
class VerifyReport:
    size: int = 0
    root: bytes = EMPTY_ROOT
    problems: list[Problem] = field(default_factory=list)
    checkpoints_checked: int = 0
    blobs_checked: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def first_problem(self) -> Problem | None:
        """The problem at the lowest seq (problems without a seq come last)."""
        if not self.problems:
            return None
        return min(self.problems, key=lambda p: (p.seq is None, p.seq or 0))

    def add(self, code: str, seq: int | None, detail: str) -> None:
        self.counts[code] = self.counts.get(code, 0) + 1
        if self.counts[code] <= _MAX_PROBLEMS_PER_CODE:
            self.problems.append(Problem(code, seq, detail))


@dataclass
class _SignedRoot:
    source: str
    size: int
    root: bytes


@dataclass
class _Context:
    conn: sqlite3.Connection
    verifier: NoteVerifier | None
    checkpoint_files: Sequence[Path]
    blobs: BlobStore | None
    progress: Progress | None
    report: VerifyReport
    leaves: list[bytes] = field(default_factory=list)
    # stored levels (>= MIN_STORED_LEVEL) up to _PAGE_LEVEL, built page by page while rows stream in
    page_nodes: list[list[bytes]] = field(default_factory=lambda: [[] for _ in range(_PAGE_LEVEL + 1)])
    blob_refs: dict[str, int] = field(default_factory=dict)  # digest -> first seq naming it
    signed: list[_SignedRoot] = field(default_factory=list)
    wanted_nodes: dict[tuple[int, int], bytes] = field(default_factory=dict)
    bad_leaves: set[int] = field(default_factory=set)  # leaf indexes whose stored hash is wrong
    gap_at: int | None = None  # leaf position of the first gap: positions after it no longer equal seq - 1
    max_seq: int = 0

    def tick(self, stage: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(stage, done, total)


def _collect_blob_refs(value: object, found: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("_blob") and isinstance(item, str):
                found.append(item)
            elif key.endswith("_blobs") and isinstance(item, list):
                found.extend(x for x in item if isinstance(x, str))
            else:
                _collect_blob_refs(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect_blob_refs(item, found)


def stage_checkpoints_load(ctx: _Context) -> None:
    """Read and check the signature of every checkpoint, in the database and in the files."""
    notes: list[tuple[str, int | None, bytes | None, str]] = []
    for size, root, note in ctx.conn.execute("SELECT size, root, note FROM ledger_checkpoints ORDER BY id"):
        notes.append(("数据库", int(size), bytes(root), note))
    for path in ctx.checkpoint_files:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            ctx.report.add("bad_checkpoint", None, f"{path}：{exc.strerror or exc}")
            continue
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                notes.append((f"{path.name} 第 {number} 行", None, None, str(record["note"])))
            except (ValueError, KeyError, TypeError):
                # a torn last line after a crash is expected; anything else is reported
                if number != len(lines):
                    ctx.report.add("bad_checkpoint", None, f"{path.name} 第 {number} 行")
    seen: dict[str, _SignedRoot | None] = {}
    for source, size, root, note in notes:
        if note in seen:
            cached = seen[note]
            if cached is not None:
                ctx.signed.append(_SignedRoot(source, cached.size, cached.root))
            continue
        seen[note] = None
        if ctx.verifier is None:
            continue
        try:
            checkpoint = open_note(note, ctx.verifier)
        except NoteError as exc:
            ctx.report.add("bad_signature", None, f"{source}：{exc}")
            continue
        if size is not None and (checkpoint.size != size or checkpoint.root != root):
            ctx.report.add("bad_checkpoint", None, f"{source}：表中的条目数或根哈希与签名内容不一致")
        signed = _SignedRoot(source, checkpoint.size, checkpoint.root)
        seen[note] = signed
        ctx.signed.append(signed)
    if ctx.verifier is None and notes:
        ctx.report.add("no_public_key", None, f"{len(notes)} 个检查点")
    ctx.report.checkpoints_checked = len(ctx.signed)
    for signed in ctx.signed:
        for key in _decomposition(signed.size):
            ctx.wanted_nodes[key] = b""


# The leaf bytes are assembled by SQLite: json_array(seq, ts, kind, actor, subject) is the
# canonical array's head (SQLite escapes strings exactly like Python's encode_basestring), its
# closing bracket is replaced by the stored payload. One JSON function and four concatenations
# per row instead of four json_quote calls and twelve concatenations. A row whose SQL-built leaf
# does not match is recomputed in Python before anything is reported, so the fast path can
# never cause a false finding; and since json_array is itself an unambiguous JSON encoding, a
# match on the fast path can never hide an edit either.
_LEAF_SQL = (
    "SELECT seq, CAST(x'00' || rtrim(json_array(seq, ts, kind, actor, subject), ']') || ',' || payload || ']'"
    " AS BLOB), leaf_hash FROM ledger_events ORDER BY seq"
)
_PAGE_LEVEL = 15
_PAGE_ROWS = 1 << _PAGE_LEVEL  # pages are aligned subtrees, so each page's nodes are final once hashed


def _pages(cursor: sqlite3.Cursor, page_rows: int) -> Iterator[list[Any]]:
    while rows := cursor.fetchmany(page_rows):
        yield rows


def stage_events(ctx: _Context) -> None:
    """Recompute every leaf from its row; detect gaps, edits and swaps."""
    report = ctx.report
    total = int(ctx.conn.execute("SELECT coalesce(max(seq), 0) FROM ledger_events").fetchone()[0])
    leaves = ctx.leaves
    sha256 = hashlib.sha256
    expected = 1
    suspicious: list[tuple[int, int]] = []  # (leaf position, seq) whose SQL-built leaf did not match
    for rows in _pages(ctx.conn.execute(_LEAF_SQL), _PAGE_ROWS):
        # seq is the INTEGER PRIMARY KEY (unique, ascending): first and last tell whether a page has a gap
        if rows[0][0] != expected or rows[-1][0] != expected + len(rows) - 1:
            for position, (seq, _data, _stored) in enumerate(rows):
                if seq != expected:
                    detail = f"缺少第 {expected} 至 {seq - 1} 号" if seq > expected else "序号重复"
                    report.add("gap", expected, detail)
                    if ctx.gap_at is None:
                        ctx.gap_at = len(leaves) + position
                    expected = seq
                expected += 1
        else:
            expected += len(rows)
        computed = [sha256(data).digest() for _seq, data, _stored in rows]
        stored = [row[2] for row in rows]
        if computed != stored:
            base = len(leaves)
            suspicious.extend(
                (base + i, rows[i][0])
                for i, (mine, theirs) in enumerate(zip(computed, stored, strict=True))
                if mine != theirs
            )
        _store_page_nodes(ctx, len(leaves), computed)
        leaves.extend(computed)
        ctx.tick("events", len(leaves), total)
    mismatched: list[tuple[int, str, str, str, str, str, bytes]] = []
    changed_pages: set[int] = set()
    for position, suspect_seq in suspicious:
        seq, ts, kind, actor, subject, payload, stored_leaf = ctx.conn.execute(
            "SELECT seq, ts, kind, actor, subject, payload, leaf_hash FROM ledger_events WHERE seq = ?",
            (suspect_seq,),
        ).fetchone()
        recomputed = sha256(b"\x00" + leaf_data(seq, ts, kind, actor, subject, payload)).digest()
        if leaves[position] != recomputed:
            leaves[position] = recomputed
            changed_pages.add(position // _PAGE_ROWS)
        if recomputed == stored_leaf:
            continue
        ctx.bad_leaves.add(position)
        if len(mismatched) < _MAX_CLASSIFIED:
            mismatched.append((seq, ts, kind, actor, subject, payload, stored_leaf))
        else:
            report.add("content_changed", seq, f"类型 {kind}，主体 {subject}")
    for page in changed_pages:  # the tree must rest on the Python-recomputed leaves
        start = page * _PAGE_ROWS
        _store_page_nodes(ctx, start, leaves[start : start + _PAGE_ROWS])
    _classify_mismatches(report, mismatched)
    report.size = len(leaves)
    ctx.max_seq = expected - 1
    for key in _decomposition(report.size):
        ctx.wanted_nodes[key] = b""


def _store_page_nodes(ctx: _Context, start: int, page: list[bytes]) -> None:
    """Hash the complete subtrees of an aligned page of leaves; keep the levels the database stores.

    Built page by page as rows stream in, so no whole level below the page's top is ever held;
    levels below MIN_STORED_LEVEL are dropped (nothing stored to compare them with) and
    stage_tree derives the few it needs for checkpoint roots from the leaves.
    """
    sha256 = hashlib.sha256
    current = page
    level = 0
    while len(current) > 1:
        pairs = iter(current)
        current = [sha256(NODE_PREFIX + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
        level += 1
        if level >= MIN_STORED_LEVEL:
            first = start >> level
            ctx.page_nodes[level][first : first + len(current)] = current


def _classify_mismatches(report: VerifyReport, rows: list[tuple[int, str, str, str, str, str, bytes]]) -> None:
    """A row whose content and stored hash belong to another bad position was moved, not edited."""
    positions = [row[0] for row in rows]
    for seq, ts, kind, actor, subject, payload, stored in rows:
        origin = next(
            (
                other
                for other in positions
                if other != seq
                and hashlib.sha256(b"\x00" + leaf_data(other, ts, kind, actor, subject, payload)).digest() == stored
            ),
            None,
        )
        if origin is not None:
            report.add("reordered", seq, f"此位置上是原第 {origin} 号事件（类型 {kind}，主体 {subject}）")
        else:
            report.add("content_changed", seq, f"类型 {kind}，主体 {subject}")


def stage_tree(ctx: _Context) -> None:
    """Recompute every complete subtree and compare it with the stored nodes."""
    report = ctx.report
    wanted = ctx.wanted_nodes
    wanted_by_level: dict[int, list[int]] = {}
    for wanted_level, wanted_index in wanted:
        wanted_by_level.setdefault(wanted_level, []).append(wanted_index)
    leaves = ctx.leaves
    size = len(leaves)
    for (wanted_level, wanted_index), _empty in list(wanted.items()):
        if wanted_level < MIN_STORED_LEVEL and (wanted_index + 1) << wanted_level <= size:
            first = wanted_index << wanted_level
            wanted[(wanted_level, wanted_index)] = root_from_leaves(leaves[first : first + (1 << wanted_level)])
    cursor = ctx.conn.execute("SELECT id, hash FROM ledger_nodes ORDER BY id")
    pending = cursor.fetchmany(10000)
    position = 0
    mask = (1 << NODE_LEVEL_SHIFT) - 1
    level = 0
    sha256 = hashlib.sha256
    bad_here = ctx.bad_leaves
    level_hashes: list[bytes] = []
    while size >> level > 1:  # a level with more than one complete node has a level above it
        level += 1
        if level < MIN_STORED_LEVEL:  # not stored: damage below simply propagates upwards
            bad_here = {index >> 1 for index in bad_here}
            continue
        if level <= _PAGE_LEVEL:
            level_hashes = ctx.page_nodes[level]
        else:
            pairs = iter(level_hashes)
            level_hashes = [sha256(NODE_PREFIX + a + b).digest() for a, b in zip(pairs, pairs, strict=False)]
        for index in wanted_by_level.get(level, []):
            if index < len(level_hashes):
                wanted[(level, index)] = level_hashes[index]
        seen = 0
        bad_below = bad_here
        bad_here = set()
        while True:
            if position >= len(pending):
                pending = cursor.fetchmany(10000)
                position = 0
                if not pending:
                    break
            node_key, stored = pending[position]
            node_level = node_key >> NODE_LEVEL_SHIFT
            if node_level < level:
                position += 1
                continue
            if node_level > level:
                break
            index = node_key & mask
            position += 1
            if index >= len(level_hashes):
                continue  # nodes beyond the recomputed tree: truncation is reported elsewhere
            seen += 1
            if stored != level_hashes[index]:
                bad_here.add(index)
                # report only where the damage starts, not every ancestor it propagates to
                after_gap = ctx.gap_at is not None and (index + 1) << level > ctx.gap_at
                if 2 * index not in bad_below and 2 * index + 1 not in bad_below and not after_gap:
                    first_seq = (index << level) + 1
                    report.add("node_mismatch", first_seq, f"层 {level} 第 {index} 个节点")
        if seen < len(level_hashes):
            report.add("node_missing", None, f"层 {level}：应有 {len(level_hashes)} 个，只有 {seen} 个")
        ctx.tick("tree", level, max(1, report.size.bit_length()))
    ctx.leaves = []
    ctx.page_nodes = []


def _root_for(ctx: _Context, size: int) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    parts = [ctx.wanted_nodes[key] for key in _decomposition(size)]
    current = parts[-1]
    for part in reversed(parts[:-1]):
        current = hashlib.sha256(NODE_PREFIX + part + current).digest()
    return current


def stage_roots(ctx: _Context) -> None:
    """Compare the recomputed roots with every signed checkpoint."""
    report = ctx.report
    matching_sizes = [0]
    mismatches: list[_SignedRoot] = []
    for signed in ctx.signed:
        if signed.size > ctx.max_seq:
            report.add(
                "truncated",
                ctx.max_seq + 1,
                f"{signed.source} 签名了 {signed.size} 条，现只有 {ctx.max_seq} 条",
            )
            continue
        if ctx.gap_at is not None and signed.size > ctx.gap_at:
            continue  # positions past a gap are already reported; their roots say nothing more
        if _root_for(ctx, signed.size) == signed.root:
            matching_sizes.append(signed.size)
        else:
            mismatches.append(signed)
    for signed in sorted(mismatches, key=lambda s: s.size):
        low = max((s for s in matching_sizes if s < signed.size), default=0)
        report.add(  # no single seq: the rewrite lies somewhere in the range named in the detail
            "root_mismatch",
            None,
            f"{signed.source}：前 {signed.size} 条的根哈希不符，改动在第 {low + 1} 至 {signed.size} 号之间",
        )
    if report.size:
        report.root = _root_for(ctx, report.size)


def _decomposition(size: int) -> list[tuple[int, int]]:
    """(level, index) of the complete subtrees whose fold is the root of a tree of `size` leaves."""
    parts = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            parts.append((level, start >> level))
            start += 1 << level
    return parts


def stage_blobs(ctx: _Context) -> None:
    """Every blob named by an event exists and still hashes to its name."""
    if ctx.blobs is None:
        return
    cursor = ctx.conn.execute(
        "SELECT seq, payload FROM ledger_events WHERE instr(payload, '_blob\"') > 0 OR instr(payload, '_blobs\"') > 0"
        " ORDER BY seq"
    )
    for seq, payload in cursor:
        refs: list[str] = []
        try:
            _collect_blob_refs(json.loads(payload), refs)
        except ValueError:
            ctx.report.add("content_changed", seq, "内容不是有效的 JSON")
        for digest in refs:
            ctx.blob_refs.setdefault(digest, seq)
    total = len(ctx.blob_refs)
    for done, (digest, seq) in enumerate(sorted(ctx.blob_refs.items(), key=lambda kv: kv[1]), 1):
        problem = ctx.blobs.check(digest)
        if problem == "missing":
            ctx.report.add("blob_missing", seq, digest)
        elif problem is not None:
            ctx.report.add("blob_altered", seq, f"{digest}：{problem}")
        ctx.tick("blobs", done, total)
    ctx.report.blobs_checked = total


STAGES: tuple[Callable[[_Context], None], ...] = (
    stage_checkpoints_load,
    stage_events,
    stage_tree,
    stage_roots,
    stage_blobs,
)


def verify_ledger(
    db_path: Path,
    *,
    verifier: NoteVerifier | None,
    checkpoint_files: Sequence[Path] = (),
    blobs: BlobStore | None = None,
    progress: Progress | None = None,
) -> VerifyReport:
    conn = connect(db_path, read_only=True)
    try:
        conn.execute("BEGIN")
        ctx = _Context(conn, verifier, list(checkpoint_files), blobs, progress, VerifyReport())
        for stage in STAGES:
            stage(ctx)
        conn.execute("COMMIT")
        return ctx.report
    finally:
        conn.close()
