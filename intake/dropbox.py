"""The drop folder: `<dropbox>/<ORGCODE>/`, one bundle per .zip, lone .xlsx or subfolder.

Watchdog events only wake the scanner; the folder itself is the truth, so a full
rescan runs periodically as well (missed events, inotify overflow, network mounts).
An item is claimed by an atomic rename into `processing/` once the readiness tracker
says it stopped changing, then recorded; `回执/` (the outbox's answers) is never read.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import (
    EVENT_TYPE_CLOSED_NO_WRITE,
    EVENT_TYPE_DELETED,
    EVENT_TYPE_MODIFIED,
    EVENT_TYPE_MOVED,
    EVENT_TYPE_OPENED,
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from intake.item import InboundItem
from intake.readiness import ReadinessTracker, is_temporary_name, signature_of
from intake.spool import ProcessingArea, Receiver, new_item_id
from workflow.config import RECEIPTS_FOLDER

log = logging.getLogger(__name__)
CLAIM_BATCH = 256
MIN_SCAN_INTERVAL = 0.1
# A full rescan runs at most once per this many of its own durations (at most a tenth of the time).
FULL_SCAN_SHARE = 10.0

# watchdog's inotify observer registers a folder created with its subfolders (`mkdir -p a/b`) twice:
# once while walking `a`, once on `b`'s own create event. Re-adding the watch is harmless (watchdog
# overwrites it), but it warns from its own thread, which would fill the service log and, under
# `filterwarnings = error`, turn a correct run into a thread exception. pyproject.toml repeats this.
DUPLICATE_WATCH_WARNING = r"Callback with id .* already exists for watch"
warnings.filterwarnings("ignore", message=DUPLICATE_WATCH_WARNING, category=RuntimeWarning)


@dataclass(frozen=True)
class DropboxConfig:
    root: Path
    settle_seconds: float = 2.0
    empty_settle_seconds: float = 60.0
    rescan_seconds: float = 30.0
    polling_observer: bool = False


# Events that can never make a new candidate: something left, was only read, or a folder's
# listing changed (the entry that changed it has an event of its own). The scanner's own claims
# cause exactly these, and must not send it back to the folders it has just emptied.
_NO_NEW_CANDIDATE = frozenset({EVENT_TYPE_DELETED, EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE})


# What inotify is asked for. Not opens, reads or deletions: every scan opens each folder it
# lists, and with thousands of unit folders those events alone overflowed the kernel's queue
# (after which watchdog walks the whole tree again).
_WANTED_EVENTS = (
    FileCreatedEvent,
    DirCreatedEvent,
    FileMovedEvent,
    DirMovedEvent,
    FileModifiedEvent,
    FileClosedEvent,
)


class _Wake(FileSystemEventHandler):
    """A change under the drop folder only wakes the scanner and names the unit folder to look at;
    it never decides anything."""

    def __init__(self, wake: threading.Event, hints: Hints) -> None:
        self.wake = wake
        self.hints = hints

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in _NO_NEW_CANDIDATE:
            return
        if event.event_type == EVENT_TYPE_MODIFIED and event.is_directory:
            return
        if event.event_type == EVENT_TYPE_MOVED:
            self.hints.add(str(getattr(event, "dest_path", "") or ""))  # what moved away is no candidate
        else:
            self.hints.add(str(event.src_path))
        self.wake.set()


class Hints:
    """The unit folders events named since the last scan; "everything" when an event was about the root."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self._folders: set[str] = set()
        self._everything = False
        self._lock = threading.Lock()

    def add(self, path: str) -> None:
        if not path:
            return
        relative = os.path.relpath(path, self.root)
        folder = relative.split(os.sep, 1)[0]
        if folder == "..":
            return  # outside the drop folder (where a claimed item went)
        with self._lock:
            if folder in (".", ""):
                self._everything = True
            else:
                self._folders.add(folder)

    def take(self) -> set[str] | None:
        """The folders named since the last call; None when a full scan is due."""
        with self._lock:
            folders, everything = self._folders, self._everything
            self._folders, self._everything = set(), False
        return None if everything else folders


class DropboxWatcher:
    """Scans, claims and records; run `run(stop)` in a thread or call `scan_once` directly."""

    def __init__(
        self,
        config: DropboxConfig,
        *,
        processing: ProcessingArea,
        receiver: Receiver,
        unit_code: Callable[[str], str | None],
        report_unknown_folder: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.processing = processing
        self.receiver = receiver
        self.unit_code = unit_code
        self.report_unknown_folder = report_unknown_folder
        self.clock = clock
        self.tracker = ReadinessTracker(config.settle_seconds, config.empty_settle_seconds)
        self.wake = threading.Event()
        self.hints = Hints(config.root)
        self._unknown_seen: set[str] = set()
        config.root.mkdir(parents=True, exist_ok=True)

    # -- startup -----------------------------------------------------------------------------
    def recover(self) -> int:
        """Records items a crash left in `processing/` (claimed, perhaps not recorded)."""
        count = 0
        for path in self.processing.leftovers():
            parsed = ProcessingArea.parse(path)
            if parsed is None:
                log.warning("intake.processing_unknown_entry", extra={"path": str(path)})
                continue
            item_id, org, name = parsed
            if not self.receiver.is_recorded(item_id):
                self.receiver.record(self._arrival(item_id, org, name), ProcessingArea.raw_bytes(path))
                count += 1
            ProcessingArea.discard(path)
        return count

    # -- scanning ----------------------------------------------------------------------------
    def _org_folders(self, names: set[str] | None = None) -> list[tuple[Path, str]]:
        """Unit folders of the drop folder (only `names` when given) with their unit codes."""
        folders: list[tuple[Path, str]] = []
        if names is None:
            entries = [(entry.name, entry.path) for entry in os.scandir(self.config.root) if entry.is_dir()]
        else:
            entries = [(name, str(self.config.root / name)) for name in sorted(names)]
            entries = [(name, path) for name, path in entries if os.path.isdir(path)]
        for name, path in entries:
            if is_temporary_name(name):
                continue
            code = self.unit_code(name)
            if code is None:
                if name not in self._unknown_seen:
                    self._unknown_seen.add(name)
                    self.report_unknown_folder(name)
                continue
            folders.append((Path(path), code))
        return folders

    def _candidates(self, folder: Path) -> list[Path]:
        out = []
        for entry in os.scandir(folder):
            if entry.name == RECEIPTS_FOLDER or is_temporary_name(entry.name):
                continue
            out.append(Path(entry.path))
        return out

    def scan_once(self, folders: set[str] | None = None) -> int:
        """One pass over every unit folder (or only `folders`): observe every candidate, claim and
        record the settled ones."""
        now = self.clock()
        ready: list[tuple[Path, str]] = []
        seen: list[str] = []
        scanned = self._org_folders(folders)
        for folder, code in scanned:
            for candidate in self._candidates(folder):
                key = str(candidate)
                seen.append(key)
                if self.tracker.observe(key, signature_of(candidate), now):
                    ready.append((candidate, code))
        if folders is None:
            self.tracker.retain_only(seen)
        else:
            looked_at = {str(folder) for folder, _ in scanned} | {str(self.config.root / name) for name in folders}
            self.tracker.retain_only(seen, scope=lambda key: os.path.dirname(key) in looked_at)
        taken = 0
        for start in range(0, len(ready), CLAIM_BATCH):
            taken += self._take(ready[start : start + CLAIM_BATCH])
        return taken

    def _arrival(self, item_id: str, org: str, name: str) -> InboundItem:
        return InboundItem(
            item_id=item_id,
            channel="dropbox",
            purpose="filing",
            sender=org,
            filer=org,
            reply_to="",
            original_name=name,
            message_id="",
        )

    def _take(self, batch: list[tuple[Path, str]]) -> int:
        for candidate, _ in batch:
            self.tracker.forget(str(candidate))
        wanted = [(candidate, code, new_item_id()) for candidate, code in batch]
        claimed = [
            (target, self._arrival(item_id, code, candidate.name))
            for (candidate, code, item_id), target in zip(wanted, self.processing.claim_many(wanted), strict=True)
            if target is not None
        ]
        if claimed:
            self.receiver.record_many([(arrival, ProcessingArea.raw_bytes(path)) for path, arrival in claimed])
            for path, _ in claimed:
                ProcessingArea.discard(path)
        return len(claimed)

    # -- the loop ----------------------------------------------------------------------------
    def _observer(self) -> BaseObserver:
        observer: BaseObserver = PollingObserver(timeout=1.0) if self.config.polling_observer else Observer()
        observer.schedule(
            _Wake(self.wake, self.hints), str(self.config.root), recursive=True, event_filter=list(_WANTED_EVENTS)
        )
        return observer

    def _waiting_folders(self) -> set[str]:
        """Unit folders holding candidates that are still settling."""
        return {os.path.basename(os.path.dirname(key)) for key in self.tracker.watched()}

    def run(self, stop: threading.Event) -> None:
        """Watch until `stop` is set. A full scan at start and every `rescan_seconds` (missed events,
        inotify overflow, network mounts); in between, only the folders events named and those with
        items still settling, so a drop folder of thousands of units is not walked on every event."""
        observer = self._observer()
        observer.start()
        last_full = float("-inf")
        full_interval = self.config.rescan_seconds
        try:
            while not stop.is_set():
                started = self.clock()
                hinted = self.hints.take()
                full = hinted is None or started - last_full >= full_interval
                try:
                    self.scan_once(None if full else (hinted or set()) | self._waiting_folders())
                    if full:
                        last_full = started
                        # a full scan of a huge drop folder must not eat the time of the work it finds
                        full_interval = max(self.config.rescan_seconds, FULL_SCAN_SHARE * (self.clock() - started))
                except OSError:
                    log.exception("intake.dropbox_scan_failed")
                took = self.clock() - started
                now = self.clock()
                due = self.tracker.next_due(now)
                timeout = last_full + full_interval - now
                if due is not None:
                    timeout = min(timeout, due + 0.01)
                self.wake.wait(max(0.01, timeout))
                self.wake.clear()
                # A burst of events must not turn into a busy loop of scans: at most a third of the time.
                pause = max(MIN_SCAN_INTERVAL, 2 * took) - (self.clock() - started)
                if pause > 0:
                    stop.wait(pause)
        finally:
            observer.stop()
            observer.join()
