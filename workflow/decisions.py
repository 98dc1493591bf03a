"""Reviewer decisions: a reply mail's 通过/退回, or the reviewing unit's account in the portal.

`Decisions` is the part of `Workflow` that applies decisions (docs/workflow.md, "The review").
Both doors end in `_apply` with the same events — review.decided, then filing.returned, the
next review.requested or filing.approved — and a decision that may not be applied is never
raised: it comes back as a `DecisionOutcome` with a stable code and a Chinese reason, and is
recorded as review.refused so that the audit trail shows it (the outbox answers a mail's
refusal; the portal shows its own on the page, and nothing is mailed for it).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from ledger import Ledger
from workflow import machine
from workflow.accounts import normalize_username
from workflow.batch import Channel
from workflow.events import FilingApproved, FilingReturned, ReviewDecided, ReviewRefused, ReviewRequested
from workflow.machine import FilingState, FilingStatus, RefusalCode, ReviewDecision
from workflow.projections import load_filing
from workflow.queries import Queries
from workflow.refusals import Attempt, token_owner
from workflow.registry import EventSpec, UnitRegistry
from workflow.tokens import TokenStep, normalize_email, parse_token, readable_step, token_matches
from workflow.units import Unit
from workflow.views import DecisionOutcome
from workflow.who import next_reviewer

log = logging.getLogger(__name__)
SYSTEM = "chanquan"

# The steps a page may name: a filing has a handful of levels and rounds, never thousands.
MAX_STEP = 999


@dataclass(frozen=True)
class ReviewReply:
    """A reviewer's reply mail as intake read it: the token parsed once, the first line's decision."""

    step: TokenStep | None  # from the review+TOKEN@ address; None when it is not one of ours
    sender: str  # the From address (display name and case do not matter)
    decision: ReviewDecision
    opinion: str
    mail_blob: str = ""  # the reply as stored, kept with the decision
    message_id: str = ""  # so that an answer to a refusal threads under the reply


class Decisions(Queries):
    """Applying decisions; a part of `Workflow`, which sets the attributes declared here."""

    ledger: Ledger
    units: UnitRegistry
    _lock: threading.RLock
    _token_key: bytes

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
        """`decide_reply` for a token as text (tools and tests; intake parses it once and calls that)."""
        return self.decide_reply(ReviewReply(parse_token(token), from_addr, decision, opinion, mail_blob, message_id))

    def decide_reply(self, reply: ReviewReply) -> DecisionOutcome:
        """Apply a reviewer's 通过/退回 by mail, or record why not (review.refused); never raises for a bad reply.

        A refusal carries a stable code and what the answer to the sender needs (`message_id` of
        the reply threads it), because the outbox answers every refusal from the event alone.
        """
        sender = normalize_email(reply.sender)
        step = reply.step
        attempt = Attempt(step.readable if step else "", sender, reply.decision, "smtp", reply.message_id)
        with self._lock:
            if step is None:
                invalid = "此审核回复地址无效（无法识别），本次回复不予处理。"
                return self._refuse(attempt.refused("", invalid, RefusalCode.INVALID_TOKEN))
            state = self._state(step.filing_id)
            if state is None:
                unknown = f"此审核回复地址无效（申报 {step.filing_id} 不存在），本次回复不予处理。"
                return self._refuse(attempt.refused(step.filing_id, unknown, RefusalCode.UNKNOWN_FILING))
            if not token_matches(self._token_key, step, sender):
                requests = self.ledger.events(subject=step.filing_id, kind=ReviewRequested.kind)
                issued_to = token_owner(self._token_key, step, (e.body_as(ReviewRequested) for e in requests))
                if issued_to is None:  # matches nobody who was asked: damaged or forged, not the wrong mailbox
                    invalid = "此审核回复地址无效，本次回复不予处理。"
                    return self._refuse(attempt.refused(step.filing_id, invalid, RefusalCode.INVALID_TOKEN))
                wrong = "发件人地址与该审核回复地址不符（审核邮件只能由收件审核人本人回复）。"
                return self._refuse(
                    attempt.refused(step.filing_id, wrong, RefusalCode.WRONG_SENDER, addressed_to=issued_to)
                )
            unit = self.units.get(state.review_unit) if state.review_unit else None
            refusal = machine.check_decision(
                state,
                round_no=step.round,
                level=step.level,
                sender=sender,
                unit_reviewers=unit.reviewer_emails if unit else [],
                unit_name=unit.label if unit else "该单位",
                decision=reply.decision,
                opinion=reply.opinion,
            )
            if refusal is not None or unit is None:
                refusal = refusal or machine.Refusal("该申报当前没有待审核环节，本次回复不予处理。")
                return self._refuse(
                    attempt.refused(step.filing_id, refusal.reason_zh, refusal.code, earlier=refusal.earlier)
                )
            return self._apply(
                state,
                unit,
                reviewer=sender,
                decision=reply.decision,
                opinion=reply.opinion,
                mail_blob=reply.mail_blob,
                channel="smtp",
            )

    def decide_as_account(
        self,
        filing_id: str,
        *,
        round: int,  # the step's round, named as in review_token and the events
        level: int,
        username: str,
        decision: ReviewDecision,
        opinion: str,
        channel: Channel = "web",
    ) -> DecisionOutcome:
        """The reviewing unit's account decides the step (round, level) its page showed, by the mail rules.

        Only the unit asked for that step may decide it, only while it is the filing's current
        step (a stale page or a second click is refused, and a step decided by mail is refused
        with who decided it and when), and a 退回 needs an opinion. Refusals about a real step of
        a real filing by a known account are recorded as review.refused (channel `web`: shown
        on the page, never mailed); a form error (退回 without an opinion) and a filing or step
        that does not exist only come back, since nothing was attempted on any filing.
        """
        round_no = round
        account = normalize_username(username)
        fid = filing_id.strip().upper()
        attempt = Attempt(readable_step(fid, round_no, level), account, decision, channel)
        with self._lock:
            state = self._state(fid) if 1 <= round_no <= MAX_STEP and 1 <= level <= MAX_STEP else None
            unit = self.units.by_username(account)
            if state is None or unit is None:
                missing = f"申报 {fid} 不存在，或没有第 {round_no} 轮第 {level} 级审核环节。"
                return DecisionOutcome(applied=False, filing_id=fid, reason_zh=missing, code=RefusalCode.UNKNOWN_FILING)
            if not self._was_asked(state.filing_id, round_no, level, unit.code):
                step = f"申报 {state.filing_id} 第 {round_no} 轮第 {level} 级"
                outsider = f"{unit.label}不是{step}的审核单位，不能作出审核决定。"
                return self._refuse(attempt.refused(state.filing_id, outsider, RefusalCode.NOT_REVIEWER))
            refusal = machine.check_step(state, round_no=round_no, level=level, attempt="操作")
            if refusal is None and state.review_unit != unit.code:
                # the step was asked again of another unit (the filer's unit moved): this page is stale
                refusal = machine.Refusal(
                    f"该审核环节（第 {round_no} 轮第 {level} 级）已改由其他单位审核，本次操作不予处理。",
                    RefusalCode.STALE_ROUND,
                )
            if refusal is not None:
                return self._refuse(
                    attempt.refused(state.filing_id, refusal.reason_zh, refusal.code, earlier=refusal.earlier)
                )
            if machine.check_opinion(decision, opinion) is not None:
                why = "退回时必须填写审核意见，请在审核意见栏写明退回原因。"
                return DecisionOutcome(
                    applied=False, filing_id=state.filing_id, reason_zh=why, code=RefusalCode.MISSING_OPINION
                )
            return self._apply(
                state, unit, reviewer=account, decision=decision, opinion=opinion, mail_blob="", channel=channel
            )

    def _was_asked(self, filing_id: str, round_no: int, level: int, unit: str) -> bool:
        """Whether the ledger shows `unit` was asked to decide this step: the portal's proof, as the token is mail's."""
        for event in self.ledger.events(subject=filing_id, kind=ReviewRequested.kind):
            body = event.body_as(ReviewRequested)
            if (body.round, body.level, body.unit) == (round_no, level, unit):
                return True
        return False

    def _apply(
        self,
        state: FilingState,
        unit: Unit,
        *,
        reviewer: str,
        decision: ReviewDecision,
        opinion: str,
        mail_blob: str,
        channel: Channel,
    ) -> DecisionOutcome:
        """The decision's events in one append (the caller holds the lock and has checked everything)."""
        decided = ReviewDecided(
            filing_id=state.filing_id,
            round=state.round,
            level=state.level,
            unit=unit.code,
            reviewer=reviewer,
            decision=decision.value,
            opinion=opinion.strip(),
            mail_blob=mail_blob,
            channel=channel,
        )
        specs: list[EventSpec] = [(decided, reviewer, state.filing_id)]
        next_unit = ""
        if decision == ReviewDecision.RETURN:
            returned = FilingReturned(
                filing_id=state.filing_id, round=state.round, level=state.level, opinion=opinion.strip(), by=unit.code
            )
            specs.append((returned, reviewer, state.filing_id))
            new_state = FilingStatus.RETURNED
        else:
            above = next_reviewer(self.units, unit, state.filer)
            if above is not None:
                request = ReviewRequested(
                    filing_id=state.filing_id,
                    round=state.round,
                    level=state.level + 1,
                    unit=above.code,
                    reviewers=above.reviewer_emails,
                    reason="approved_below",
                )
                specs.append((request, SYSTEM, state.filing_id))
                next_unit = above.code
                new_state = FilingStatus.IN_REVIEW
            else:
                approved = FilingApproved(
                    filing_id=state.filing_id, round=state.round, unit=state.unit, period=state.period
                )
                specs.append((approved, reviewer, state.filing_id))
                new_state = FilingStatus.APPROVED
        self.ledger.append_many(specs)
        log.info(
            ReviewDecided.kind, extra={"filing_id": state.filing_id, "decision": decision.value, "channel": channel}
        )
        return DecisionOutcome(
            applied=True, filing_id=state.filing_id, decision=decision.value, state=str(new_state), next_unit=next_unit
        )

    def _refuse(self, body: ReviewRefused) -> DecisionOutcome:
        self.ledger.append(body, actor=body.sender or "unknown", subject=body.filing_id)
        log.warning(ReviewRefused.kind, extra={"filing_id": body.filing_id, "code": body.code, "channel": body.channel})
        return DecisionOutcome(
            applied=False,
            filing_id=body.filing_id,
            reason_zh=body.reason,
            code=body.code,
            decided_by=body.decided_by,
            decided_at=body.decided_at,
        )

    def _state(self, filing_id: str) -> FilingState | None:
        with self.ledger.reader() as conn:
            return load_filing(conn, filing_id.upper())
