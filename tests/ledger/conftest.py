from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ledger_support import open_test_ledger

from ledger import Ledger


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with open_test_ledger(tmp_path) as opened:
        yield opened
