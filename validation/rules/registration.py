"""Registration type, situation and the backfill fields must fit together."""

from __future__ import annotations

from collections.abc import Iterator

from validation.findings import Finding
from validation.rules.base import RuleContext, field_finding
from validation.spec import BACKFILL, REG_SITUATIONS


def check_situation(ctx: RuleContext) -> Iterator[Finding]:
    reg = ctx.registration
    allowed = REG_SITUATIONS.get(reg.reg_type or "")
    if allowed is None or reg.reg_situation is None:
        return
    known = any(reg.reg_situation in group for group in REG_SITUATIONS.values())
    if known and reg.reg_situation not in allowed:
        yield field_finding(
            reg,
            "reg_situation",
            "reg-situation-mismatch",
            f"“{reg.reg_situation}”不适用于登记类型“{reg.reg_type}”，可选：{'、'.join(allowed)}。",
        )


def check_backfill_fields(ctx: RuleContext) -> Iterator[Finding]:
    """backfill_form and as_of_date belong to 补录历史数据 only (missing ones are required-missing)."""
    reg = ctx.registration
    if reg.reg_situation == BACKFILL or reg.reg_situation is None:
        return
    for key in ("backfill_form", "as_of_date"):
        if reg.value(key) is not None:
            yield field_finding(
                reg,
                key,
                "backfill-field-not-allowed",
                f"只在登记情形为“{BACKFILL}”时填写，本次登记情形为“{reg.reg_situation}”，请清空。",
            )
