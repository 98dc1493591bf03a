"""首页: what waits for the unit, what came back to it, what it filed, and the overviews of a
first-level enterprise and of SASAC.

Everything here is read from workflow's projections by indexed queries. What a unit's lists hold
changes only with the events of the filings it concerns, so they are computed once per change
(`Portal.cached`, scope `unit:<code>`) and kept as finished rows; every request in between only
counts the days waited (the 待审核 rows are remembered per list of days) and places the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
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


@lru_cache(maxsize=65536)
def parse_time(iso: str) -> datetime | None:
    """An event time as recorded (ISO, UTC), parsed once: the same times are on many pages."""
    try:
        return datetime.fromisoformat(iso)
    except ValueError:
        return None


def days_since(iso: str, now: datetime) -> int:
    then = parse_time(iso)
    return 0 if then is None else max(0, (now - then).days)


def joined(rows: list[Markup]) -> Markup:
    """Rows already escaped, as one piece (so the page does not escape-check each again)."""
    return Markup("".join(rows))


@dataclass(frozen=True)
class HomeLists:
    """A unit's 首页 lists as of one change of its scope; only 待审核's days waited depend on the time."""

    waiting_total: int
    waiting: list[tuple[tuple[Any, ...], datetime | None]]  # (row values but the days, requested at)
    returned: Markup
    returned_count: int
    mine_total: int
    mine: Markup
    mine_count: int
    reviewed: Markup
    _waiting_rows: dict[tuple[int, ...], Markup] = field(default_factory=dict, compare=False, repr=False)

    def waiting_rows(self, row: Any, now: datetime) -> tuple[Markup, int]:
        """The 待审核 rows with the days waited as of `now` (remembered per list of days), and how many."""
        days = tuple(0 if then is None else max(0, (now - then).days) for _values, then in self.waiting)
        html = self._waiting_rows.get(days)
        if html is None:
            html = joined([row("waiting", *values, d) for (values, _then), d in zip(self.waiting, days, strict=True)])
            if len(self._waiting_rows) >= 4:  # the days move on; older lists are not asked again
                self._waiting_rows.clear()
            self._waiting_rows[days] = html
        return html, len(days)


def home_lists(portal: Portal, unit: Unit) -> HomeLists:
    wf, row, code = portal.wf, portal.pages.row, unit.code
    waiting_total, waiting = wf.queue_page(code, LIST_LIMIT)
    mine_total, mine = wf.filings_of(code, LIST_LIMIT)
    returned = [
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
    ]
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
                parse_time(e.requested_at),
            )
            for e in waiting
        ],
        returned=joined(returned),
        returned_count=len(returned),
        mine_total=mine_total,
        mine_count=len(mine),
        mine=joined(
            [
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
            ]
        ),
        reviewed=joined(
            [
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
            ]
        ),
    )


async def home(request: Request) -> Response:
    portal = portal_of(request)
    viewer = portal.viewer_or_redirect(request)
    if isinstance(viewer, Response):
        return viewer
    unit = viewer.unit
    code = unit.code
    lists: HomeLists = portal.cached(f"home:{code}", lambda: home_lists(portal, unit), (f"unit:{code}",))
    # the overviews change with any filing of the tree (of any tree for SASAC), so they are kept apart
    subtree = (
        portal.cached(f"subtree:{code}", lambda: _subtree(portal, code), (f"group:{code}",)) if unit.level == 1 else []
    )
    groups = portal.cached("groups", lambda: _groups(portal), ("groups",)) if unit.level == 0 else []
    waiting, waiting_count = lists.waiting_rows(portal.pages.row, portal.clock())
    context: dict[str, Any] = {
        "viewer": viewer,
        "notice": NOTICES.get(request.query_params.get("notice", ""), ""),
        "lists": lists,
        "subtree": subtree,
        "groups": groups,
        "waiting": waiting,
        "waiting_count": waiting_count,
        "has_submit": has_route(request, "submit"),
        "status_columns": STATUS_COLUMNS,
    }
    return portal.pages.render("home.html.j2", context)


def _subtree(portal: Portal, code: str) -> list[int]:
    counts = portal.wf.subtree_status_counts(code)
    return [counts.get(status.value, 0) for status, _label in STATUS_COLUMNS]


def _groups(portal: Portal) -> Markup:
    units = portal.wf.units
    counts = portal.wf.group_status_counts()
    rows = []
    for first in units.children(units.root_code):
        mine = counts.get(first.code, {})
        columns = tuple(mine.get(status.value, 0) for status, _ in STATUS_COLUMNS)
        rows.append(portal.pages.row("group", first.name, columns, sum(mine.values())))
    return joined(rows)


def unit_names(portal: Portal, codes: list[str]) -> dict[str, str]:
    """Each code's unit name (the code itself for one no unit has), in one read."""
    found = portal.wf.unit_names(codes)
    return {code: found.get(code, code) for code in codes if code}


def has_route(request: Request, name: str) -> bool:
    """Whether the app has a route of that name (the routes are fixed once the app is made)."""
    names: frozenset[str] | None = getattr(request.app.state, "route_names", None)
    if names is None:
        names = frozenset(str(getattr(route, "name", "")) for route in request.app.routes)
        request.app.state.route_names = names
    return name in names
