"""SIGKILL a process in the middle of appending, again and again: nothing acknowledged is lost."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from ledger_support import open_test_ledger

CHILD = Path(__file__).parent / "ledger_crash_child.py"
KILLS = 22


@pytest.mark.slow
def test_sigkill_never_loses_an_acknowledged_append(tmp_path: Path) -> None:
    rng = random.Random(2026)
    acknowledged: dict[int, int] = {}
    for run in range(1, KILLS + 1):
        child = subprocess.Popen(
            [sys.executable, str(CHILD), str(tmp_path), str(run)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        lines: list[str] = []
        reader = threading.Thread(target=lines.extend, args=(child.stdout,))
        reader.start()
        time.sleep(rng.uniform(0.02, 0.35))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        reader.join(timeout=30)
        child.stdout.close()
        for line in lines:
            if line.endswith("\n"):  # a line cut by the kill was not acknowledged
                seq, n = map(int, line.split())
                acknowledged[seq] = n
    assert len(acknowledged) > KILLS
    with open_test_ledger(tmp_path) as ledger:
        size = ledger.size()
        assert size >= max(acknowledged)
        by_seq = {event.seq: event.payload["n"] for event in ledger.events()}
        assert sorted(by_seq) == list(range(1, size + 1))
        for seq, n in acknowledged.items():
            assert by_seq[seq] == n
        report = ledger.verify()
        assert report.ok, [p.message for p in report.problems]
        assert report.checkpoints_checked > 0
