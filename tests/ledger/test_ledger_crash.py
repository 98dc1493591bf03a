"""SIGKILL an appending process at random moments, again and again: nothing acknowledged is lost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from ledger_support import open_test_ledger

DRIVER = Path(__file__).parent / "ledger_crash_child.py"
KILLS = 22


@pytest.mark.slow
def test_sigkill_never_loses_an_acknowledged_append(tmp_path: Path) -> None:
    folder, acks = tmp_path / "ledger", tmp_path / "acks.txt"
    folder.mkdir()
    result = subprocess.run(
        [sys.executable, str(DRIVER), str(folder), str(KILLS), "2026", str(acks)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"killed {KILLS}"
    acknowledged: dict[int, int] = {}
    runs_with_acks = set()
    for line in acks.read_text().splitlines():
        seq, n = map(int, line.split())
        assert seq not in acknowledged, f"seq {seq} acknowledged twice"
        acknowledged[seq] = n
        runs_with_acks.add(n // 1_000_000)
    # most appenders got work acknowledged before dying (some are killed while still opening)
    assert len(runs_with_acks) >= KILLS // 2, sorted(runs_with_acks)
    with open_test_ledger(folder) as ledger:
        size = ledger.size()
        assert size >= max(acknowledged)
        by_seq = {event.seq: event.payload["n"] for event in ledger.events()}
        assert sorted(by_seq) == list(range(1, size + 1))
        for seq, n in acknowledged.items():
            assert by_seq[seq] == n
        report = ledger.verify()
        assert report.ok, [p.message for p in report.problems]
        assert report.checkpoints_checked > 0
