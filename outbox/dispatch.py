"""The dispatcher: the outbox's own durable cursor over the ledger (the transactional outbox).

For each event after the cursor, in order: build its notices, spool every message, write
every 回执 file, and only then advance the cursor. A crash anywhere in between makes the
next run redo the same event, which is harmless: Message-IDs and 回执 file names are
derived from the event, so the spool skips messages it already holds (or has sent) and
a 回执 file already there (written whole, atomically, by the earlier run) is left as it is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ledger.durable import atomic_write_bytes
from ledger.events import EventBody, StoredEvent
from outbox.builders import BUILDERS, FOREIGN_BUILDERS, builder_for
from outbox.compose import CHINA, Composer, MailSpec
from outbox.notices import Notice, NoticeContext
from outbox.review_notices import review_address
from outbox.sender import exclusive_lock
from outbox.spool import Envelope, Spool
from outbox.state import OutboxState, PendingReview
from workflow.events import (
    FilingApproved,
    FilingInvalid,
    FilingReceived,
    FilingReturned,
    FilingWithdrawn,
    ReviewDecided,
    ReviewRequested,
)

log = logging.getLogger(__name__)

GROUP_MESSAGES = 64
GROUP_EVENTS = 500

# Events that end a filing's wait at its current review level.
CLOSING_EVENTS: tuple[type[ReviewDecided | FilingReturned | FilingApproved | FilingWithdrawn | FilingInvalid], ...] = (
    ReviewDecided,
    FilingReturned,
    FilingApproved,
    FilingWithdrawn,
    FilingInvalid,
)
# Every kind the dispatcher acts on; any other event passes by without its payload being parsed.
_READ_KINDS = frozenset(
    {
        *(cls.kind for cls in BUILDERS),
        *FOREIGN_BUILDERS,
        *(cls.kind for cls in CLOSING_EVENTS),
        FilingReceived.kind,
        ReviewRequested.kind,
        FilingApproved.kind,
    }
)


class DispatchError(Exception):
    """Building or spooling the notices of one event failed; the cursor stays before it."""

    def __init__(self, seq: int, kind: str, problem: str) -> None:
        super().__init__(f"event {seq} ({kind}): {problem}")
        self.seq = seq
        self.kind = kind
        self.problem = problem


@dataclass(frozen=True)
class DispatchReport:
    events: int
    queued: int
    files: int


def working_days_between(start: datetime, end: datetime) -> int:
    """Mon–Fri days after `start`'s day up to and including `end`'s day, in China time."""
    first = start.astimezone(CHINA).date()
    last = end.astimezone(CHINA).date()
    days = 0
    current = first + timedelta(days=1)
    while current <= last:
        if current.weekday() < 5:
            days += 1
        current += timedelta(days=1)
    return days


def _as_date(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


class Dispatcher:
    def __init__(
        self,
        ctx: NoticeContext,
        composer: Composer,
        spool: Spool,
        state: OutboxState,
        *,
        pdf_issuer: Callable[[str], object] | None = None,
        reminder_working_days: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ctx = ctx
        self.composer = composer
        self.spool = spool
        self.state = state
        self.pdf_issuer = pdf_issuer
        self.reminder_working_days = reminder_working_days
        self.clock = clock
        self.lock_path = spool.root / "dispatch.lock"

    # -- events -------------------------------------------------------------------------------
    def dispatch_pending(self, limit: int | None = None) -> DispatchReport:
        """Act on every event after the cursor; stops (and raises) at the first event that fails.

        Messages are spooled in groups (one group commit per GROUP_MESSAGES messages or
        GROUP_EVENTS events) and the cursor moves only past events whose messages are all
        spooled, so a crash anywhere re-runs only events whose messages a re-run rewrites
        under the same names.
        """
        events = queued = files = 0
        with exclusive_lock(self.lock_path) as held:
            if not held:
                return DispatchReport(0, 0, 0)
            pending: list[tuple[Envelope, bytes]] = []
            last_seq = 0
            try:
                for ev in self.ctx.ledger.events(after_seq=self.state.cursor()):
                    if limit is not None and events >= limit:
                        break
                    try:
                        messages, f = self._handle(ev)
                    except Exception as exc:
                        log.exception("outbox.dispatch_failed", extra={"seq": ev.seq, "kind": ev.kind})
                        raise DispatchError(ev.seq, ev.kind, f"{type(exc).__name__}: {exc}") from exc
                    pending.extend(messages)
                    last_seq = ev.seq
                    events, files = events + 1, files + f
                    if len(pending) >= GROUP_MESSAGES or events % GROUP_EVENTS == 0:
                        queued += self._commit(pending, last_seq)
                        pending = []
            finally:
                queued += self._commit(pending, last_seq)
        return DispatchReport(events, queued, files)

    def _commit(self, pending: list[tuple[Envelope, bytes]], last_seq: int) -> int:
        written = self.spool.put_many(pending) if pending else []
        for envelope in written:
            log.info(
                "outbox.queued",
                extra={"filing_id": envelope.filing_id, "message_id": envelope.message_id, "purpose": envelope.purpose},
            )
        if last_seq > self.state.cursor():
            self.state.set_cursor(last_seq)
        return len(written)

    def _handle(self, ev: StoredEvent) -> tuple[list[tuple[Envelope, bytes]], int]:
        if ev.kind not in _READ_KINDS:
            return [], 0
        body = ev.body
        self.ctx.saw(ev)
        self._track_reviews(ev, body)
        if isinstance(body, FilingApproved) and self.pdf_issuer is not None:
            self._issue(ev, body)
            return [], 0
        builder = builder_for(body)
        if builder is None:
            return [], 0
        return self.render_notices(builder(self.ctx, ev))

    def _issue(self, ev: StoredEvent, approved: FilingApproved) -> None:
        """The issuer is idempotent and appends document.issued itself, which a later event mails.

        A failure is logged and passed over rather than holding back every later mail:
        the operator can issue the document with `chanquan print` once the cause is fixed.
        """
        assert self.pdf_issuer is not None
        try:
            self.pdf_issuer(approved.filing_id)
        except Exception:
            log.exception("outbox.issue_failed", extra={"filing_id": approved.filing_id, "seq": ev.seq})

    def render_notices(self, notices: list[Notice]) -> tuple[list[tuple[Envelope, bytes]], int]:
        """Compose each notice's message (not yet spooled) and write its 回执 files; (messages, files)."""
        messages = []
        files = 0
        stems: set[str] = set()
        for notice in notices:
            if notice.spec.to:
                messages.append(self.composer.compose(notice.spec))
            if notice.receipt_dir is not None:
                # Two 回执 notices of one event with one label would share a stem: number the later
                # ones (in the builder's fixed order, so a re-run numbers them the same way).
                stem, n = notice.file_stem(), 1
                while stem in stems:
                    n += 1
                    stem = f"{notice.file_stem()}_{n}"
                stems.add(stem)
                files += self._write_receipt(notice, notice.receipt_dir, stem)
        return messages, files

    def _write_receipt(self, notice: Notice, folder: Path, stem: str) -> int:
        """The 回执 copy: the message text, plus each attachment as its own file; files written."""
        subject, text, _ = self.composer.render_parts(notice.spec)
        files = [(folder / f"{stem}.txt", f"{subject}\n\n{text}".encode())]
        for attachment in notice.spec.attachments:
            suffix = Path(attachment.filename).suffix or ".bin"
            label = Path(attachment.filename).stem.removeprefix(f"{notice.spec.filing_id}_")
            files.append((folder / f"{stem}_{label}{suffix}", attachment.data))
        written = 0
        for path, data in files:
            # The name belongs to this notice alone; a file under it is this notice's own, complete
            # (written atomically) by a run that crashed before moving the cursor: never rewritten.
            if not path.exists():
                atomic_write_bytes(path, data)
                written += 1
        log.info(
            "outbox.receipt_written",
            extra={"filing_id": notice.spec.filing_id, "dir": str(folder), "stem": stem, "files": written},
        )
        return written

    # -- reminders ------------------------------------------------------------------------------
    def _track_reviews(self, ev: StoredEvent, body: EventBody) -> None:
        if isinstance(body, ReviewRequested):
            self.state.review_requested(
                body.filing_id,
                round_=body.round,
                level=body.level,
                unit=body.unit,
                reviewers=list(body.reviewers),
                at=ev.ts.timestamp(),
                added=body.reason == "reviewers_added",
            )
        elif isinstance(body, CLOSING_EVENTS):
            self.state.review_closed(body.filing_id)

    def send_reminders(self) -> int:
        """Reviews waiting ≥ N working days get reminder 1; ≥ 2N reminder 2 (copied to the parent unit's contacts)."""
        if self.reminder_working_days <= 0:
            return 0
        now = datetime.fromtimestamp(self.clock(), UTC)
        queued = 0
        with exclusive_lock(self.lock_path) as held:
            if not held:
                return 0
            for review in self.state.pending_reviews():
                requested = datetime.fromtimestamp(review.requested_at, UTC)
                waited = working_days_between(requested, now)
                due = waited // self.reminder_working_days
                if due <= review.reminders:
                    continue
                number = review.reminders + 1
                queued += self._remind(review, number, waited, requested)
                self.state.set_reminders(review.filing_id, review.round, review.level, number)
        return queued

    def _remind(self, review: PendingReview, number: int, waited: int, requested: datetime) -> int:
        ctx = self.ctx
        found = ctx.filing(review.filing_id)
        unit_code = found[1].unit if found else ""
        reviewer_unit = ctx.unit(review.unit)
        parent = ctx.unit(reviewer_unit.parent) if reviewer_unit and reviewer_unit.parent else None
        cc: list[str] = []
        if number >= 2 and parent is not None:
            cc = list(dict.fromkeys([*parent.reviewer_emails, *parent.filer_emails]))
        due_at = datetime.fromtimestamp(self.clock(), UTC)
        base = {
            "unit_name": ctx.unit_name(unit_code),
            "unit_code": unit_code,
            "reviewer_unit_name": reviewer_unit.name if reviewer_unit else review.unit,
            "requested_at": requested,
            "waiting_days": waited,
            "number": number,
            "copied_unit_name": parent.name if cc and parent else "",
        }
        notices = []
        for email in review.reviewers:
            reply = review_address(ctx, review.filing_id, review.round, review.level, email)
            spec = MailSpec(
                purpose="reminder",
                template="reminder",
                to=[email],
                cc=[c for c in cc if c.lower() != email.lower()],
                key=f"remind.{review.filing_id}.r{review.round}.l{review.level}.n{number}",
                date=due_at,
                context={**base, "reply_address": reply},
                filing_id=review.filing_id,
                reply_to=reply,
            )
            notices.append(Notice(spec))
        messages, _ = self.render_notices(notices)
        queued = len(self.spool.put_many(messages))
        log.info("outbox.reminded", extra={"filing_id": review.filing_id, "number": number, "waited": waited})
        return queued
