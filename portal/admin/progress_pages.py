"""The filing campaign's progress: per first-level group, units approved / in review / returned /
not yet filed (workflow.progress, the numbers of `chanquan report progress`), as a table with a
stacked bar chart, and the same progress workbook to download.

The chart is SVG drawn on the server (bars as rectangles with attributes): no script and no
inline style, which the portal's Content-Security-Policy forbids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from portal.admin.common import admin_or_response
from portal.context import Portal, Viewer
from workflow.progress import (
    APPROVED,
    IN_REVIEW,
    NOT_FILED,
    RETURNED,
    FirstLevelProgress,
    progress,
    progress_workbook_bytes,
)

BUCKETS = (
    (APPROVED, "已通过", "#1f7a3a"),
    (IN_REVIEW, "审核中", "#1d4f91"),
    (RETURNED, "已退回", "#b42318"),
    (NOT_FILED, "未填报", "#c3c9d0"),
)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_PERIOD = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
CHART_WIDTH = 640  # the bars' drawing width in SVG units; names sit to their left
NAME_WIDTH = 260
ROW_HEIGHT = 26


@dataclass(frozen=True)
class Bar:
    name: str
    code: str
    total: int
    counts: tuple[int, ...]  # in BUCKETS' order
    rate: str
    y: int
    segments: tuple[tuple[float, float, str, str, int], ...]  # x, width, colour, label, count


@dataclass(frozen=True)
class _Asked:
    """An admin's request for the progress, of one period (`?period=`) or of all, and the groups' progress."""

    portal: Portal
    viewer: Viewer
    period: str
    reports: list[FirstLevelProgress]


def _asked(request: Request) -> _Asked | Response:
    portal, viewer = admin_or_response(request)
    if isinstance(viewer, Response):
        return viewer
    period = request.query_params.get("period", "").strip()
    period = period if _PERIOD.match(period) else ""
    reports: list[FirstLevelProgress] = portal.cached(
        f"progress:{period}", lambda: progress(portal.wf.units, portal.wf, period or None), ("filings",)
    )
    return _Asked(portal, viewer, period, reports)


def bars(reports: list[FirstLevelProgress]) -> list[Bar]:
    widest = max((r.total for r in reports), default=0) or 1
    out = []
    for row, report in enumerate(reports):
        counts = tuple(report.counts[key] for key, _label, _colour in BUCKETS)
        x = float(NAME_WIDTH)
        segments = []
        for (_key, label, colour), count in zip(BUCKETS, counts, strict=True):
            width = CHART_WIDTH * count / widest
            if count:
                segments.append((round(x, 1), round(width, 1), colour, label, count))
            x += width
        rate = f"{100 * counts[0] / report.total:.1f}%" if report.total else "—"
        out.append(
            Bar(report.unit.name, report.unit.code, report.total, counts, rate, row * ROW_HEIGHT + 4, tuple(segments))
        )
    return out


async def progress_page(request: Request) -> Response:
    asked = _asked(request)
    if isinstance(asked, Response):
        return asked
    shown = bars(asked.reports)
    totals = [sum(bar.counts[i] for bar in shown) for i in range(len(BUCKETS))]
    return asked.portal.pages.render(
        "admin/progress.html.j2",
        {
            "viewer": asked.viewer,
            "period": asked.period,
            "bars": shown,
            "buckets": BUCKETS,
            "totals": totals,
            "chart_height": len(shown) * ROW_HEIGHT + 8,
            "chart_width": NAME_WIDTH + CHART_WIDTH + 60,
            "name_width": NAME_WIDTH,
        },
    )


async def progress_workbook(request: Request) -> Response:
    asked = _asked(request)
    if isinstance(asked, Response):
        return asked
    period = asked.period
    title = f"{asked.portal.wf.units.root_name}产权登记进度" + (f"（时期 {period}）" if period else "")
    data = await run_in_threadpool(progress_workbook_bytes, asked.reports, title)
    name = f"产权登记进度{('-' + period) if period else ''}.xlsx"
    response = Response(data, media_type=XLSX)
    response.headers["content-disposition"] = f"attachment; filename=\"progress.xlsx\"; filename*=utf-8''{quote(name)}"
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/progress", progress_page, methods=["GET"], name="admin_progress"),
        Route("/admin/progress.xlsx", progress_workbook, methods=["GET"], name="admin_progress_xlsx"),
    ]
