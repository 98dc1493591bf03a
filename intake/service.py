"""Intake as one service: receiver, spool, drop-folder watcher, SMTP listener and worker.

`IntakeService` is what `chanquan serve` runs. It is built from plain values (paths,
numbers, a ledger and a workflow), never from the application's settings object, so
tests and benchmarks build it the same way the command does.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from intake.confirm import Confirmations
from intake.dropbox import DropboxConfig, DropboxWatcher
from intake.events import IntakeFolderUnknown
from intake.prepare import PreparePool
from intake.processing import CheckBundle, Processor
from intake.smtp import AuthOutcome, MailGate, SmtpConfig, SmtpServer
from intake.spool import MailSpool, ProcessingArea, Receiver, SpoolRecorder
from intake.state import folder_reported
from intake.upload import SubmissionOutcome, Upload
from intake.web import UploadDoor
from ledger import Ledger
from validation.bundle import Bundle
from validation.check import CheckResult, check_bundle
from validation.rules.base import Rule, RuleOptions
from workflow import Workflow
from workflow.accounts import PasswordPolicyError, normalize_username

log = logging.getLogger(__name__)

UNIT_CACHE_SECONDS = 5.0


def default_check_processes() -> int:
    """One per core, up to four (the serve process itself needs a core for receiving and submitting)."""
    return min(4, os.cpu_count() or 1)


@dataclass(frozen=True)
class IntakeConfig:
    inbound_dir: Path
    processing_dir: Path
    dropbox: DropboxConfig
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    mail_domain: str = "chanquan.localhost"
    accept_contact_filings: bool = False
    enable_dropbox: bool = True
    enable_smtp: bool = True
    enable_worker: bool = True
    workers: int = 2
    # Processes that load and check filings (0: in the worker threads). Checking is CPU-bound,
    # and threads would serialize on the interpreter lock.
    check_processes: int = field(default_factory=default_check_processes)
    # The `validation.*` settings, for every check (worker processes included); None: validation's defaults.
    rule_options: RuleOptions | None = None
    # The user guide's page on passwords (the portal's /help/login under web.public_url), named in the
    # answer to a 修改密码 mail whose new password the policy refuses; "" names none.
    password_help_url: str = ""


class WorkflowAdapter:
    """What intake asks of the unit tree and the accounts, remembered where every scan asks it."""

    def __init__(self, workflow: Workflow, password_help_url: str = "") -> None:
        self.workflow = workflow
        self.password_help_url = password_help_url
        self._contacts: dict[str, str] = {}
        self._contacts_at = float("-inf")
        self._codes: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def unit_code(self, folder_or_user: str) -> str | None:
        """The unit a drop folder or login names. Every scan asks it for every folder, so answers are
        remembered: a unit found stays found (units are never removed and codes never change), a
        name not found is asked again after a few seconds (a unit added meanwhile is seen then)."""
        now = time.monotonic()
        with self._lock:
            cached = self._codes.get(folder_or_user)
            if cached is not None and (cached[1] is not None or now - cached[0] < UNIT_CACHE_SECONDS):
                return cached[1]
        code = self._lookup_unit_code(folder_or_user)
        with self._lock:
            if len(self._codes) > 100_000:
                self._codes.clear()
            self._codes[folder_or_user] = (now, code)
        return code

    def _lookup_unit_code(self, folder_or_user: str) -> str | None:
        name = normalize_username(folder_or_user)
        units = self.workflow.units
        unit = units.get(name) or units.by_username(name)
        if unit is None or unit.level == 0:
            return None
        return str(unit.code)

    def contact_unit(self, address: str) -> str | None:
        """The unit whose registered filer address this is (refreshed every 30 s)."""
        with self._lock:
            if time.monotonic() - self._contacts_at > 30.0:
                self._contacts = {
                    email.strip().lower(): unit.code
                    for unit in self.workflow.units.all()
                    for email in unit.filer_emails
                }
                self._contacts_at = time.monotonic()
            return self._contacts.get(address.strip().lower())

    def authenticate(self, login: str, password: str) -> AuthOutcome:
        result = self.workflow.accounts.authenticate(normalize_username(login), password)
        if not result.ok:
            return AuthOutcome(ok=False, username=result.username, reason_zh=result.reason_zh)
        filer = self.unit_code(result.username) or result.username
        return AuthOutcome(ok=True, username=result.username, filer=filer, must_change=result.must_change)

    def change_password(self, username: str, old: str, new: str) -> str | None:
        """None when changed; else why not, with where the guide explains the password rules."""
        try:
            self.workflow.accounts.change_password(username, old, new)
        except PasswordPolicyError as exc:
            if self.password_help_url:
                return f"{exc.reason_zh} 密码要求见用户手册：{self.password_help_url}"
            return exc.reason_zh
        return None


class IntakeService:
    """Builds and runs intake; `start()` then `stop()`, or `recover()` + `processor.process` in tests."""

    def __init__(
        self,
        config: IntakeConfig,
        *,
        ledger: Ledger,
        workflow: Workflow,
        confirm_key: bytes,
        check_bundle: CheckBundle | None = None,
    ) -> None:
        """`check_bundle` replaces validation's (tests); the worker processes always run validation's
        own with `config.rule_options`, so give the same options to both."""
        self.config = config
        self.ledger = ledger
        self.port = WorkflowAdapter(workflow, config.password_help_url)
        self.confirmations = Confirmations(confirm_key, config.mail_domain)
        self.processor = Processor(
            ledger,
            workflow,
            check_bundle=check_bundle or self._check_bundle,
            confirmation_request=self.confirmations.request,
            pending_confirmation=self.confirmations.item_for,
        )
        self.receiver = Receiver(ledger, on_recorded=self.processor.enqueue)
        self.spool = MailSpool(config.inbound_dir)
        self.processing = ProcessingArea(config.processing_dir)
        self.recorder = SpoolRecorder(self.spool, self.receiver)
        self.watcher = DropboxWatcher(
            config.dropbox,
            processing=self.processing,
            receiver=self.receiver,
            unit_code=self.port.unit_code,
            report_unknown_folder=self.report_unknown_folder,
        )
        self.gate = MailGate(
            spool=self.spool,
            receiver=self.receiver,
            authenticate=self.port.authenticate,
            change_password=self.port.change_password,
            contact_unit=self.port.contact_unit,
            accept_contact_filings=config.accept_contact_filings,
            recorder=self.recorder,
        )
        self.uploads = UploadDoor(
            ledger,
            workflow,
            self.receiver,
            self.processor,
            unit_code=self.port.unit_code,
            max_bytes=self.max_upload_bytes,
        )
        self.smtp: SmtpServer | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _check_bundle(self, bundle: Bundle, rules: list[Rule]) -> CheckResult:
        return check_bundle(bundle, extra_rules=rules, options=self.config.rule_options)

    @property
    def max_upload_bytes(self) -> int:
        """The largest web submission (all its files together): the SMTP limit, a mail's largest message.
        The portal refuses a larger request body before reading it."""
        return self.config.smtp.max_message_bytes

    def submit_upload(self, upload: Upload) -> SubmissionOutcome:
        """A web submission through the durable path, answered when it is filed (see intake.web)."""
        return self.uploads.submit(upload)

    def report_unknown_folder(self, folder: str) -> None:
        """Once per folder name, ever: a log line for the admins and an event the status shows."""
        with self.ledger.reader() as conn:
            if folder_reported(conn, folder):
                return
        message = f"投递目录中的文件夹“{folder}”不是已登记单位的组织机构代码，其中的文件不会被处理。"
        log.warning(IntakeFolderUnknown.kind, extra={"folder": folder})
        self.ledger.append(IntakeFolderUnknown(folder=folder, message=message), actor="intake", subject=folder)

    def recover(self) -> int:
        """What a crash left: spooled mails and claimed drop items are recorded, pending items queued."""
        recorded = 0
        for path in self.spool.leftovers():
            arrival, raw = MailSpool.read(path)
            if not self.receiver.is_recorded(arrival.item_id):
                self.receiver.record(arrival, raw)
                recorded += 1
            self.spool.discard(path)
        if self.config.enable_dropbox:
            recorded += self.watcher.recover()
        # Recording above enqueued the new ones already; resume() queues all pending, so drain first.
        for source in (self.processor.queue, self.processor.serial_queue):
            while not source.empty():
                source.get_nowait()
        pending = self.processor.resume()
        log.info("intake.recovered", extra={"recorded": recorded, "pending": pending})
        return pending

    def start(self, extra_workers: Sequence[tuple[str, Callable[[threading.Event], None]]] = ()) -> None:
        """Recovers, then runs the worker, the watcher, any extra loop (the outbox sender) and SMTP."""
        self.recover()
        workers: list[tuple[str, Callable[[threading.Event], None]]] = []
        if self.config.enable_worker and self.config.check_processes > 0:
            self.processor.prepare_pool = PreparePool(self.config.check_processes, self.config.rule_options)
        if self.config.enable_worker:
            workers += [(f"intake-worker-{n}", self.processor.run) for n in range(max(1, self.config.workers))]
            workers.append(("intake-replies", self.processor.run_serial))
        if self.config.enable_smtp:
            workers.append(("intake-spool", self.recorder.run))
        if self.config.enable_dropbox:
            workers.append(("intake-dropbox", self.watcher.run))
        workers.extend(extra_workers)
        for name, target in workers:
            thread = threading.Thread(target=self._guarded(name, target), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        if self.config.enable_smtp:
            self.smtp = SmtpServer(self.gate, self.config.smtp)
            self.smtp.start()

    def _guarded(self, name: str, target: Callable[[threading.Event], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target(self._stop)
            except Exception:
                log.exception("intake.thread_crashed", extra={"thread": name})

        return run

    def stop(self, timeout: float = 10.0) -> None:
        """Stops accepting first (SMTP), then the watcher and the worker, and joins them."""
        if self.smtp is not None:
            self.smtp.stop()
            self.smtp = None
        self._stop.set()
        self.watcher.wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        pool, self.processor.prepare_pool = self.processor.prepare_pool, None
        if pool is not None:
            pool.close()
