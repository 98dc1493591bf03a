"""Crash-test driver: forks appenders and SIGKILLs each at a random moment.

Imports happen once here and every appender is a fork, so twenty-odd kills cost
seconds rather than twenty interpreter start-ups. Each appender writes one line
per acknowledged event ("seq n") to the ack file with a single unbuffered write
right after the append returned, so a line present means the caller was told.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from ledger_support import Counter, open_test_ledger


def append_forever(folder: Path, run: int, ack_fd: int) -> None:
    rng = random.Random(run)
    ledger = open_test_ledger(folder, checkpoint_interval_seconds=0.05)
    i = 0
    while True:
        if rng.random() < 0.5:
            events = [ledger.append(Counter(n=run * 1_000_000 + i), f"run{run}", "crash")]
            i += 1
        else:
            batch = [(Counter(n=run * 1_000_000 + i + k), f"run{run}", "crash") for k in range(rng.randint(2, 50))]
            events = ledger.append_many(batch)
            i += len(batch)
        os.write(ack_fd, "".join(f"{e.seq} {e.payload['n']}\n" for e in events).encode())


def wait_for_growth(fd: int, size: int, limit_seconds: float = 120.0) -> None:
    deadline = time.monotonic() + limit_seconds
    while os.fstat(fd).st_size <= size:
        if time.monotonic() > deadline:
            raise SystemExit(f"no acknowledgement within {limit_seconds} s")
        time.sleep(0.005)


def main() -> None:
    folder, kills, seed, ack_path = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    rng = random.Random(seed)
    ack_fd = os.open(ack_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    for run in range(1, kills + 1):
        acked_before = os.fstat(ack_fd).st_size
        ready_read, ready_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(ready_read)
            try:
                os.write(ready_write, b"x")
                append_forever(folder, run, ack_fd)
            finally:
                os._exit(1)
        os.close(ready_write)
        os.read(ready_read, 1)
        os.close(ready_read)
        if run % 2 == 0:
            # Every other appender is killed only after its first acknowledgement, so that half the
            # runs surely crash mid-stream however slow a loaded machine makes start-up; the odd
            # runs die at any moment, start-up included.
            wait_for_growth(ack_fd, acked_before)
        time.sleep(rng.uniform(0.05, 0.4))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status
    os.close(ack_fd)
    print(f"killed {kills}", flush=True)


if __name__ == "__main__":
    main()
