"""Processing of recorded items: an explicit ordered list of small stages per purpose.

Every item starts from its `intake.received` record, so the stages may run again
after a crash: loading and checking are pure, `Workflow.submit` is idempotent on the
item id, and the final `intake.processed` (written together with any rejection in one
transaction) is what stops an item from being resumed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from intake import state
from intake.events import IntakeConfirmed, IntakeProcessed, IntakeRejected, ReviewUnclear
from intake.item import InboundItem, Purpose
from intake.mime import ParsedMail, parse_mail
from intake.prepare import Prepared, PreparePool, prepare_filing
from intake.replies import CONFIRM_ADDRESS, ParsedReply, is_auto_reply, read_reply, review_step, token_from_address
from ledger import Ledger
from ledger.store import EventSpec
from validation.bundle import Bundle
from validation.check import CheckResult
from validation.rules.base import Rule
from workflow.batch import SubmitRequest
from workflow.decisions import ReviewReply
from workflow.tokens import TokenStep
from workflow.views import SubmitOutcome

if TYPE_CHECKING:
    from workflow import Workflow

log = logging.getLogger(__name__)

# Filings taken from the queue at once: enough to share commits and fsyncs, small enough that a
# batch's bundles stay a few megabytes and the second worker keeps getting work.
FILING_BATCH = 64

CheckBundle = Callable[[Bundle, list[Rule]], CheckResult]


@dataclass
class ItemContext:
    """Everything the stages learn about one item; the last stage turns it into events."""

    item: InboundItem
    raw: bytes = b""
    mail: ParsedMail | None = None
    prepared: Prepared | None = None  # a filing: its bundle and check result, or why it is none
    step: TokenStep | None = None  # a reply: the review step its address names, parsed once
    reply: ParsedReply | None = None
    submitted: SubmitOutcome | None = None  # a filing: what workflow made of it
    filing_id: str = ""
    outcome: str = ""
    events: list[EventSpec] = field(default_factory=list)
    done: bool = False

    def finish(self, outcome: str, *extra: EventSpec) -> None:
        self.outcome = outcome
        self.events.extend(extra)
        self.done = True

    def reject(self, code: str, message: str) -> None:
        body = IntakeRejected(
            item_id=self.item.item_id,
            channel=self.item.channel,
            reply_to=self.item.reply_to,
            filer=self.item.filer,
            code=code,
            message=message,
            original_name=self.item.original_name,
        )
        log.info(IntakeRejected.kind, extra={"item_id": self.item.item_id, "code": code})
        self.finish("rejected", (body, "intake", self.item.item_id))

    def take(self, prepared: Prepared) -> None:
        """A prepared filing: kept for the submit, or closed as rejected when there is no bundle."""
        self.prepared = prepared
        if prepared.rejection is not None:
            self.reject(prepared.rejection.code, prepared.rejection.message)

    def filed(self, outcome: SubmitOutcome) -> None:
        self.submitted = outcome
        self.filing_id = outcome.filing_id
        self.finish("filed" if outcome.accepted else "invalid")

    def submit_request(self) -> SubmitRequest:
        prepared = self.prepared
        assert prepared is not None and prepared.bundle is not None and prepared.check_result is not None
        return self.item.submit_request(prepared.bundle, prepared.check_result)


Stage = Callable[["Processor", ItemContext], None]


# -- stages ------------------------------------------------------------------------------------
def read_raw(proc: Processor, ctx: ItemContext) -> None:
    ctx.raw = proc.ledger.blobs.get(ctx.item.raw_blob)


def parse_mail_stage(proc: Processor, ctx: ItemContext) -> None:
    if ctx.item.channel == "smtp":
        ctx.mail = parse_mail(ctx.raw)


def prepare_stage(proc: Processor, ctx: ItemContext) -> None:
    """Load the bundle and run validation's own rules: `workflow.submit` adds the ledger-aware ones
    under its lock, where the tree and the open filings cannot change in between. The same function
    runs in the worker processes (intake.prepare)."""
    ctx.take(prepare_filing(ctx.item.channel, ctx.item.original_name, ctx.raw, proc.check))


def submit_stage(proc: Processor, ctx: ItemContext) -> None:
    ctx.filed(proc.workflow.submit_many([ctx.submit_request()])[0])


def ignore_auto_reply_stage(proc: Processor, ctx: ItemContext) -> None:
    assert ctx.mail is not None
    if is_auto_reply(ctx.mail) or not ctx.item.sender:
        log.info("intake.auto_reply_ignored", extra={"item_id": ctx.item.item_id})
        ctx.finish("ignored")


def read_reply_stage(proc: Processor, ctx: ItemContext) -> None:
    assert ctx.mail is not None
    ctx.reply = read_reply(ctx.mail)
    ctx.step = review_step(ctx.item.recipient)
    ctx.filing_id = ctx.step.filing_id if ctx.step else ""


def decide_stage(proc: Processor, ctx: ItemContext) -> None:
    assert ctx.mail is not None and ctx.reply is not None
    sender = ctx.mail.from_addr or ctx.item.sender
    if ctx.reply.decision is None:
        # Contradictory, negated or questioning first lines land here too: asked again, never guessed.
        step = ctx.step.readable if ctx.step else ""
        reason = str(ctx.reply.unclear or "")
        log.info("intake.reply_unclear", extra={"item_id": ctx.item.item_id, "step": step, "reason": reason})
        with proc.ledger.reader() as conn:
            answered = state.unclear_answered(conn, sender, step)
        if answered:
            ctx.finish("unclear-again")  # loop guard: one answer per sender and step
            return
        unclear = ReviewUnclear(
            filing_id=ctx.filing_id,
            step=step,
            sender=sender,
            message_id=ctx.mail.message_id,
            item_id=ctx.item.item_id,
            reason=reason,
        )
        ctx.finish("unclear", (unclear, sender, ctx.filing_id or ctx.item.item_id))
        return
    reply = ReviewReply(
        step=ctx.step,
        sender=sender,
        decision=ctx.reply.decision,
        opinion=ctx.reply.opinion,
        mail_blob=ctx.item.raw_blob,
        message_id=ctx.mail.message_id,
    )
    ctx.finish("decided" if proc.workflow.decide_reply(reply).applied else "refused")


def confirm_stage(proc: Processor, ctx: ItemContext) -> None:
    """A confirmation reply files the pending contact filing it names, if it comes from the same address."""
    assert ctx.mail is not None
    token = token_from_address(ctx.item.recipient, CONFIRM_ADDRESS) or ""
    sender = (ctx.mail.from_addr or ctx.item.sender).lower()
    pending_id = proc.pending_confirmation(token, sender)
    with proc.ledger.reader() as conn:
        pending = state.get_item(conn, pending_id) if pending_id else None
    if pending is None or pending.sender.lower() != sender:
        ctx.finish("confirmation-refused")
        return
    confirmed = IntakeConfirmed(item_id=pending.item_id, confirmation_item_id=ctx.item.item_id, sender=sender)
    # The pending item was closed as awaiting confirmation; its filing is made now, under its own
    # item id (submit is idempotent on it), and closed by this confirmation item's record.
    inner = ItemContext(item=pending)
    proc.run_stages(inner, FILING_STAGES)
    ctx.filing_id = inner.filing_id
    ctx.finish("confirmed" if inner.outcome != "rejected" else "confirmed-rejected", *inner.events)
    ctx.events.append((confirmed, sender, pending.item_id))


def request_confirmation_stage(proc: Processor, ctx: ItemContext) -> None:
    """Contact filings wait for the registered address to confirm (the Mailman way)."""
    ctx.finish("awaiting-confirmation", proc.confirmation_request(ctx.item))


# Everything before the submit is pure: a batch of filings runs these one by one, then submits together.
PREPARE_FILING_STAGES: tuple[Stage, ...] = (read_raw, prepare_stage)
FILING_STAGES: tuple[Stage, ...] = (*PREPARE_FILING_STAGES, submit_stage)
REPLY_STAGES: tuple[Stage, ...] = (read_raw, parse_mail_stage, ignore_auto_reply_stage, read_reply_stage, decide_stage)
CONFIRMATION_STAGES: tuple[Stage, ...] = (read_raw, parse_mail_stage, ignore_auto_reply_stage, confirm_stage)
CONTACT_FILING_STAGES: tuple[Stage, ...] = (request_confirmation_stage,)

STAGES_BY_PURPOSE: dict[Purpose, Sequence[Stage]] = {
    "filing": FILING_STAGES,
    "review_reply": REPLY_STAGES,
    "confirmation": CONFIRMATION_STAGES,
    "contact_filing": CONTACT_FILING_STAGES,
}


class Processor:
    """Runs items through their stages; `run(stop)` is the worker loop of `chanquan serve`."""

    def __init__(
        self,
        ledger: Ledger,
        workflow: Workflow,
        *,
        check_bundle: CheckBundle,
        confirmation_request: Callable[[InboundItem], EventSpec],
        pending_confirmation: Callable[[str, str], str],
    ) -> None:
        self.ledger = ledger
        self.workflow = workflow
        self.check_bundle = check_bundle
        self.confirmation_request = confirmation_request
        self.pending_confirmation = pending_confirmation
        self.queue: queue.Queue[str] = queue.Queue()
        self.prepare_pool: PreparePool | None = None  # set while the service runs with worker processes
        self.serial_queue: queue.Queue[str] = queue.Queue()
        self._in_flight: set[str] = set()
        self._in_flight_lock = threading.Lock()
        # Replies and confirmations run one at a time: their once-only guards (one unclear answer
        # per sender and step) are read before the events are written.
        self._serial = threading.Lock()

    def check(self, bundle: Bundle) -> CheckResult:
        """Validation's own rules (the ledger-aware ones are workflow's, at submit)."""
        return self.check_bundle(bundle, [])

    def enqueue(self, item_id: str, purpose: str = "filing") -> None:
        """Filings go to the parallel workers; replies and confirmations to the one ordered worker,
        so that reviewers' answers are applied in the order they were received."""
        (self.queue if purpose == "filing" else self.serial_queue).put(item_id)

    def resume(self) -> int:
        """Queues every item received but not processed (what a crash left behind)."""
        with self.ledger.reader() as conn:
            pending = state.pending_items(conn)
        for item_id, purpose in pending:
            self.enqueue(item_id, purpose)
        return len(pending)

    def run_stages(self, ctx: ItemContext, stages: Sequence[Stage]) -> None:
        for stage in stages:
            stage(self, ctx)
            if ctx.done:
                return

    def commit_many(self, contexts: Sequence[ItemContext]) -> None:
        """Every item's closing events in one transaction (one commit per batch, not per item)."""
        specs: list[EventSpec] = []
        for ctx in contexts:
            processed = IntakeProcessed(item_id=ctx.item.item_id, filing_id=ctx.filing_id, outcome=ctx.outcome)
            specs.extend([*ctx.events, (processed, "intake", ctx.item.item_id)])
        self.ledger.append_many(specs)
        for ctx in contexts:
            log.info(
                IntakeProcessed.kind,
                extra={"item_id": ctx.item.item_id, "filing_id": ctx.filing_id, "outcome": ctx.outcome},
            )

    def process(self, item_id: str) -> str | None:
        """Runs one item to its end; None when it is unknown, already processed or in progress."""
        return self.process_many([item_id]).get(item_id)

    def process_many(self, item_ids: Sequence[str]) -> dict[str, str]:
        """Runs items to their end; the outcome of each item that was run (not unknown, processed or busy)."""
        return {item_id: ctx.outcome for item_id, ctx in self.run_items(item_ids).items() if ctx.outcome}

    def run_items(self, item_ids: Sequence[str]) -> dict[str, ItemContext]:
        """Runs items to their end; the context of each item that was run (not unknown, processed or busy).
        A context without an outcome failed unexpectedly: logged, and left open (resumed at start).

        Several workers may run different batches at once (checking is CPU, submitting is
        mostly fsync); the same item never runs twice at the same time. Filings are prepared
        one by one, submitted together (`workflow.submit_many`) and closed in one commit;
        replies and confirmations run one at a time under the serial lock, in order.
        """
        with self._in_flight_lock:
            mine = list(dict.fromkeys(i for i in item_ids if i not in self._in_flight))
            self._in_flight.update(mine)
        try:
            with self.ledger.reader() as conn:
                found = [state.get_item(conn, item_id) for item_id in mine]
                items = [item for item in found if item is not None and not state.is_processed(conn, item.item_id)]
            contexts: dict[str, ItemContext] = {}
            filings = [item for item in items if item.purpose == "filing"]
            if filings:
                contexts.update((ctx.item.item_id, ctx) for ctx in self._process_filings(filings))
            for item in items:
                if item.purpose != "filing":
                    with self._serial:
                        contexts[item.item_id] = self._process(item)
            return contexts
        finally:
            with self._in_flight_lock:
                self._in_flight.difference_update(mine)

    def _process_filings(self, items: Sequence[InboundItem]) -> list[ItemContext]:
        """Prepared one by one (or in the worker processes), submitted together, closed in one commit."""
        contexts: list[ItemContext] = []
        for item, prepared in zip(items, self._prepare_in_pool(items), strict=True):
            ctx = ItemContext(item=item)
            contexts.append(ctx)
            try:
                if prepared is not None:
                    ctx.take(prepared)
                else:
                    self.run_stages(ctx, PREPARE_FILING_STAGES)
            except Exception:
                log.exception("intake.processing_failed", extra={"item_id": item.item_id})  # resumed at start
        ready = [ctx for ctx in contexts if not ctx.done and ctx.prepared is not None]
        if len(ready) > 1:
            try:
                outcomes = self.workflow.submit_many([ctx.submit_request() for ctx in ready])
            except Exception:
                # one filing the ledger refuses must not hold back the others: submit them one by one
                log.exception("intake.batch_submit_failed", extra={"items": len(ready)})
            else:
                for ctx, outcome in zip(ready, outcomes, strict=True):
                    ctx.filed(outcome)
        for ctx in contexts:
            if not ctx.done and ctx.prepared is not None:
                try:
                    submit_stage(self, ctx)
                except Exception:
                    log.exception("intake.processing_failed", extra={"item_id": ctx.item.item_id})
        closed = [ctx for ctx in contexts if ctx.done]
        if closed:
            self.commit_many(closed)
        return contexts

    def _prepare_in_pool(self, items: Sequence[InboundItem]) -> list[Prepared | None]:
        """Load and check in the worker processes when there are some; None = do it in this thread."""
        pool = self.prepare_pool
        if pool is None:
            return [None] * len(items)
        return pool.prepare([(i.channel, i.original_name, self.ledger.blobs.path(i.raw_blob)) for i in items])

    def _process(self, item: InboundItem) -> ItemContext:
        ctx = ItemContext(item=item)
        with self.ledger.reader() as conn:
            if state.is_processed(conn, item.item_id):
                ctx.outcome = "already-processed"
                return ctx
        stages = STAGES_BY_PURPOSE.get(item.purpose)
        if stages is None:
            ctx.finish("unknown-purpose")
        else:
            self.run_stages(ctx, stages)
            if not ctx.done:
                ctx.finish("filed")
        self.commit_many([ctx])
        return ctx

    def run(self, stop: threading.Event) -> None:
        """Filing worker loop, a batch of waiting filings at a time: an item that fails unexpectedly is
        logged and retried at the next start."""
        self._loop(self.queue, stop, FILING_BATCH)

    def run_serial(self, stop: threading.Event) -> None:
        """The one worker for replies and confirmations, in the order they were received."""
        self._loop(self.serial_queue, stop)

    def _loop(self, source: queue.Queue[str], stop: threading.Event, batch: int = 1) -> None:
        while not stop.is_set():
            try:
                item_ids = [source.get(timeout=0.2)]
            except queue.Empty:
                continue
            while len(item_ids) < batch:
                try:
                    item_ids.append(source.get_nowait())
                except queue.Empty:
                    break
            try:
                self.process_many(item_ids)
            except Exception:
                log.exception("intake.processing_failed", extra={"item_ids": item_ids})

    def idle(self) -> bool:
        """Nothing queued and nothing running (benchmarks and tests wait for this)."""
        with self._in_flight_lock:
            busy = bool(self._in_flight)
        return not busy and self.queue.empty() and self.serial_queue.empty()
