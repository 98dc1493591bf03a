"""Required fields, per registration type, situation, overseas status and level."""

from __future__ import annotations

from collections.abc import Iterator
from operator import itemgetter

from validation.findings import ERROR, Finding, where
from validation.model import Registration
from validation.rules.base import RuleContext, field_finding, has_none, header_ref, row_finding
from validation.spec import (
    BACKFILL,
    CODELESS_INVESTOR_CATEGORIES,
    FIELD_LIST,
    FIRST_LEVEL,
    INVESTORS,
    Requirement,
)


def is_required(req: Requirement, reg: Registration) -> bool:
    if req.exempt_overseas and reg.overseas:
        return False
    if req.exempt_first_level and reg.ent_level == FIRST_LEVEL:
        return False
    if req.backfill_only:
        return reg.reg_situation == BACKFILL
    if req.not_backfill and reg.reg_situation == BACKFILL:
        return False
    if req.reg_types:
        return reg.reg_type in req.reg_types
    return req.always or req.not_backfill


def check_required_fields(ctx: RuleContext) -> Iterator[Finding]:
    reg = ctx.registration
    for spec in FIELD_LIST:
        if reg.value(spec.key) is not None or ctx.unreadable(reg.cell_of(spec.key)):
            continue
        if is_required(spec.requirement, reg):
            yield field_finding(reg, spec.key, "required-missing", f"必须填写（{spec.requirement.describe()}）。")


def check_required_columns(ctx: RuleContext) -> Iterator[Finding]:
    reg = ctx.registration
    if INVESTORS.name in ctx.missing_tables:
        return
    if not reg.investors:
        ref = header_ref(reg, INVESTORS.name, "investor_name")
        cell = f"{ref.cell[0]}{INVESTORS.header_row + 1}"
        yield Finding(
            "investors-empty",
            ERROR,
            ref.sheet,
            cell,
            INVESTORS.name,
            "",
            f"{where(ref.sheet, cell)}起没有填写任何出资人，至少应有一行。",
        )
        return
    if not any(has_none(ctx.column(INVESTORS.name, col.key)) for col in INVESTORS.columns):
        return  # every cell filled: the common case of a big table, decided column by column
    columns = itemgetter(*(col.key for col in INVESTORS.columns))
    for inv, row in zip(reg.investors, map(vars, reg.investors), strict=True):
        if None not in columns(row):
            continue
        for col in INVESTORS.columns:
            if row[col.key] is not None or ctx.unreadable(reg.table_cell(INVESTORS.name, inv, col.key)):
                continue
            if col.key == "investor_code":
                if inv.investor_category in CODELESS_INVESTOR_CATEGORIES or inv.investor_category is None:
                    continue
            elif not col.required:
                continue
            yield row_finding(
                reg, INVESTORS.name, inv, col.key, "required-missing", f"必须填写（第 {inv.row} 行出资人）。"
            )
