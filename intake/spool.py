"""Receiving an item durably: spool file, blob, then the `intake.received` record.

Order matters for exactly-once. A mail is written to `inbound/tmp/`, fsynced and
renamed into `inbound/` (the commit point: only then may SMTP answer 250); a dropped
bundle is claimed by renaming it into `processing/`. Both names carry the item id,
so after a crash the same item is recorded under the same id, once: recovery looks
the id up in the projection before recording, and removes the spool entry only
after the record exists.
"""

from __future__ import annotations

import io
import json
import logging
import os
import queue
import secrets
import shutil
import threading
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from intake import state
from intake.events import IntakeReceived
from intake.item import ARRIVAL_FIELDS, InboundItem
from ledger import Ledger
from ledger.durable import atomic_write_bytes, fsync_dir

log = logging.getLogger(__name__)


def new_item_id(now: datetime | None = None) -> str:
    """Sortable and unique without coordination: time to the millisecond plus 40 random bits."""
    moment = now or datetime.now(UTC)
    return f"IN{moment:%Y%m%d%H%M%S}{moment.microsecond // 1000:03d}{secrets.token_hex(5)}"


def folder_as_zip(folder: Path) -> bytes:
    """A dropped subfolder as one deterministic zip (sorted names, fixed times): its raw blob."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _received_body(item: InboundItem) -> IntakeReceived:
    return IntakeReceived(
        item_id=item.item_id,
        channel=item.channel,
        purpose=item.purpose,
        raw_blob=item.raw_blob,
        content_sha256=item.content_sha256,
        sender=item.sender,
        filer=item.filer,
        reply_to=item.reply_to,
        original_name=item.original_name,
        message_id=item.message_id,
        recipient=item.recipient,
    )


class Receiver:
    """Records arrivals: blob first, then `intake.received`; tells the worker about each new item."""

    def __init__(self, ledger: Ledger, on_recorded: Callable[[str, str], None] | None = None) -> None:
        self.ledger = ledger
        self.on_recorded = on_recorded
        self._resent_locks = [threading.Lock() for _ in range(64)]

    def is_recorded(self, item_id: str) -> bool:
        with self.ledger.reader() as conn:
            return state.is_recorded(conn, item_id)

    def find_resent(self, message_id: str, content_sha256: str) -> tuple[str, str] | None:
        with self.ledger.reader() as conn:
            return state.find_resent(conn, message_id, content_sha256)

    def record(self, item: InboundItem, raw: bytes, *, notify: bool = True) -> str:
        """Stores the raw bytes and records the item; a no-op when the id is already recorded.

        `notify=False` keeps the item from the worker: the caller processes it itself (a web
        upload, whose outcome the browser waits for); a crash before that leaves it to `resume`.
        """
        if self.is_recorded(item.item_id):
            return item.item_id
        recorded = item.recorded(self.ledger.blobs.put(raw))
        self.ledger.append(_received_body(recorded), actor=item.sender or "intake", subject=item.item_id)
        log.info(IntakeReceived.kind, extra={"item_id": item.item_id, "channel": item.channel})
        if notify and self.on_recorded is not None:
            self.on_recorded(item.item_id, item.purpose)
        return item.item_id

    def record_many(self, arrivals: list[tuple[InboundItem, bytes]]) -> list[str]:
        """Records a batch in one ledger transaction (a drained backlog should not pay one commit per item)."""
        fresh = [(item, raw) for item, raw in arrivals if not self.is_recorded(item.item_id)]
        if not fresh:
            return []
        digests = self.ledger.blobs.put_many([raw for _, raw in fresh])
        items = [item.recorded(digest) for (item, _), digest in zip(fresh, digests, strict=True)]
        self.ledger.append_many([(_received_body(item), item.sender or "intake", item.item_id) for item in items])
        for item in items:
            log.info(IntakeReceived.kind, extra={"item_id": item.item_id, "channel": item.channel})
            if self.on_recorded is not None:
                self.on_recorded(item.item_id, item.purpose)
        return [item.item_id for item in items]

    def resent_lock(self, message_id: str) -> threading.Lock:
        """Serializes look-up and record of one Message-ID, so two copies racing are still one item."""
        return self._resent_locks[hash(message_id) % len(self._resent_locks)]


class MailSpool:
    """`inbound/`: a mail file is the JSON arrival on the first line, then the raw message."""

    SUFFIX = ".msg"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def write(self, item: InboundItem, raw: bytes) -> Path:
        header = json.dumps({name: getattr(item, name) for name in ARRIVAL_FIELDS}, ensure_ascii=False)
        target = self.root / f"{item.item_id}{self.SUFFIX}"
        atomic_write_bytes(target, header.encode("utf-8") + b"\n" + raw, tmp_dir=self.tmp)
        return target

    @staticmethod
    def read(path: Path) -> tuple[InboundItem, bytes]:
        data = path.read_bytes()
        header, _, raw = data.partition(b"\n")
        return InboundItem(**json.loads(header)), raw

    def discard(self, path: Path) -> None:
        path.unlink(missing_ok=True)

    def leftovers(self) -> list[Path]:
        """Spooled mails whose record may be missing, oldest first; unacknowledged temporaries go."""
        for stale in self.tmp.iterdir():
            stale.unlink(missing_ok=True)  # never acknowledged: the sender retries
        return sorted(self.root.glob(f"*{self.SUFFIX}"))

    def depth(self) -> int:
        return sum(1 for _ in self.root.glob(f"*{self.SUFFIX}"))


class SpoolRecorder:
    """Records spooled mails in batches, after SMTP has answered 250 for them.

    The spool file is the durable copy the 250 promised; storing the blob and the
    `intake.received` record are deferred to this thread so that a burst of mails shares
    fsyncs and commits. A crash in between leaves spool files, recorded at the next
    start before the listener opens. Until a mail is recorded its (Message-ID, content
    hash) is remembered here, so a resent copy still gets the first receipt.
    """

    BATCH = 256

    def __init__(self, spool: MailSpool, receiver: Receiver) -> None:
        self.spool = spool
        self.receiver = receiver
        self.queue: queue.Queue[tuple[InboundItem, Path, str]] = queue.Queue()
        self._waiting: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def add(self, arrival: InboundItem, path: Path, content_sha256: str) -> None:
        with self._lock:
            self._waiting[(arrival.message_id, content_sha256)] = arrival.item_id
        self.queue.put((arrival, path, content_sha256))

    def find(self, message_id: str, content_sha256: str) -> str | None:
        """The item id of a spooled, not yet recorded copy of this message."""
        if not message_id:
            return None
        with self._lock:
            return self._waiting.get((message_id, content_sha256))

    def run(self, stop: threading.Event) -> None:
        """Until `stop`, then what is still queued (the listener is closed first)."""
        while not (stop.is_set() and self.queue.empty()):
            try:
                batch = [self.queue.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(batch) < self.BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self.record(batch)
            except Exception:
                # the spool files stay; the next start records them before accepting mail
                log.exception("intake.spool_record_failed", extra={"items": len(batch)})

    def record(self, batch: list[tuple[InboundItem, Path, str]]) -> None:
        self.receiver.record_many([(arrival, MailSpool.read(path)[1]) for arrival, path, _ in batch])
        for _, path, _ in batch:
            self.spool.discard(path)
        with self._lock:
            for arrival, _, content_sha256 in batch:
                self._waiting.pop((arrival.message_id, content_sha256), None)


class ProcessingArea:
    """`processing/`: drop-folder items claimed by rename, named `<item_id>__<ORG>__<name>`."""

    SEPARATOR = "__"

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def claim(self, source: Path, org: str, item_id: str) -> Path | None:
        """Atomic rename out of the drop folder; None when someone else took or removed it first."""
        claimed = self.claim_many([(source, org, item_id)])
        return claimed[0] if claimed else None

    def claim_many(self, sources: list[tuple[Path, str, str]]) -> list[Path | None]:
        """Renames each (source, org, item id) out of the drop folder, then makes the renames durable
        with one directory fsync (before anything is recorded under those ids)."""
        targets: list[Path | None] = []
        for source, org, item_id in sources:
            target = self.root / self.SEPARATOR.join((item_id, org, source.name))
            try:
                os.rename(source, target)
            except FileNotFoundError:
                targets.append(None)
                continue
            targets.append(target)
        if any(targets):
            fsync_dir(self.root)
        return targets

    @classmethod
    def parse(cls, path: Path) -> tuple[str, str, str] | None:
        parts = path.name.split(cls.SEPARATOR, 2)
        return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None

    @staticmethod
    def raw_bytes(path: Path) -> bytes:
        return folder_as_zip(path) if path.is_dir() else path.read_bytes()

    @staticmethod
    def discard(path: Path) -> None:
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)

    def leftovers(self) -> list[Path]:
        return sorted(self.root.iterdir())

    def depth(self) -> int:
        return sum(1 for _ in self.root.iterdir())
