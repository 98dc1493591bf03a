"""The browser-test harness: the portal served by uvicorn on a free loopback port (in a thread),
and Debian's chromium driven by Playwright (no browser download, ever).

Screenshots of every page a test visits go to test-artifacts/screenshots/<test>/ (ignored by
git) for a person to look at. Waits are on page state (URL, visible text), never on time.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from intake.smtp import free_port

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",  # root in a container has no user namespace for the sandbox
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MISSING_CHROMIUM = (
    "Debian's chromium is not installed, so the portal's browser tests cannot run. "
    "Install it with scripts/bootstrap.sh (it runs `apt-get install chromium`); "
    "Playwright never downloads a browser here."
)


def chromium_path() -> str:
    path = shutil.which("chromium")
    if path is None:
        raise RuntimeError(MISSING_CHROMIUM)
    return path


@contextmanager
def serve(app: Any, startup_timeout: float = 30.0, port: int | None = None) -> Iterator[str]:
    """The app on http://127.0.0.1:<free port> (or `port`, chosen beforehand when the app must know
    its own address, e.g. for the QR codes it prints) for the `with` block; yields the base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="portal-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:  # a state flag uvicorn sets once it listens
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class Shots:
    """Numbered full-page screenshots of one test."""

    def __init__(self, test_name: str) -> None:
        self.folder = SCREENSHOTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", test_name)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def take(self, page: Any, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path
