"""The workflow: filings in, reviewer decisions, withdrawals — each step a ledger event.

Every state-changing call runs under one re-entrant lock and re-reads the state inside
it before appending, so check-then-append is atomic within the process (the serve process
is the only one that submits and decides; see docs/workflow.md). The state comes from the
`wf_filings` projection, which the ledger updates in the same transaction as each event
and which is folded by the same pure `machine.apply` a replay uses.

`Workflow` is assembled from its parts: `submission.Submission` (filings in),
`decisions.Decisions` (通过/退回 by mail or in the portal) and the reads of `queries.Queries`;
this module holds the wiring, accounts' facts, withdrawals and the reactions to tree changes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledger import Ledger
from validation.findings import Finding
from workflow import machine
from workflow.accounts import AccountStore, PasswordPolicy, ScryptParams
from workflow.config import WorkflowConfig
from workflow.decisions import Decisions
from workflow.events import AccountLocked, AccountPasswordChanged, AccountReset, FilingWithdrawn, ReviewRequested
from workflow.machine import FilingStatus
from workflow.projections import load_filing
from workflow.registry import ADMIN, EventSpec, UnitRegistry
from workflow.submission import SYSTEM, Annotator, Submission
from workflow.tokens import make_token
from workflow.units import Unit

log = logging.getLogger(__name__)


class WorkflowError(Exception):
    """A request the workflow refuses (e.g. withdrawing an approved filing); `message_zh` says why."""

    def __init__(self, message_zh: str, filing_id: str = "") -> None:
        super().__init__(message_zh)
        self.message_zh = message_zh
        self.filing_id = filing_id


def _annotate(workbook: bytes, findings: list[Finding]) -> bytes:
    from validation.annotate import annotate_workbook

    return annotate_workbook(workbook, findings)


class Workflow(Submission, Decisions):
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

    def _account_fact(self, body: AccountLocked | AccountPasswordChanged | AccountReset) -> None:
        actor = (body.by or ADMIN) if isinstance(body, AccountReset) else body.username
        self.ledger.append(body, actor=actor, subject=body.username)

    # -- tokens ---------------------------------------------------------------------------

    def review_token(self, filing_id: str, round: int, level: int, reviewer_email: str) -> str:
        """The reply-address token for one reviewer of one step; computed, never stored."""
        return make_token(self._token_key, filing_id, round, level, reviewer_email)

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
        log.info(FilingWithdrawn.kind, extra={"filing_id": state.filing_id})

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
