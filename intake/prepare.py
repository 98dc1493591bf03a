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


def _exit_with_parent(parent: int) -> None:
    """A worker outlives a killed serve process otherwise (its pipe never reaches end of file)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class PreparePool:
    """A few worker processes (spawned, not forked: the serve process has threads and open SQLite files)."""

    def __init__(self, processes: int) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_exit_with_parent,
            initargs=(os.getpid(),),
        )

    def prepare(self, jobs: Sequence[tuple[str, str, Path]]) -> list[Prepared | None]:
        """(channel, original name, raw blob path) → Prepared; None where the pool failed (the caller
        then prepares that item in its own thread)."""
        futures: list[Future[Prepared] | None] = []
        for channel, name, path in jobs:
            try:
                futures.append(self._pool.submit(prepare_filing, channel, name, str(path)))
            except RuntimeError:  # shut down or broken
                futures.append(None)
        results: list[Prepared | None] = []
        for future in futures:
            try:
                results.append(future.result() if future is not None else None)
            except Exception:
                log.warning("intake.prepare_pool_failed", exc_info=True)
                results.append(None)
        return results

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
