"""Child for the crash test: appends forever, printing each acknowledged seq and payload number."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from ledger_support import Counter, open_test_ledger


def main() -> None:
    folder, run = Path(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(run)
    ledger = open_test_ledger(folder, checkpoint_interval_seconds=0.05)
    print("ready", flush=True)
    i = 0
    while True:
        if rng.random() < 0.5:
            event = ledger.append(Counter(n=run * 1_000_000 + i), f"run{run}", "crash")
            events = [event]
            i += 1
        else:
            batch = [(Counter(n=run * 1_000_000 + i + k), f"run{run}", "crash") for k in range(rng.randint(2, 50))]
            events = ledger.append_many(batch)
            i += len(batch)
        sys.stdout.write("".join(f"{e.seq} {e.payload['n']}\n" for e in events))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
