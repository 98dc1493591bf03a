"""The Ledger: one SQLite file, one writer thread with group commit (ledger.writer), concurrent readers.

The public face of the package: appends are handed to the writer and return once
durable; reads, proofs and audits use their own read-only connections so they
never wait for a commit.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger import merkle
from ledger.blobs import BlobStore
from ledger.canonical import format_ts
from ledger.errors import (
    EventNotFoundError,
    LedgerClosedError,
    LedgerError,
    LedgerForkError,
    LedgerMissingError,
    LedgerReadOnlyError,
    ProjectionsOutdatedError,
    WitnessUnavailableError,
)
from ledger.events import EventBody, StoredEvent
from ledger.heads import Head, database_size, find_fork, newest_head
from ledger.note import NoteSigner, NoteVerifier, load_signer
from ledger.projections import (
    Projection,
    TableDifference,
    build_stale_projections,
    compare_files,
    rebuild_into,
    stale_projections,
    table_exists,
)
from ledger.rows import EVENT_COLUMNS, StoredCheckpoint, db_size, node_source, row_to_event
from ledger.schema import connect, create_schema
from ledger.verify import Progress, VerifyReport, verify_ledger
from ledger.writer import Writer

log = logging.getLogger(__name__)

EventSpec = tuple[EventBody, str, str]
_READ_PAGE = 2000


class Ledger:
    """Append-only, tamper-evident event store; see docs/ledger.md.

    Opening compares the tree with the newest line of the checkpoint file and of the
    witness copy (ledger.heads). A database that does not extend them is refused with
    LedgerForkError; opened `read_only`, it is readable and `fork` says what is wrong.
    """

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
        witness_file: Path | None = None,
        verifier: NoteVerifier | None = None,
        retired_verifiers: Sequence[NoteVerifier] = (),
        read_only: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.blobs = blobs
        self.signer = signer
        self.checkpoint_file = checkpoint_file
        self.witness_file = witness_file
        self.verifier = verifier if verifier is not None else signer.verifier if signer is not None else None
        self.retired_verifiers = list(retired_verifiers)
        self.read_only = read_only
        self.fork: LedgerForkError | None = None
        self.projections = list(projections)
        self.checkpoint_interval_seconds = checkpoint_interval_seconds
        self.max_batch = max(1, max_batch)
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._all_readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._close_lock = threading.Lock()
        self._writer: Writer | None = None
        conn = self._open_checked()
        if read_only:
            try:
                self._check_projections(conn)
            finally:
                conn.close()
            return
        try:
            create_schema(conn)
            self._setup_projections(conn)
        except BaseException:
            conn.close()
            raise
        self._writer = Writer(
            conn,
            name=path.name,
            signer=signer,
            checkpoint_file=checkpoint_file,
            witness_file=witness_file,
            projections=self.projections,
            checkpoint_interval_seconds=checkpoint_interval_seconds,
            max_batch=max_batch,
            clock=clock,
        )
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
        witness_file: Path | None = None,
        verifier: NoteVerifier | None = None,
        retired_verifiers: Sequence[NoteVerifier] = (),
        read_only: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> Ledger:
        """Open (creating on first use, unless `read_only`) the ledger at `path`.

        Without `signing_key_path` no checkpoints are signed: fine for tests and
        read-only tools, not for a deployment. Checkpoint lines are checked with
        `verifier` (default: the signing key's public half) or, after a key rotation,
        one of `retired_verifiers`. `witness_file` is a second checkpoint file, outside
        the data directory, that every new checkpoint is appended to and that the
        database must extend as well. A `read_only` ledger never creates or changes a
        file and cannot append. `clock` times the checkpoint interval (a test's clock, moved by
        hand, is followed by `checkpoint_now(only_if_due=True)`).
        """
        path = Path(path)
        if not read_only:
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
            witness_file=witness_file,
            verifier=verifier,
            retired_verifiers=retired_verifiers,
            read_only=read_only,
            clock=clock,
        )

    def _heads(self) -> list[Head]:
        files = [f for f in (self.checkpoint_file, self.witness_file) if f is not None]
        verifiers = [v for v in (self.verifier, *self.retired_verifiers) if v is not None]
        return [head for f in files if (head := newest_head(f, verifiers)) is not None]

    def _open_checked(self) -> sqlite3.Connection:
        """The database connection, once the database is known to extend every checkpoint file.

        Nothing is created or written before that check: a missing database next to signed
        checkpoints is refused, not re-created empty.
        """
        if self.witness_file is not None and not self.witness_file.parent.is_dir():
            if not self.read_only:
                raise WitnessUnavailableError(str(self.witness_file.parent))
            log.info("ledger.witness_unavailable", extra={"witness": str(self.witness_file.parent)})
        heads = self._heads()
        if not self.path.exists() and (heads or self.read_only):
            raise find_fork(self.path, None, heads) or LedgerMissingError(str(self.path))
        conn = connect(self.path, read_only=self.read_only)
        try:
            fork = find_fork(self.path, conn, heads)
            unusable = self.read_only and database_size(conn) == 0 and not _has_schema(conn)
        except BaseException:
            conn.close()
            raise
        if fork is not None and (unusable or not self.read_only):
            conn.close()
            raise fork
        if unusable:
            conn.close()
            raise LedgerMissingError(str(self.path))
        if fork is not None:
            log.info("ledger.fork_read_only", extra={"reason": fork.reason, "source": fork.source})
        self.fork = fork
        return conn

    def _check_projections(self, conn: sqlite3.Connection) -> None:
        """Read-only: projection tables must be current, since they cannot be rebuilt without writing."""
        stale = stale_projections(conn, self.projections)
        if stale:
            raise ProjectionsOutdatedError(str(self.path), stale)

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
        # readers first: the writer's connection, closing last, is the one that may remove the -wal
        # and -shm files (a read-only connection never does)
        with self._readers_lock:
            for conn in self._all_readers:
                conn.close()
            self._all_readers.clear()
        if self._writer is not None:
            self._writer.stop()

    def _setup_projections(self, conn: sqlite3.Connection) -> None:
        """Create projection tables; a new or changed DDL gets fresh tables filled by replay."""
        names = [p.name for p in self.projections]
        if len(set(names)) != len(names):
            raise LedgerError(f"projection names must be unique: {names}")
        for name in build_stale_projections(conn, self.projections):
            log.info("ledger.projection_built", extra={"projection": name})

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
        if self._writer is None:
            raise LedgerReadOnlyError(str(self.path))
        if self._writer.is_writer_thread():
            raise LedgerError("a projection must not append to the ledger (it runs inside the append)")
        with self._close_lock:  # nothing may be queued behind the writer's stop marker
            if self._closed:
                raise LedgerClosedError("the ledger is closed")
            request = self._writer.enqueue(rows)
        return self._writer.wait(request)

    def checkpoint_now(self, *, only_if_due: bool = False) -> StoredCheckpoint | None:
        """Sign the current tree now unless already signed (e.g. before printing a proof); None without a key.
        `only_if_due`: only once the interval has passed by the ledger's clock, as the writer does by
        itself (for a clock that does not move by itself)."""
        if self.signer is None:
            return None
        if self._writer is None:
            raise LedgerReadOnlyError(str(self.path))
        with self._close_lock:
            if self._closed:
                raise LedgerClosedError("the ledger is closed")
            sign_request = self._writer.enqueue_sign(only_if_due=only_if_due)
        sign_request.done.wait()
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

    def size(self) -> int:
        with self.reader() as conn:
            return db_size(conn)

    def get(self, seq: int) -> StoredEvent:
        with self.reader() as conn:
            row = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM ledger_events WHERE seq = ?",
                (seq,),
            ).fetchone()
            if row is None:
                raise EventNotFoundError(seq, db_size(conn))
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
            f"SELECT {EVENT_COLUMNS} FROM ledger_events WHERE {' AND '.join(conditions)} "
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
            current = db_size(conn)
            size = current if size is None else size
            if not 0 <= size <= current:
                raise EventNotFoundError(size, current)
            return merkle.root_from_source(node_source(conn), size)

    def inclusion_proof(self, seq: int, size: int | None = None) -> list[bytes]:
        with self.reader() as conn:
            current = db_size(conn)
            size = current if size is None else size
            if not 1 <= seq <= size <= current:
                raise EventNotFoundError(seq, current)
            return merkle.inclusion_proof(node_source(conn), seq - 1, size)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        with self.reader() as conn:
            current = db_size(conn)
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
        retired: Sequence[NoteVerifier] = ()
        if verifier is None:
            verifier, retired = self.verifier, self.retired_verifiers
        if checkpoint_files is None:
            checkpoint_files = [f for f in (self.checkpoint_file, self.witness_file) if f is not None and f.exists()]
        return verify_ledger(
            self.path,
            verifier=verifier,
            retired_verifiers=retired,
            checkpoint_files=checkpoint_files,
            blobs=self.blobs if check_blobs else None,
            progress=progress,
        )

    def rebuild_projections(self, target: Path | None = None) -> Path:
        """Replay every event into fresh projection tables in a separate SQLite file; returns its path."""
        if target is None:
            target = self.path.with_name(self.path.name + ".rebuild")
        rebuild_into(target, self.projections, self.events(until_seq=self.size()))
        return target

    def compare_projections(self, rebuilt: Path | None = None) -> list[TableDifference]:
        """Differences between the live projection tables and freshly rebuilt ones (empty when equal)."""
        rebuilt_path = self.rebuild_projections() if rebuilt is None else rebuilt
        try:
            return compare_files(self.path, rebuilt_path, self.projections)
        finally:
            if rebuilt is None:
                rebuilt_path.unlink(missing_ok=True)

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


def _has_schema(conn: sqlite3.Connection) -> bool:
    return table_exists(conn, "main", "ledger_events") and table_exists(conn, "main", "ledger_projections")
