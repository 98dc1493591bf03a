"""The workflow: filings in, reviewer decisions, withdrawals — each step a ledger event.

Every state-changing call runs under one re-entrant lock and re-reads the state inside
it before appending, so check-then-append is atomic within the process (the serve process
is the only one that submits and decides; see docs/workflow.md). The state comes from the
`wf_filings` projection, which the ledger updates in the same transaction as each event
and which is folded by the same pure `machine.apply` a replay uses.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ledger import Ledger
from validation.bundle import Bundle
from validation.findings import Finding
from validation.model import Registration
from validation.rules.base import Rule, RuleContext
from workflow import machine
from workflow.accounts import AccountStore, PasswordPolicy, ScryptParams, normalize_username
from workflow.batch import MemoUnits, SubmitRequest, rounds
from workflow.config import WorkflowConfig
from workflow.events import (
    AccountLocked,
    AccountPasswordChanged,
    AccountReset,
    FilingApproved,
    FilingInvalid,
    FilingReceived,
    FilingReturned,
    FilingWithdrawn,
    ReviewDecided,
    ReviewRefused,
    ReviewRequested,
)
from workflow.machine import FilingState, FilingStatus, RefusalCode, ReviewDecision
from workflow.projections import load_filing
from workflow.queries import Queries
from workflow.refusals import Reply, token_owner
from workflow.registry import ADMIN, EventSpec, UnitRegistry
from workflow.rules import (
    backfill_findings,
    finding_json,
    findings_key,
    merge_findings,
    no_reviewer_finding,
    open_filing_findings,
    period_of,
    subject_code,
    tree_findings,
)
from workflow.tokens import make_token, normalize_email, parse_token, token_matches
from workflow.units import Unit, UnitsView
from workflow.views import DecisionOutcome, SubmitOutcome
from workflow.who import next_reviewer, review_anchor

log = logging.getLogger(__name__)
SYSTEM = "chanquan"

Annotator = Callable[[bytes, list[Finding]], bytes]


class WorkflowError(Exception):
    """A request the workflow refuses (e.g. withdrawing an approved filing); `message_zh` says why."""

    def __init__(self, message_zh: str, filing_id: str = "") -> None:
        super().__init__(message_zh)
        self.message_zh = message_zh
        self.filing_id = filing_id


def _annotate(workbook: bytes, findings: list[Finding]) -> bytes:
    from validation.annotate import annotate_workbook

    return annotate_workbook(workbook, findings)


class Workflow(Queries):
    """Units, accounts and the review of filings for one ledger."""

    units: UnitRegistry

    def __init__(
        self,
        ledger: Ledger,
        *,
        accounts_db: Path,
        token_key: bytes,
        settings: WorkflowConfig | None = None,
        scrypt: ScryptParams | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        annotator: Annotator = _annotate,
        owns_ledger: bool = False,
    ) -> None:
        self._owns_ledger = owns_ledger
        self.settings = settings or WorkflowConfig()
        self.ledger = ledger
        self._token_key = token_key
        self._clock = clock
        self._annotator = annotator
        self._lock = threading.RLock()
        self.accounts = AccountStore(
            accounts_db,
            policy=PasswordPolicy(min_length=self.settings.min_password_length),
            lockout_failures=self.settings.lockout_failures,
            lockout_window=timedelta(minutes=self.settings.lockout_window_minutes),
            is_known=lambda name: self.units.by_username(name) is not None,
            notify=self._account_fact,
            scrypt=scrypt,
            clock=clock,
            read_only=ledger.read_only,  # a workflow over a read-only ledger only looks (chanquan.app)
        )
        self.units = UnitRegistry(
            ledger,
            self.accounts,
            root_code=self.settings.supervisor_code,
            root_name=self.settings.supervisor_name,
            lock=self._lock,
            on_contacts_changed=self._reviewers_added,
            on_moved=self._restart_after_move,
        )
        super().__init__(ledger, self.units)

    def close(self) -> None:
        """Closes the credentials database, and the ledger when it was opened for this workflow."""
        self.accounts.close()
        if self._owns_ledger:
            self.ledger.close()

    def __enter__(self) -> Workflow:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- accounts -------------------------------------------------------------------------

    def _account_fact(self, kind: str, username: str, extra: dict[str, object]) -> None:
        body: AccountLocked | AccountPasswordChanged | AccountReset
        if kind == "account.locked":
            body = AccountLocked(username=username, failures=int(str(extra["failures"])), until=str(extra["until"]))
        elif kind == "account.password_changed":
            body = AccountPasswordChanged(username=username)
        else:
            body = AccountReset(username=username)
        self.ledger.append(body, actor=username if kind != "account.reset" else ADMIN, subject=username)

    # -- tokens ---------------------------------------------------------------------------

    def review_token(self, filing_id: str, round: int, level: int, reviewer_email: str) -> str:
        """The reply-address token for one reviewer of one step; computed, never stored."""
        return make_token(self._token_key, filing_id, round, level, reviewer_email)

    # -- ledger-aware rules ---------------------------------------------------------------

    def ledger_rules(self, filer: str, units: UnitsView | None = None) -> list[Rule]:
        """Rules intake passes to `check_bundle(extra_rules=...)` for a filing by `filer`."""
        code = normalize_username(filer)
        view = units or self.units

        def tree_rule(ctx: RuleContext) -> list[Finding]:
            return list(tree_findings(view, code, ctx.registration))

        def backfill_rule(ctx: RuleContext) -> list[Finding]:
            subject = subject_code(code, ctx.registration)
            return list(backfill_findings(ctx.registration, self.last_approved(subject)))

        def open_filing_rule(ctx: RuleContext) -> list[Finding]:
            subject = subject_code(code, ctx.registration)
            return list(
                open_filing_findings(
                    ctx.registration, view.get(subject), self._open_filing(subject, period_of(ctx.registration))
                )
            )

        return [tree_rule, backfill_rule, open_filing_rule]

    def _ledger_findings(self, filer: str, registration: Registration, units: UnitsView | None = None) -> list[Finding]:
        context = RuleContext(registration=registration)
        found: list[Finding] = []
        for rule in self.ledger_rules(filer, units):
            found.extend(rule(context))
        return found

    # -- submit ---------------------------------------------------------------------------

    def submit(
        self,
        item_id: str,
        *,
        filer: str,
        channel: str,
        reply_to: str,
        bundle: Bundle,
        check_result: Any,
        original_name: str = "",
        message_id: str = "",
    ) -> SubmitOutcome:
        """Record a filing: received, then invalid or the first review request. Idempotent on item_id.

        `original_name` (what the filer sent) and `message_id` (their mail) are only recorded, so
        that the answers can name the bundle and thread under the mail.
        """
        request = SubmitRequest(item_id, filer, channel, reply_to, bundle, check_result, original_name, message_id)
        return self.submit_many([request])[0]

    def submit_many(self, requests: Sequence[SubmitRequest]) -> list[SubmitOutcome]:
        """`submit` for several filings, with the same outcomes as submitting them one by one in order.

        The blobs are written in one `put_many` before the lock (content-addressed and idempotent,
        so concurrent submits only serialize on the checks and the append); under the lock each round
        of filings that cannot see each other (workflow.batch.rounds) is one `append_many`.
        """
        if not requests:
            return []
        datas = [
            data
            for request in requests
            for data in (
                request.bundle.workbook_bytes,
                *(request.bundle.attachments[name] for name in sorted(request.bundle.attachments)),
            )
        ]
        stored = dict(zip(datas, self.ledger.blobs.put_many(datas), strict=True))
        annotated = [
            self._annotate_early(r.item_id, normalize_username(r.filer), r.bundle, r.check_result) for r in requests
        ]
        keys = [(r.item_id, subject_code(normalize_username(r.filer), r.check_result.registration)) for r in requests]
        outcomes: dict[int, SubmitOutcome] = {}
        with self._lock:
            for indexes in rounds(keys):
                specs: list[EventSpec] = []
                new_ids = self._filing_ids()
                units = MemoUnits(self.units)  # the tree cannot change while the lock is held
                submitted = self._items_submitted([requests[index].item_id for index in indexes])
                for index in indexes:
                    outcome, made = self._submit_locked(
                        requests[index], stored, annotated[index], new_ids, units, submitted=submitted
                    )
                    outcomes[index] = outcome
                    specs.extend(made)
                if specs:
                    self.ledger.append_many(specs)
        ordered = [outcomes[index] for index in range(len(requests))]
        for outcome in ordered:
            if not outcome.duplicate:
                log.info(
                    "filing.received",
                    extra={"filing_id": outcome.filing_id, "state": outcome.state, "round": outcome.round},
                )
        return ordered

    def _submit_locked(
        self,
        request: SubmitRequest,
        stored: dict[bytes, str],
        annotated: dict[tuple[tuple[str, ...], ...], str],
        new_ids: Iterator[str],
        units: UnitsView,
        *,
        submitted: set[str],
    ) -> tuple[SubmitOutcome, list[EventSpec]]:
        """One filing's events, judged against the current state (the caller holds the lock);
        `submitted` holds the item ids of the round that were filed before."""
        earlier = self._outcome_for_item(request.item_id) if request.item_id in submitted else None
        if earlier is not None:
            return earlier, []
        bundle, check_result = request.bundle, request.check_result
        filer_code = normalize_username(request.filer)
        registration: Registration | None = check_result.registration
        findings = list(check_result.findings)
        if registration is not None:
            findings = merge_findings(findings, self._ledger_findings(filer_code, registration, units))
        subject = subject_code(filer_code, registration)
        period = period_of(registration)
        resumed = self._resumable_filing(subject, period, filer_code)
        filing_id, round_no = (resumed.filing_id, resumed.round + 1) if resumed else (next(new_ids), 1)
        errors = [f for f in findings if f.is_error]
        received = FilingReceived(
            filing_id=filing_id,
            round=round_no,
            unit=subject,
            filer=filer_code,
            period=period,
            channel=request.channel,
            reply_to=request.reply_to,
            registration=registration.to_canonical() if registration is not None else None,
            workbook_blob=stored[bundle.workbook_bytes],
            attachment_blobs=[stored[bundle.attachments[name]] for name in sorted(bundle.attachments)],
            item_id=request.item_id,
            warnings=[finding_json(f) for f in findings if not f.is_error],
            original_name=request.original_name,
            workbook_name=bundle.original_names.get(bundle.workbook_name, bundle.workbook_name),
            attachment_names=[bundle.original_names.get(name, name) for name in sorted(bundle.attachments)],
            message_id=request.message_id,
        )
        specs: list[EventSpec] = [(received, filer_code, filing_id)]
        review_unit = ""
        first = None
        if not errors and registration is not None:
            first = self._first_reviewer(subject, filer_code, units=units)
        if errors or registration is None or first is None:
            if not errors:
                errors = [no_reviewer_finding(subject)]
                findings = findings + errors
            specs.append(
                (
                    FilingInvalid(
                        filing_id=filing_id,
                        round=round_no,
                        findings=[finding_json(f) for f in findings],
                        annotated_blob=annotated.get(findings_key(findings))
                        or self.ledger.blobs.put(self._annotated(bundle.workbook_bytes, findings, filing_id)),
                    ),
                    SYSTEM,
                    filing_id,
                )
            )
            state = FilingStatus.INVALID
        else:
            review_unit = first.code
            specs.append((self._request(filing_id, round_no, 1, first, "submitted"), SYSTEM, filing_id))
            state = FilingStatus.IN_REVIEW
        outcome = SubmitOutcome(
            item_id=request.item_id,
            filing_id=filing_id,
            round=round_no,
            state=str(state),
            findings=findings,
            review_unit=review_unit,
        )
        return outcome, specs

    def _annotate_early(
        self, item_id: str, filer: str, bundle: Bundle, check_result: Any
    ) -> dict[tuple[tuple[str, ...], ...], str]:
        """The annotated workbook of a filing that will most likely be invalid, made outside the lock.

        Annotating takes tens of milliseconds; doing it before the lock keeps decisions flowing.
        The findings are recomputed under the lock; the blob is used only if they are the same.
        """
        registration: Registration | None = check_result.registration
        findings = list(check_result.findings)
        if not any(f.is_error for f in findings):
            # Most likely valid: not worth the ledger rules twice. Should they find an error after
            # all, the workbook is annotated under the lock instead (same result, rarely).
            return {}
        if registration is not None:
            findings = merge_findings(findings, self._ledger_findings(filer, registration))
        annotated = self._annotated(bundle.workbook_bytes, findings, item_id)
        return {findings_key(findings): self.ledger.blobs.put(annotated)}

    def _annotated(self, workbook: bytes, findings: list[Finding], filing_id: str) -> bytes:
        try:
            return self._annotator(workbook, findings)
        except Exception:  # an unreadable workbook cannot be annotated; the findings still go out
            log.warning("filing.annotate_failed", extra={"filing_id": filing_id}, exc_info=True)
            return workbook

    def _items_submitted(self, item_ids: Sequence[str]) -> set[str]:
        """Which of these items were filed already: one query per round instead of one per filing."""
        found: set[str] = set()
        with self.ledger.reader() as conn:
            for start in range(0, len(item_ids), 500):
                chunk = list(item_ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT item_id FROM wf_items WHERE item_id IN ({marks})", chunk)
                found.update(str(row[0]) for row in rows)
        return found

    def _outcome_for_item(self, item_id: str) -> SubmitOutcome | None:
        with self.ledger.reader() as conn:
            row = conn.execute("SELECT filing_id, round FROM wf_items WHERE item_id = ?", (item_id,)).fetchone()
        if row is None:
            return None
        filing_id, round_no = str(row[0]), int(row[1])
        findings: list[Finding] = []
        state = FilingStatus.IN_REVIEW
        review_unit = ""
        for event in self.ledger.events(subject=filing_id):
            if event.payload.get("round") != round_no:
                continue
            if event.kind == "filing.invalid":
                state = FilingStatus.INVALID
                findings = [Finding.from_json(f) for f in event.payload["findings"]]
            elif event.kind == "filing.received" and event.payload.get("item_id") == item_id:
                findings = [Finding.from_json(f) for f in event.payload.get("warnings", [])]
            elif event.kind == "review.requested" and event.payload["level"] == 1 and not review_unit:
                review_unit = event.payload["unit"]
        return SubmitOutcome(item_id, filing_id, round_no, str(state), findings, review_unit, duplicate=True)

    def _resumable_filing(self, unit: str, period: str, filer: str) -> FilingState | None:
        """A returned filing of this unit and period (or an invalid one by the same filer) gets the next round."""
        with self.ledger.reader() as conn:
            row = conn.execute(
                "SELECT filing_id FROM wf_filings WHERE unit = ? AND period = ?"
                " AND (status = ? OR (status = ? AND filer = ?))"
                " ORDER BY received_at DESC, filing_id DESC LIMIT 1",
                (unit, period, FilingStatus.RETURNED.value, FilingStatus.INVALID.value, filer),
            ).fetchone()
            return None if row is None else load_filing(conn, str(row[0]))

    def _open_filing(self, unit: str, period: str) -> str | None:
        with self.ledger.reader() as conn:
            row = conn.execute(
                "SELECT filing_id FROM wf_filings WHERE unit = ? AND period = ? AND status IN (?, ?) LIMIT 1",
                (unit, period, FilingStatus.RECEIVED.value, FilingStatus.IN_REVIEW.value),
            ).fetchone()
        return None if row is None else str(row[0])

    def _next_filing_id(self) -> str:
        return next(self._filing_ids())

    def _filing_ids(self) -> Iterator[str]:
        """Unused filing ids in order, from the projection as it is at the first `next`."""
        year = self._clock().year
        prefix = f"{self.settings.filing_prefix}{year}-"
        with self.ledger.reader() as conn:
            row = conn.execute(
                "SELECT max(CAST(substr(filing_id, ?) AS INTEGER)) FROM wf_filings WHERE filing_id LIKE ?",
                (len(prefix) + 1, prefix + "%"),
            ).fetchone()
        serial = int(row[0] or 0) + 1
        while True:
            yield f"{prefix}{serial:06d}"
            serial += 1

    def _first_reviewer(
        self, subject: str, filer: str, moved: tuple[str, Unit] | None = None, units: UnitsView | None = None
    ) -> Unit | None:
        view = units or self.units
        unit = view.get(subject)
        if unit is None:
            return None
        anchor = review_anchor(view, unit, filer)
        if moved is not None and anchor.code == moved[0]:
            anchor = Unit(**{**anchor.__dict__, "parent": moved[1].code})
        return next_reviewer(view, anchor, filer)

    @staticmethod
    def _request(filing_id: str, round_no: int, level: int, unit: Unit, reason: str) -> ReviewRequested:
        return ReviewRequested(
            filing_id=filing_id,
            round=round_no,
            level=level,
            unit=unit.code,
            reviewers=unit.reviewer_emails,
            reason=reason,
        )

    # -- decisions ------------------------------------------------------------------------

    def decide(
        self,
        token: str,
        from_addr: str,
        decision: ReviewDecision,
        opinion: str,
        mail_blob: str = "",
        *,
        message_id: str = "",
    ) -> DecisionOutcome:
        """Apply a reviewer's 通过/退回, or record why not (review.refused); never raises for a bad reply.

        A refusal carries a stable code and what the answer to the sender needs (`message_id` of
        the reply threads it), because the outbox answers every refusal from the event alone.
        """
        sender = normalize_email(from_addr)
        step = parse_token(token)
        reply = Reply(token, sender, decision, message_id)
        with self._lock:
            if step is None:
                invalid = "此审核回复地址无效（无法识别），本次回复不予处理。"
                return self._refuse(reply.refused("", invalid, RefusalCode.INVALID_TOKEN))
            state = self._state(step.filing_id)
            if state is None:
                unknown = f"此审核回复地址无效（申报 {step.filing_id} 不存在），本次回复不予处理。"
                return self._refuse(reply.refused(step.filing_id, unknown, RefusalCode.UNKNOWN_FILING))
            if not token_matches(self._token_key, step, sender):
                requests = self.ledger.events(subject=step.filing_id, kind="review.requested")
                issued_to = token_owner(self._token_key, step, (e.payload for e in requests))
                if issued_to is None:  # matches nobody who was asked: damaged or forged, not the wrong mailbox
                    invalid = "此审核回复地址无效，本次回复不予处理。"
                    return self._refuse(reply.refused(step.filing_id, invalid, RefusalCode.INVALID_TOKEN))
                wrong = "发件人地址与该审核回复地址不符（审核邮件只能由收件审核人本人回复）。"
                return self._refuse(
                    reply.refused(step.filing_id, wrong, RefusalCode.WRONG_SENDER, addressed_to=issued_to)
                )
            unit = self.units.get(state.review_unit) if state.review_unit else None
            refusal = machine.check_decision(
                state,
                round_no=step.round,
                level=step.level,
                sender=sender,
                unit_reviewers=unit.reviewer_emails if unit else [],
                unit_name=unit.label if unit else "该单位",
                decision=decision,
                opinion=opinion,
            )
            if refusal is not None or unit is None:
                refusal = refusal or machine.Refusal("该申报当前没有待审核环节，本次回复不予处理。")
                return self._refuse(
                    reply.refused(step.filing_id, refusal.reason_zh, refusal.code, earlier=refusal.earlier)
                )
            specs: list[EventSpec] = [
                (
                    ReviewDecided(
                        filing_id=state.filing_id,
                        round=state.round,
                        level=state.level,
                        unit=unit.code,
                        reviewer=sender,
                        decision=decision.value,
                        opinion=opinion.strip(),
                        mail_blob=mail_blob,
                    ),
                    sender,
                    state.filing_id,
                )
            ]
            next_unit = ""
            if decision == ReviewDecision.RETURN:
                returned = FilingReturned(
                    filing_id=state.filing_id,
                    round=state.round,
                    level=state.level,
                    opinion=opinion.strip(),
                    by=unit.code,
                )
                specs.append((returned, sender, state.filing_id))
                new_state = FilingStatus.RETURNED
            else:
                above = next_reviewer(self.units, unit, state.filer)
                if above is not None:
                    specs.append(
                        (
                            self._request(state.filing_id, state.round, state.level + 1, above, "approved_below"),
                            SYSTEM,
                            state.filing_id,
                        )
                    )
                    next_unit = above.code
                    new_state = FilingStatus.IN_REVIEW
                else:
                    approved = FilingApproved(
                        filing_id=state.filing_id, round=state.round, unit=state.unit, period=state.period
                    )
                    specs.append((approved, sender, state.filing_id))
                    new_state = FilingStatus.APPROVED
            self.ledger.append_many(specs)
        log.info("review.decided", extra={"filing_id": state.filing_id, "decision": decision.value})
        return DecisionOutcome(
            applied=True,
            filing_id=state.filing_id,
            decision=decision.value,
            state=str(new_state),
            next_unit=next_unit,
        )

    def _refuse(self, body: ReviewRefused) -> DecisionOutcome:
        self.ledger.append(body, actor=body.sender or "unknown", subject=body.filing_id)
        log.warning("review.refused", extra={"filing_id": body.filing_id, "code": body.code})
        return DecisionOutcome(applied=False, filing_id=body.filing_id, reason_zh=body.reason, code=body.code)

    def _state(self, filing_id: str) -> FilingState | None:
        with self.ledger.reader() as conn:
            return load_filing(conn, filing_id.upper())

    # -- withdrawal and tree changes ------------------------------------------------------

    def withdraw(self, filing_id: str, *, reason: str = "", by: str = ADMIN) -> None:
        """The filer (through an admin) takes a filing back; its pending step's tokens go stale."""
        with self._lock:
            state = self._state(filing_id)
            if state is None:
                raise WorkflowError(f"申报 {filing_id} 不存在。", filing_id)
            if state.status not in machine.WITHDRAWABLE:
                raise WorkflowError(
                    f"申报 {state.filing_id} 当前状态为“{machine.STATUS_ZH[state.status]}”，不能撤回。", state.filing_id
                )
            body = FilingWithdrawn(filing_id=state.filing_id, round=state.round, reason=reason, by=by)
            self.ledger.append(body, actor=by, subject=state.filing_id)
        log.info("filing.withdrawn", extra={"filing_id": state.filing_id})

    def _reviewers_added(self, before: Unit, after: Unit) -> list[EventSpec]:
        """New reviewers of a unit get asked for the steps already waiting there."""
        added = [e for e in after.reviewer_emails if e not in before.reviewer_emails]
        if not added:
            return []
        specs: list[EventSpec] = []
        for entry in self.queue(before.code):
            request = ReviewRequested(
                filing_id=entry.filing_id,
                round=entry.round,
                level=entry.level,
                unit=before.code,
                reviewers=added,
                reason="reviewers_added",
            )
            specs.append((request, SYSTEM, entry.filing_id))
        return specs

    def _restart_after_move(self, moved: Unit, new_parent: Unit, subtree: list[str]) -> list[EventSpec]:
        """Filings in review of a moved subtree restart at step 1 under the new chain."""
        codes = set(subtree)
        specs: list[EventSpec] = []
        with self.ledger.reader() as conn:
            rows = conn.execute(
                "SELECT filing_id FROM wf_filings WHERE status = ?", (FilingStatus.IN_REVIEW.value,)
            ).fetchall()
            states = [s for s in (load_filing(conn, str(r[0])) for r in rows) if s is not None]
        for state in states:
            if state.unit not in codes and state.filer not in codes:
                continue
            first = self._first_reviewer(state.unit, state.filer, moved=(moved.code, new_parent))
            if first is None:
                continue
            specs.append((self._request(state.filing_id, state.round, 1, first, "unit_moved"), SYSTEM, state.filing_id))
        return specs
