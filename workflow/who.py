"""Who files for whom, and who reviews next: pure rules over the unit tree.

- A unit the state wholly owns, controls or actually controls files its own registration.
- A 国有参股 holding is filed by its investing enterprise (the registration's main investor,
  else the unit's parent in the tree).
- When a first-level enterprise has designated a central filer, every unit below the
  first-level is filed by that designated unit.
The review chain climbs from the anchor (the held unit's investor for a 参股 filing by its
investor, else the unit itself) through its ancestors to the root; the filer never reviews
its own filing, so a step held by the filer is skipped.
"""

from __future__ import annotations

from workflow.accounts import normalize_username
from workflow.units import MINORITY, Unit, UnitsView


def expected_filer(units: UnitsView, subject: Unit, main_investor_code: str | None) -> tuple[Unit, str]:
    """The unit that must file `subject`'s registration, and the rule that says so (Chinese)."""
    first_level = units.first_level_of(subject.code)
    if first_level is not None and first_level.designated_filer and subject.level > 1:
        designated = units.get(first_level.designated_filer)
        if designated is not None:
            return designated, f"一级企业{first_level.label}已指定集中填报单位"
    if subject.holding == MINORITY:
        investor_code = normalize_username(main_investor_code or "") or subject.parent
        investor = units.get(investor_code) or units.get(subject.parent)
        if investor is not None and not investor.is_root:
            return investor, "国有参股企业由出资企业填报"
    return subject, "国有全资、控股及实际控制企业自行填报"


def review_anchor(units: UnitsView, subject: Unit, filer: str) -> Unit:
    """Where the review chain starts climbing: the investor for a 参股 filing it made, else the unit."""
    if subject.holding == MINORITY and filer != subject.code:
        investor = units.get(filer)
        if investor is not None:
            return investor
    return subject


def next_reviewer(units: UnitsView, below: Unit, filer: str) -> Unit | None:
    """The unit that reviews after `below` (its parent, skipping the filer); None above the root."""
    current = below
    while current.parent:
        parent = units.get(current.parent)
        if parent is None:
            return None
        if parent.code != filer:
            return parent
        current = parent
    return None
