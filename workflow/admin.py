"""What an administrator does to accounts beyond the CLI's reset and passwd: end a lockout now.

Kept beside the service rather than in it: the lock lives in the credentials file (accounts.py),
and the fact that someone ended it early is a ledger event naming who, like every change of
state (`account.unlocked`).
"""

from __future__ import annotations

from workflow.accounts import normalize_username
from workflow.events import AccountUnlocked
from workflow.service import Workflow


def unlock_account(workflow: Workflow, username: str, *, by: str) -> bool:
    """Ends the account's lockout and forgets its recent failures; False (nothing recorded) when it was not locked."""
    name = normalize_username(username)
    if not workflow.accounts.unlock(name):
        return False
    workflow.ledger.append(AccountUnlocked(username=name, by=by), actor=by, subject=name)
    return True
