"""Full-verify benchmark: time `verify_ledger` on one large ledger, built once and reused.

Run:  .venv/bin/python bench/verify.py [--events 1000000] [--dir /tmp/chanquan-verify-bench] [--runs 3]
      [--workers N] [--baseline MODULE]

Building 1,000,000 events takes most of a minute, so the ledger is kept in --dir and rebuilt
only when it is missing or of another size. One line per run with wall and CPU seconds (this
process and its verify worker processes together); with
--baseline (a module exposing `verify_ledger`, e.g. a saved copy of the old verify) each run
times the baseline on the same file right before, and prints the ratio.
"""

from __future__ import annotations

import argparse
import importlib
import os
import resource
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# this file is named like the package it measures: the project root goes ahead of bench/, which
# stays on the path (last) for the shared ledger_rows module
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(_BENCH.parent), *(p for p in sys.path if Path(p or ".").resolve() != _BENCH), str(_BENCH)]

from ledger_rows import ORIGIN, fill  # noqa: E402

from ledger import Ledger, generate_key_files, verify_ledger  # noqa: E402
from ledger.note import load_verifier  # noqa: E402


def ensure_ledger(folder: Path, events: int) -> tuple[Path, Path, Path]:
    db, log, pub = folder / "big.sqlite3", folder / "big.log", folder / "keys" / "ledger.pub"
    if db.exists() and pub.exists():
        conn = sqlite3.connect(db)
        try:
            size = conn.execute("SELECT coalesce(max(seq), 0) FROM ledger_events").fetchone()[0]
        finally:
            conn.close()
        if size == events:
            return db, log, pub
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (db, log, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)
    key = folder / "keys" / "ledger.key"
    if not key.exists():
        generate_key_files(key, pub, ORIGIN)
    started = time.perf_counter()
    with Ledger.open(db, signing_key_path=key, checkpoint_file=log, origin=ORIGIN) as ledger:
        fill(ledger, 1, events)
    print(f"built {events:,} events in {time.perf_counter() - started:.1f} s", flush=True)
    return db, log, pub


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(verify: Callable[..., Any], db: Path, log: Path, pub: Path, **options: Any) -> tuple[float, str, Any]:
    """Wall seconds, CPU seconds (total, and this process / its worker processes when there are any), report."""
    verifier = load_verifier(pub)
    own, children = time.process_time(), children_cpu()
    wall = time.perf_counter()
    report = verify(db, verifier=verifier, checkpoint_files=[log], **options)
    wall = time.perf_counter() - wall
    own, children = time.process_time() - own, children_cpu() - children
    cpu = f"{own + children:.2f} s CPU" + (f" ({own:.2f} here + {children:.2f} in workers)" if children else "")
    return wall, cpu, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/chanquan-verify-bench"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", default=None, help="module with an older verify_ledger to compare against")
    parser.add_argument(
        "--workers", type=int, default=None, help="second processes for verify (default: its own choice)"
    )
    args = parser.parse_args()
    db, log, pub = ensure_ledger(args.dir, args.events)
    baseline = importlib.import_module(args.baseline).verify_ledger if args.baseline else None
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    for run in range(1, args.runs + 1):
        line = f"run {run}: "
        if baseline is not None:
            base_wall, base_cpu, base_report = measure(baseline, db, log, pub)
            assert base_report.ok, base_report.problems
            line += f"baseline {base_wall:.2f} s wall, {base_cpu}; "
        options = {} if args.workers is None else {"workers": args.workers}
        wall, cpu, report = measure(verify_ledger, db, log, pub, **options)
        assert report.ok and report.size == args.events, report.problems
        line += f"verify {report.size:,} events ({report.checkpoints_checked} checkpoints): {wall:.2f} s wall, {cpu}"
        if baseline is not None:
            line += f"; baseline/new = {base_wall / wall:.2f}x wall"
        print(line, flush=True)


if __name__ == "__main__":
    main()
