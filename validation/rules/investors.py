"""Investor table: sums against registered capital, per-row consistency, duplicates, state share."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Context, Decimal, DivisionByZero, InvalidOperation
from itertools import compress
from typing import Any

from validation.findings import ERROR, Finding, where
from validation.model import Registration
from validation.rules.base import RuleContext, field_finding, has_none, header_ref, row_finding
from validation.spec import (
    INVESTORS,
    STATE_ABSOLUTE,
    STATE_ACTUAL,
    STATE_INVESTOR_CATEGORIES,
    STATE_MINORITY,
    STATE_WHOLLY,
)

SHARE_TOLERANCE = Decimal("0.01")
FRACTION_HINT = "看起来比例按小数填写（如 0.6），请填写百分数的数值（如 60），或把单元格格式改为“数值”后重新输入。"
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
HALF_CENT = Decimal("0.005")
WIDE = Context(prec=60, traps=[InvalidOperation, DivisionByZero])
FIFTY = Decimal(50)


def check_investor_sums(ctx: RuleContext) -> Iterator[Finding]:
    reg = ctx.registration
    investors = reg.investors
    if not investors:
        return
    subscribed = ctx.column(INVESTORS.name, "subscribed")
    # A wrong capital or amount is reported already: the sums would only repeat it.
    if (
        reg.reg_capital is not None
        and not has_none(subscribed)
        and not ctx.reported("reg_capital", "investors.subscribed")
    ):
        total = sum(subscribed, Decimal(0))
        if total != reg.reg_capital:
            yield field_finding(
                reg,
                "reg_capital",
                "investors-subscribed-sum",
                f"为 {reg.reg_capital} 万元，但“出资人情况”各出资人认缴出资额合计为 {total} 万元，两者应相等。",
            )
    shares = ctx.column(INVESTORS.name, "share_pct")
    if not has_none(shares) and not ctx.reported("investors.share_pct"):
        total_share = sum(shares, Decimal(0))
        if abs(total_share - HUNDRED) > SHARE_TOLERANCE:
            ref = header_ref(reg, INVESTORS.name, "share_pct")
            yield Finding(
                "investors-share-sum",
                ERROR,
                ref.sheet,
                ref.cell,
                "investors.share_pct",
                str(total_share),
                f"{where(ref.sheet, ref.cell)}“股权比例（%）”各行合计为 {total_share}%，应为 100%。"
                + (FRACTION_HINT if abs(total_share - 1) <= SHARE_TOLERANCE else ""),
            )


def _percent_of(part: Decimal, whole: Decimal) -> Decimal | None:
    """part / whole in percent, rounded to 2 decimals; None for absurd magnitudes (other rules report them)."""
    try:
        return (part * HUNDRED / whole).quantize(CENT, context=WIDE)
    except InvalidOperation:
        return None


def _share_expected(subscribed: Decimal, share: Decimal, capital: Decimal) -> Decimal | None:
    """The share the row's subscription implies when it differs from the typed one by more than the tolerance."""
    # Within half a cent of the exact ratio the rounded ratio is within the tolerance: skip
    # the division for the common, correct row.
    if abs(subscribed * HUNDRED - share * capital) <= abs(capital) * HALF_CENT:
        return None
    expected = _percent_of(subscribed, capital)
    if expected is not None and abs(expected - share) > SHARE_TOLERANCE:
        return expected
    return None


def _distinct_pairs(first: list[Any], second: list[Any]) -> Iterable[tuple[Any, Any]]:
    """The pairs (first[i], second[i]), each pair of objects once.

    A column often holds one object throughout (every investor paid in full, equal stakes), and
    then the pairs are that object with each distinct object of the other column: two passes
    that build no tuple per row.
    """
    firsts = dict(zip(map(id, first), first, strict=True))
    if len(firsts) == 1:
        return [(first[0], other) for other in dict(zip(map(id, second), second, strict=True)).values()]
    seconds = dict(zip(map(id, second), second, strict=True))
    if len(seconds) == 1:
        return [(one, second[0]) for one in firsts.values()]
    ids = zip(map(id, first), map(id, second), strict=True)
    return dict(zip(ids, zip(first, second, strict=True), strict=True)).values()


def _rows_plainly_fine(ctx: RuleContext) -> bool:
    """True when no row can give a finding: checked per distinct value pair, in bulk.

    A 2,000-row table is almost always right and repeats a few amounts; the row-by-row pass
    below (which words the findings, in row order) only runs when this cannot rule them out.
    """
    reg = ctx.registration
    capital = reg.reg_capital
    subscribed = ctx.column(INVESTORS.name, "subscribed")
    # The reader hands equal amounts out as one shared Decimal, so pairs are told apart by identity:
    # hashing ids is cheap where hashing Decimals is not (and never fails on a signalling NaN).
    for paid_in, sub in _distinct_pairs(ctx.column(INVESTORS.name, "paid_in"), subscribed):
        if paid_in is not None and sub is not None and paid_in > sub:
            return False
    if capital:
        for sub, share in _distinct_pairs(subscribed, ctx.column(INVESTORS.name, "share_pct")):
            if sub is not None and share is not None and _share_expected(sub, share, capital) is not None:
                return False
    names = list(filter(None, ctx.column(INVESTORS.name, "investor_name")))
    joined = "".join(names)
    if joined.split() != [joined] or len(set(names)) != len(names):
        return False  # blanks inside names make equal names look different (split: faster than a regex)
    codes = list(filter(None, ctx.column(INVESTORS.name, "investor_code")))
    return len(set(codes)) == len(codes)


def _cells_reported(ctx: RuleContext, inv: Any) -> bool:
    """True when one of the row's amounts already has an error: comparing them would only follow from it."""
    reg = ctx.registration
    return any(
        ctx.reported_at(reg.table_cell(INVESTORS.name, inv, key)) for key in ("subscribed", "paid_in", "share_pct")
    )


def check_investor_rows(ctx: RuleContext) -> Iterator[Finding]:
    if _rows_plainly_fine(ctx):
        return
    reg = ctx.registration
    capital = None if ctx.reported("reg_capital") else reg.reg_capital  # a reported capital is no yardstick
    seen_names: dict[str, int | None] = {}
    seen_codes: dict[str, int | None] = {}
    # Big tables repeat the same (subscribed, share) pair; the Decimal arithmetic runs once per pair.
    judged: dict[tuple[Decimal, Decimal], Decimal | None] = {}
    for inv in reg.investors:  # findings in row order, each row's in column order
        yield from _amount_findings(ctx, inv, capital, judged)
        yield from _repeat_findings(reg, inv, seen_names, seen_codes)


def _amount_findings(
    ctx: RuleContext, inv: Any, capital: Decimal | None, judged: dict[tuple[Decimal, Decimal], Decimal | None]
) -> Iterator[Finding]:
    """A row's paid-in amount above its subscription, and a share that its subscription contradicts."""
    reg = ctx.registration
    row = inv.__dict__
    paid_in = row["paid_in"]
    subscribed = row["subscribed"]
    share = row["share_pct"]
    if paid_in is not None and subscribed is not None and paid_in > subscribed and not _cells_reported(ctx, inv):
        yield row_finding(
            reg,
            INVESTORS.name,
            inv,
            "paid_in",
            "investor-paid-in-exceeds",
            f"{paid_in} 万元大于认缴出资额 {subscribed} 万元。",
        )
    if capital and subscribed is not None and share is not None:
        pair = (subscribed, share)
        try:
            expected = judged[pair]
        except KeyError:
            expected = judged[pair] = _share_expected(subscribed, share, capital)
        except TypeError:  # a signalling NaN cannot be hashed
            expected = _share_expected(subscribed, share, capital)
        if expected is not None and not _cells_reported(ctx, inv):
            yield row_finding(
                reg,
                INVESTORS.name,
                inv,
                "share_pct",
                "investor-share-mismatch",
                f"为 {share}%，但认缴 {subscribed} 万元占注册资本 {capital} 万元的 {expected}%。",
            )


def _repeat_findings(
    reg: Registration, inv: Any, seen_names: dict[str, int | None], seen_codes: dict[str, int | None]
) -> Iterator[Finding]:
    """A name (blanks ignored) or a code that an earlier row already has: one investor, one row."""
    row = inv.__dict__
    investor_name = row["investor_name"]
    if investor_name:
        name = "".join(investor_name.split())
        if name in seen_names:
            yield row_finding(
                reg,
                INVESTORS.name,
                inv,
                "investor_name",
                "investor-duplicate-name",
                f"“{investor_name}”与第 {seen_names[name]} 行重复，同一出资人只填一行。",
            )
        else:
            seen_names[name] = inv.row
    code = row["investor_code"]
    if code:
        if code in seen_codes:
            yield row_finding(
                reg,
                INVESTORS.name,
                inv,
                "investor_code",
                "investor-duplicate-code",
                f"“{code}”与第 {seen_codes[code]} 行重复。",
            )
        else:
            seen_codes[code] = inv.row


def state_share(ctx: RuleContext) -> tuple[Decimal, bool] | None:
    """(state-held percentage, whether a state investor holds the largest stake), or None if unknown."""
    investors = ctx.registration.investors
    if not investors:
        return None
    shares = ctx.column(INVESTORS.name, "share_pct")
    categories = ctx.column(INVESTORS.name, "investor_category")
    if has_none(shares) or has_none(categories):
        return None
    is_state = [category in STATE_INVESTOR_CATEGORIES for category in categories]
    state_shares = list(compress(shares, is_state))
    other_shares = list(compress(shares, [not flag for flag in is_state]))
    state = sum(state_shares, Decimal(0))
    top_state = max(state_shares, default=None)
    top_other = max(other_shares, default=None)
    largest = top_state is not None and (top_other is None or top_state >= top_other)
    return state, largest


def check_state_relation(ctx: RuleContext) -> Iterator[Finding]:
    reg = ctx.registration
    relation = reg.state_relation
    if relation is None or ctx.reported("investors.investor_category", "investors.share_pct"):
        return  # a wrong category or share is reported already: the state-held share would only repeat it
    if ctx.found("investors-share-sum"):
        return  # shares that do not add up to 100 give no meaningful state-held share
    known = state_share(ctx)
    if known is None:
        return
    share, largest = known
    problem = None
    if relation == STATE_WHOLLY and abs(share - HUNDRED) > SHARE_TOLERANCE:
        problem = "要求国有出资人合计持股100%"
    elif relation == STATE_ABSOLUTE and not (FIFTY < share < HUNDRED):
        problem = "要求国有出资人合计持股大于50%且小于100%"
    elif relation == STATE_ACTUAL and (share > FIFTY or not largest):
        problem = "要求国有出资人合计持股不超过50%且国有出资人为第一大股东"
    elif relation == STATE_MINORITY and share > FIFTY:
        problem = "要求国有出资人合计持股不超过50%"
    if problem:
        yield field_finding(
            reg,
            "state_relation",
            "state-relation-mismatch",
            f"为“{relation}”，{problem}；按“出资人情况”计算国有出资人合计持股 {share}%"
            + ("" if largest else "，且第一大股东不是国有出资人")
            + "。",
        )
