"""Who files for whom, and who reviews next: pure rules over the unit tree.

- A unit the state wholly owns, controls or actually controls files its own registration.
- A 国有参股 holding is filed by its investing enterprise (the registration's main investor,
  else the unit's parent in the tree).
- A first-level enterprise may apply to SASAC for another mode for the units below it; once
  approved (and only then) it decides: "holder" (产权持有单位填报) — each unit's registration is
  filed by its direct holder, the parent in the tree (so the first-level files for its direct
  children, and an overseas unit's holder files for it, domestic or overseas); "designated"
  (指定单位填报) — one named unit of the group files for every unit below the first level.
  The first-level enterprise itself always files its own.
The review chain climbs from the anchor (the held unit's investor for a 参股 filing by its
investor, else the unit itself) through its ancestors to the root; the filer never reviews
its own filing, so a step held by the filer is skipped.
"""

from __future__ import annotations

from workflow.accounts import normalize_username
from workflow.units import DESIGNATED, HOLDER, MINORITY, Designation, Unit, UnitsView


def expected_filer(units: UnitsView, subject: Unit, main_investor_code: str | None) -> tuple[Unit, str]:
    """The unit that must file `subject`'s registration, and the rule that says so (Chinese)."""
    first_level = units.first_level_of(subject.code)
    if first_level is not None and subject.level > 1:
        designation = units.designation(first_level.code)
        if designation.mode == DESIGNATED:
            designated = units.get(designation.unit)
            if designated is not None:
                return designated, _approved(first_level, designation)
        elif designation.mode == HOLDER and subject.holding != MINORITY:
            holder = units.get(subject.parent)
            if holder is not None:  # a unit below the first level: its parent is never the root
                return holder, _approved(first_level, designation) + "，各单位由直接持有它的上级单位填报"
    if subject.holding == MINORITY:
        investor_code = normalize_username(main_investor_code or "") or subject.parent
        investor = units.get(investor_code) or units.get(subject.parent)
        if investor is not None and not investor.is_root:
            return investor, "国有参股企业由出资企业填报"
    return subject, "国有全资、控股及实际控制企业自行填报"


def _approved(first_level: Unit, designation: Designation) -> str:
    """How a refusal cites the group's approved mode: the mode and SASAC's reference."""
    if designation.legacy:  # unit.designated, recorded before applications existed
        return f"一级企业{first_level.label}已指定集中填报单位（{designation.reference_zh}）"
    extra = "，下属单位的登记由指定单位集中填报" if designation.mode == DESIGNATED else ""
    approval = f"经市国资委批准（批准文号：{designation.reference}）"
    return f"一级企业{first_level.label}{approval}采用{designation.mode_zh}{extra}"


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
