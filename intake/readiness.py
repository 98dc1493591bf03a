"""Decides when a dropped item has stopped changing, from observations alone.

Watcher events are only hints: the tracker is fed snapshots of what a scan saw
(size and mtime per candidate) with the time of the scan, so it can be tested
with a fake clock and no filesystem events at all. A candidate is ready once its
signature stayed the same for `settle_seconds`; any change restarts the wait.

Zero bytes is what every copy looks like between creating the file and writing it, and a
writer descheduled for a moment (a loaded machine, a slow network share) leaves it so for
longer than the settle time. An empty candidate therefore waits `empty_settle_seconds`
(a minute by default) before it is taken and answered as empty; an empty folder waits forever.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

# Names that belong to a copy in progress or to an editor, never to a bundle.
TEMPORARY_SUFFIXES = (".part", ".filepart", ".tmp", ".crdownload", ".partial", ".swp")
TEMPORARY_PREFIXES = ("~$", ".~lock", "._")


def is_temporary_name(name: str) -> bool:
    """True for transfer leftovers and Office/LibreOffice lock files, which must never be taken."""
    lowered = name.lower()
    if lowered.startswith(".") and not lowered.startswith("._"):
        return True  # hidden files: rsync temporaries, .DS_Store
    return lowered.endswith(TEMPORARY_SUFFIXES) or name.startswith(TEMPORARY_PREFIXES)


@dataclass(frozen=True)
class Signature:
    """What a scan saw of one candidate; a subfolder sums its whole content."""

    size: int
    mtime_ns: int
    entries: int = 1
    busy: bool = False  # a temporary or lock file is inside a subfolder: still being written


def signature_of(path: Path) -> Signature | None:
    """Signature of a file or of a whole subfolder; None when it vanished meanwhile."""
    try:
        if path.is_dir():
            size = 0
            newest = path.stat().st_mtime_ns
            entries = 0
            busy = False
            for root, dirs, files in os.walk(path):
                for name in dirs:
                    newest = max(newest, (Path(root) / name).stat().st_mtime_ns)
                for name in files:
                    if is_temporary_name(name):
                        busy = True
                    st = (Path(root) / name).stat()
                    size += st.st_size
                    newest = max(newest, st.st_mtime_ns)
                    entries += 1
            return Signature(size=size, mtime_ns=newest, entries=entries, busy=busy)
        st = path.stat()
        return Signature(size=st.st_size, mtime_ns=st.st_mtime_ns)
    except FileNotFoundError:
        return None


@dataclass
class _Watch:
    signature: Signature
    stable_since: float


class ReadinessTracker:
    """Tracks candidates across scans and reports those that settled."""

    def __init__(self, settle_seconds: float, empty_settle_seconds: float = 60.0) -> None:
        self.settle_seconds = settle_seconds
        self.empty_settle_seconds = max(settle_seconds, empty_settle_seconds)
        self._watches: dict[str, _Watch] = {}

    def _settle_for(self, signature: Signature) -> float:
        return self.empty_settle_seconds if signature.size == 0 else self.settle_seconds

    def observe(self, key: str, signature: Signature | None, now: float) -> bool:
        """Record one observation; True when the candidate is ready to be taken now."""
        if signature is None:
            self._watches.pop(key, None)
            return False
        watch = self._watches.get(key)
        if watch is None or watch.signature != signature:
            self._watches[key] = _Watch(signature, now)
            return self._settle_for(signature) <= 0 and not signature.busy
        if signature.busy or (signature.entries == 0 and signature.size == 0):
            watch.stable_since = now  # an empty or busy folder is not a bundle yet
            return False
        return now - watch.stable_since >= self._settle_for(signature)

    def forget(self, key: str) -> None:
        """Drop a candidate once it was claimed (or vanished)."""
        self._watches.pop(key, None)

    def retain_only(self, keys: Iterable[str], scope: Callable[[str], bool] | None = None) -> None:
        """Forget candidates a scan no longer saw, so memory stays bounded; a scan of some folders
        only passes `scope`, true for the keys it looked at."""
        alive = set(keys)
        for key in list(self._watches):
            if key not in alive and (scope is None or scope(key)):
                del self._watches[key]

    def watched(self) -> list[str]:
        return list(self._watches)

    def pending(self) -> int:
        return len(self._watches)

    def next_due(self, now: float) -> float | None:
        """Seconds until the earliest candidate may become ready; None when nothing waits."""
        if not self._watches:
            return None
        earliest = min(w.stable_since + self._settle_for(w.signature) for w in self._watches.values())
        return max(0.0, earliest - now)
