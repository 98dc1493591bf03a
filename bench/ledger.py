"""Ledger benchmark: append throughput against raw SQLite inserts, verify, proof and reopen times.

Run:  .venv/bin/python bench/ledger.py [--events 1000000] [--dir /tmp/somewhere]

One line per case. Appends are compared with plain inserts of the same rows into a
table without triggers, indexes or hashing, committed the same way (WAL,
synchronous=FULL) in the same run, so the ratio shows the ledger's own cost on
this machine's disk rather than the disk itself.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

# this file is named like the package it measures: the project root goes ahead of bench/, which
# stays on the path (last) for the shared ledger_rows module
_BENCH = Path(__file__).resolve().parent
sys.path[:] = [str(_BENCH.parent), *(p for p in sys.path if Path(p or ".").resolve() != _BENCH), str(_BENCH)]

from ledger_rows import ACTOR, ORIGIN, BenchFiling, body, fill  # noqa: E402

from ledger import Ledger, generate_key_files, verify_ledger  # noqa: E402
from ledger.canonical import format_ts, leaf_data  # noqa: E402
from ledger.merkle import leaf_hash, verify_inclusion  # noqa: E402
from ledger.note import load_verifier  # noqa: E402


def raw_rows(start: int, count: int) -> list[tuple[int, str, str, str, str, str, bytes]]:
    ts = format_ts(datetime.now(UTC))
    rows = []
    for seq in range(start, start + count):
        payload = body(seq).to_payload_json()
        leaf = leaf_hash(leaf_data(seq, ts, BenchFiling.kind, ACTOR, f"CQ{seq}", payload))
        rows.append((seq, ts, BenchFiling.kind, ACTOR, f"CQ{seq}", payload, leaf))
    return rows


def raw_rate(folder: Path, batch: int, total: int, tag: str = "") -> float:
    path = folder / f"raw-{batch}-{total}{tag}.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(
        "CREATE TABLE plain (seq INTEGER PRIMARY KEY, ts TEXT, kind TEXT, actor TEXT, subject TEXT,"
        " payload TEXT, leaf_hash BLOB)"
    )
    rows = raw_rows(1, total)
    gc.freeze()
    started = time.perf_counter()
    for offset in range(0, total, batch):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO plain VALUES (?,?,?,?,?,?,?)", rows[offset : offset + batch])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return total / elapsed


def ledger_rate(folder: Path, batch: int, total: int, key: Path, tag: str) -> float:
    bodies = [(body(i), ACTOR, f"CQ{i}") for i in range(1, total + 1)]
    gc.freeze()  # the prepared bodies are the bench's, not the ledger's: keep them out of GC passes
    with Ledger.open(
        folder / f"ledger-{batch}{tag}.sqlite3",
        signing_key_path=key,
        checkpoint_file=folder / f"cp-{batch}{tag}.log",
        origin=ORIGIN,
    ) as ledger:
        started = time.perf_counter()
        if batch == 1:
            for item in bodies:
                ledger.append(*item)
        else:
            for offset in range(0, total, batch):
                ledger.append_many(bodies[offset : offset + batch])
        elapsed = time.perf_counter() - started
    return total / elapsed


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def append_cases(folder: Path, key: Path) -> None:
    for batch, total in ((1, 2_000), (100, 20_000), (1000, 100_000)):
        # A-B-B-A order, so a drift in the disk's or the machine's speed hits both sides alike
        raw_first = raw_rate(folder, batch, total, "a")
        ours = (ledger_rate(folder, batch, total, key, "a") + ledger_rate(folder, batch, total, key, "b")) / 2
        raw = (raw_first + raw_rate(folder, batch, total, "b")) / 2
        print(
            f"append batch={batch:<5} {ours:>10,.0f} events/s   raw insert {raw:>10,.0f} rows/s   "
            f"raw/ledger = {raw / ours:.2f}x"
        )


def threads_case(folder: Path, key: Path) -> None:
    """Single-event appends from many threads: group commit shares each fsync among them."""
    threads, per_thread = 16, 150
    raw_single = raw_rate(folder, 1, 1_000)
    with Ledger.open(
        folder / "ledger-threads.sqlite3", signing_key_path=key, checkpoint_file=folder / "cp-t.log", origin=ORIGIN
    ) as ledger:

        def worker(offset: int) -> None:
            for i in range(per_thread):
                ledger.append(body(offset + i), ACTOR, f"CQ{offset + i}")

        pool = [threading.Thread(target=worker, args=(t * per_thread,)) for t in range(threads)]
        started = time.perf_counter()
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        rate = threads * per_thread / (time.perf_counter() - started)
    print(
        f"append one event per call from {threads} threads: {rate:,.0f} events/s   "
        f"raw single-row commits {raw_single:,.0f} rows/s   ledger/raw = {rate / raw_single:.1f}x"
    )


def build_and_verify_case(folder: Path, key: Path, pub: Path, n: int) -> Path:
    """Builds the big ledger the later cases read; returns its path."""
    big = folder / "big.sqlite3"
    with Ledger.open(big, signing_key_path=key, checkpoint_file=folder / "big.log", origin=ORIGIN) as ledger:
        started = time.perf_counter()
        fill(ledger, 1, n)
        build = time.perf_counter() - started
    print(f"build {n:,} events with batch=1000: {build:.1f} s ({n / build:,.0f} events/s)")

    verifier = load_verifier(pub)
    report = None

    def run_verify() -> None:
        nonlocal report
        report = verify_ledger(big, verifier=verifier, checkpoint_files=[folder / "big.log"])

    def cpu_seconds() -> float:  # this process and its finished children (verify's page worker)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    cpu_before = cpu_seconds()
    seconds = timed(run_verify)
    cpu = cpu_seconds() - cpu_before
    assert report is not None and report.ok, report
    print(
        f"verify {n:,} events (leaves, tree, {report.checkpoints_checked} checkpoints): "
        f"{seconds:.2f} s wall, {cpu:.2f} s CPU (both processes)"
    )
    return big


def reopen_and_proof_case(big: Path, key: Path, log_file: Path, n: int) -> None:
    # reopening checks the tree head against the newest line of the checkpoint file (a rolled-back
    # database is refused), so the file is passed as a deployment passes it
    reopens = [
        timed(lambda: Ledger.open(big, signing_key_path=key, checkpoint_file=log_file, origin=ORIGIN).close())
        for _ in range(21)
    ]
    reopen = statistics.median(reopens)
    with_first_append: list[float] = []
    ledger = None
    started = time.perf_counter()
    ledger = Ledger.open(big, signing_key_path=key, checkpoint_file=log_file, origin=ORIGIN)
    opened = time.perf_counter() - started
    try:
        size = ledger.size()
        root = ledger.root()
        rng = random.Random(1)
        timings = []
        for _ in range(1000):
            seq = rng.randint(1, size)
            t0 = time.perf_counter()
            proof = ledger.inclusion_proof(seq)
            timings.append(time.perf_counter() - t0)
            assert verify_inclusion(ledger.get(seq).leaf_hash, seq - 1, size, proof, root)
        t0 = time.perf_counter()
        ledger.append(body(0), ACTOR, "CQ0")
        with_first_append.append(time.perf_counter() - t0)
    finally:
        ledger.close()
    print(f"reopen {n:,}-event ledger: {opened * 1000:.1f} ms (open+close median of 21: {reopen * 1000:.1f} ms)")
    print(
        f"inclusion proof in a {n:,}-event tree: median {statistics.median(timings) * 1e6:.0f} us, "
        f"p99 {sorted(timings)[989] * 1e6:.0f} us"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000, help="size of the ledger for verify/proof/reopen")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the files (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        key, pub = folder / "keys" / "ledger.key", folder / "keys" / "ledger.pub"
        generate_key_files(key, pub, ORIGIN)
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
        append_cases(folder, key)
        threads_case(folder, key)
        big = build_and_verify_case(folder, key, pub, args.events)
        reopen_and_proof_case(big, key, folder / "big.log", args.events)


if __name__ == "__main__":
    main()
