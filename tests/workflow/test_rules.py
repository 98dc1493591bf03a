"""Ledger-aware rules: backfill forms against history, the tree's level and parent, who may file."""

from __future__ import annotations

from helpers import SASAC, Tree, bundle_for, file_registration, registration_values

from validation import check_bundle
from workflow import FilingStatus, ReviewDecision, Workflow


def approve_all(wf: Workflow, filing_id: str, reviewers: list[str]) -> None:
    for level, reviewer in enumerate(reviewers, start=1):
        outcome = wf.decide(wf.review_token(filing_id, 1, level, reviewer), reviewer, ReviewDecision.APPROVE, "同意")
        assert outcome.applied, outcome.reason_zh


def codes_of(wf: Workflow, filer: str, unit: str, name: str, level: int, parent: str, **kw: object) -> list[str]:
    values, investors, documents = registration_values(unit, name, level, parent, filer=filer, **kw)
    result = check_bundle(bundle_for(values, investors, documents), extra_rules=wf.ledger_rules(filer))
    return [f.code for f in result.findings if f.is_error]


def test_backfill_forms_against_history(wf: Workflow, tree: Tree) -> None:
    args = (tree.d, tree.d, "测试共享中心", 2, tree.g)
    assert codes_of(wf, *args, backfill="已办无变化") == ["backfill-no-history"]
    assert codes_of(wf, *args, backfill="已办有变化") == ["backfill-no-history"]
    first = file_registration(wf, *args, backfill="未办")
    assert first.state == FilingStatus.IN_REVIEW, first.findings
    approve_all(wf, first.filing_id, ["sh@g.cn", "chu@sasac.gov.cn"])

    assert codes_of(wf, *args, backfill="未办") == ["backfill-has-history"]
    assert codes_of(wf, *args, backfill="已办无变化") == []
    assert codes_of(wf, *args, backfill="已办有变化") == ["backfill-changed-no-change"]
    values, investors, documents = registration_values(*args[1:], filer=tree.d, backfill="已办无变化", capital=2000)
    result = check_bundle(bundle_for(values, investors, documents), extra_rules=wf.ledger_rules(tree.d))
    differs = [f for f in result.findings if f.code == "backfill-unchanged-differs"]
    assert len(differs) == 1 and "注册资本" in differs[0].message and "1000" in differs[0].message
    assert (differs[0].sheet, differs[0].cell) == ("登记信息", "B5")
    assert codes_of(wf, *args, backfill="已办有变化", capital=2000) == []


def test_a_backfill_form_that_is_no_choice_gets_no_history_finding(wf: Workflow, tree: Tree) -> None:
    """invalid-choice says what is wrong; “no approved registration, choose 未办” would only follow from it."""
    args = (tree.d, tree.d, "测试共享中心", 2, tree.g)
    assert codes_of(wf, *args, backfill="已经办理") == ["invalid-choice"]


def test_level_and_parent_must_match_the_tree(wf: Workflow, tree: Tree) -> None:
    values, investors, documents = registration_values(tree.c, "测试四级公司", 4, tree.b)
    values["ent_level"] = "三级"
    values["parent_org_code"] = tree.a
    result = check_bundle(bundle_for(values, investors, documents), extra_rules=wf.ledger_rules(tree.c))
    found = {f.code: f for f in result.findings}
    assert "四级" in found["ent-level-mismatch"].message and found["ent-level-mismatch"].cell == "B7"
    assert tree.b in found["parent-code-mismatch"].message
    first_level = registration_values(tree.g, "重庆测试集团", 1, "")[0]
    assert codes_of(wf, tree.g, tree.g, "重庆测试集团", 1, "") == []
    assert first_level["ent_level"] == "一级"
    wrong_parent = check_bundle(
        bundle_for({**first_level, "parent_org_code": tree.a}, *registration_values(tree.g, "重庆测试集团", 1, "")[1:]),
        extra_rules=wf.ledger_rules(tree.g),
    )
    assert "parent-code-mismatch" in [f.code for f in wrong_parent.findings]
    assert SASAC in next(f.message for f in wrong_parent.findings if f.code == "parent-code-mismatch")


def test_unknown_unit_is_refused(wf: Workflow, tree: Tree) -> None:
    from helpers import code

    stranger = code("58880000")
    assert codes_of(wf, stranger, stranger, "无名公司", 2, tree.g) == ["unit-unknown"]


def test_prefill_returns_the_last_approved_registration(wf: Workflow, tree: Tree) -> None:
    assert wf.last_approved(tree.d) is None
    outcome = file_registration(wf, tree.d, tree.d, "测试共享中心", 2, tree.g)
    approve_all(wf, outcome.filing_id, ["sh@g.cn", "chu@sasac.gov.cn"])
    prefill = wf.last_approved(tree.d)
    assert prefill is not None and prefill.org_code == tree.d and prefill.investors[0].share_pct == 100
