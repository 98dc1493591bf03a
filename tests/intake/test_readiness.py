"""The readiness tracker decides from observations alone: a fake clock, no filesystem events."""

from __future__ import annotations

import os
from pathlib import Path

from intake.readiness import ReadinessTracker, Signature, is_temporary_name, signature_of


def test_item_is_ready_only_after_it_stopped_changing() -> None:
    tracker = ReadinessTracker(settle_seconds=2.0)
    assert not tracker.observe("a.zip", Signature(100, 1), now=0.0)
    assert not tracker.observe("a.zip", Signature(100, 1), now=1.9)
    assert tracker.observe("a.zip", Signature(100, 1), now=2.0)


def test_any_change_restarts_the_wait() -> None:
    tracker = ReadinessTracker(settle_seconds=2.0)
    tracker.observe("a.zip", Signature(100, 1), now=0.0)
    assert not tracker.observe("a.zip", Signature(200, 2), now=1.5)  # still growing
    assert not tracker.observe("a.zip", Signature(200, 2), now=3.0)
    assert tracker.observe("a.zip", Signature(200, 2), now=3.5)
    # same size, newer mtime (rewritten in place): wait again
    assert not tracker.observe("a.zip", Signature(200, 3), now=4.0)


def test_busy_or_empty_folder_is_never_ready() -> None:
    tracker = ReadinessTracker(settle_seconds=1.0)
    busy = Signature(size=10, mtime_ns=1, entries=2, busy=True)
    tracker.observe("folder", busy, now=0.0)
    assert not tracker.observe("folder", busy, now=10.0)
    empty = Signature(size=0, mtime_ns=1, entries=0)
    tracker.observe("empty", empty, now=0.0)
    assert not tracker.observe("empty", empty, now=10.0)


def test_empty_file_waits_for_the_long_grace_then_is_taken() -> None:
    """A copy creates the file before writing it: zero bytes for a while is normal, not a bundle."""
    tracker = ReadinessTracker(settle_seconds=0.2, empty_settle_seconds=30.0)
    empty = Signature(size=0, mtime_ns=1)
    assert not tracker.observe("a.zip", empty, now=0.0)
    assert not tracker.observe("a.zip", empty, now=5.0)
    assert tracker.next_due(now=5.0) == 25.0
    assert not tracker.observe("a.zip", Signature(size=100, mtime_ns=2), now=6.0)  # the writer came back
    assert tracker.observe("a.zip", Signature(size=100, mtime_ns=2), now=6.2)
    tracker.observe("b.zip", empty, now=0.0)
    assert tracker.observe("b.zip", empty, now=30.0)  # left empty: taken, so the filer is told


def test_empty_grace_is_never_shorter_than_the_settle_time() -> None:
    tracker = ReadinessTracker(settle_seconds=5.0, empty_settle_seconds=1.0)
    tracker.observe("a.zip", Signature(size=0, mtime_ns=1), now=0.0)
    assert not tracker.observe("a.zip", Signature(size=0, mtime_ns=1), now=4.0)
    assert tracker.observe("a.zip", Signature(size=0, mtime_ns=1), now=5.0)


def test_vanished_and_unseen_candidates_are_forgotten() -> None:
    tracker = ReadinessTracker(settle_seconds=1.0)
    tracker.observe("a", Signature(1, 1), now=0.0)
    tracker.observe("b", Signature(1, 1), now=0.0)
    tracker.observe("a", None, now=0.5)
    assert tracker.pending() == 1
    tracker.retain_only(["c"])
    assert tracker.pending() == 0
    assert tracker.next_due(now=0.0) is None


def test_next_due_says_when_to_look_again() -> None:
    tracker = ReadinessTracker(settle_seconds=2.0)
    tracker.observe("a", Signature(1, 1), now=10.0)
    assert tracker.next_due(now=10.5) == 1.5


def test_temporary_and_lock_names() -> None:
    for name in ("bundle.zip.part", "x.filepart", "upload.tmp", "~$登记表.xlsx", ".~lock.登记表.xlsx#", ".hidden"):
        assert is_temporary_name(name), name
    for name in ("登记表.xlsx", "bundle.zip", "资料文件夹"):
        assert not is_temporary_name(name), name


def test_signature_of_a_folder_covers_its_whole_content(tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    (folder / "sub").mkdir(parents=True)
    (folder / "登记表.xlsx").write_bytes(b"x" * 10)
    first = signature_of(folder)
    assert first is not None and first.size == 10 and first.entries == 1 and not first.busy
    (folder / "sub" / "附件.pdf").write_bytes(b"y" * 5)
    second = signature_of(folder)
    assert second is not None and second.size == 15 and second != first
    (folder / "~$登记表.xlsx").write_bytes(b"lock")
    third = signature_of(folder)
    assert third is not None and third.busy
    os.remove(folder / "~$登记表.xlsx")
    assert signature_of(tmp_path / "missing") is None
