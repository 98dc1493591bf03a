"""Refused decisions: what is recorded so that the sender can be told why.

Workflow never sends anything, so a refusal of a reply mail must carry everything the
outbox needs to answer the sender from the event alone: a stable code, the reply's
Message-ID, and for a step already decided, who decided it and when. A refusal in the
portal is recorded the same way with channel `web`; its reason is shown on the page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from workflow.batch import Channel
from workflow.events import ReviewRefused, ReviewRequested
from workflow.machine import Decision, RefusalCode, ReviewDecision
from workflow.tokens import TokenStep, token_matches


@dataclass(frozen=True)
class Attempt:
    """Who tried to decide which step, through which door: what a refusal records about it."""

    step: str  # the readable step (`TokenStep.readable`), never a MAC; "" when the token was unreadable
    sender: str  # the reply's From address, or the portal account
    decision: ReviewDecision
    channel: Channel = "smtp"
    message_id: str = ""  # the reply mail's, so that the outbox's answer threads under it

    def refused(
        self,
        filing_id: str,
        reason: str,
        code: RefusalCode,
        *,
        addressed_to: str = "",
        earlier: Decision | None = None,
    ) -> ReviewRefused:
        return ReviewRefused(
            filing_id=filing_id,
            token=self.step,
            sender=self.sender,
            reason=reason,
            code=code.value,
            decision=self.decision.value,
            message_id=self.message_id,
            addressed_to=addressed_to,
            decided_by=earlier.reviewer if earlier else "",
            decided_at=earlier.at if earlier else "",
            decided=earlier.decision if earlier else "",
            channel=self.channel,
        )


def token_owner(key: bytes, step: TokenStep, requests: Iterable[ReviewRequested]) -> str | None:
    """The address, among those asked for this step (the filing's `review.requested`), the token was issued to.

    Tells a reply from the wrong mailbox (a real token, another sender) from a damaged or
    forged reply address, without trying any address the ledger does not show was asked.
    """
    asked: list[str] = []
    for request in requests:
        if (request.round, request.level) == (step.round, step.level):
            asked.extend(r for r in request.reviewers if r not in asked)
    return next((address for address in asked if token_matches(key, step, address)), None)
