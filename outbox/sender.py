"""The one sender: takes queued messages oldest first and hands each to the transport.

Only one sender runs at a time, across processes: a pass holds an exclusive, non-blocking
fcntl lock on outbox/sender.lock, and a second process simply finds nothing to do. The
lock is released by the kernel when its holder dies, so a SIGKILLed sender never wedges
the queue.

Guarantee: a message leaves the queue (moved to sent/ or dead/) only after the transport
has answered. A crash after the relay's 250 but before that move is durable sends the
message again on restart with the same bytes and the same Message-ID (at-least-once); SMTP
has no way to ask a relay whether it already took a message. The moves are made durable in
groups (one directory sync and one state transaction per `group_size` messages or
`group_seconds`), which is what makes the sender fast; it widens that window from one
message to one group, without changing the kind of guarantee. The local Maildir is
exactly-once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from outbox.events import MailDead, MailDeferred, MailSent
from outbox.spool import Spool, SpoolEntry
from outbox.state import DeliveryState, OutboxState
from outbox.transport import DeliveryOutcome, Transport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendReport:
    """What one attempt did, handed to whoever records outcomes (the ledger)."""

    entry: SpoolEntry
    kind: str  # MailSent.kind | MailDeferred.kind | MailDead.kind (outbox/events.py)
    outcome: DeliveryOutcome
    attempt: int


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    backoff_base_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0

    def delay(self, attempt: int) -> float:
        """Exponential: base, 2·base, 4·base, ... capped."""
        return float(min(self.backoff_base_seconds * (2 ** max(attempt - 1, 0)), self.backoff_max_seconds))


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[bool]:
    """Yields True while this process holds the lock, False if another process has it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class Sender:
    """Delivers queued messages; outcomes are made durable in groups (see the module docstring)."""

    def __init__(
        self,
        spool: Spool,
        state: OutboxState,
        transport: Transport,
        *,
        policy: RetryPolicy,
        on_report: Callable[[list[SendReport]], None],
        clock: Callable[[], float] = time.time,
        group_size: int = 50,
        group_seconds: float = 1.0,
    ) -> None:
        self.spool = spool
        self.state = state
        self.transport = transport
        self.policy = policy
        self.on_report = on_report
        self.clock = clock
        self.group_size = group_size
        self.group_seconds = group_seconds
        self.lock_path = spool.root / "sender.lock"

    def send_pending(self, limit: int | None = None) -> int:
        """One pass over the queue; returns how many messages were delivered in it."""
        delivered = 0
        with exclusive_lock(self.lock_path) as held:
            if not held:
                log.debug("outbox.sender_busy")
                return 0
            states = self.state.deliveries()
            group: list[tuple[SendReport, DeliveryState]] = []
            started = time.monotonic()
            try:
                for entry in self.spool.entries("queue"):
                    if limit is not None and delivered >= limit:
                        break
                    done = self._attempt(entry, states.get(entry.name, DeliveryState()))
                    if done is None:
                        continue
                    group.append(done)
                    delivered += done[0].kind == MailSent.kind
                    if len(group) >= self.group_size or time.monotonic() - started >= self.group_seconds:
                        self._commit(group)
                        group, started = [], time.monotonic()
            finally:
                self.transport.close()
                self._commit(group)
        return delivered

    def _attempt(self, entry: SpoolEntry, previous: DeliveryState) -> tuple[SendReport, DeliveryState] | None:
        now = self.clock()
        if previous.next_at > now:
            return None
        attempt = previous.attempts + 1
        outcome = self.transport.deliver(entry.envelope, entry.raw_message())
        extra = {"filing_id": entry.envelope.filing_id, "message_id": entry.envelope.message_id, "attempt": attempt}
        if outcome.status == "sent":
            log.info("outbox.sent", extra={**extra, "detail": outcome.detail})
            moved = self.spool.move(entry, "sent", sync=False)
            return SendReport(moved, MailSent.kind, outcome, attempt), DeliveryState(attempt, 0.0, "")
        if outcome.status == "dead" or attempt >= self.policy.max_attempts:
            log.warning("outbox.dead", extra={**extra, "detail": outcome.detail})
            moved = self.spool.move(entry, "dead", sync=False)
            return SendReport(moved, MailDead.kind, outcome, attempt), DeliveryState(attempt, 0.0, outcome.detail)
        next_at = now + self.policy.delay(attempt)
        log.info("outbox.deferred", extra={**extra, "detail": outcome.detail, "next_at": next_at})
        return SendReport(entry, MailDeferred.kind, outcome, attempt), DeliveryState(attempt, next_at, outcome.detail)

    def _commit(self, group: list[tuple[SendReport, DeliveryState]]) -> None:
        """One directory sync and one state transaction for a whole group of attempts."""
        if not group:
            return
        self.spool.sync()
        self.state.set_deliveries([(report.entry.name, state) for report, state in group])
        self.on_report([report for report, _ in group])
