"""Wiring: builds the layers for one data directory, the only place that knows them all.

Commands get their objects from here rather than constructing them, so that key
paths, projections and settings are chosen once. Each `open_*` function belongs to
the layer it opens; keep them small.
"""

from __future__ import annotations

from pathlib import Path

from chanquan.config import Settings, load_settings


class DataDir:
    """Paths inside one data directory (see docs/architecture.md)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def ledger_db(self) -> Path:
        return self.root / "ledger.sqlite3"

    @property
    def checkpoint_file(self) -> Path:
        return self.root / "checkpoints.log"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    @property
    def accounts_db(self) -> Path:
        return self.root / "accounts.sqlite3"

    @property
    def inbound(self) -> Path:
        return self.root / "inbound"

    @property
    def processing(self) -> Path:
        return self.root / "processing"

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"


def settings_for(data_dir: Path) -> Settings:
    return load_settings(data_dir)
