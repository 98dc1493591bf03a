"""outbox layer: durable outbound mail, the 回执 folder, and every message the service sends.

See docs/outbox.md for the guarantees and docs/architecture.md for the event kinds.
"""

from outbox.compose import Attachment, Composer, MailSpec
from outbox.dispatch import Dispatcher, DispatchError, DispatchReport, working_days_between
from outbox.ports import Directory, UnitInfo, WorkflowDirectory
from outbox.sender import RetryPolicy, Sender
from outbox.service import MessageInfo, Outbox, OutboxConfig
from outbox.spool import Envelope, Spool, spool_name
from outbox.transport import DeliveryOutcome, MaildirDelivery, RelayConfig, SmtpRelay

__all__ = [
    "Attachment",
    "Composer",
    "DeliveryOutcome",
    "Directory",
    "DispatchError",
    "DispatchReport",
    "Dispatcher",
    "Envelope",
    "MailSpec",
    "MaildirDelivery",
    "MessageInfo",
    "Outbox",
    "OutboxConfig",
    "RelayConfig",
    "RetryPolicy",
    "Sender",
    "SmtpRelay",
    "Spool",
    "UnitInfo",
    "WorkflowDirectory",
    "spool_name",
    "working_days_between",
]
