"""Crash-safe file writes, shared by every layer: a file exists complete under its name, or not at all.

A rename (or link) is atomic within one file system, but only durable once the directory
holding the new entry is itself fsynced: without that, a power loss can bring back the old
state even though `rename` returned. So every write here is tmp → fsync → rename → fsync(dir),
and `link_no_replace` is the primitive for files that must never be replaced (content-addressed
blobs), after which the caller fsyncs the directory (once per batch when writing many).

It lives in ledger/ because ledger imports nothing of ours and every other layer may import it
(the layout table in DESIGN.md); validation writes no durable state.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path

StrPath = str | os.PathLike[str]
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


def _fsync_path(path: StrPath, flags: int) -> None:
    fd = os.open(path, os.O_RDONLY | flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(directory: StrPath) -> None:
    """Makes the renames, links and new files inside `directory` durable."""
    _fsync_path(directory, getattr(os, "O_DIRECTORY", 0))


def fsync_file(path: StrPath) -> None:
    """Flushes a file that something else wrote (a SQLite backup, say) to the disk."""
    _fsync_path(path, 0)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def temporary_name(path: Path, tmp_dir: Path | None = None) -> Path:
    """A name of its own for the staging copy of `path` (hidden, unique per writer)."""
    return (tmp_dir if tmp_dir is not None else path.parent) / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def atomic_write_bytes(path: Path, data: bytes, *, tmp_dir: Path | None = None, mode: int = 0o666) -> None:
    """tmp → fsync → rename → fsync(dir); replaces an existing file. `tmp_dir` (default: beside
    `path`) must be on the same file system; `mode` is filtered by the umask as `open` does."""
    tmp = temporary_name(path, tmp_dir)

    def opener(name: str, flags: int) -> int:
        return os.open(name, flags | getattr(os, "O_CLOEXEC", 0), mode)

    try:
        try:
            handle = open(tmp, "xb", opener=opener)  # noqa: SIM115 (closed below, before the rename)
        except FileNotFoundError:  # folders are made on first use (not on every write: spools are hot paths)
            tmp.parent.mkdir(parents=True, exist_ok=True)
            handle = open(tmp, "xb", opener=opener)  # noqa: SIM115
        # `open` (unlike a bare os.open) stats the new file, which makes the kernel stamp the write
        # with a fine-grained mtime: the outbox spool sends oldest first by mtime.
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.replace(tmp, path)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, *, encoding: str = "utf-8", tmp_dir: Path | None = None) -> None:
    atomic_write_bytes(path, text.encode(encoding), tmp_dir=tmp_dir)


def write_new(path: Path, data: bytes, *, mode: int = 0o600) -> None:
    """Creates `path` with `data` whole or not at all, durably, and never replaces anything
    (FileExistsError if it exists): for keys, witness copies and other files that must not be
    overwritten. Staged beside it, fsynced, then hard-linked in (`link_no_replace`), so a crash
    leaves either no file or the whole one, and a file that appeared meanwhile is kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(path)
    fd = os.open(tmp, _CREATE, mode)
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if not link_no_replace(tmp, path):
            raise FileExistsError(errno.EEXIST, "exists; not replaced", str(path))
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def durable_rename(source: Path, target: Path) -> None:
    """Rename (replacing `target`) and fsync both directories, so the move survives a crash either way."""
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    fsync_dir(target.parent)
    if source.parent != target.parent:
        fsync_dir(source.parent)


def link_no_replace(source: StrPath, target: StrPath) -> bool:
    """Hard-links `source` (already fsynced) as `target` unless `target` exists: an existing file is
    never replaced. True when linked now. The caller fsyncs the directory (`fsync_dir`)."""
    with contextlib.suppress(FileExistsError):
        os.link(source, target)
        return True
    return False
