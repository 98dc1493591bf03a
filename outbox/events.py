"""The ledger event kinds the outbox records (see docs/architecture.md, "Event kinds").

Subjects are Message-IDs. Each records one delivery attempt's outcome — who, why,
which attempt, what the relay said — and never the body: the body may hold a filer's
data and is already reproducible from the events that caused it.
"""

from __future__ import annotations

from ledger import EventBody, event_kind


class _MailOutcome(EventBody):
    message_id: str
    recipient: str  # all envelope recipients, comma-separated
    purpose: str  # receipt | error-report | review-request | ...
    filing_id: str
    attempt: int
    outcome: str  # the relay's answer or the local delivery path


@event_kind("mail.sent")
class MailSent(_MailOutcome):
    """The relay (or the local Maildir) accepted the message."""


@event_kind("mail.deferred")
class MailDeferred(_MailOutcome):
    """A temporary failure (4xx, dropped connection); the message stays queued for a later attempt."""


@event_kind("mail.dead")
class MailDead(_MailOutcome):
    """A permanent failure (5xx) or too many attempts; the message moved to outbox/dead/."""


OUTCOME_KINDS: dict[str, type[_MailOutcome]] = {
    "mail.sent": MailSent,
    "mail.deferred": MailDeferred,
    "mail.dead": MailDead,
}
