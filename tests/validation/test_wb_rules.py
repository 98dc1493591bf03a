"""Every rule both ways: the good filing passes, and each spoiled one fails with the right code and cell.

The case tables are in rule_cases.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rule_cases import FAILING, PASSING, Case, D, investors_with
from wb_factory import ORG, PDF, USCC, check, codes_at, good_attachments, make_workbook

from validation.check import CheckResult


def test_good_filing_has_no_findings(good_result: CheckResult) -> None:
    assert good_result.findings == []
    assert good_result.ok
    reg = good_result.registration
    assert reg is not None
    assert reg.org_code == ORG and reg.uscc == USCC
    assert [i.row for i in reg.investors] == [4, 5]


@pytest.mark.parametrize("case", PASSING.values(), ids=PASSING.keys())
def test_acceptable_variants_pass(case: dict[str, Any]) -> None:
    result = check(make_workbook(case.get("values"), case.get("investors"), case.get("documents")))
    assert result.ok, [f.message for f in result.findings]
    assert [f for f in result.findings if f.severity == "error"] == []


@pytest.mark.parametrize("case", FAILING.values(), ids=FAILING.keys())
def test_each_rule_fails_at_the_right_cell(case: Case) -> None:
    values, investors, documents, spoil, expected = case
    attachments = good_attachments()
    if spoil is not None:
        attachments = spoil(attachments)
    result = check(make_workbook(values, investors, documents), attachments)
    assert expected in codes_at(result), [(f.code, f.sheet, f.cell) for f in result.findings]
    assert not result.ok
    finding = next(f for f in result.findings if (f.code, f.sheet, f.cell) == expected)
    assert finding.severity == "error"
    assert finding.sheet in finding.message and finding.cell in finding.message


def test_unknown_template_version_stops_further_rules() -> None:
    result = check(make_workbook({"template_version": "2012.1", "ent_name": None}))
    assert [f.code for f in result.findings] == ["template-version-unknown"]
    message = result.findings[0].message
    assert "下载填报模板" in message and "chanquan" not in message  # filers cannot run the CLI


def test_shares_typed_as_fractions_get_a_hint() -> None:
    rows = investors_with(r0={"share_pct": Decimal("0.6")}, r1={"share_pct": Decimal("0.4")})
    result = check(make_workbook(None, rows))
    share_sum = next(f for f in result.findings if f.code == "investors-share-sum")
    assert "0.6" in share_sum.message and "60" in share_sum.message


def test_unlisted_attachment_is_only_a_warning() -> None:
    result = check(make_workbook(), {**good_attachments(), "多余.pdf": PDF})
    assert codes_at(result) == {("document-unlisted", D, "C3")}
    assert result.ok
    assert result.findings[0].severity == "warning"


def test_lone_workbook_without_attachments_skips_presence_checks() -> None:
    result = check(make_workbook(), with_attachments=False)
    assert codes_at(result) == {("attachments-not-checked", D, "C3")}  # one warning says so
    assert result.ok


def test_required_documents_follow_registration_type() -> None:
    cancel = {"reg_type": "注销产权登记", "reg_situation": "解散清算", "approval_ref": "渝国资〔2026〕1号"}
    result = check(make_workbook(cancel))
    missing = {f.value for f in result.findings if f.code == "document-required-missing"}
    assert missing == {"审计报告", "注销证明文件"}


def test_rule_that_raises_becomes_a_finding() -> None:
    from validation import check_workbook_bytes

    def broken(ctx: object) -> list[object]:
        raise RuntimeError("bug")

    result = check_workbook_bytes(make_workbook(), good_attachments(), extra_rules=[broken])  # type: ignore[list-item]
    assert [f.code for f in result.findings] == ["rule-failed"]
    assert not result.ok


def test_extra_rules_run_after_defaults() -> None:
    from validation import Finding, check_workbook_bytes
    from validation.rules import RuleContext

    def ledger_rule(ctx: RuleContext) -> list[Finding]:
        return [Finding("not-allowed-to-file", "error", "登记信息", "B10", "filer_org_code", ORG, "不允许")]

    result = check_workbook_bytes(make_workbook(), good_attachments(), extra_rules=[ledger_rule])
    assert [f.code for f in result.findings] == ["not-allowed-to-file"]


def test_absurd_magnitudes_do_not_crash_rules() -> None:
    rows = investors_with(r0={"subscribed": 1e300, "share_pct": Decimal(60)})
    result = check(make_workbook({"reg_capital": 1e-300}, rows))
    codes = {f.code for f in result.findings}
    assert "rule-failed" not in codes
    assert "amount-decimals" in codes  # the capital's own error; the sums that follow from it are left out
    result = check(make_workbook({"reg_capital": 1e300}, rows))
    codes = {f.code for f in result.findings}
    assert "rule-failed" not in codes
    assert {"investors-subscribed-sum", "investor-share-mismatch"} <= codes
