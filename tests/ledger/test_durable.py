"""ledger/durable.py: the one home of crash-safe writes, and nobody else's copy of them."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from ledger import durable
from ledger.durable import atomic_write_bytes, atomic_write_text, durable_rename, link_no_replace, write_new

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("validation", "ledger", "workflow", "intake", "documents", "outbox", "portal", "chanquan")


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_creates_folders_replaces_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "file.msg"
    staging = tmp_path / "staging"
    atomic_write_bytes(target, b"first", tmp_dir=staging)
    atomic_write_bytes(target, b"second", tmp_dir=staging)
    atomic_write_text(tmp_path / "text.txt", "中文")
    assert target.read_bytes() == b"second"
    assert (tmp_path / "text.txt").read_text(encoding="utf-8") == "中文"
    assert leftovers(staging) == [] and leftovers(target.parent) == [] and leftovers(tmp_path) == []


def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "file"
    atomic_write_bytes(target, b"old")

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_write_new_never_replaces_and_keeps_keys_private(tmp_path: Path) -> None:
    key = tmp_path / "keys" / "secret.key"
    write_new(key, b"k1")
    with pytest.raises(FileExistsError):
        write_new(key, b"k2")
    assert key.read_bytes() == b"k1"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert leftovers(key.parent) == []  # staged beside it and linked in: no partial file, no stray copy


def test_write_new_shows_the_whole_file_or_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails midway (a crash, a full disk) leaves no file under the name, as a key or a
    witness copy half written would be taken for the real one on the next run."""
    target = tmp_path / "witness" / "checkpoints.log"

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        write_new(target, b"line\n" * 1000)
    monkeypatch.undo()
    assert not target.exists() and leftovers(target.parent) == []


def test_link_no_replace_keeps_the_existing_file(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    (tmp_path / "b").write_bytes(b"b")
    assert link_no_replace(tmp_path / "a", tmp_path / "new") is True
    assert link_no_replace(tmp_path / "b", tmp_path / "new") is False
    assert (tmp_path / "new").read_bytes() == b"a"


def test_durable_rename_moves_across_folders(tmp_path: Path) -> None:
    source = tmp_path / "queue" / "m.msg"
    source.parent.mkdir()
    source.write_bytes(b"m")
    durable_rename(source, tmp_path / "sent" / "m.msg")
    assert not source.exists() and (tmp_path / "sent" / "m.msg").read_bytes() == b"m"


def test_directory_fsync_and_atomic_writes_are_written_once() -> None:
    """Issue 13: `fsync_dir` had three copies (ledger, intake, outbox); every layer imports ledger.durable."""
    own = Path(durable.__file__).resolve()
    copies = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path.resolve() == own:
                continue
            text = path.read_text(encoding="utf-8")
            if re.search(r"def _?(fsync\w*|write_atomic|write_durably|move_durably)\(", text) or "O_DIRECTORY" in text:
                copies.append(str(path.relative_to(ROOT)))
    assert copies == [], f"use ledger.durable instead of a copy in {copies}"
