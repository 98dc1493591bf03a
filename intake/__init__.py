"""intake layer: the drop-folder watcher, the SMTP listener, web uploads, MIME and reply parsing (docs/intake.md).

Every inbound item is stored raw and recorded as `intake.received` before anything
else happens; processing resumes from that record, so nothing is lost or filed twice.
"""

from intake.events import (
    IntakeConfirmationRequested,
    IntakeConfirmed,
    IntakeFolderUnknown,
    IntakeProcessed,
    IntakeReceived,
    IntakeRejected,
    ReviewUnclear,
)
from intake.item import InboundItem
from intake.readiness import ReadinessTracker, Signature, is_temporary_name
from intake.state import IntakeProjection
from intake.upload import SubmissionOutcome, Upload, UploadedFile

__all__ = [
    "InboundItem",
    "IntakeConfirmationRequested",
    "IntakeConfirmed",
    "IntakeFolderUnknown",
    "IntakeProcessed",
    "IntakeProjection",
    "IntakeReceived",
    "IntakeRejected",
    "ReadinessTracker",
    "ReviewUnclear",
    "Signature",
    "SubmissionOutcome",
    "Upload",
    "UploadedFile",
    "is_temporary_name",
]
