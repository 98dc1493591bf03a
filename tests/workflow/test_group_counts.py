"""Filings counted by first-level group and state (`wf_group_counts`, kept by the filings projection)
equal a walk of the tree over the filings, through filings, decisions, moves between groups, a unit
made first-level, a unit added after filings for its code, and a rebuild of the projections."""

from __future__ import annotations

import pytest
from helpers import SASAC, Tree, code, file_registration
from test_review import APPROVE, RETURN, decide, file_c

from workflow import FilingStatus, Workflow
from workflow.events import FilingReceived, UnitAdded

# what 首页's overviews counted before the counts were kept: a recursive walk down from the root
WALK = (
    "WITH RECURSIVE grp(code, top) AS (SELECT code, code FROM wf_units WHERE parent = ?"
    " UNION ALL SELECT u.code, g.top FROM wf_units u JOIN grp g ON u.parent = g.code)"
    " SELECT g.top, f.status, count(*) FROM grp g JOIN wf_filings f ON f.unit = g.code GROUP BY g.top, f.status"
)


def walked(wf: Workflow) -> dict[str, dict[str, int]]:
    with wf.ledger.reader() as conn:
        counts: dict[str, dict[str, int]] = {
            str(first): {} for (first,) in conn.execute("SELECT code FROM wf_units WHERE parent = ?", (SASAC,))
        }
        for group, status, count in conn.execute(WALK, (SASAC,)):
            counts[str(group)][str(status)] = int(count)
    return counts


def walked_below(wf: Workflow, first_level: str) -> dict[str, int]:
    """The first-level enterprise's tree without itself, walked."""
    with wf.ledger.reader() as conn:
        rows = conn.execute(
            "WITH RECURSIVE sub(code) AS (SELECT code FROM wf_units WHERE parent = ?"
            " UNION ALL SELECT u.code FROM wf_units u JOIN sub ON u.parent = sub.code)"
            " SELECT f.status, count(*) FROM sub JOIN wf_filings f ON f.unit = sub.code GROUP BY f.status",
            (first_level,),
        ).fetchall()
    return {str(status): int(count) for status, count in rows}


def agree(wf: Workflow) -> dict[str, dict[str, int]]:
    kept = wf.group_status_counts()
    assert kept == walked(wf)
    for first in kept:
        assert wf.subtree_status_counts(first) == walked_below(wf, first)
    return kept


def test_kept_counts_equal_the_walk_through_filings_moves_and_a_rebuild(wf: Workflow, tree: Tree) -> None:
    other = code("50070000")
    wf.units.add(other, "另一测试集团", reviewer_emails=["sh@h.cn"])
    assert agree(wf) == {tree.g: {}, other: {}}

    fid = file_c(wf, tree)
    assert agree(wf)[tree.g] == {FilingStatus.IN_REVIEW: 1}
    decide(wf, fid, 1, 1, "sh@b.cn", APPROVE, "同意")
    decide(wf, fid, 1, 2, "sh@a.cn", RETURN, "请补充章程")
    assert agree(wf)[tree.g] == {FilingStatus.RETURNED: 1}
    # the group's own filing (SASAC's code is no organization code, so it is found invalid)
    own = file_registration(wf, tree.g, tree.g, "重庆测试集团", 1, SASAC)
    assert own.state == FilingStatus.INVALID
    assert agree(wf)[tree.g] == {FilingStatus.RETURNED: 1, FilingStatus.INVALID: 1}
    assert wf.subtree_status_counts(tree.g) == {FilingStatus.RETURNED: 1}

    wf.units.move(tree.b, other)  # B and C below it change groups
    counts = agree(wf)
    assert counts[other] == {FilingStatus.RETURNED: 1} and counts[tree.g] == {FilingStatus.INVALID: 1}
    wf.units.move(tree.b, SASAC)  # B becomes a first-level enterprise: a group of its own
    counts = agree(wf)
    assert counts[tree.b] == {FilingStatus.RETURNED: 1} and counts[other] == {}
    wf.units.move(tree.b, tree.a)  # and back into G
    assert agree(wf)[tree.g] == {FilingStatus.RETURNED: 1, FilingStatus.INVALID: 1}

    # a filing recorded for a code the tree did not know yet, the unit added afterwards
    late = code("50080000")
    received = FilingReceived(
        filing_id="CQ2026-009999",
        round=1,
        unit=late,
        filer=late,
        period="2025-12-31",
        channel="dropbox",
        reply_to="",
        registration=None,
        workbook_blob="ab" * 32,
        item_id="item-late",
    )
    wf.ledger.append(received, actor=late, subject=received.filing_id)
    assert agree(wf) == {tree.g: {FilingStatus.RETURNED: 1, FilingStatus.INVALID: 1}, other: {}}
    wf.ledger.append(
        UnitAdded(code=late, name="后补单位", parent=other, level=2, username=late), actor="admin", subject=late
    )
    assert agree(wf)[other] == {FilingStatus.RECEIVED: 1}

    assert wf.ledger.compare_projections() == []


def test_only_a_first_level_tree_is_counted_below(wf: Workflow, tree: Tree) -> None:
    file_c(wf, tree)
    assert wf.subtree_status_counts(tree.g) == {FilingStatus.IN_REVIEW: 1}
    for not_first in (tree.a, SASAC, code("59990000")):
        with pytest.raises(ValueError, match="not a first-level enterprise"):
            wf.subtree_status_counts(not_first)
