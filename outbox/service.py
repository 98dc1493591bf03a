"""`Outbox`: the dispatcher, the spool and the sender behind one object for the CLI and `serve`.

Outcomes of delivery attempts become ledger events (mail.sent / mail.deferred /
mail.dead). They are first written to state.sqlite3 and then appended, so that a ledger
that is briefly unavailable (or a crash between the two) delays the record instead of
losing it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from outbox.compose import Composer
from outbox.dispatch import Dispatcher, DispatchError, DispatchReport
from outbox.events import OUTCOME_KINDS
from outbox.notices import NoticeContext
from outbox.ports import Directory, LedgerPort, WorkflowDirectory
from outbox.sender import RetryPolicy, Sender, SendReport
from outbox.spool import FOLDERS, Spool, SpoolEntry
from outbox.state import DeliveryState, OutboxState
from outbox.transport import MaildirDelivery, RelayConfig, SmtpRelay, Transport

log = logging.getLogger(__name__)

ACTOR = "outbox"


@dataclass(frozen=True)
class OutboxConfig:
    """Plain values the application passes down (the outbox never reads chanquan's settings)."""

    mail_domain: str = "chanquan.localhost"
    from_address: str = ""
    from_name: str = "产权登记系统"
    supervisor_name: str = "重庆市国资委"
    relay: RelayConfig | None = None
    maildir: Path | None = None
    dropbox_dir: Path | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    attach_limit_bytes: int = 10 * 1024 * 1024
    reminder_working_days: int = 5
    poll_seconds: float = 1.0
    reminder_check_seconds: float = 3600.0
    templates_dir: Path | None = None
    # every mail's footer: who to call (service.support_*) and where the user guide is (web.public_url + /help)
    support_name: str = ""
    support_phone: str = ""
    support_email: str = ""
    guide_url: str = ""
    timezone: str = "Asia/Shanghai"  # service.timezone: the zone every time in a mail or 回执 is shown in


@dataclass(frozen=True)
class MessageInfo:
    """One spooled message as `outbox list/show` report it."""

    name: str
    folder: str
    message_id: str
    purpose: str
    filing_id: str
    recipients: list[str]
    subject: str
    attempts: int
    next_at: float
    last_error: str


class Outbox:
    def __init__(
        self,
        ledger: LedgerPort,
        workflow: Any,
        spool_dir: Path,
        config: OutboxConfig | None = None,
        *,
        pdf_issuer: Callable[[str], object] | None = None,  # called with an approved filing's id
        directory: Directory | None = None,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
        closers: Iterable[Callable[[], None]] = (),
    ) -> None:
        self._closers = list(closers)
        self.config = config or OutboxConfig()
        cfg = self.config
        self.ledger = ledger
        self.spool = Spool(spool_dir)
        self.state = OutboxState(spool_dir / "state.sqlite3")
        self.composer = Composer(
            cfg.mail_domain,
            cfg.from_address,
            cfg.from_name,
            cfg.templates_dir,
            common={
                "supervisor_name": cfg.supervisor_name,
                "support_name": cfg.support_name,
                "support_phone": cfg.support_phone,
                "support_email": cfg.support_email,
                "guide_url": cfg.guide_url,
            },
            zone=cfg.timezone,
        )
        ctx = NoticeContext(
            ledger, directory or WorkflowDirectory(workflow), cfg.mail_domain, cfg.dropbox_dir, cfg.attach_limit_bytes
        )
        self.dispatcher = Dispatcher(
            ctx,
            self.composer,
            self.spool,
            self.state,
            pdf_issuer=pdf_issuer,
            reminder_working_days=cfg.reminder_working_days,
            clock=clock,
        )
        self.transport = transport or self._default_transport(spool_dir)
        self.sender = Sender(
            self.spool, self.state, self.transport, policy=cfg.retry, on_report=self._record, clock=clock
        )
        self._record_lock = threading.Lock()

    def _default_transport(self, spool_dir: Path) -> Transport:
        cfg = self.config
        if cfg.relay is not None and cfg.relay.host:
            return SmtpRelay(cfg.relay)
        maildir = cfg.maildir or spool_dir.parent / "maildir"
        log.info("outbox.local_delivery", extra={"maildir": str(maildir)})
        return MaildirDelivery(maildir)

    def close(self) -> None:
        """Closes the transport and state, then whatever the opener handed over (issuer, workflow)."""
        self.transport.close()
        self.state.close()
        for close in reversed(self._closers):
            close()
        self._closers.clear()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the three verbs ---------------------------------------------------------------------------
    def dispatch_pending(self) -> int:
        """Turn new ledger events into queued messages and 回执 files; returns messages queued."""
        return self.dispatch_report().queued

    def dispatch_report(self) -> DispatchReport:
        return self.dispatcher.dispatch_pending()

    def send_pending(self) -> int:
        """One sender pass; returns messages delivered. Records outcomes in the ledger."""
        try:
            return self.sender.send_pending()
        finally:
            self.flush_outcomes()

    def send_reminders(self) -> int:
        return self.dispatcher.send_reminders()

    def run(self, stop: threading.Event) -> None:
        """The `serve` loop: dispatch, send, remind, until `stop` is set; errors are logged, never fatal."""
        next_reminders = 0.0
        while not stop.is_set():
            try:
                self.dispatch_pending()
                if time.monotonic() >= next_reminders:
                    self.send_reminders()
                    next_reminders = time.monotonic() + self.config.reminder_check_seconds
                self.send_pending()
            except DispatchError:
                pass  # logged with its event; retried next round
            except Exception:
                log.exception("outbox.loop_failed")
            stop.wait(self.config.poll_seconds)

    # -- outcomes into the ledger -----------------------------------------------------------------
    def _record(self, reports: list[SendReport]) -> None:
        """Outcomes go to state.sqlite3 first (one transaction per group), then to the ledger."""
        rows = []
        for report in reports:
            env = report.entry.envelope
            payload = {
                "message_id": env.message_id,
                "recipient": ", ".join(env.rcpt),
                "purpose": env.purpose,
                "filing_id": env.filing_id,
                "attempt": report.attempt,
                "outcome": report.outcome.detail[:500],
            }
            rows.append((report.kind, env.message_id, payload))
        self.state.add_outcomes(rows)

    def flush_outcomes(self) -> int:
        """Append outcomes waiting in state.sqlite3 to the ledger, in one transaction (also after a crash)."""
        with self._record_lock:
            pending = self.state.outcomes()
            if not pending:
                return 0
            specs = [(OUTCOME_KINDS[kind](**payload), ACTOR, message_id) for _, kind, message_id, payload in pending]
            try:
                self.ledger.append_many(specs)
            except Exception:
                log.exception("outbox.record_failed", extra={"count": len(specs)})
                return 0
            self.state.drop_outcomes([outcome_id for outcome_id, *_ in pending])
            return len(pending)

    # -- inspection and operator actions -------------------------------------------------------------
    def _info(self, entry: SpoolEntry) -> MessageInfo:
        st = self.state.delivery(entry.name)
        env = entry.envelope
        return MessageInfo(
            entry.name,
            entry.folder,
            env.message_id,
            env.purpose,
            env.filing_id,
            list(env.rcpt),
            env.subject,
            st.attempts,
            st.next_at,
            st.last_error,
        )

    def list(self, folders: tuple[str, ...] = FOLDERS) -> list[MessageInfo]:
        return [self._info(entry) for folder in folders for entry in self.spool.entries(folder)]

    def show(self, key: str) -> tuple[MessageInfo, bytes] | None:
        entry = self.spool.find(key)
        if entry is None:
            return None
        return self._info(entry), entry.raw_message()

    def retry(self, key: str) -> MessageInfo | None:
        """A dead or waiting message goes (back) to the queue, due now, with a fresh attempt count."""
        entry = self.spool.find(key)
        if entry is None or entry.folder == "sent":
            return None
        if entry.folder == "dead":
            entry = self.spool.move(entry, "queue")
        self.state.set_delivery(entry.name, DeliveryState(0, 0.0, ""))
        log.info("outbox.retry", extra={"message_id": entry.envelope.message_id, "filing_id": entry.envelope.filing_id})
        return self._info(entry)

    def cursor(self) -> int:
        return self.state.cursor()

    def ledger_size(self) -> int:
        """Seq of the newest ledger event, to show how far the dispatcher is behind."""
        size = getattr(self.ledger, "size", None)
        return int(size()) if callable(size) else 0
