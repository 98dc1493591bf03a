"""The ledger's single writer thread: group commit, tree border, checkpoints.

Every append is acknowledged only after its transaction is durable
(synchronous=FULL), so a caller that got a StoredEvent back can rely on it
surviving a crash. Appends arriving while a commit is in flight are gathered
into the next transaction, which is how many small appends stay fast. Several
processes may open the same file: the seq is computed inside BEGIN IMMEDIATE,
and the writer reloads its view of the tree when another process has appended.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path
from typing import Any

from ledger import merkle
from ledger.canonical import encode_string, format_ts
from ledger.events import StoredEvent
from ledger.note import Checkpoint, NoteSigner
from ledger.projections import Projection
from ledger.rows import StoredCheckpoint, db_size, last_checkpoint_size, node_source
from ledger.schema import MIN_STORED_LEVEL, NODE_LEVEL_SHIFT

log = logging.getLogger(__name__)


class _Signal:
    """A one-shot "done" for exactly one waiter: a lock created held, released by the writer.

    threading.Event is a Condition in Python code; under group commit a dozen callers
    wake at once, and every bytecode they run holds the interpreter lock the writer
    needs back from its fsync. A bare lock waits and wakes in C.
    """

    __slots__ = ("_lock",)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()

    def set(self) -> None:
        self._lock.release()

    def wait(self) -> None:
        self._lock.acquire()


@dataclass
class _Request:
    rows: list[tuple[str, str, str, str]]  # kind, actor, subject, payload_json
    done: _Signal = field(default_factory=_Signal)
    result: list[StoredEvent] = field(default_factory=list)
    error: BaseException | None = None


@dataclass
class _SignRequest:
    done: _Signal = field(default_factory=_Signal)
    only_if_due: bool = False  # a tick: sign only when the interval has passed by the writer's clock


_STOP = object()
_INSERT_EVENT = "INSERT INTO ledger_events(seq, ts, kind, actor, subject, payload, leaf_hash) VALUES (?,?,?,?,?,?,?)"
_INSERT_NODE = "INSERT INTO ledger_nodes(id, hash) VALUES (?, ?)"


class Writer:
    """Owns the write connection and the thread that is the only one to use it."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        name: str,
        signer: NoteSigner | None,
        checkpoint_file: Path | None,
        projections: list[Projection],
        checkpoint_interval_seconds: float,
        max_batch: int,
        max_gather_seconds: float = 0.002,
        witness_file: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._conn = conn
        self._clock = clock  # the checkpoint schedule's; commit timing is always the real one
        self.signer = signer
        self.checkpoint_file = checkpoint_file
        self.witness_file = witness_file
        self.projections = projections
        self.checkpoint_interval_seconds = checkpoint_interval_seconds
        self.max_batch = max(1, max_batch)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._range = merkle.CompactRange.from_source(db_size(conn), node_source(conn))
        self._signed_size = last_checkpoint_size(conn)
        self._last_sign = float("-inf")  # the first commit of a process signs at once, whatever the clock
        self.max_gather_seconds = max_gather_seconds
        self._last_commit_seconds = 0.0
        self._expected_callers = 1
        self._thread = threading.Thread(target=self._run_writer, name=f"ledger-writer:{name}", daemon=True)
        self._thread.start()

    def is_writer_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def enqueue(self, rows: list[tuple[str, str, str, str]]) -> _Request:
        """Queue rows (kind, actor, subject, payload_json); `wait` on the result."""
        request = _Request(rows)
        self._queue.put(request)
        return request

    @staticmethod
    def wait(request: _Request) -> list[StoredEvent]:
        """Block until the request's transaction is durable (or failed)."""
        request.done.wait()
        if request.error is not None:
            raise request.error
        return request.result

    def enqueue_sign(self, *, only_if_due: bool = False) -> _SignRequest:
        request = _SignRequest(only_if_due=only_if_due)
        self._queue.put(request)
        return request

    def _checkpoint_due(self) -> bool:
        """An unsigned tail whose interval has passed since the last checkpoint."""
        return (
            self.signer is not None
            and self._signed_size < self._range.size
            and self._clock() - self._last_sign >= self.checkpoint_interval_seconds
        )

    def stop(self) -> None:
        """Write what is queued, sign the tail, end the thread and close the connection."""
        self._queue.put(_STOP)
        self._thread.join()
        self._conn.close()

    def _run_writer(self) -> None:
        stopping = False
        while not stopping:
            timeout = None
            if self.signer is not None and self._signed_size < self._range.size:
                timeout = max(0.0, self._last_sign + self.checkpoint_interval_seconds - self._clock())
            try:
                first = self._queue.get(timeout=timeout)
            except queue.Empty:
                if self._checkpoint_due():
                    self._sign_tail()
                continue
            batch, sign_request, stopping = self._gather(first)
            if batch:
                started = time.monotonic()
                self._commit(batch)
                self._last_commit_seconds = time.monotonic() - started
                # those just committed will come back, and those who queued meanwhile are a
                # second cohort: both belong in the next transaction
                self._expected_callers = len(batch) + self._queue.qsize()
            if sign_request is not None:
                if not sign_request.only_if_due or self._checkpoint_due():
                    self._sign_tail()
                sign_request.done.set()
        self._sign_tail()

    def _gather(self, item: Any) -> tuple[list[_Request], _SignRequest | None, bool]:
        """The requests of the next transaction, starting with `item`, up to a sign request (signed
        right after it) or the stop marker (the third value: stop after it)."""
        batch: list[_Request] = []
        count = 0
        gather_until: float | None = None
        while True:
            if item is _STOP:
                return batch, None, True
            if isinstance(item, _SignRequest):
                return batch, item, False
            batch.append(item)
            count += len(item.rows)
            if count >= self.max_batch:
                return batch, None, False
            try:
                item = self._queue.get_nowait()
                continue
            except queue.Empty:
                pass
            # Callers released by the previous commit come back with their next append a
            # moment later; committing without them splits them into two alternating
            # cohorts that each pay a full fsync. So while fewer callers are here than were
            # active around the last commit, wait for them - never longer than a fraction
            # of a commit.
            if len(batch) >= self._expected_callers:
                return batch, None, False
            now = time.monotonic()
            if gather_until is None:
                gather_until = now + min(self.max_gather_seconds, self._last_commit_seconds / 2)
            if now >= gather_until:
                return batch, None, False
            try:
                item = self._queue.get(timeout=gather_until - now)
            except queue.Empty:
                return batch, None, False

    def _sign_tail(self) -> None:
        if self.signer is None:
            return
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            self._sync_range(conn)
            if last_checkpoint_size(conn) >= self._range.size:
                conn.execute("COMMIT")
                self._signed_size = self._range.size
                return
            stored = self._insert_checkpoint(conn)
            conn.execute("COMMIT")
        except BaseException:
            log.exception("ledger.checkpoint_failed")
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._last_sign = self._clock()
            return
        self._write_checkpoint_file(stored)

    def _sync_range(self, conn: sqlite3.Connection) -> None:
        """Reload the tree border if another process appended since our last commit."""
        size = db_size(conn)
        if size != self._range.size:
            self._range = merkle.CompactRange.from_source(size, node_source(conn))

    def _commit(self, batch: list[_Request]) -> None:
        """Write a batch in one transaction, then release its callers (each with its events or its error)."""
        try:
            checkpoint = self._write_batch(batch)
        except BaseException as exc:
            self._fail_batch(batch, exc)
            return
        for request in batch:
            request.done.set()
        if checkpoint is not None:
            self._write_checkpoint_file(checkpoint)

    def _write_batch(self, batch: list[_Request]) -> StoredCheckpoint | None:
        """Commit the batch, and a checkpoint with it when one is due (returned, for the files).

        The fast path runs without savepoints (a statement journal per request
        halves throughput). If a request fails - a projection refusing an event -
        the transaction is rolled back and the batch is written again with one
        savepoint per request, so only the failing caller sees the error.
        """
        conn = self._conn
        isolate = False
        while True:
            conn.execute("BEGIN IMMEDIATE")
            self._sync_range(conn)
            base = self._range.copy()
            moment = datetime.now(UTC)
            ts = format_ts(moment)
            failed = False
            for request in batch:
                self._apply_request(conn, request, ts, moment, isolate)
                if request.error is not None and not isolate:
                    failed = True
                    break
            if not failed:
                break
            conn.execute("ROLLBACK")
            self._range = base
            if len(batch) == 1:
                batch[0].result = []
                return None
            for request in batch:
                request.result, request.error = [], None
            isolate = True
        checkpoint: StoredCheckpoint | None = None
        due = self._clock() - self._last_sign >= self.checkpoint_interval_seconds
        if self.signer is not None and due and self._range.size > last_checkpoint_size(conn):
            checkpoint = self._insert_checkpoint(conn)
        conn.execute("COMMIT")
        return checkpoint

    def _fail_batch(self, batch: list[_Request], exc: BaseException) -> None:
        """Nothing of the batch was written: every caller gets the error, and the tree border is reloaded."""
        conn = self._conn
        if conn.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
        self._range = merkle.CompactRange.from_source(db_size(conn), node_source(conn))
        for request in batch:
            if request.error is None:
                request.error = exc
            request.result = []
            request.done.set()
        log.exception("ledger.commit_failed")

    def _apply_request(
        self, conn: sqlite3.Connection, request: _Request, ts: str, moment: datetime, isolate: bool
    ) -> None:
        saved = self._range.copy() if isolate else None
        if isolate:
            conn.execute("SAVEPOINT request")
        try:
            tree = self._range
            first = tree.size + 1
            seqs = range(first, first + len(request.rows))
            kinds, actors, subjects, payloads = zip(*request.rows, strict=True)
            # leaf bytes exactly as canonical.leaf_data builds them (0x00 prefix included), with
            # the parts shared by the batch (time, kinds, actors) encoded once; column-wise lists
            # let zip/map build the rows and events in C rather than one Python call per event
            quoted = {text: encode_string(text) for text in {*kinds, *actors}}
            ts_quoted = encode_string(ts)
            sha256 = hashlib.sha256
            leaves = [
                sha256(f"\x00[{seq},{ts_quoted},{kind},{actor},{subject},{payload}]".encode()).digest()
                for seq, kind, actor, subject, payload in zip(
                    seqs,
                    map(quoted.__getitem__, kinds),
                    map(quoted.__getitem__, actors),
                    map(encode_string, subjects),
                    payloads,
                    strict=True,
                )
            ]
            nodes = [
                ((level << NODE_LEVEL_SHIFT) | index, digest)
                for level, index, digest in tree.extend(leaves, MIN_STORED_LEVEL)
            ]
            conn.executemany(_INSERT_EVENT, zip(seqs, repeat(ts), kinds, actors, subjects, payloads, leaves))
            if nodes:
                conn.executemany(_INSERT_NODE, nodes)
            events = list(map(StoredEvent, seqs, repeat(moment), kinds, actors, subjects, payloads, leaves))
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
        self._last_sign = self._clock()
        self._signed_size = checkpoint.size
        return StoredCheckpoint(checkpoint.size, checkpoint.root, ts, note)

    def _write_checkpoint_file(self, checkpoint: StoredCheckpoint) -> None:
        """Append the checkpoint outside the database, to the local file and then the witness copy.

        After the commit, so neither file ever runs ahead of the database. A witness that
        cannot be written (a share gone away) lags behind, which is safe: the next open
        refuses only a database that is behind a file, never a file that is behind.
        """
        line = json.dumps(
            {"size": checkpoint.size, "ts": checkpoint.ts, "note": checkpoint.note}, ensure_ascii=False
        ).encode("utf-8")
        for path, event in (
            (self.checkpoint_file, "ledger.checkpoint_file_failed"),
            (self.witness_file, "ledger.witness_failed"),
        ):
            if path is None:
                continue
            try:
                _append_line(path, line)
            except OSError:
                log.exception(event, extra={"file": str(path)})


def _append_line(path: Path, line: bytes) -> None:
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        end = os.fstat(fd).st_size
        if end and os.pread(fd, 1, end - 1) != b"\n":
            line = b"\n" + line  # a line torn by a crash stays on its own line
        os.write(fd, line + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
