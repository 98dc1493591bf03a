"""The portal benchmark's data directory (bench/web.py): a unit tree of N units and M filings in every
state, written as events in batches through the ledger, the projections folding them as live ones.

SASAC, 50 first-level groups of 10 second-level companies each, the rest third level; each filing's
fate is picked by its index (waiting at each level, returned, approved, invalid), older periods
approved. Imported after bench/web.py has put the project root and tests/ (for `support`) on the path.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support import registrations as reg

from chanquan.app import open_workflow
from validation.check import check_bundle
from validation.codes import make_org_code
from workflow import UnitRow
from workflow.events import (
    FilingApproved,
    FilingInvalid,
    FilingReceived,
    FilingReturned,
    ReviewDecided,
    ReviewRequested,
)

FIRST_LEVEL = 50
SECOND_PER_FIRST = 10
PASSWORD = "Bench#Portal2026"
PERIODS = ("2024-12-31", "2025-06-30", "2023-12-31")
SASAC = "SASAC0001"
RETURN_OPINION = "请补充经济行为批准文件，并核对出资比例。"
Events = list[tuple[Any, str, str]]  # (body, actor, subject), as `append_many` takes them


@dataclass(frozen=True)
class Chain:
    """A filing unit and its reviewers from the first step up to SASAC."""

    unit: str
    name: str
    reviewers: tuple[str, ...]


def tree(units: int) -> tuple[list[UnitRow], list[str], list[Chain]]:
    """Unit rows, the first-level codes, and every unit that files (second and third level)."""
    rows: list[UnitRow] = []
    firsts: list[str] = []
    seconds: list[tuple[str, str]] = []
    chains: list[Chain] = []
    for f in range(FIRST_LEVEL):
        first = make_org_code(f"1{f:07d}")
        firsts.append(first)
        rows.append(UnitRow(len(rows) + 2, first, f"基准集团{f:02d}有限公司", "", reviewer_emails=f"sh@f{f}.cn"))
        for s in range(SECOND_PER_FIRST):
            second = make_org_code(f"2{f:03d}{s:04d}")
            name = f"基准集团{f:02d}二级公司{s:02d}"
            rows.append(UnitRow(len(rows) + 2, second, name, first, reviewer_emails=f"sh@s{f}-{s}.cn"))
            seconds.append((second, first))
            chains.append(Chain(second, name, (first, SASAC)))
    third_count = max(0, units - 1 - len(rows))
    for t in range(third_count):
        second, first = seconds[t % len(seconds)]
        code = make_org_code(f"3{t:07d}")
        name = f"基准三级公司{t:05d}"
        rows.append(UnitRow(len(rows) + 2, code, name, second))
        chains.append(Chain(code, name, (second, first, SASAC)))
    return rows, firsts, chains


def base_registration() -> tuple[dict[str, Any], bytes]:
    """One real registration (a filled workbook, checked) to be copied per unit, and its workbook."""
    unit, parent = make_org_code("30000000"), make_org_code("20000000")
    values = reg.registration_values(unit, "基准三级公司", 3, parent)
    bundle = reg.registration_bundle(values, reg.sole_investor(parent, 3, 1000), reg.document_rows())
    result = check_bundle(bundle)
    assert result.registration is not None
    return result.registration.to_canonical(), bundle.workbook_bytes


def _reviewer(unit: str) -> str:
    return f"reviewer@{unit.lower()}.cn"


def _step(filing_id: str, level: int, unit: str, decision: str = "", opinion: str = "") -> Events:
    """One review step of round 1: its request, and its decision when it has one."""
    reviewer = _reviewer(unit)
    reason = "submitted" if level == 1 else "approved_below"
    request = ReviewRequested(filing_id=filing_id, round=1, level=level, unit=unit, reviewers=[reviewer], reason=reason)
    events: Events = [(request, "x", filing_id)]
    if decision:
        decided = ReviewDecided(
            filing_id=filing_id, round=1, level=level, unit=unit, reviewer=reviewer, decision=decision, opinion=opinion
        )
        events.append((decided, reviewer, filing_id))
    return events


def _fate(kind: int, levels: int) -> tuple[int, str]:
    """How many steps are approved before the filing stops, and how it stops: waiting, returned, approved."""
    if kind < 8:
        return 0, "waiting"
    if kind < 12:
        return 1, "waiting"
    if kind < 14:
        return min(2, levels - 1), "waiting"
    if kind < 17:
        return 0, "returned"
    return levels, "approved"


def filing_events(
    index: int, filing_id: str, chain: Chain, period: str, *, base: dict[str, Any], blobs: tuple[str, str]
) -> Events:
    """The events of one filing, in a state picked by its index (older periods are approved)."""
    registration = copy.copy(base)
    registration.update(org_code=chain.unit, ent_name=chain.name, act_date=period)
    workbook, pdf = blobs
    unit = chain.unit
    received = FilingReceived(
        filing_id=filing_id,
        round=1,
        unit=unit,
        filer=unit,
        period=period,
        channel="dropbox",
        reply_to=f"dropbox:{unit}",
        registration=registration,
        workbook_blob=workbook,
        attachment_blobs=[pdf] * 5,
        item_id=f"bench-{filing_id}",
    )
    events: Events = [(received, unit, filing_id)]
    kind = 17 if period == PERIODS[0] else index % 20
    if kind == 19:
        finding = {"code": "investors-share-sum", "severity": "error", "sheet": "出资人情况", "cell": "F5"}
        finding |= {"field": "share_pct", "value": "90", "message": "出资比例合计应为 100%，实为 90%。"}
        invalid = FilingInvalid(filing_id=filing_id, round=1, findings=[finding], annotated_blob=workbook)
        return [*events, (invalid, "x", filing_id)]
    decided, end = _fate(kind, len(chain.reviewers))
    for level in range(1, decided + 1):
        events += _step(filing_id, level, chain.reviewers[level - 1], "通过", "同意。")
    if end == "approved":
        return [*events, (FilingApproved(filing_id=filing_id, round=1, unit=unit, period=period), "x", filing_id)]
    level = decided + 1
    stops_at = chain.reviewers[level - 1]
    if end == "waiting":
        return events + _step(filing_id, level, stops_at)
    returned = FilingReturned(filing_id=filing_id, round=1, level=level, opinion=RETURN_OPINION, by=stops_at)
    return [
        *events,
        *_step(filing_id, level, stops_at, "退回", RETURN_OPINION),
        (returned, _reviewer(stops_at), filing_id),
    ]


def build(data: Path, units: int, filings: int) -> list[str]:
    """The data directory; returns the first-level codes (the sessions' accounts, password PASSWORD)."""
    started = time.perf_counter()
    rows, firsts, chains = tree(units)
    base, workbook = base_registration()
    with open_workflow(data) as wf:
        wf.units.ensure_root()
        wf.units.set_contacts(SASAC, reviewer_emails=["chu@sasac.example.cn"])
        wf.units.import_rows(rows)
        blobs = (wf.ledger.blobs.put(workbook), wf.ledger.blobs.put(reg.SMALL_PDF))
        batch: Events = []
        count = 0
        for period in PERIODS:
            for chain in chains:
                if count >= filings:
                    break
                count += 1
                batch.extend(filing_events(count, f"CQ2026-{count:06d}", chain, period, base=base, blobs=blobs))
                if len(batch) >= 5000:
                    wf.ledger.append_many(batch)
                    batch = []
        if batch:
            wf.ledger.append_many(batch)
        for code in [*firsts, SASAC]:
            wf.accounts.set_password(code, PASSWORD)
        size = wf.ledger.size()
        total_units = wf.units.count()
    print(
        f"built    {total_units} units, {count} filings, {size} events in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return firsts
