"""Who may see which filing: the one rule every page, list and download goes through.

A unit sees the filings it filed and those filed for it, those waiting for its reviewers and
those its reviewers decided; a first-level enterprise also sees its whole tree's filings; the
supervising body (the root) sees all. Anything else is answered 404, exactly as a filing that
does not exist, so that guessing ids learns nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from workflow.machine import FilingStatus
from workflow.units import Unit


class _Decided(Protocol):
    @property
    def unit(self) -> str: ...


class FilingFacts(Protocol):
    """What visibility needs of a filing (workflow's FilingView has it)."""

    @property
    def unit(self) -> str: ...
    @property
    def filer(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def review_unit(self) -> str: ...
    @property
    def decisions(self) -> Sequence[_Decided]: ...


def can_see(viewer: Unit, filing: FilingFacts, first_level_of: Callable[[str], Unit | None]) -> bool:
    """Whether `viewer` may see the filing; `first_level_of` is the unit tree's (UnitsView.first_level_of)."""
    if viewer.level == 0:
        return True
    code = viewer.code
    if code in (filing.unit, filing.filer):
        return True
    if filing.state == FilingStatus.IN_REVIEW and filing.review_unit == code:
        return True
    if any(decision.unit == code for decision in filing.decisions):
        return True
    if viewer.level == 1:
        for member in {filing.unit, filing.filer}:
            first = first_level_of(member) if member else None
            if first is not None and first.code == code:
                return True
    return False
