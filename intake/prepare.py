"""Preparing filings (parse the mail, load the bundle, run validation's rules) in worker processes.

Loading and checking are pure CPU work on bytes and take most of a filing's time; in
threads they would all queue on the interpreter lock, so on a multi-core machine they
run in a small process pool while the serve process keeps receiving and submitting.
A worker reads the raw blob itself (only its path crosses the pipe) and sends back the
bundle and the check result. The ledger-aware rules are not run here: `workflow.submit`
runs them under its lock, against the state the filing is actually recorded in.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from intake.mime import TNEF_REFUSAL_ZH, ParsedMail, load_mail_bundle, parse_mail
from validation.bundle import Bundle, BundleError, load_bundle

log = logging.getLogger(__name__)

BUNDLE_SUFFIXES = (".zip", ".xlsx", ".xlsm", ".xls", ".et")


def bundle_of(channel: str, original_name: str, raw: bytes, mail: ParsedMail | None) -> Bundle:
    """The bundle an item carries, or BundleError (with its Chinese message) saying why there is none."""
    if mail is not None:
        if mail.has_tnef and not mail.attachments:
            raise BundleError("mail-tnef", TNEF_REFUSAL_ZH)
        return load_mail_bundle(mail.attachments)
    name = original_name
    if not name.lower().endswith(BUNDLE_SUFFIXES):
        name = f"{name}.zip"  # a dropped subfolder was stored as a zip of its content
    return load_bundle(raw, name=name)


@dataclass(frozen=True)
class Prepared:
    """A loaded and checked filing, or the reason it cannot become one."""

    bundle: Bundle | None
    check_result: Any
    reject_code: str = ""
    reject_message: str = ""


def prepare_filing(channel: str, original_name: str, raw_path: str) -> Prepared:
    """Runs in a worker process: the filing stages before `submit`, on the stored raw bytes."""
    from validation.check import check_bundle

    raw = Path(raw_path).read_bytes()
    mail = parse_mail(raw) if channel == "smtp" else None
    try:
        bundle = bundle_of(channel, original_name, raw, mail)
    except BundleError as exc:
        return Prepared(None, None, exc.code, exc.message)
    return Prepared(bundle, check_bundle(bundle))


def prepare_filings(jobs: Sequence[tuple[str, str, str]]) -> list[Prepared | None]:
    """Runs in a worker process: several filings per call, so that the serve process hands out
    and collects work a chunk at a time (one pipe round trip and one wake-up of its busy
    interpreter per chunk, not per filing). None for an item that failed unexpectedly: the
    serve process prepares that one again in its own thread, where the error is logged."""
    out: list[Prepared | None] = []
    for channel, original_name, raw_path in jobs:
        try:
            out.append(prepare_filing(channel, original_name, raw_path))
        except Exception:
            out.append(None)
    return out


def _warm_up() -> None:
    """Imports what checking needs (a second or so per process)."""
    import validation.check  # noqa: F401


def _exit_with_parent(parent: int) -> None:
    """A worker outlives a killed serve process otherwise (its pipe never reaches end of file)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class PreparePool:
    """A few worker processes (spawned, not forked: the serve process has threads and open SQLite files)."""

    # Chunks per process and batch: enough to balance the processes, few enough to keep the
    # per-call overhead (pickling, pipe, the serve process's attention) small.
    CHUNKS_PER_PROCESS = 4

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_exit_with_parent,
            initargs=(os.getpid(),),
        )
        # Start the processes and their imports now, while the watcher's first scan settles,
        # rather than when the first filings are already waiting for them.
        for _ in range(processes):
            self._pool.submit(_warm_up)

    def prepare(self, jobs: Sequence[tuple[str, str, Path]]) -> list[Prepared | None]:
        """(channel, original name, raw blob path) → Prepared; None where the pool failed (the caller
        then prepares that item in its own thread)."""
        plain = [(channel, name, str(path)) for channel, name, path in jobs]
        chunks = max(1, min(len(plain), self.processes * self.CHUNKS_PER_PROCESS))
        size = -(-len(plain) // chunks)
        futures: list[tuple[int, Future[list[Prepared | None]] | None]] = []
        for start in range(0, len(plain), size):
            chunk = plain[start : start + size]
            try:
                futures.append((len(chunk), self._pool.submit(prepare_filings, chunk)))
            except RuntimeError:  # shut down or broken
                futures.append((len(chunk), None))
        results: list[Prepared | None] = []
        for count, future in futures:
            try:
                prepared = future.result() if future is not None else [None] * count
            except Exception:
                log.warning("intake.prepare_pool_failed", exc_info=True)
                prepared = [None] * count
            results.extend(prepared)
        return results

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
