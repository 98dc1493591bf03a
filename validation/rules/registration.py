"""Registration type, situation and the backfill fields must fit together."""

from __future__ import annotations

from collections.abc import Iterator

from validation.findings import ERROR, Finding
from validation.rules.base import RuleContext, field_finding
from validation.spec import BACKFILL, REG_OCCUPY, REG_SITUATIONS


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


def check_backfill_facts(ctx: RuleContext) -> Iterator[Finding]:
    """A backfill records the enterprises already registered with 工商 as of the campaign's cut-off.

    The original manual enters every 补录历史数据 with 数据时点 2012-06-30 (the cut-off is the
    setting `validation.backfill_cutoff`) and 是否已办工商 = 是: an enterprise without its 工商
    registration has no state to record yet and files 占有产权登记 once it is registered.
    """
    reg = ctx.registration
    if reg.reg_situation != BACKFILL or reg.reg_type != REG_OCCUPY:
        return
    cutoff = ctx.options.backfill_cutoff
    if reg.as_of_date is not None and reg.as_of_date != cutoff and not ctx.reported("as_of_date"):
        yield field_finding(
            reg,
            "as_of_date",
            "backfill-as-of-date",
            f"为 {reg.as_of_date.isoformat()}，补录历史数据的数据时点应为 {cutoff.isoformat()}"
            "（补录的是截至该日的产权状况），请核对。",
            severity=ctx.options.backfill_cutoff_severity,
        )
    if reg.is_biz_registered is False:
        yield field_finding(
            reg,
            "is_biz_registered",
            "backfill-not-biz-registered",
            f"为“否”，但补录历史数据只登记截至 {cutoff.isoformat()} 已办理工商登记的企业，“是否已办工商”应为“是”。"
            "尚未办理工商登记的企业不适用补录，请在办理工商登记后按占有产权登记的其他登记情形（如投资设立）填报。",
            severity=ERROR,
        )
