"""Check characters of organization codes (GB 11714) and USCCs (GB 32100), and that the two agree."""

from __future__ import annotations

from collections.abc import Iterator

from validation.codes import (
    is_org_code_format,
    is_uscc_format,
    org_check_char_unchecked,
    org_code_of_uscc,
    uscc_check_char_unchecked,
    valid_usccs,
)
from validation.findings import Finding
from validation.rules.base import RuleContext, field_finding, row_finding
from validation.spec import CODELESS_INVESTOR_CATEGORIES, INVESTORS

NUMBER_HINT = "若代码以 0 开头，请把单元格设为文本格式后重新输入。"


def org_code_problem(code: str) -> tuple[str, str] | None:
    """(finding code, problem text) for a normalized organization code, or None when it is valid."""
    if not is_org_code_format(code):
        hint = NUMBER_HINT if code.isdigit() and len(code) < 9 else ""
        return (
            "org-code-format",
            f"应为9位组织机构代码（8位数字或大写字母加1位校验码），现为“{code}”（{len(code)}位）。{hint}",
        )
    expected = org_check_char_unchecked(code[:8])
    if expected != code[8]:
        return (
            "org-code-check-digit",
            f"“{code}”的校验码错误：按 GB 11714 计算，第9位应为“{expected}”，现为“{code[8]}”。",
        )
    return None


def uscc_problem(code: str) -> tuple[str, str] | None:
    if not is_uscc_format(code):
        return "uscc-format", (
            f"应为18位统一社会信用代码（数字及除 I、O、Z、S、V 外的大写字母），现为“{code}”（{len(code)}位）。"
        )
    expected = uscc_check_char_unchecked(code[:17])
    if expected != code[17]:
        return "uscc-check-digit", f"“{code}”的校验码错误：按 GB 32100 计算，第18位应为“{expected}”，现为“{code[17]}”。"
    return None


def check_unit_codes(ctx: RuleContext) -> Iterator[Finding]:
    """The unit's own codes; overseas units have none and are exempt (their filer code too)."""
    reg = ctx.registration
    own = ("uscc", "org_code", "filer_org_code")
    for key in ("filer_org_code", "org_code", "parent_org_code", "main_investor_code"):
        code = reg.value(key)
        if code is None:
            continue
        if reg.overseas and (key in own or not is_org_code_format(code)):
            continue
        problem = org_code_problem(code)
        if problem:
            yield field_finding(reg, key, problem[0], problem[1])
    if reg.overseas or reg.uscc is None:
        return
    problem = uscc_problem(reg.uscc)
    if problem:
        yield field_finding(reg, "uscc", problem[0], problem[1])
        return
    embedded = org_code_of_uscc(reg.uscc)
    if reg.org_code is not None and is_org_code_format(reg.org_code) and embedded != reg.org_code:
        yield field_finding(
            reg,
            "org_code",
            "org-code-uscc-mismatch",
            f"“{reg.org_code}”与统一社会信用代码“{reg.uscc}”第9至17位“{embedded}”不一致。",
        )


def check_investor_codes(ctx: RuleContext) -> Iterator[Finding]:
    reg = ctx.registration
    codes = ctx.column(INVESTORS.name, "investor_code")
    usccs = [code for code in codes if code and len(code) == 18]
    valid = {code for code, ok in zip(usccs, valid_usccs(usccs), strict=True) if ok}  # the common case, in bulk
    for inv, code in zip(reg.investors, codes, strict=True):
        if not code or code in valid:
            continue
        if len(code) == 18:
            problem = uscc_problem(code)
        elif len(code) == 9:
            problem = org_code_problem(code)
        elif inv.investor_category in CODELESS_INVESTOR_CATEGORIES:
            problem = None
        else:
            problem = (
                "investor-code-format",
                f"应为9位组织机构代码或18位统一社会信用代码，现为“{code}”（{len(code)}位）。"
                + (NUMBER_HINT if code.isdigit() and len(code) < 9 else ""),
            )
        if problem:
            yield row_finding(reg, INVESTORS.name, inv, "investor_code", problem[0], problem[1])
