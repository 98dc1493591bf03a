"""The drop folder: the watcher's decisions driven scan by scan on a fake clock (`scan_once`), and the
real watchdog observers for bursts, restarts and polling."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from intake_helpers import CHILD, Env, build_env, bundle_zip, close_env, workbook

from intake.dropbox import DropboxWatcher
from intake.spool import ProcessingArea, new_item_id

SETTLE = 5.0  # seconds of the fake clock: what a real drop folder would use, at no cost here


class Clock:
    """The watcher's clock, moved by the test: no test here waits for time to pass."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Scanned:
    """A service whose drop folder is scanned only when the test says so, at the clock's time."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.clock = Clock()
        self.watcher: DropboxWatcher = env.service.watcher
        self.watcher.clock = self.clock

    def scan(self, after: float = 0.0) -> int:
        """Moves the clock by `after` seconds, scans once; the number of items claimed and recorded."""
        self.clock.advance(after)
        return self.watcher.scan_once()


@pytest.fixture
def scanned(tmp_path: Path) -> Iterator[Scanned]:
    """The worker runs (items are filed as in serve); the watcher's own loop does not."""
    env = build_env(tmp_path / "data", settle_seconds=SETTLE, enable_dropbox=False, enable_smtp=False)
    env.service.start()
    yield Scanned(env)
    close_env(env)


def processed_outcomes(env: Env) -> Counter[str]:
    return Counter(ev.payload["outcome"] for ev in env.kinds("intake.processed"))


def test_dropped_zip_is_filed_once_and_receipts_folder_is_ignored(scanned: Scanned) -> None:
    env = scanned.env
    unit_dir = env.dropbox / CHILD
    (unit_dir / "回执").mkdir(parents=True)
    (unit_dir / "回执" / "old-receipt.pdf").write_bytes(b"%PDF receipt")
    (unit_dir / "bundle.zip").write_bytes(bundle_zip())
    assert scanned.scan() == 0  # first seen
    assert scanned.scan(after=SETTLE) == 1  # unchanged for the settle time: claimed and recorded
    assert scanned.scan(after=SETTLE) == 0 and scanned.scan(after=60) == 0  # nothing else, ever
    env.wait_for(lambda: len(env.kinds("intake.processed")) == 1)
    received = env.kinds("intake.received")
    assert [ev.payload["original_name"] for ev in received] == ["bundle.zip"]
    assert received[0].payload["channel"] == "dropbox" and received[0].payload["filer"] == CHILD
    filings = env.kinds("filing.received")
    assert len(filings) == 1 and filings[0].payload["item_id"] == received[0].payload["item_id"]
    assert not (unit_dir / "bundle.zip").exists()
    assert (unit_dir / "回执" / "old-receipt.pdf").exists()
    assert list((env.data / "processing").iterdir()) == []


def test_half_written_file_is_taken_only_once_complete(scanned: Scanned) -> None:
    env = scanned.env
    unit_dir = env.dropbox / CHILD
    unit_dir.mkdir(parents=True)
    data = bundle_zip()
    with open(unit_dir / "slow.zip", "wb") as handle:
        for start in range(0, len(data), 1024):
            handle.write(data[start : start + 1024])
            handle.flush()
            # each write lands within the settle time of the last scan: never taken half written
            assert scanned.scan(after=SETTLE / 2) == 0
    assert scanned.scan(after=SETTLE / 2) == 0  # the last write restarted the wait
    assert scanned.scan(after=SETTLE) == 1
    env.wait_for(lambda: len(env.kinds("intake.processed")) == 1)
    received = env.kinds("intake.received")
    assert len(received) == 1
    assert env.ledger.blobs.get(received[0].payload["raw_blob"]) == data
    assert processed_outcomes(env) == Counter({"invalid": 1})  # the blank workbook loads and is checked


def test_file_still_empty_after_the_settle_time_is_not_taken_until_its_grace_ends(tmp_path: Path) -> None:
    """A copy whose writer is descheduled between creating and writing the file must not be
    claimed empty (seen once in the crash test); a file left empty is still answered."""
    env = build_env(
        tmp_path / "data", settle_seconds=SETTLE, empty_settle_seconds=60.0, enable_dropbox=False, enable_smtp=False
    )
    env.service.start()
    scanned = Scanned(env)
    try:
        unit_dir = env.dropbox / CHILD
        unit_dir.mkdir(parents=True)
        (unit_dir / "late.zip").write_bytes(b"")
        (unit_dir / "abandoned.zip").write_bytes(b"")
        assert scanned.scan() == 0
        assert scanned.scan(after=5 * SETTLE) == 0  # five settle times: still empty, still waiting
        (unit_dir / "late.zip").write_bytes(bundle_zip())
        assert scanned.scan() == 0  # changed: its settle time starts again
        assert scanned.scan(after=SETTLE) == 1  # late.zip, now written
        assert scanned.scan(after=60.0 - 6 * SETTLE) == 1  # abandoned.zip, once the empty grace has passed
        env.wait_for(lambda: len(env.kinds("intake.processed")) == 2)
        by_name = {ev.payload["original_name"]: ev.payload["item_id"] for ev in env.kinds("intake.received")}
        assert set(by_name) == {"late.zip", "abandoned.zip"}
        filed = [ev.payload["item_id"] for ev in env.kinds("filing.received")]
        assert filed == [by_name["late.zip"]]
        (rejected,) = env.kinds("intake.rejected")
        assert rejected.payload["item_id"] == by_name["abandoned.zip"]
        assert rejected.payload["code"] == "bundle-truncated" and "空文件" in rejected.payload["message"]
    finally:
        close_env(env)


def test_partial_and_lock_files_are_never_taken(scanned: Scanned) -> None:
    env = scanned.env
    unit_dir = env.dropbox / CHILD
    unit_dir.mkdir(parents=True)
    for name in ("upload.zip.part", "x.filepart", "copy.tmp", "~$登记表.xlsx"):
        (unit_dir / name).write_bytes(b"partial")
    (unit_dir / "登记表.xlsx").write_bytes(workbook())
    assert scanned.scan() == 0
    assert scanned.scan(after=SETTLE) == 1
    assert scanned.scan(after=60) == 0
    env.wait_for(lambda: len(env.kinds("intake.processed")) == 1)
    assert [ev.payload["original_name"] for ev in env.kinds("intake.received")] == ["登记表.xlsx"]
    assert sorted(p.name for p in unit_dir.iterdir()) == sorted(
        ["upload.zip.part", "x.filepart", "copy.tmp", "~$登记表.xlsx"]
    )


def test_subfolder_is_taken_once_its_whole_content_is_stable(scanned: Scanned) -> None:
    env = scanned.env
    folder = env.dropbox / CHILD / "2025年度登记"
    folder.mkdir(parents=True)
    (folder / "登记表.xlsx").write_bytes(workbook())
    (folder / "~$登记表.xlsx").write_bytes(b"lock")  # Excel still has it open
    assert scanned.scan() == 0
    assert scanned.scan(after=SETTLE) == 0 and scanned.scan(after=60) == 0  # busy however long it waits
    (folder / "~$登记表.xlsx").unlink()
    (folder / "附件").mkdir()
    (folder / "附件" / "业务办理申请文件.pdf").write_bytes(b"%PDF-1.4 letter")
    assert scanned.scan() == 0
    assert scanned.scan(after=SETTLE) == 1
    env.wait_for(lambda: len(env.kinds("intake.processed")) == 1)
    filing = env.kinds("filing.received")[0].payload
    assert filing["filer"] == CHILD


def test_unknown_folder_is_reported_once_and_left_alone(tmp_path: Path) -> None:
    env = build_env(tmp_path / "data", settle_seconds=SETTLE, enable_dropbox=False, enable_smtp=False)
    stray = env.dropbox / "NOTAUNIT1"
    stray.mkdir(parents=True)
    (stray / "bundle.zip").write_bytes(bundle_zip())
    scanned = Scanned(env)
    try:
        assert scanned.scan() == 0
        assert scanned.scan(after=SETTLE) == 0 and scanned.scan(after=60) == 0  # later full scans
        assert len(env.kinds("intake.folder_unknown")) == 1
    finally:
        close_env(env)
    # a restart must not report it again
    env = build_env(tmp_path / "data", settle_seconds=SETTLE, enable_dropbox=False, enable_smtp=False)
    scanned = Scanned(env)
    try:
        assert scanned.scan() == 0 and scanned.scan(after=60) == 0
        assert len(env.kinds("intake.folder_unknown")) == 1
        assert (stray / "bundle.zip").exists()
        assert env.kinds("intake.received") == []
    finally:
        close_env(env)


@pytest.mark.slow
def test_burst_of_2000_files_each_received_exactly_once(tmp_path: Path) -> None:
    """The watcher's side of a burst: every file claimed and recorded once (processing is tested elsewhere)."""
    env = build_env(tmp_path / "data", enable_worker=False)
    unit_dir = env.dropbox / CHILD
    unit_dir.mkdir(parents=True)
    env.service.start()
    try:
        small = bundle_zip()
        for index in range(2000):
            (unit_dir / f"b{index:04d}.zip").write_bytes(small)
        env.wait_for(lambda: len(env.kinds("intake.received")) >= 2000, 60)
    finally:
        env.service.stop()  # the watcher has stopped: whatever it recorded twice is in the ledger now
    try:
        names = Counter(ev.payload["original_name"] for ev in env.kinds("intake.received"))
        pending = env.service.processor.resume()
    finally:
        close_env(env)
    assert len(names) == 2000 and set(names.values()) == {1}
    assert pending == 2000  # all recorded, none processed: a restart would resume each once
    assert [p.name for p in unit_dir.iterdir()] == []


def test_restart_mid_burst_loses_and_doubles_nothing(tmp_path: Path) -> None:
    env = build_env(tmp_path / "data")
    unit_dir = env.dropbox / CHILD
    unit_dir.mkdir(parents=True)
    env.service.start()
    for index in range(40):
        (unit_dir / f"r{index:03d}.xlsx").write_bytes(workbook())
    env.wait_for(lambda: len(env.kinds("intake.received")) > 0)
    close_env(env)  # stops mid-burst: some recorded, some processed, some still in the folder
    # a crash between claim and record leaves an item in processing/: simulate one
    leftover = ProcessingArea(tmp_path / "data" / "processing").root / f"{new_item_id()}__{CHILD}__crashed.xlsx"
    leftover.write_bytes(workbook())
    env = build_env(tmp_path / "data")
    env.service.start()
    try:
        env.wait_for(lambda: len(env.kinds("intake.processed")) == 41, 60)
        names = Counter(ev.payload["original_name"] for ev in env.kinds("intake.received"))
        per_item = Counter(ev.payload["item_id"] for ev in env.kinds("filing.received"))
    finally:
        close_env(env)
    assert len(names) == 41 and set(names.values()) == {1}
    assert len(per_item) == 41 and set(per_item.values()) == {1}
    assert os.listdir(tmp_path / "data" / "processing") == []


def test_polling_observer_and_rescan_find_items(tmp_path: Path) -> None:
    env = build_env(tmp_path / "data", polling_observer=True, rescan_seconds=0.5)
    (env.dropbox / CHILD).mkdir(parents=True)
    env.service.start()
    try:
        (env.dropbox / CHILD / "p.xlsx").write_bytes(workbook())
        env.wait_for(lambda: len(env.kinds("intake.processed")) == 1)
    finally:
        close_env(env)
