"""Plain settings the workflow needs; the application fills them from chanquan.toml."""

from __future__ import annotations

from dataclasses import dataclass

# `<dropbox>/<ORGCODE>/回执/`: where the outbox writes what it answers a drop-folder filer, and
# the one folder the drop-folder watcher never takes a bundle from (DESIGN.md, contract 3).
# Declared here, below both intake and the outbox, so that the two cannot disagree.
RECEIPTS_FOLDER = "回执"


@dataclass(frozen=True)
class WorkflowConfig:
    supervisor_code: str = "SASAC0001"
    supervisor_name: str = "重庆市国资委"
    lockout_failures: int = 5
    lockout_window_minutes: int = 15
    min_password_length: int = 10
    filing_prefix: str = "CQ"
