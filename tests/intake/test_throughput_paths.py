"""The paths a drained backlog takes many times a second: which watcher events send the scanner
back to a folder, which unit look-ups are remembered, and the worker processes' chunked calls."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from intake_helpers import CHILD, Env, valid_zip
from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirModifiedEvent,
    FileClosedEvent,
    FileClosedNoWriteEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
    FileSystemEvent,
)

import intake.service
from intake.dropbox import Hints, _Wake
from intake.prepare import PreparePool
from intake.service import WorkflowAdapter
from workflow import Channel


def hinted(root: Path, event: FileSystemEvent) -> tuple[bool, set[str] | None]:
    wake, hints = threading.Event(), Hints(root)
    _Wake(wake, hints).on_any_event(event)
    return wake.is_set(), hints.take()


@pytest.mark.parametrize(
    "event",
    [
        FileDeletedEvent("{root}/A/bundle.zip"),
        DirDeletedEvent("{root}/A/sub"),
        DirModifiedEvent("{root}/A"),
        DirModifiedEvent("{root}"),
        FileOpenedEvent("{root}/A/bundle.zip"),
        FileClosedNoWriteEvent("{root}/A/bundle.zip"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_events_that_cannot_bring_a_new_item_do_not_wake_the_scanner(tmp_path: Path, event: FileSystemEvent) -> None:
    event.src_path = str(event.src_path).format(root=tmp_path)
    assert hinted(tmp_path, event) == (False, set())


def test_events_that_can_bring_a_new_item_name_its_folder(tmp_path: Path) -> None:
    root = str(tmp_path)
    assert hinted(tmp_path, FileCreatedEvent(f"{root}/A/x.zip")) == (True, {"A"})
    assert hinted(tmp_path, FileModifiedEvent(f"{root}/A/x.zip")) == (True, {"A"})
    assert hinted(tmp_path, FileClosedEvent(f"{root}/A/sub/x.pdf")) == (True, {"A"})
    assert hinted(tmp_path, DirCreatedEvent(f"{root}/NEWUNIT")) == (True, {"NEWUNIT"})
    # a move names only where it went: the folder it left has one candidate less, not more
    assert hinted(tmp_path, FileMovedEvent(f"{root}/A/x.zip", f"{root}/B/x.zip")) == (True, {"B"})
    # a claim moves the item out of the drop folder altogether
    assert hinted(tmp_path, FileMovedEvent(f"{root}/A/x.zip", f"{tmp_path.parent}/processing/x.zip")) == (True, set())


def test_found_units_are_remembered_and_unknown_names_asked_again(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = WorkflowAdapter(env.wf)
    asked: list[str] = []
    lookup = adapter._lookup_unit_code

    def counted(name: str) -> str | None:
        asked.append(name)
        return lookup(name)

    monkeypatch.setattr(adapter, "_lookup_unit_code", counted)
    now = [1000.0]
    monkeypatch.setattr("intake.service.time.monotonic", lambda: now[0])
    assert adapter.unit_code(CHILD) == CHILD
    assert adapter.unit_code("NOTAUNIT1") is None
    now[0] += intake.service.UNIT_CACHE_SECONDS / 2
    assert (adapter.unit_code(CHILD), adapter.unit_code("NOTAUNIT1")) == (CHILD, None)
    assert asked == [CHILD, "NOTAUNIT1"]
    now[0] += 10 * intake.service.UNIT_CACHE_SECONDS
    assert (adapter.unit_code(CHILD), adapter.unit_code("NOTAUNIT1")) == (CHILD, None)
    assert asked == [CHILD, "NOTAUNIT1", "NOTAUNIT1"]  # a unit found stays found


def test_worker_processes_answer_in_order_chunk_by_chunk(tmp_path: Path) -> None:
    good = tmp_path / "good.zip"
    good.write_bytes(valid_zip())
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    missing = tmp_path / "missing.zip"
    jobs: list[tuple[Channel, str, Path]] = [("dropbox", "good.zip", good)] * 7
    jobs += [("dropbox", "broken.zip", broken), ("dropbox", "x.zip", missing)]
    jobs += [("dropbox", "good.zip", good)] * 4
    pool = PreparePool(2)
    try:
        results = pool.prepare(jobs)
    finally:
        pool.close()
    assert len(results) == len(jobs)
    for (_, name, _), prepared in zip(jobs, results, strict=True):
        if name == "x.zip":
            assert prepared is None  # unreadable here: the serve process tries it itself and logs why
            continue
        assert prepared is not None
        if name == "good.zip":
            assert prepared.rejection is None and prepared.check_result is not None and prepared.check_result.ok
            assert prepared.bundle is not None and prepared.bundle.workbook_name.endswith(".xlsx")
        else:
            assert prepared.rejection is not None and prepared.rejection.code and prepared.bundle is None
