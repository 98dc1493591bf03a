"""Value-level rules: enumerations, amounts and percentages, contact formats, dates."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal

from validation.catalogue import join_choices
from validation.findings import Finding
from validation.rules.base import RuleContext, field_finding, row_finding
from validation.spec import FIELD_LIST, TABLES

AMOUNT_DECIMALS = 4
PERCENT_DECIMALS = 2
_EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+$")
_PHONE = re.compile(r"^\+?[\d\-\s()（）转]{7,30}$")
_REGION = re.compile(r"^\d{6}$")


def decimals_of(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -PERCENT_DECIMALS:
        return max(0, -exponent)
    exponent = value.normalize().as_tuple().exponent  # 1000.00000 has no decimals that matter
    return max(0, -exponent) if isinstance(exponent, int) else 0


_ALLOWED_OR_NONE: dict[tuple[str, ...], frozenset[object]] = {
    col.allowed: frozenset((*col.allowed, None)) for table in TABLES for col in table.columns
}


def _allowed_text(allowed: tuple[str, ...]) -> str:
    """The allowed values for a message: whole values only, so a long list is cut between values, not mid-word."""
    text = join_choices(allowed)
    if len(text) <= 120:
        return text
    shown = list(allowed)
    while len(shown) > 1 and len(join_choices(shown)) > 100:
        shown.pop()
    return f"{join_choices(shown)}……（共 {len(allowed)} 项）"


def check_enumerations(ctx: RuleContext) -> Iterator[Finding]:
    reg = ctx.registration
    for spec in FIELD_LIST:
        if spec.type != "enum":
            continue
        value = reg.value(spec.key)
        if value is not None and value not in spec.allowed:
            yield field_finding(
                reg,
                spec.key,
                "invalid-choice",
                f"“{value}”不是可选值，请从下拉列表选择：{_allowed_text(spec.allowed)}。",
            )
    for table in TABLES:
        entries = reg.investors if table.name == "investors" else reg.documents
        for col in table.columns:
            if col.type != "enum":
                continue
            values = ctx.column(table.name, col.key)
            if set(values) <= _ALLOWED_OR_NONE[col.allowed]:
                continue
            for entry, value in zip(entries, values, strict=True):
                if value is not None and value not in col.allowed:
                    yield row_finding(
                        reg,
                        table.name,
                        entry,
                        col.key,
                        "invalid-choice",
                        f"“{value}”不是可选值，请从下拉列表选择：{_allowed_text(col.allowed)}。",
                    )


def _number_problem(value: Decimal, percent: bool) -> tuple[str, str] | None:
    if percent:
        if value < 0 or value > 100:
            return "percent-range", f"应在 0 到 100 之间，现为 {value}。"
        if decimals_of(value) > PERCENT_DECIMALS:
            return "percent-decimals", f"最多保留 {PERCENT_DECIMALS} 位小数，现为 {value}。"
        return None
    if value < 0:
        return "amount-negative", f"不能为负数，现为 {value}。"
    if decimals_of(value) > AMOUNT_DECIMALS:
        return "amount-decimals", f"以万元为单位最多保留 {AMOUNT_DECIMALS} 位小数，现为 {value}。"
    return None


HUNDRED = Decimal(100)


def _plainly_fine(value: Decimal, upper: Decimal | None) -> bool:
    """Cheap pre-check for the common case (non-negative, at most 2 decimals, in range) on big tables.

    Decimal's str is fast C code; anything unusual (exponent form, more decimals) takes the full check.
    """
    text = str(value)
    point = text.find(".")
    return (
        (point < 0 or len(text) - point <= PERCENT_DECIMALS + 1)
        and text[0] != "-"
        and "E" not in text
        and (upper is None or value <= upper)
    )


def _bad_values(values: list[Decimal | None], percent: bool) -> set[int]:
    """The ids of the values of a column that fail the number checks, each distinct object judged once.

    The reader hands equal amounts out as one shared Decimal, so a column of 2,000 rows holds a
    handful of objects; grouping by identity (not equality) keeps the judgement exact for any
    registration, however it was built.
    """
    upper = HUNDRED if percent else None
    distinct = dict(zip(map(id, values), values, strict=True))
    return {
        key
        for key, value in distinct.items()
        if value is not None and not _plainly_fine(value, upper) and _number_problem(value, percent)
    }


def check_numbers(ctx: RuleContext) -> Iterator[Finding]:
    reg = ctx.registration
    for spec in FIELD_LIST:
        if spec.type in ("amount", "percent"):
            value = reg.value(spec.key)
            if value is not None and (problem := _number_problem(value, spec.type == "percent")):
                yield field_finding(reg, spec.key, problem[0], problem[1])
    for table in TABLES:
        entries = reg.investors if table.name == "investors" else reg.documents
        for col in table.columns:
            if col.type not in ("amount", "percent"):
                continue
            percent = col.type == "percent"
            key = col.key
            bad = _bad_values(ctx.column(table.name, key), percent)
            if not bad:
                continue
            for entry in entries:
                value = entry.__dict__[key]
                if value is None or id(value) not in bad:
                    continue
                if problem := _number_problem(value, percent):
                    yield row_finding(reg, table.name, entry, key, problem[0], problem[1])


def check_formats(ctx: RuleContext) -> Iterator[Finding]:
    reg = ctx.registration
    if reg.contact_email is not None and not _EMAIL.match(reg.contact_email):
        yield field_finding(reg, "contact_email", "email-invalid", f"“{reg.contact_email}”不是有效的邮箱地址。")
    if reg.contact_phone is not None:
        digits = sum(ch.isdigit() for ch in reg.contact_phone)
        if not _PHONE.match(reg.contact_phone) or digits < 7:
            yield field_finding(
                reg,
                "contact_phone",
                "phone-invalid",
                f"“{reg.contact_phone}”不是有效的电话号码（手机或带区号的固定电话）。",
            )
    if reg.region_code is not None and not reg.overseas and not _REGION.match(reg.region_code):
        yield field_finding(
            reg, "region_code", "region-code-invalid", f"应为6位数字的行政区划代码，现为“{reg.region_code}”。"
        )


def check_dates(ctx: RuleContext) -> Iterator[Finding]:
    reg = ctx.registration
    for spec in FIELD_LIST:
        if spec.type != "date":
            continue
        value = reg.value(spec.key)
        if value is not None and value > ctx.today:
            yield field_finding(
                reg, spec.key, "date-in-future", f"{value.isoformat()}晚于今天（{ctx.today.isoformat()}），请检查。"
            )
    if reg.act_date is not None and reg.established_on is not None and reg.act_date < reg.established_on:
        yield field_finding(
            reg,
            "act_date",
            "act-date-before-established",
            f"{reg.act_date.isoformat()}早于成立日期 {reg.established_on.isoformat()}"
            f"（{reg.cell_of('established_on').cell}）。",
        )
