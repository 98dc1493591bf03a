"""The durable outbound spool: queue/, sent/, dead/ under the outbox directory.

A message counts as queued only once its file exists in queue/, written atomically.
Each file holds one JSON envelope line (who gets it, why) followed by the exact
RFC 5322 bytes that will be sent, so the sender never renders anything and a restart
sends byte-identical mail. The file name is a hash of the Message-ID: re-spooling the
same message after a crash lands on the same name and is skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ledger.durable import atomic_write_bytes, durable_rename, fsync_dir

FOLDERS = ("queue", "sent", "dead")


class SpoolError(Exception):
    """A spool file is missing or unreadable; `name` says which."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


@dataclass(frozen=True)
class Envelope:
    """What SMTP needs besides the message itself, plus what the ledger records about it."""

    message_id: str
    mail_from: str
    rcpt: list[str]
    purpose: str
    filing_id: str = ""
    subject: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Envelope:
        raw = json.loads(data)
        return cls(**raw)


@dataclass(frozen=True)
class SpoolEntry:
    name: str
    folder: str
    path: Path
    envelope: Envelope

    def raw_message(self) -> bytes:
        return self.path.read_bytes().split(b"\n", 1)[1]


def spool_name(message_id: str) -> str:
    return hashlib.sha256(message_id.encode("utf-8")).hexdigest()[:40] + ".msg"


class Spool:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        for folder in ("tmp", *FOLDERS):
            (root / folder).mkdir(parents=True, exist_ok=True)

    def folder(self, name: str) -> Path:
        return self.root / name

    def locate(self, name: str) -> Path | None:
        for folder in FOLDERS:
            path = self.root / folder / name
            if path.exists():
                return path
        return None

    def put(self, envelope: Envelope, message: bytes) -> bool:
        """Queue a message unless one with the same Message-ID was ever spooled; True if written now."""
        name = spool_name(envelope.message_id)
        if self.locate(name) is not None:
            return False
        atomic_write_bytes(self.root / "queue" / name, envelope.to_json() + b"\n" + message, tmp_dir=self.tmp)
        return True

    def put_many(self, items: Sequence[tuple[Envelope, bytes]]) -> list[Envelope]:
        """Queue many messages with one group commit; returns the envelopes written now.

        Each file is still written to tmp/, fsynced and renamed, so each is whole or absent;
        the fsyncs run in parallel, which lets the file system commit them together, and
        the queue directory is synced once for the group.
        """
        fresh: dict[str, tuple[Envelope, bytes]] = {}
        for envelope, message in items:
            name = spool_name(envelope.message_id)
            if name not in fresh and self.locate(name) is None:
                fresh[name] = (envelope, message)
        if not fresh:
            return []
        staged = [(self.tmp / f".{name}.{os.getpid()}.tmp", name, env, msg) for name, (env, msg) in fresh.items()]

        def stage(item: tuple[Path, str, Envelope, bytes]) -> None:
            tmp, _, envelope, message = item
            with open(tmp, "wb") as handle:
                handle.write(envelope.to_json() + b"\n" + message)
                handle.flush()
                os.fsync(handle.fileno())

        try:
            with ThreadPoolExecutor(max_workers=min(8, len(staged))) as pool:
                list(pool.map(stage, staged))
            for tmp, name, _, _ in staged:
                os.replace(tmp, self.root / "queue" / name)
        finally:
            for tmp, *_ in staged:
                tmp.unlink(missing_ok=True)
        fsync_dir(self.root / "queue")
        return [env for _, _, env, _ in staged]

    def read(self, path: Path) -> SpoolEntry:
        try:
            with open(path, "rb") as handle:
                header = handle.readline()
        except OSError as exc:
            raise SpoolError(path.name, f"cannot be read: {exc}") from exc
        try:
            envelope = Envelope.from_json(header)
        except (ValueError, TypeError) as exc:
            raise SpoolError(path.name, f"envelope line is broken: {exc}") from exc
        return SpoolEntry(path.name, path.parent.name, path, envelope)

    def entries(self, folder: str = "queue") -> Iterator[SpoolEntry]:
        """Oldest first: mail to one person keeps the order in which it was decided."""
        paths = []
        for path in (self.root / folder).glob("*.msg"):
            try:
                paths.append((path.stat().st_mtime_ns, path.name, path))
            except FileNotFoundError:
                continue  # moved by a concurrent sender pass
        for _, _, path in sorted(paths):
            try:
                yield self.read(path)
            except SpoolError:
                if path.exists():
                    raise

    def find(self, key: str) -> SpoolEntry | None:
        """By spool name, its prefix, or Message-ID (with or without angle brackets)."""
        candidates = [key, key + ".msg", spool_name(key), spool_name(f"<{key.strip('<>')}>")]
        for candidate in candidates:
            path = self.locate(candidate)
            if path is not None:
                return self.read(path)
        if len(key) >= 6:
            for folder in FOLDERS:
                for path in (self.root / folder).glob(f"{key}*.msg"):
                    return self.read(path)
        return None

    def move(self, entry: SpoolEntry, folder: str, *, sync: bool = True) -> SpoolEntry:
        """Atomic rename; with sync=False the caller makes it durable later with `sync()`."""
        target = self.root / folder / entry.name
        if sync:
            durable_rename(entry.path, target)
        else:
            os.replace(entry.path, target)
        return SpoolEntry(entry.name, folder, target, entry.envelope)

    def sync(self) -> None:
        """Make every rename since the last sync durable."""
        for folder in FOLDERS:
            fsync_dir(self.root / folder)
