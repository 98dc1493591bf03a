"""workflow layer: units, accounts, who files for whom, the review state machine (docs/workflow.md)."""

from workflow.accounts import AccountStore, AuthResult, PasswordPolicy, PasswordPolicyError, ScryptParams
from workflow.batch import Channel, SubmitRequest
from workflow.config import RECEIPTS_FOLDER, WorkflowConfig
from workflow.decisions import ReviewReply
from workflow.machine import FilingState, FilingStatus, ReviewDecision
from workflow.projections import all_projections
from workflow.service import Workflow, WorkflowError
from workflow.unitimport import ImportSummary, UnitImportError, UnitRow
from workflow.units import HOLDINGS, Unit, UnitError
from workflow.views import (
    ApprovedRegistration,
    DecisionOutcome,
    FilingSummary,
    FilingView,
    HistoryEntry,
    QueueEntry,
    SubmitOutcome,
)

__all__ = [
    "HOLDINGS",
    "RECEIPTS_FOLDER",
    "AccountStore",
    "ApprovedRegistration",
    "AuthResult",
    "Channel",
    "DecisionOutcome",
    "FilingState",
    "FilingStatus",
    "FilingSummary",
    "FilingView",
    "HistoryEntry",
    "ImportSummary",
    "PasswordPolicy",
    "PasswordPolicyError",
    "QueueEntry",
    "ReviewDecision",
    "ReviewReply",
    "ScryptParams",
    "SubmitOutcome",
    "SubmitRequest",
    "Unit",
    "UnitError",
    "UnitImportError",
    "UnitRow",
    "Workflow",
    "WorkflowConfig",
    "WorkflowError",
    "all_projections",
]
