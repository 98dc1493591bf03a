"""Fixtures for the outbox tests: a real aiosmtpd relay on loopback that can be told to fail, a ledger, and
`f`, the real ledger, workflow and document issuer with flow_fixtures' unit tree."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from flow_fixtures import Flow, flow
from outbox_testing import Relay, RelayHandler, free_port

from ledger import Ledger


@pytest.fixture
def relay() -> Iterator[Relay]:
    handler = RelayHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Relay(handler, port)
    finally:
        controller.stop()


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    import outbox.events  # noqa: F401  (registers mail.*)
    import workflow.events  # noqa: F401

    opened = Ledger.open(tmp_path / "data" / "ledger.sqlite3", checkpoint_interval_seconds=3600)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture(scope="session")
def keys_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where flow_fixtures keeps the one signing identity every flow shares (made on first use)."""
    return tmp_path_factory.mktemp("keys")


@pytest.fixture
def f(tmp_path: Path, keys_cache: Path) -> Iterator[Flow]:
    with flow(tmp_path, keys_cache) as opened:
        yield opened
