"""workflow layer: units, accounts, who files for whom, the review state machine (docs/workflow.md)."""

from workflow.accounts import AccountStore, AuthResult, PasswordPolicy, PasswordPolicyError, ScryptParams
from workflow.config import WorkflowConfig
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
    "AccountStore",
    "ApprovedRegistration",
    "AuthResult",
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
    "ScryptParams",
    "SubmitOutcome",
    "Unit",
    "UnitError",
    "UnitImportError",
    "UnitRow",
    "Workflow",
    "WorkflowConfig",
    "WorkflowError",
    "all_projections",
]
