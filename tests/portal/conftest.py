"""Fixtures of the portal tests: a seeded data directory served by the portal app (TestClient)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from portal_helpers import Site, build_site


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    built = build_site(tmp_path / "data")
    yield built
    built.close()


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Debian's chromium under Playwright, shared by a module's browser tests; missing chromium fails loudly.

    Module scope, not session: while Playwright's sync API is active it keeps an event loop running
    in the main thread, and code under test elsewhere calls asyncio.run (pyHanko signing does).
    """
    from browser_harness import CHROMIUM_ARGS, MISSING_CHROMIUM, chromium_path

    if shutil.which("chromium") is None:
        pytest.fail(MISSING_CHROMIUM, pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def served(site: Site) -> Iterator[str]:
    """The seeded site's portal served by uvicorn on a free loopback port; yields its base URL."""
    from browser_harness import serve

    with serve(site.app) as base_url:
        yield base_url


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> object:
    from browser_harness import Shots

    return Shots(request.node.name)
