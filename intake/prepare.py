"""Preparing filings (parse the mail, load the bundle, run validation's rules) in worker processes.

Loading and checking are pure CPU work on bytes and take most of a filing's time; in
threads they would all queue on the interpreter lock, so on a multi-core machine they
run in a small process pool while the serve process keeps receiving and submitting.
A worker reads the raw blob itself (only its path crosses the pipe) and sends back the
bundle and the check result; the thread fallback runs the same `prepare_filing`. The
ledger-aware rules are not run here: `workflow.submit` runs them under its lock, against
the state the filing is actually recorded in.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from intake.mime import TNEF_REFUSAL_ZH, load_mail_bundle, parse_mail
from intake.upload import UPLOAD_SOURCE, unpack_upload
from validation.bundle import Bundle, BundleError, load_bundle
from validation.check import CheckResult, check_bundle
from validation.rules.base import RuleOptions, set_default_options

if TYPE_CHECKING:  # the check processes import this module and need none of workflow at run time
    from workflow.batch import Channel

log = logging.getLogger(__name__)

BUNDLE_SUFFIXES = (".zip", ".xlsx", ".xlsm", ".xls", ".et")
Check = Callable[[Bundle], CheckResult]


def bundle_of(channel: Channel, original_name: str, raw: bytes) -> Bundle:
    """The bundle an item's raw bytes carry, or BundleError (with its Chinese message) saying why there is none.

    A mail's attachments and a web upload's files are read alike (`load_mail_bundle`: one zip or
    one workbook is the bundle, several files are zipped under their sanitized names); a dropped
    file or subfolder is the bundle itself.
    """
    if channel == "smtp":
        mail = parse_mail(raw)
        if mail.has_tnef and not mail.attachments:
            raise BundleError("mail-tnef", TNEF_REFUSAL_ZH)
        return load_mail_bundle(mail.attachments)
    if channel == "web":
        return load_mail_bundle(unpack_upload(raw), source=UPLOAD_SOURCE)
    name = original_name
    if not name.lower().endswith(BUNDLE_SUFFIXES):
        name = f"{name}.zip"  # a dropped subfolder was stored as a zip of its content
    return load_bundle(raw, name=name)


@dataclass(frozen=True)
class Rejection:
    """Why an item cannot become a filing: `intake.rejected`'s code and Chinese message."""

    code: str
    message: str


@dataclass(frozen=True)
class Prepared:
    """A loaded and checked filing, or the reason it cannot become one (it crosses the worker pipe)."""

    bundle: Bundle | None = None
    check_result: CheckResult | None = None
    rejection: Rejection | None = None


def prepare_filing(channel: Channel, original_name: str, raw: bytes, check: Check) -> Prepared:
    """The filing stages before `submit` on an item's raw bytes, in a worker process or a thread alike."""
    try:
        bundle = bundle_of(channel, original_name, raw)
    except BundleError as exc:
        return Prepared(rejection=Rejection(exc.code, exc.message))
    return Prepared(bundle, check(bundle))


def _check_with_process_options(bundle: Bundle) -> CheckResult:
    """Validation's own rules with the options the pool's initializer set (the `validation.*` settings)."""
    return check_bundle(bundle)


def prepare_filings(jobs: Sequence[tuple[Channel, str, str]]) -> list[Prepared | None]:
    """Runs in a worker process: several filings per call, so that the serve process hands out
    and collects work a chunk at a time (one pipe round trip and one wake-up of its busy
    interpreter per chunk, not per filing). A worker reads the raw blob itself: only its path
    crosses the pipe. None for an item that failed unexpectedly: the serve process prepares
    that one again in its own thread, where the error is logged."""
    out: list[Prepared | None] = []
    for channel, original_name, raw_path in jobs:
        try:
            out.append(prepare_filing(channel, original_name, Path(raw_path).read_bytes(), _check_with_process_options))
        except Exception:
            out.append(None)
    return out


def _warm_up() -> None:
    """Imports what checking needs (a second or so per process)."""
    import validation.check  # noqa: F401


def _start_worker(parent: int, options: RuleOptions | None) -> None:
    """Each worker checks with the operator's `validation.*` settings, as the serve process does,
    and exits with its parent: it outlives a killed serve process otherwise (its pipe never
    reaches end of file)."""
    if options is not None:
        set_default_options(options)

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

    def __init__(self, processes: int, options: RuleOptions | None = None) -> None:
        self.processes = processes
        self._pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(os.getpid(), options),
        )
        # Start the processes and their imports now, while the watcher's first scan settles,
        # rather than when the first filings are already waiting for them.
        for _ in range(processes):
            self._pool.submit(_warm_up)

    def prepare(self, jobs: Sequence[tuple[Channel, str, Path]]) -> list[Prepared | None]:
        """(channel, original name, raw blob path) → Prepared; None where the pool failed (the caller
        then prepares that item in its own thread)."""
        plain: list[tuple[Channel, str, str]] = [(channel, name, str(path)) for channel, name, path in jobs]
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
