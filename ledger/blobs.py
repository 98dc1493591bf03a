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
import tempfile
from pathlib import Path
from typing import BinaryIO

from ledger.errors import BlobError

_HEX = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
        digest = hashlib.sha256(data).hexdigest()
        if not self.exists(digest):
            self._write(digest, [data])
        return digest

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
            with contextlib.suppress(FileExistsError):
                os.link(tmp_name, target)
        finally:
            Path(tmp_name).unlink(missing_ok=True)
        _fsync_dir(target.parent)
