"""Refused reviewer replies: what is recorded so that the sender can be told why.

Workflow never sends anything, so a refusal must carry everything the outbox needs to
answer the sender from the event alone: a stable code, the reply's Message-ID, and for a
step already decided, who decided it and when.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from workflow.events import ReviewRefused
from workflow.machine import Decision, RefusalCode, ReviewDecision
from workflow.tokens import TokenStep, token_matches, token_step


@dataclass(frozen=True)
class Reply:
    """The facts of one reviewer reply, as `Workflow.decide` received them."""

    token: str
    sender: str
    decision: ReviewDecision
    message_id: str = ""

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
            token=token_step(self.token),
            sender=self.sender,
            reason=reason,
            code=code.value,
            decision=self.decision.value,
            message_id=self.message_id,
            addressed_to=addressed_to,
            decided_by=earlier.reviewer if earlier else "",
            decided_at=earlier.at if earlier else "",
            decided=earlier.decision if earlier else "",
        )


def token_owner(key: bytes, step: TokenStep, requests: Iterable[dict[str, object]]) -> str | None:
    """The address, among those asked for this step (`review.requested` payloads), the token was issued to.

    Tells a reply from the wrong mailbox (a real token, another sender) from a damaged or
    forged reply address, without trying any address the ledger does not show was asked.
    """
    asked: list[str] = []
    for payload in requests:
        if payload.get("round") == step.round and payload.get("level") == step.level:
            reviewers = payload.get("reviewers")
            asked.extend(str(r) for r in (reviewers if isinstance(reviewers, list) else []) if r not in asked)
    return next((address for address in asked if token_matches(key, step, address)), None)
