"""Command group `filings` (to be filled by the issue that owns it)."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    """Adds no command yet."""
