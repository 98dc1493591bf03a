"""Designation modes: a first-level enterprise applies, SASAC approves (or rejects), and only then
does who files change — each unit by itself, by its holder, or by one designated unit."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import SASAC, Tree, code, file_registration

from chanquan.cli import main
from workflow import FilingStatus, UnitError, Workflow
from workflow.batch import MemoUnits
from workflow.events import DesignationApplied, DesignationApproved, DesignationRejected, UnitDesignated
from workflow.who import expected_filer

REFERENCE = "渝国资〔2026〕12号"


def filer_of(wf: Workflow, code: str) -> str:
    unit = wf.units.get(code)
    assert unit is not None
    return expected_filer(wf.units, unit, None)[0].code


def test_an_application_changes_nothing_until_sasac_approves_it(wf: Workflow, tree: Tree) -> None:
    before = wf.units.apply_designation(tree.g, "holder", reason="下属单位人员不足，由持有单位填报")
    assert before.mode == "self" and before.pending is not None and before.pending.mode == "holder"
    assert filer_of(wf, tree.b) == tree.b  # still the base rule
    assert file_registration(wf, tree.b, tree.b, "测试三级公司", 3, tree.a).state == FilingStatus.IN_REVIEW
    after = wf.units.approve_designation(tree.g, reference=REFERENCE)
    assert (after.mode, after.reference, after.pending) == ("holder", REFERENCE, None)
    assert after.reason == "下属单位人员不足，由持有单位填报"
    applied = next(wf.ledger.events(kind=DesignationApplied.kind)).body_as(DesignationApplied)
    approved = next(wf.ledger.events(kind=DesignationApproved.kind))
    assert (applied.first_level, applied.mode, applied.by) == (tree.g, "holder", "admin")
    assert approved.body_as(DesignationApproved).reference == REFERENCE and approved.subject == tree.g


def test_holder_mode_each_unit_is_filed_by_its_direct_holder(wf: Workflow, tree: Tree) -> None:
    wf.units.apply_designation(tree.g, "holder", reason="由产权持有单位填报")
    wf.units.approve_designation(tree.g, reference=REFERENCE)
    overseas = wf.units.add_overseas("测试香港公司", parent=tree.b)
    assert filer_of(wf, tree.g) == tree.g  # the first-level files its own
    assert filer_of(wf, tree.a) == tree.g  # its direct children: the first-level
    assert filer_of(wf, tree.b) == tree.a
    assert filer_of(wf, tree.c) == tree.b
    assert filer_of(wf, overseas.code) == tree.b  # an overseas unit: its holder too
    assert filer_of(wf, tree.p) == tree.a  # 参股: its investor, as always
    own = file_registration(wf, tree.b, tree.b, "测试三级公司", 3, tree.a)
    assert own.state == FilingStatus.INVALID
    message = next(f.message for f in own.findings if f.code == "filer-not-allowed")
    assert "「测试二级公司」" in message and "产权持有单位填报" in message and REFERENCE in message
    assert "「测试三级公司」" in message  # the unit that tried is named, not only its code
    by_holder = file_registration(wf, tree.a, tree.b, "测试三级公司", 3, tree.a)
    assert by_holder.state == FilingStatus.IN_REVIEW, by_holder.findings
    assert by_holder.review_unit == tree.g  # the holder does not review what it filed


def test_designated_mode_one_unit_files_for_every_subordinate(wf: Workflow, tree: Tree) -> None:
    wf.units.apply_designation(tree.g, "designated", unit=tree.d, reason="共享中心集中填报")
    designation = wf.units.approve_designation(tree.g, reference=REFERENCE)
    assert (designation.mode, designation.unit) == ("designated", tree.d)
    assert wf.units.get(tree.g).designated_filer == tree.d  # type: ignore[union-attr]
    assert {filer_of(wf, code) for code in (tree.a, tree.b, tree.c, tree.p, tree.d)} == {tree.d}
    assert filer_of(wf, tree.g) == tree.g
    refused = file_registration(wf, tree.c, tree.c, "测试四级公司", 4, tree.b)
    message = next(f.message for f in refused.findings if f.code == "filer-not-allowed")
    assert "「测试共享中心」" in message and "指定单位填报" in message and REFERENCE in message
    assert file_registration(wf, tree.d, tree.c, "测试四级公司", 4, tree.b).state == FilingStatus.IN_REVIEW


def test_a_rejection_keeps_the_mode_and_records_the_opinion(wf: Workflow, tree: Tree) -> None:
    wf.units.apply_designation(tree.g, "designated", unit=tree.d, reason="集中填报")
    rejected = wf.units.reject_designation(tree.g, opinion="请先完善集中填报的内部制度")
    assert rejected.mode == "self" and rejected.pending is None
    assert rejected.rejected_opinion == "请先完善集中填报的内部制度"
    assert next(wf.ledger.events(kind=DesignationRejected.kind)).body_as(DesignationRejected).opinion
    assert filer_of(wf, tree.b) == tree.b
    with pytest.raises(UnitError, match="没有待批准"):
        wf.units.approve_designation(tree.g, reference=REFERENCE)


def test_back_to_the_base_rule_also_takes_an_approval(wf: Workflow, tree: Tree) -> None:
    wf.units.apply_designation(tree.g, "designated", unit=tree.d, reason="集中填报")
    wf.units.approve_designation(tree.g, reference=REFERENCE)
    wf.units.apply_designation(tree.g, "self", reason="共享中心撤销")
    assert filer_of(wf, tree.b) == tree.d
    back = wf.units.approve_designation(tree.g, reference="渝国资〔2026〕30号")
    assert (back.mode, back.unit, back.reference) == ("self", "", "渝国资〔2026〕30号")
    assert wf.units.get(tree.g).designated_filer == ""  # type: ignore[union-attr]
    assert filer_of(wf, tree.b) == tree.b


@pytest.mark.parametrize(
    ("first_level", "mode", "unit", "reason", "expected"),
    [
        ("a", "holder", "", "理由", "不是一级企业"),
        ("g", "central", "", "理由", "填报方式“central”无效"),
        ("g", "holder", "", "  ", "申请理由"),
        ("g", "designated", "", "理由", "须给出指定的填报单位"),
        ("g", "holder", "d", "理由", "不指定填报单位"),
        ("g", "self", "", "理由", "无需申请"),
    ],
)
def test_applications_that_are_refused(
    wf: Workflow, tree: Tree, first_level: str, mode: str, unit: str, reason: str, expected: str
) -> None:
    before = wf.ledger.size()
    with pytest.raises(UnitError, match=expected):
        wf.units.apply_designation(
            getattr(tree, first_level), mode, unit=getattr(tree, unit) if unit else "", reason=reason
        )
    assert wf.ledger.size() == before


def test_a_designated_unit_must_stay_in_the_group(wf: Workflow, tree: Tree) -> None:
    other = wf.units.add(code("50070000"), "另一集团", reviewer_emails=["sh@o.cn"]).code
    with pytest.raises(UnitError, match="须属于一级企业"):
        wf.units.apply_designation(tree.g, "designated", unit=other, reason="集中填报")
    wf.units.apply_designation(tree.g, "designated", unit=tree.d, reason="集中填报")
    with pytest.raises(UnitError, match="已有一份待批准的申请"):
        wf.units.apply_designation(tree.g, "holder", reason="改主意了")
    with pytest.raises(UnitError, match="批准文号"):
        wf.units.approve_designation(tree.g, reference=" ")
    wf.units.move(tree.d, other)  # moved out of the group while the application waited
    with pytest.raises(UnitError, match="已不在一级企业"):
        wf.units.approve_designation(tree.g, reference=REFERENCE)


def test_the_old_direct_designation_is_refused_with_the_new_commands(
    tmp_path: Path, tree: Tree, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert main(["--data", str(data), "units", "designate", tree.g.lower(), tree.d]) == 1  # refused
    err = capsys.readouterr().err
    assert "直接指定集中填报单位已停用" in err and f"designate-apply {tree.g}" in err and "designate-approve" in err
    assert not data.exists()  # refused before any ledger was opened


def test_old_unit_designated_events_keep_their_meaning(wf: Workflow, tree: Tree) -> None:
    # a ledger written before applications existed: the designation took effect at once
    wf.ledger.append(UnitDesignated(first_level=tree.g, filer=tree.d), actor="admin", subject=tree.g)
    old = wf.units.designation(tree.g)
    assert (old.mode, old.unit, old.legacy, old.reference_zh) == ("designated", tree.d, True, "旧记录，无批准文号")
    assert filer_of(wf, tree.b) == tree.d
    refused = file_registration(wf, tree.b, tree.b, "测试三级公司", 3, tree.a)
    message = next(f.message for f in refused.findings if f.code == "filer-not-allowed")
    assert "集中填报" in message and "「测试共享中心」" in message and "旧记录" in message
    wf.ledger.append(UnitDesignated(first_level=tree.g, filer=""), actor="admin", subject=tree.g)
    assert wf.units.designation(tree.g).mode == "self" and filer_of(wf, tree.b) == tree.b
    # and a new application replaces it the approved way
    wf.units.apply_designation(tree.g, "holder", reason="改由持有单位填报")
    assert wf.units.approve_designation(tree.g, reference=REFERENCE).legacy is False
    assert wf.ledger.compare_projections() == []


def test_designations_rebuild_equal_live_tables(wf: Workflow, tree: Tree) -> None:
    wf.units.apply_designation(tree.g, "designated", unit=tree.d, reason="集中填报")
    wf.units.approve_designation(tree.g, reference=REFERENCE)
    wf.units.apply_designation(tree.g, "holder", reason="改由持有单位填报")
    wf.units.reject_designation(tree.g, opinion="暂不同意")
    wf.units.apply_designation(tree.g, "self", reason="恢复自行填报")
    assert wf.ledger.compare_projections() == []
    assert wf.units.designation(SASAC).mode == "self"  # never applied: the base rule


def test_a_batch_reads_each_designation_once(wf: Workflow, tree: Tree) -> None:
    wf.units.apply_designation(tree.g, "holder", reason="由产权持有单位填报")
    wf.units.approve_designation(tree.g, reference=REFERENCE)
    memo = MemoUnits(wf.units)
    first = memo.designation(tree.g.lower())
    assert first == wf.units.designation(tree.g) and first.mode == "holder"
    assert memo.designation(f" {tree.g} ") is first  # the same code, read once
    unit = memo.get(tree.b)
    assert unit is not None and expected_filer(memo, unit, None)[0].code == tree.a
