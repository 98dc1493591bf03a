"""首页: what waits for the unit, what came back to it, what it filed, and the overviews of a
first-level enterprise and of SASAC.

Everything here is read from workflow's projections by indexed queries. What a unit's lists hold
changes only when the ledger grows, so they are computed once per ledger size (`Portal.cached`)
and every request in between only formats the days waited and places the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from portal.context import Portal, portal_of
from portal.render import china_time
from workflow import Unit
from workflow.machine import FilingStatus

LIST_LIMIT = 100
NOTICES = {"password-changed": "密码已修改。该账户在其他地方的登录已全部失效。"}
# how SASAC's and a first-level enterprise's overviews group the states
STATUS_COLUMNS = (
    (FilingStatus.IN_REVIEW, "审核中"),
    (FilingStatus.RETURNED, "已退回"),
    (FilingStatus.INVALID, "校验未通过"),
    (FilingStatus.APPROVED, "已通过"),
    (FilingStatus.ISSUED, "已出证"),
    (FilingStatus.WITHDRAWN, "已撤回"),
)


def days_since(iso: str, now: datetime) -> int:
    try:
        then = datetime.fromisoformat(iso)
    except ValueError:
        return 0
    return max(0, (now - then).days)


@dataclass(frozen=True)
class HomeLists:
    """A unit's 首页 lists as of one ledger size; only 待审核's days waited depend on the time."""

    waiting_total: int
    waiting: list[tuple[tuple[Any, ...], str]]  # (row values but the days, requested_at)
    returned: list[Markup]
    mine_total: int
    mine: list[Markup]
    reviewed: list[Markup]
    subtree: list[int]  # first-level enterprise: its tree's filings per STATUS_COLUMNS
    groups: list[Markup]  # SASAC: one row per first-level group


def home_lists(portal: Portal, unit: Unit) -> HomeLists:
    wf, row, code = portal.wf, portal.pages.row, unit.code
    waiting_total, waiting = wf.queue_page(code, LIST_LIMIT)
    mine_total, mine = wf.filings_of(code, LIST_LIMIT)
    names = unit_names(portal, [f.review_unit for f in mine if f.state == FilingStatus.IN_REVIEW])
    return HomeLists(
        waiting_total=waiting_total,
        waiting=[
            (
                (
                    e.filing_id,
                    e.filing_unit_name or e.filing_unit,
                    e.period,
                    f"第 {e.round} 轮 · 第 {e.level} 级",
                    china_time(e.requested_at),
                ),
                e.requested_at,
            )
            for e in waiting
        ],
        returned=[
            row(
                "returned",
                r.filing_id,
                r.unit_name or r.unit,
                r.period,
                r.by_unit_name or r.by_unit,
                r.opinion,
                china_time(r.returned_at),
            )
            for r in wf.returned_for(code, LIST_LIMIT)
        ],
        mine_total=mine_total,
        mine=[
            row(
                "mine",
                f.filing_id,
                f.unit_name or f.unit,
                f.period,
                f.round,
                f.state,
                f.state_zh,
                f"第 {f.level} 级：{names.get(f.review_unit, f.review_unit)}"
                if f.state == FilingStatus.IN_REVIEW
                else "—",
                china_time(f.updated_at),
            )
            for f in mine
        ],
        reviewed=[
            row(
                "reviewed",
                r.filing_id,
                r.unit_name or r.unit,
                r.decision,
                r.opinion,
                china_time(r.decided_at),
                r.state,
                r.state_zh,
            )
            for r in wf.reviewed_by(code, 10)
        ],
        subtree=_subtree(portal, code) if unit.level == 1 else [],
        groups=_groups(portal) if unit.level == 0 else [],
    )


async def home(request: Request) -> Response:
    portal = portal_of(request)
    viewer = portal.viewer_or_redirect(request)
    if isinstance(viewer, Response):
        return viewer
    lists: HomeLists = portal.cached(f"home:{viewer.unit.code}", lambda: home_lists(portal, viewer.unit))
    now, row = portal.clock(), portal.pages.row
    context: dict[str, Any] = {
        "viewer": viewer,
        "notice": NOTICES.get(request.query_params.get("notice", ""), ""),
        "lists": lists,
        "waiting": [row("waiting", *values, days_since(at, now)) for values, at in lists.waiting],
        "has_submit": has_route(request, "submit"),
        "status_columns": STATUS_COLUMNS,
    }
    return portal.pages.render("home.html.j2", context)


def _subtree(portal: Portal, code: str) -> list[int]:
    counts = portal.wf.subtree_status_counts(code)
    return [counts.get(status.value, 0) for status, _label in STATUS_COLUMNS]


def _groups(portal: Portal) -> list[Markup]:
    units = portal.wf.units
    counts = portal.wf.status_counts(units.root_code)
    rows = []
    for first in units.children(units.root_code):
        mine = counts.get(first.code, {})
        columns = tuple(mine.get(status.value, 0) for status, _ in STATUS_COLUMNS)
        rows.append(portal.pages.row("group", first.name, columns, sum(mine.values())))
    return rows


def unit_names(portal: Portal, codes: list[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for code in codes:
        if code and code not in names:
            unit = portal.wf.units.get(code)
            names[code] = unit.name if unit is not None else code
    return names


def has_route(request: Request, name: str) -> bool:
    return any(getattr(route, "name", None) == name for route in request.app.routes)
