"""Fixtures for the intake tests (helpers live in intake_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from intake_helpers import Env, build_env, close_env


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    environment = build_env(tmp_path / "data")
    yield environment
    close_env(environment)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Env]:
    environment = build_env(tmp_path / "data")
    environment.service.start()
    yield environment
    close_env(environment)
