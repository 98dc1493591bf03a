"""Content-addressed file store for raw bundles, mails, attachments and issued PDFs.

A blob is named by the SHA-256 of its bytes, so an event that names the hash
pins the content; files are written once (tmp → fsync → rename → fsync dir) and
never rewritten, so a crash leaves either the whole blob or none.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import tempfile
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, TypeVar

from ledger.durable import fsync_dir, link_no_replace
from ledger.errors import BlobError

_HEX = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


_T = TypeVar("_T")

# fsyncs issued side by side share the filesystem journal's commits; one after the other,
# each waits for a commit of its own.
_SYNC_THREADS = 8
_sync_pool: ThreadPoolExecutor | None = None
_sync_pool_lock = threading.Lock()


def _side_by_side(function: Callable[[_T], object], items: Sequence[_T]) -> None:
    """Runs `function` over `items` in a few concurrent streams (one task per stream, not per item:
    the streams are what lets the waits overlap, and tasks cost interpreter time)."""
    global _sync_pool
    streams = min(_SYNC_THREADS, len(items))
    if streams <= 1:
        for item in items:
            function(item)
        return
    with _sync_pool_lock:
        if _sync_pool is None:
            _sync_pool = ThreadPoolExecutor(max_workers=_SYNC_THREADS, thread_name_prefix="blob-sync")
        pool = _sync_pool

    def stream(part: Sequence[_T]) -> None:
        for item in part:
            function(item)

    for _ in pool.map(stream, [items[index::streams] for index in range(streams)]):
        pass


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        if not _HEX.match(digest):
            raise BlobError(digest, "not a lowercase SHA-256 hex digest")
        return self.root / digest[:2] / digest[2:4] / digest

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def put(self, data: bytes) -> str:
        return self.put_many([data])[0]

    def put_many(self, datas: Iterable[bytes]) -> list[str]:
        """`put` for several blobs at once: the digests in order, each blob as durable as `put` makes it.

        A batch pays its waits together: every new file is written first, the files are
        fsynced side by side, linked into place, and each directory touched is fsynced
        once. A blob is never visible under its name before its bytes are durable.
        """
        items = [(hashlib.sha256(data).hexdigest(), data) for data in datas]
        missing = dict(items)  # equal digests, equal bytes: each stored once
        root = os.fspath(self.root)
        staged: list[tuple[str, str]] = []  # (temporary name, final name)
        folders: dict[str, None] = {}
        try:
            handles: list[int] = []
            try:
                for digest, data in missing.items():
                    folder = os.path.join(root, digest[:2], digest[2:4])
                    target = os.path.join(folder, digest)
                    if os.path.isfile(target):
                        continue
                    os.makedirs(folder, exist_ok=True)
                    tmp_name = os.path.join(folder, f".tmp-{digest[:16]}-{secrets.token_hex(8)}")
                    fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o444)
                    handles.append(fd)
                    staged.append((tmp_name, target))
                    folders[folder] = None
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                _side_by_side(os.fsync, handles)
            finally:
                for fd in handles:
                    os.close(fd)
            for tmp_name, target in staged:
                # link, not rename: an existing blob (a concurrent writer of the same bytes) is never replaced
                link_no_replace(tmp_name, target)
        finally:
            for tmp_name, _ in staged:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp_name)
        _side_by_side(fsync_dir, list(folders))
        return [digest for digest, _ in items]

    def put_file(self, source: Path) -> str:
        hasher = hashlib.sha256()
        with source.open("rb") as handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                hasher.update(chunk)
        digest = hasher.hexdigest()
        if not self.exists(digest):
            with source.open("rb") as handle:
                self._write(digest, iter(lambda: handle.read(_CHUNK), b""), expected=digest)
        return digest

    def get(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError as exc:
            raise BlobError(digest, "missing") from exc

    def open(self, digest: str) -> BinaryIO:
        try:
            return self.path(digest).open("rb")
        except FileNotFoundError as exc:
            raise BlobError(digest, "missing") from exc

    def check(self, digest: str) -> str | None:
        """None when the blob exists and hashes to its name; otherwise what is wrong."""
        try:
            handle = self.path(digest).open("rb")
        except BlobError as exc:
            return exc.problem
        except FileNotFoundError:
            return "missing"
        hasher = hashlib.sha256()
        with handle:
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                hasher.update(chunk)
        return None if hasher.hexdigest() == digest else "content does not match its hash"

    def _write(self, digest: str, chunks: object, expected: str | None = None) -> None:
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        hasher = hashlib.sha256()
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:  # type: ignore[attr-defined]
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if expected is not None and hasher.hexdigest() != expected:
                raise BlobError(digest, "source changed while it was being stored")
            os.chmod(tmp_name, 0o444)
            # link, not rename: an existing blob (a concurrent writer of the same bytes) is never replaced
            link_no_replace(tmp_name, target)
        finally:
            Path(tmp_name).unlink(missing_ok=True)
        fsync_dir(target.parent)
