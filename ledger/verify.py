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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ledger import verify_events
from ledger.blobs import BlobStore
from ledger.merkle import EMPTY_ROOT, NODE_PREFIX, root_from_leaves
from ledger.note import NoteError, NoteVerifier, open_any
from ledger.schema import MIN_STORED_LEVEL, NODE_LEVEL_SHIFT, connect
from ledger.verify_events import default_workers, split_hashes

Progress = Callable[[str, int, int], None]  # stage, done, total
_MAX_PROBLEMS_PER_CODE = 20

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
    db_path: Path
    workers: int  # second processes that hash pages alongside this one
    verifier: NoteVerifier | None
    retired_verifiers: Sequence[NoteVerifier]
    checkpoint_files: Sequence[Path]
    blobs: BlobStore | None
    progress: Progress | None
    report: VerifyReport
    # Hashes are kept joined (32 bytes each) rather than as a million small objects: a page from a
    # worker is appended as it arrives, and whole levels compare with the stored nodes in one step.
    leaves: bytearray = field(default_factory=bytearray)
    # stored levels (>= MIN_STORED_LEVEL) up to verify_events.PAGE_LEVEL, joined, built page by page
    page_nodes: list[bytearray] = field(
        default_factory=lambda: [bytearray() for _ in range(verify_events.PAGE_LEVEL + 1)]
    )
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
            # an empty name means "no blob" (a decision taken in the portal has no mail to keep)
            if key.endswith("_blob") and isinstance(item, str):
                if item:
                    found.append(item)
            elif key.endswith("_blobs") and isinstance(item, list):
                found.extend(x for x in item if isinstance(x, str) and x)
            else:
                _collect_blob_refs(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect_blob_refs(item, found)


def _checkpoint_notes(ctx: _Context) -> list[tuple[str, int | None, bytes | None, str]]:
    """Every checkpoint note with where it was read (the database's rows also carry size and root);
    an unreadable file or line is reported, except a torn last line."""
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
                notes.append((f"{path} 第 {number} 行", None, None, str(record["note"])))
            except (ValueError, KeyError, TypeError):
                # a torn last line after a crash is expected; anything else is reported
                if number != len(lines):
                    ctx.report.add("bad_checkpoint", None, f"{path} 第 {number} 行")
    return notes


def stage_checkpoints_load(ctx: _Context) -> None:
    """Read and check the signature of every checkpoint, in the database and in the files."""
    notes = _checkpoint_notes(ctx)
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
            checkpoint = open_any(note, [ctx.verifier, *ctx.retired_verifiers])
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


def stage_events(ctx: _Context) -> None:
    """Recompute every leaf from its row; detect gaps, edits and swaps (see ledger.verify_events)."""
    verify_events.scan_events(ctx)
    for key in _decomposition(ctx.report.size):
        ctx.wanted_nodes[key] = b""


def stage_tree(ctx: _Context) -> None:
    """Recompute every complete subtree and compare it with the stored nodes."""
    report = ctx.report
    wanted = ctx.wanted_nodes
    wanted_by_level: dict[int, list[int]] = {}
    for wanted_level, wanted_index in wanted:
        wanted_by_level.setdefault(wanted_level, []).append(wanted_index)
    leaves = ctx.leaves
    size = len(leaves) // 32
    for (wanted_level, wanted_index), _empty in list(wanted.items()):
        if wanted_level < MIN_STORED_LEVEL and (wanted_index + 1) << wanted_level <= size:
            first = wanted_index << wanted_level
            below = split_hashes(leaves[32 * first : 32 * (first + (1 << wanted_level))])
            wanted[(wanted_level, wanted_index)] = root_from_leaves(below)
    level = 0
    sha256 = hashlib.sha256
    bad_here = ctx.bad_leaves
    level_hashes = b""  # the current level's nodes, joined
    while size >> level > 1:  # a level with more than one complete node has a level above it
        level += 1
        if level < MIN_STORED_LEVEL:  # not stored: damage below simply propagates upwards
            bad_here = {index >> 1 for index in bad_here}
            continue
        if level <= verify_events.PAGE_LEVEL:
            level_hashes = bytes(ctx.page_nodes[level])
        else:
            pairs = iter(split_hashes(level_hashes))
            level_hashes = b"".join([sha256(NODE_PREFIX + a + b).digest() for a, b in zip(pairs, pairs, strict=False)])
        for index in wanted_by_level.get(level, []):
            if 32 * index < len(level_hashes):
                wanted[(level, index)] = level_hashes[32 * index : 32 * index + 32]
        bad_here = _compare_level(ctx, level, level_hashes, bad_here)
        ctx.tick("tree", level, max(1, report.size.bit_length()))
    ctx.leaves = bytearray()
    ctx.page_nodes = []


_LEVEL_QUERY = (
    "SELECT count(*), total(bad_length), CAST(group_concat(hash, '') AS BLOB)"
    " FROM (SELECT hash, length(hash) <> 32 AS bad_length FROM ledger_nodes WHERE id >= ? AND id <= ? ORDER BY id)"
)


def _compare_level(ctx: _Context, level: int, level_hashes: bytes, bad_below: set[int]) -> set[int]:
    """Compare one level's stored nodes with the recomputed ones; returns the indexes that differ.

    One aggregate query confirms a whole level (count, every hash 32 bytes, the joined hashes
    equal); only a level it cannot confirm is walked node by node to say where. Stored nodes
    beyond the recomputed tree are not looked at: truncation is reported elsewhere.
    """
    report = ctx.report
    low = level << NODE_LEVEL_SHIFT
    count = len(level_hashes) // 32
    found, bad_lengths, joined = ctx.conn.execute(_LEVEL_QUERY, (low, low + count - 1)).fetchone()
    if found == count and bad_lengths == 0 and joined == level_hashes:
        return set()
    bad_here: set[int] = set()
    seen = 0
    rows = ctx.conn.execute(
        "SELECT id, hash FROM ledger_nodes WHERE id >= ? AND id < ? ORDER BY id", (low, low + count)
    )
    for node_key, stored in rows:
        index = node_key - low
        seen += 1
        if stored != level_hashes[32 * index : 32 * index + 32]:
            bad_here.add(index)
            # report only where the damage starts, not every ancestor it propagates to
            after_gap = ctx.gap_at is not None and (index + 1) << level > ctx.gap_at
            if 2 * index not in bad_below and 2 * index + 1 not in bad_below and not after_gap:
                report.add("node_mismatch", (index << level) + 1, f"层 {level} 第 {index} 个节点")
    if seen < count:
        report.add("node_missing", None, f"层 {level}：应有 {count} 个，只有 {seen} 个")
    return bad_here


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
    workers: int | None = None,
    retired_verifiers: Sequence[NoteVerifier] = (),
) -> VerifyReport:
    """Audit the ledger at db_path; `workers` second processes share the hashing (default: one per spare core).

    Checkpoints verify with `verifier` or, signed before a key rotation, with one of `retired_verifiers`.
    """
    conn = connect(db_path, read_only=True)
    try:
        conn.execute("BEGIN")
        ctx = _Context(
            conn,
            db_path,
            default_workers() if workers is None else workers,
            verifier,
            list(retired_verifiers),
            list(checkpoint_files),
            blobs,
            progress,
            VerifyReport(),
        )
        for stage in STAGES:
            stage(ctx)
        conn.execute("COMMIT")
        return ctx.report
    finally:
        conn.close()
