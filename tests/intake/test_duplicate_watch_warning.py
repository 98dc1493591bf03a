"""watchdog warns when it re-adds a watch it already holds, which its inotify observer does for
every folder created together with its parent (`mkdir -p`). The warning is harmless but comes
from watchdog's own thread, so under `filterwarnings = error` it failed a CI run; these tests pin
the exact message so the filters cannot silently stop matching after a watchdog upgrade."""

from __future__ import annotations

import sys
import tomllib
import warnings
from pathlib import Path

import pytest

from intake.dropbox import DUPLICATE_WATCH_WARNING

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux-only")

ROOT = Path(__file__).resolve().parents[2]


class _Ignore:
    """Stands in for the observer's watch group: the test only needs the registration."""

    def on_event(self, event: object) -> None:
        pass

    def on_watch_deleted(self, wd: object) -> None:
        pass

    def on_queue_overflow(self) -> None:
        pass


def _add_same_watch_twice(folder: Path) -> None:
    from watchdog.observers.inotify_c import CallbackId, InotifyConstants, InotifyFD

    inotify = InotifyFD()
    inotify.start()
    try:
        for _ in range(2):
            inotify.add_callback(bytes(folder), InotifyConstants.IN_CREATE, _Ignore(), CallbackId(1))
    finally:
        inotify.stop()
        inotify.join(timeout=5)


def test_watchdog_still_warns_with_the_message_we_filter(tmp_path: Path) -> None:
    with pytest.warns(RuntimeWarning, match=DUPLICATE_WATCH_WARNING):
        _add_same_watch_twice(tmp_path)


def test_the_service_filter_silences_it(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message=DUPLICATE_WATCH_WARNING, category=RuntimeWarning)
        _add_same_watch_twice(tmp_path)  # raises if the pattern stopped matching


def test_pytest_configuration_ignores_the_same_message() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    filters = config["tool"]["pytest"]["ini_options"]["filterwarnings"]
    assert f"ignore:{DUPLICATE_WATCH_WARNING}:RuntimeWarning" in filters
    assert filters[0] == "error"
