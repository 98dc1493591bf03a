"""Filings in: the ledger-aware rules, then filing.received and filing.invalid or the first review request.

`Submission` is the part of `Workflow` that records filings (docs/workflow.md, "The review").
Every door - drop folder, mail, portal - ends in `submit_many` with a `SubmitRequest`, so a
filing is judged the same whichever way it came. The checks run and the events are appended
under the workflow's one lock, against the state the projection holds at that moment.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ledger import Ledger
from validation.bundle import Bundle
from validation.findings import Finding
from validation.model import Registration
from validation.rules.base import Rule, RuleContext
from workflow.accounts import normalize_username
from workflow.batch import Channel, MemoUnits, SubmitRequest, rounds
from workflow.config import WorkflowConfig
from workflow.events import FilingInvalid, FilingReceived, ReviewRequested
from workflow.machine import FilingState, FilingStatus
from workflow.projections import load_filing
from workflow.queries import Queries
from workflow.registry import EventSpec, UnitRegistry
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
from workflow.units import Unit, UnitsView
from workflow.views import SubmitOutcome
from workflow.who import next_reviewer, review_anchor

if TYPE_CHECKING:
    from validation.check import CheckResult

log = logging.getLogger(__name__)
SYSTEM = "chanquan"

Annotator = Callable[[bytes, list[Finding]], bytes]


class Submission(Queries):
    """Recording filings; a part of `Workflow`, which sets the attributes declared here."""

    ledger: Ledger
    units: UnitRegistry
    settings: WorkflowConfig
    _lock: threading.RLock
    _clock: Callable[[], datetime]
    _annotator: Annotator

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
        channel: Channel,
        reply_to: str,
        bundle: Bundle,
        check_result: CheckResult,
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
                    FilingReceived.kind,
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
        earlier = self.submitted_outcome(request.item_id) if request.item_id in submitted else None
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
        received = _received(
            request,
            stored,
            filing_id=filing_id,
            round_no=round_no,
            subject=subject,
            filer=filer_code,
            period=period,
            findings=findings,
        )
        specs: list[EventSpec] = [(received, filer_code, filing_id)]
        review_unit = ""
        annotated_blob = ""
        first = None
        if not errors and registration is not None:
            first = self._first_reviewer(subject, filer_code, units=units)
        if errors or registration is None or first is None:
            if not errors:
                errors = [no_reviewer_finding(subject)]
                findings = findings + errors
            annotated_blob = annotated.get(findings_key(findings)) or self.ledger.blobs.put(
                self._annotated(bundle.workbook_bytes, findings, filing_id)
            )
            invalid = FilingInvalid(
                filing_id=filing_id,
                round=round_no,
                findings=[finding_json(f) for f in findings],
                annotated_blob=annotated_blob,
            )
            specs.append((invalid, SYSTEM, filing_id))
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
            annotated_blob=annotated_blob,
        )
        return outcome, specs

    def _annotate_early(
        self, item_id: str, filer: str, bundle: Bundle, check_result: CheckResult
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

    def submitted_outcome(self, item_id: str) -> SubmitOutcome | None:
        """What `submit` did with this item the first time (`duplicate` set), or None if it never was.

        A retried web upload, a resumed item or a resent mail gets the same answer again from
        the ledger, annotated workbook included.
        """
        with self.ledger.reader() as conn:
            row = conn.execute("SELECT filing_id, round FROM wf_items WHERE item_id = ?", (item_id,)).fetchone()
        if row is None:
            return None
        filing_id, round_no = str(row[0]), int(row[1])
        findings: list[Finding] = []
        state = FilingStatus.IN_REVIEW
        review_unit = annotated_blob = ""
        wanted = (FilingReceived.kind, FilingInvalid.kind, ReviewRequested.kind)
        for event in self.ledger.events(subject=filing_id):
            if event.kind not in wanted:  # other packages' kinds need not be declared in this process
                continue
            match event.body:
                case FilingInvalid(round=r) as invalid if r == round_no:
                    state = FilingStatus.INVALID
                    findings = [Finding.from_json(f) for f in invalid.findings]
                    annotated_blob = invalid.annotated_blob
                case FilingReceived(round=r) as received if r == round_no and received.item_id == item_id:
                    findings = [Finding.from_json(f) for f in received.warnings]
                case ReviewRequested(round=r, level=1) as request if r == round_no and not review_unit:
                    review_unit = request.unit
        return SubmitOutcome(
            item_id,
            filing_id,
            round_no,
            str(state),
            findings,
            review_unit,
            duplicate=True,
            annotated_blob=annotated_blob,
        )

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


def _received(
    request: SubmitRequest,
    stored: dict[bytes, str],
    *,
    filing_id: str,
    round_no: int,
    subject: str,
    filer: str,
    period: str,
    findings: list[Finding],
) -> FilingReceived:
    """filing.received: the registration, the blobs and the names the filer gave them, and the warnings."""
    bundle, registration = request.bundle, request.check_result.registration
    attachments = sorted(bundle.attachments)
    return FilingReceived(
        filing_id=filing_id,
        round=round_no,
        unit=subject,
        filer=filer,
        period=period,
        channel=request.channel,
        reply_to=request.reply_to,
        registration=registration.to_canonical() if registration is not None else None,
        workbook_blob=stored[bundle.workbook_bytes],
        attachment_blobs=[stored[bundle.attachments[name]] for name in attachments],
        item_id=request.item_id,
        warnings=[finding_json(f) for f in findings if not f.is_error],
        original_name=request.original_name,
        workbook_name=bundle.original_names.get(bundle.workbook_name, bundle.workbook_name),
        attachment_names=[bundle.original_names.get(name, name) for name in attachments],
        message_id=request.message_id,
    )
