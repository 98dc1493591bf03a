"""The Ledger: one SQLite file, one writer thread with group commit, concurrent readers.

Every append is acknowledged only after its transaction is durable
(synchronous=FULL), so a caller that got a StoredEvent back can rely on it
surviving a crash. Appends arriving while a commit is in flight are gathered
into the next transaction, which is how many small appends stay fast. Several
processes may open the same file: the seq is computed inside BEGIN IMMEDIATE,
and the writer reloads its view of the tree when another process has appended.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger import merkle
from ledger.blobs import BlobStore
from ledger.canonical import format_ts, leaf_data, parse_ts
from ledger.errors import EventNotFoundError, LedgerClosedError, LedgerError
from ledger.events import EventBody, StoredEvent
from ledger.note import Checkpoint, NoteSigner, NoteVerifier, load_signer
from ledger.projections import Projection, TableDifference, compare_tables, ddl_digest, replay, table_exists
from ledger.schema import MIN_STORED_LEVEL, NODE_LEVEL_SHIFT, connect, create_schema, node_id
from ledger.verify import Progress, VerifyReport, verify_ledger

log = logging.getLogger(__name__)

EventSpec = tuple[EventBody, str, str]
_EVENT_COLUMNS = "seq, ts, kind, actor, subject, payload, leaf_hash"
_READ_PAGE = 2000


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root: bytes
    ts: str
    note: str


@dataclass
class _Request:
    rows: list[tuple[str, str, str, str]]  # kind, actor, subject, payload_json
    done: threading.Event = field(default_factory=threading.Event)
    result: list[StoredEvent] = field(default_factory=list)
    error: BaseException | None = None


@dataclass
class _SignRequest:
    done: threading.Event = field(default_factory=threading.Event)


_STOP = object()


def row_to_event(row: Sequence[Any]) -> StoredEvent:
    return StoredEvent(row[0], parse_ts(row[1]), row[2], row[3], row[4], row[5], row[6])


def node_source(conn: sqlite3.Connection) -> merkle.NodeSource:
    """Lookups of complete subtrees: leaves from ledger_events, inner nodes from ledger_nodes."""

    def lookup(level: int, index: int) -> bytes:
        if level == 0:
            row = conn.execute("SELECT leaf_hash FROM ledger_events WHERE seq = ?", (index + 1,)).fetchone()
        elif level < MIN_STORED_LEVEL:
            # small subtrees are not stored: recompute them from their (at most 2**level) leaves
            first, count = (index << level) + 1, 1 << level
            leaves = [
                bytes(r[0])
                for r in conn.execute(
                    "SELECT leaf_hash FROM ledger_events WHERE seq >= ? AND seq < ? ORDER BY seq",
                    (first, first + count),
                )
            ]
            if len(leaves) != count:
                raise LedgerError(f"leaves {first}..{first + count - 1} are missing from the database")
            return merkle.root_from_leaves(leaves)
        else:
            row = conn.execute("SELECT hash FROM ledger_nodes WHERE id = ?", (node_id(level, index),)).fetchone()
        if row is None:
            raise LedgerError(f"Merkle node (level {level}, index {index}) is missing from the database")
        return bytes(row[0])

    return lookup


class Ledger:
    """Append-only, tamper-evident event store; see docs/ledger.md."""

    def __init__(
        self,
        path: Path,
        *,
        signer: NoteSigner | None,
        checkpoint_file: Path | None,
        projections: Sequence[Projection],
        blobs: BlobStore,
        checkpoint_interval_seconds: float,
        max_batch: int,
    ) -> None:
        self.path = path
        self.blobs = blobs
        self.signer = signer
        self.checkpoint_file = checkpoint_file
        self.projections = list(projections)
        self.checkpoint_interval_seconds = checkpoint_interval_seconds
        self.max_batch = max(1, max_batch)
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._all_readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._close_lock = threading.Lock()
        self._writer_conn = connect(path)
        create_schema(self._writer_conn)
        self._setup_projections()
        size = self._db_size(self._writer_conn)
        self._range = merkle.CompactRange.from_source(size, node_source(self._writer_conn))
        self._signed_size = self._last_checkpoint_size(self._writer_conn)
        self._last_sign = 0.0
        self._writer = threading.Thread(target=self._run_writer, name=f"ledger-writer:{path.name}", daemon=True)
        self._writer.start()
        # a process that forgets close() still gets its tail signed at exit
        atexit.register(self.close)

    # ---------------------------------------------------------------- opening

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        signing_key_path: Path | None = None,
        checkpoint_file: Path | None = None,
        origin: str = "chanquan/ledger",
        projections: Sequence[Projection] = (),
        blobs_dir: Path | None = None,
        checkpoint_interval_seconds: float = 2.0,
        max_batch: int = 1000,
    ) -> Ledger:
        """Open (creating on first use) the ledger at `path`.

        Without `signing_key_path` no checkpoints are signed: fine for tests and
        read-only tools, not for a deployment.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        signer = load_signer(signing_key_path, origin) if signing_key_path is not None else None
        return cls(
            path,
            signer=signer,
            checkpoint_file=checkpoint_file,
            projections=projections,
            blobs=BlobStore(blobs_dir if blobs_dir is not None else path.parent / "blobs"),
            checkpoint_interval_seconds=checkpoint_interval_seconds,
            max_batch=max_batch,
        )

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Sign the unsigned tail, stop the writer and close every connection."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        atexit.unregister(self.close)
        self._queue.put(_STOP)
        self._writer.join()
        self._writer_conn.close()
        with self._readers_lock:
            for conn in self._all_readers:
                conn.close()
            self._all_readers.clear()

    def _setup_projections(self) -> None:
        """Create projection tables; a new or changed DDL gets fresh tables filled by replay."""
        conn = self._writer_conn
        names = [p.name for p in self.projections]
        if len(set(names)) != len(names):
            raise LedgerError(f"projection names must be unique: {names}")
        for projection in self.projections:
            digest = ddl_digest(projection)
            row = conn.execute(
                "SELECT ddl_sha256 FROM ledger_projections WHERE name = ?", (projection.name,)
            ).fetchone()
            tables_present = all(table_exists(conn, "main", t) for t in projection.tables)
            if row is not None and row[0] == digest and tables_present:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                for table in projection.tables:
                    conn.execute(f'DROP TABLE IF EXISTS "{table}"')
                for statement in projection.ddl:
                    conn.execute(statement)
                cursor = conn.execute(f"SELECT {_EVENT_COLUMNS} FROM ledger_events ORDER BY seq")
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
            log.info("ledger.projection_built", extra={"projection": projection.name})

    # ---------------------------------------------------------------- appending

    def append(self, body: EventBody, actor: str, subject: str) -> StoredEvent:
        """Append one event; returns once it is durable."""
        return self.append_many([(body, actor, subject)])[0]

    def append_many(self, items: Iterable[EventSpec]) -> list[StoredEvent]:
        """Append events in one transaction with consecutive seqs; returns once durable."""
        rows = []
        for body, actor, subject in items:
            kind = type(body).kind
            if not kind:
                raise LedgerError(f"{type(body).__name__} is not declared with @event_kind")
            if not isinstance(actor, str) or not isinstance(subject, str):
                raise LedgerError("actor and subject must be strings")
            rows.append((kind, actor, subject, body.to_payload_json()))
        if not rows:
            return []
        if threading.current_thread() is self._writer:
            raise LedgerError("a projection must not append to the ledger (it runs inside the append)")
        if self._closed:
            raise LedgerClosedError("the ledger is closed")
        request = _Request(rows)
        self._queue.put(request)
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.result

    def _run_writer(self) -> None:
        stopping = False
        while not stopping:
            timeout = None
            if self.signer is not None and self._signed_size < self._range.size:
                timeout = max(0.0, self._last_sign + self.checkpoint_interval_seconds - time.monotonic())
            try:
                first = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._sign_tail()
                continue
            batch: list[_Request] = []
            sign_requests: list[_SignRequest] = []
            count = 0
            item = first
            while True:
                if item is _STOP:
                    stopping = True
                    break
                if isinstance(item, _SignRequest):
                    sign_requests.append(item)
                    break
                batch.append(item)
                count += len(item.rows)
                if count >= self.max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._commit(batch)
            if sign_requests:
                self._sign_tail()
                for sign_request in sign_requests:
                    sign_request.done.set()
        self._sign_tail()

    def _sign_tail(self) -> None:
        if self.signer is None:
            return
        conn = self._writer_conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            self._sync_range(conn)
            if self._last_checkpoint_size(conn) >= self._range.size:
                conn.execute("COMMIT")
                self._signed_size = self._range.size
                return
            stored = self._insert_checkpoint(conn)
            conn.execute("COMMIT")
        except BaseException:
            log.exception("ledger.checkpoint_failed")
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._last_sign = time.monotonic()
            return
        self._write_checkpoint_file(stored)

    def _sync_range(self, conn: sqlite3.Connection) -> None:
        """Reload the tree border if another process appended since our last commit."""
        size = self._db_size(conn)
        if size != self._range.size:
            self._range = merkle.CompactRange.from_source(size, node_source(conn))

    def _commit(self, batch: list[_Request]) -> None:
        """Write a batch in one transaction.

        The fast path runs without savepoints (a statement journal per request
        halves throughput). If a request fails - a projection refusing an event -
        the transaction is rolled back and the batch is written again with one
        savepoint per request, so only the failing caller sees the error.
        """
        conn = self._writer_conn
        checkpoint: StoredCheckpoint | None = None
        isolate = False
        try:
            while True:
                conn.execute("BEGIN IMMEDIATE")
                self._sync_range(conn)
                base = self._range.copy()
                ts = format_ts(datetime.now(UTC))
                failed = False
                for request in batch:
                    self._apply_request(conn, request, ts, isolate)
                    if request.error is not None and not isolate:
                        failed = True
                        break
                if failed:
                    conn.execute("ROLLBACK")
                    self._range = base
                    if len(batch) == 1:
                        batch[0].result = []
                        break
                    for request in batch:
                        request.result, request.error = [], None
                    isolate = True
                    continue
                due = time.monotonic() - self._last_sign >= self.checkpoint_interval_seconds
                if self.signer is not None and due and self._range.size > self._last_checkpoint_size(conn):
                    checkpoint = self._insert_checkpoint(conn)
                conn.execute("COMMIT")
                break
        except BaseException as exc:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            self._range = merkle.CompactRange.from_source(self._db_size(conn), node_source(conn))
            for request in batch:
                if request.error is None:
                    request.error = exc
                request.result = []
                request.done.set()
            log.exception("ledger.commit_failed")
            return
        for request in batch:
            request.done.set()
        if checkpoint is not None:
            self._write_checkpoint_file(checkpoint)

    def _apply_request(self, conn: sqlite3.Connection, request: _Request, ts: str, isolate: bool) -> None:
        saved = self._range.copy() if isolate else None
        if isolate:
            conn.execute("SAVEPOINT request")
        try:
            events: list[StoredEvent] = []
            nodes: list[tuple[int, bytes]] = []
            tree = self._range

            def on_node(level: int, index: int, digest: bytes) -> None:
                if level >= MIN_STORED_LEVEL:
                    nodes.append(((level << NODE_LEVEL_SHIFT) | index, digest))

            moment = parse_ts(ts)
            sha256 = hashlib.sha256
            for kind, actor, subject, payload_json in request.rows:
                seq = tree.size + 1
                leaf = sha256(b"\x00" + leaf_data(seq, ts, kind, actor, subject, payload_json)).digest()
                tree.append(leaf, on_node)
                events.append(StoredEvent(seq, moment, kind, actor, subject, payload_json, leaf))
            conn.executemany(
                "INSERT INTO ledger_events(seq, ts, kind, actor, subject, payload, leaf_hash) VALUES (?,?,?,?,?,?,?)",
                [(e.seq, ts, e.kind, e.actor, e.subject, e.payload_json, e.leaf_hash) for e in events],
            )
            if nodes:
                conn.executemany("INSERT INTO ledger_nodes(id, hash) VALUES (?, ?)", nodes)
            for event in events:
                for projection in self.projections:
                    projection.apply(conn, event)
            if isolate:
                conn.execute("RELEASE request")
            request.result = events
        except Exception as exc:
            if isolate:
                conn.execute("ROLLBACK TO request")
                conn.execute("RELEASE request")
                assert saved is not None
                self._range = saved
            request.error = exc

    def _insert_checkpoint(self, conn: sqlite3.Connection) -> StoredCheckpoint:
        assert self.signer is not None
        checkpoint = Checkpoint(self.signer.name, self._range.size, self._range.root())
        note = self.signer.sign(checkpoint.text())
        ts = format_ts(datetime.now(UTC))
        conn.execute(
            "INSERT INTO ledger_checkpoints(size, root, ts, note) VALUES (?, ?, ?, ?)",
            (checkpoint.size, checkpoint.root, ts, note),
        )
        self._last_sign = time.monotonic()
        self._signed_size = checkpoint.size
        return StoredCheckpoint(checkpoint.size, checkpoint.root, ts, note)

    def _write_checkpoint_file(self, checkpoint: StoredCheckpoint) -> None:
        """Append the checkpoint outside the database (after commit: the file never runs ahead)."""
        if self.checkpoint_file is None:
            return
        import json

        line = json.dumps(
            {"size": checkpoint.size, "ts": checkpoint.ts, "note": checkpoint.note}, ensure_ascii=False
        ).encode("utf-8")
        try:
            fd = os.open(self.checkpoint_file, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                end = os.fstat(fd).st_size
                if end and os.pread(fd, 1, end - 1) != b"\n":
                    line = b"\n" + line  # a line torn by a crash stays on its own line
                os.write(fd, line + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            log.exception("ledger.checkpoint_file_failed")

    def checkpoint_now(self) -> StoredCheckpoint | None:
        """Sign the current tree now unless already signed (e.g. before printing a proof); None without a key."""
        if self.signer is None:
            return None
        if self._closed:
            raise LedgerClosedError("the ledger is closed")
        request = _SignRequest()
        self._queue.put(request)
        request.done.wait()
        return self.latest_checkpoint()

    # ---------------------------------------------------------------- reading

    @contextlib.contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection holding one consistent snapshot for the `with` block."""
        try:
            conn = self._readers.get_nowait()
        except queue.Empty:
            conn = connect(self.path, read_only=True)
            with self._readers_lock:
                self._all_readers.append(conn)
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")
            self._readers.put(conn)

    @staticmethod
    def _db_size(conn: sqlite3.Connection) -> int:
        return int(conn.execute("SELECT coalesce(max(seq), 0) FROM ledger_events").fetchone()[0])

    @staticmethod
    def _last_checkpoint_size(conn: sqlite3.Connection) -> int:
        return int(conn.execute("SELECT coalesce(max(size), 0) FROM ledger_checkpoints").fetchone()[0])

    def size(self) -> int:
        with self.reader() as conn:
            return self._db_size(conn)

    def get(self, seq: int) -> StoredEvent:
        with self.reader() as conn:
            row = conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM ledger_events WHERE seq = ?",
                (seq,),
            ).fetchone()
            if row is None:
                raise EventNotFoundError(seq, self._db_size(conn))
        return row_to_event(row)

    def events(
        self,
        after_seq: int = 0,
        kind: str | None = None,
        subject: str | None = None,
        *,
        since: datetime | None = None,
        until_seq: int | None = None,
    ) -> Iterator[StoredEvent]:
        """Events in seq order, read in pages so no snapshot is held between pages."""
        conditions = ["seq > ?"]
        base: list[Any] = []
        if kind is not None:
            conditions.append("kind = ?")
            base.append(kind)
        if subject is not None:
            conditions.append("subject = ?")
            base.append(subject)
        if since is not None:
            conditions.append("ts >= ?")
            base.append(format_ts(since))
        if until_seq is not None:
            conditions.append("seq <= ?")
            base.append(until_seq)
        sql = (
            f"SELECT {_EVENT_COLUMNS} FROM ledger_events WHERE {' AND '.join(conditions)} "
            f"ORDER BY seq LIMIT {_READ_PAGE}"
        )
        last = after_seq
        while True:
            with self.reader() as conn:
                rows = conn.execute(sql, [last, *base]).fetchall()
            for row in rows:
                yield row_to_event(row)
            if len(rows) < _READ_PAGE:
                return
            last = rows[-1][0]

    # ---------------------------------------------------------------- proofs and checkpoints

    def root(self, size: int | None = None) -> bytes:
        with self.reader() as conn:
            current = self._db_size(conn)
            size = current if size is None else size
            if not 0 <= size <= current:
                raise EventNotFoundError(size, current)
            return merkle.root_from_source(node_source(conn), size)

    def inclusion_proof(self, seq: int, size: int | None = None) -> list[bytes]:
        with self.reader() as conn:
            current = self._db_size(conn)
            size = current if size is None else size
            if not 1 <= seq <= size <= current:
                raise EventNotFoundError(seq, current)
            return merkle.inclusion_proof(node_source(conn), seq - 1, size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        with self.reader() as conn:
            current = self._db_size(conn)
            new_size = current if new_size is None else new_size
            if not 0 <= old_size <= new_size <= current:
                raise EventNotFoundError(new_size, current)
            return merkle.consistency_proof(node_source(conn), old_size, new_size)

    def checkpoints(self) -> list[StoredCheckpoint]:
        with self.reader() as conn:
            rows = conn.execute("SELECT size, root, ts, note FROM ledger_checkpoints ORDER BY id").fetchall()
        return [StoredCheckpoint(r[0], bytes(r[1]), r[2], r[3]) for r in rows]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        with self.reader() as conn:
            row = conn.execute(
                "SELECT size, root, ts, note FROM ledger_checkpoints ORDER BY size DESC, id DESC LIMIT 1"
            ).fetchone()
        return None if row is None else StoredCheckpoint(row[0], bytes(row[1]), row[2], row[3])

    # ---------------------------------------------------------------- audit and maintenance

    def verify(
        self,
        *,
        verifier: NoteVerifier | None = None,
        checkpoint_files: Sequence[Path] | None = None,
        check_blobs: bool = True,
        progress: Progress | None = None,
    ) -> VerifyReport:
        """Full audit (see ledger.verify); defaults to this ledger's key and checkpoint file."""
        if verifier is None and self.signer is not None:
            verifier = self.signer.verifier
        if checkpoint_files is None:
            checkpoint_files = [self.checkpoint_file] if self.checkpoint_file and self.checkpoint_file.exists() else []
        return verify_ledger(
            self.path,
            verifier=verifier,
            checkpoint_files=checkpoint_files,
            blobs=self.blobs if check_blobs else None,
            progress=progress,
        )

    def rebuild_projections(self, target: Path | None = None) -> Path:
        """Replay every event into fresh projection tables in a separate SQLite file; returns its path."""
        if target is None:
            target = self.path.with_name(self.path.name + ".rebuild")
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        out = sqlite3.connect(target, isolation_level=None)
        try:
            out.execute("PRAGMA journal_mode = OFF")
            out.execute("PRAGMA synchronous = OFF")
            out.execute("BEGIN")
            for projection in self.projections:
                for statement in projection.ddl:
                    out.execute(statement)
            size = self.size()
            replay(out, self.projections, self.events(until_seq=size))
            out.execute("COMMIT")
        finally:
            out.close()
        return target

    def compare_projections(self, rebuilt: Path | None = None) -> list[TableDifference]:
        """Differences between the live projection tables and freshly rebuilt ones (empty when equal)."""
        created = rebuilt is None
        rebuilt_path = self.rebuild_projections() if rebuilt is None else rebuilt
        try:
            conn = connect(self.path, read_only=True)
            try:
                conn.execute("ATTACH DATABASE ? AS rebuilt", (str(rebuilt_path),))
                conn.execute("BEGIN")
                differences = compare_tables(conn, self.projections, "rebuilt")
                conn.execute("COMMIT")
                conn.execute("DETACH DATABASE rebuilt")
            finally:
                conn.close()
        finally:
            if created:
                rebuilt_path.unlink(missing_ok=True)
        return differences

    def backup(self, out: Path, progress: Callable[[int, int], None] | None = None) -> None:
        """Consistent copy through SQLite's backup API (a file copy of a live WAL database can lose commits)."""
        out.parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(out)
        source = connect(self.path, read_only=True)
        try:

            def report(status: int, remaining: int, total: int) -> None:
                if progress is not None:
                    progress(total - remaining, total)

            source.backup(target, pages=256, progress=report)
        finally:
            source.close()
            target.close()
