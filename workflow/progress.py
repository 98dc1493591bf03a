"""The campaign progress report for SASAC: per first-level enterprise, how far its tree has got.

A unit counts by its latest filing (of the period, when one is given): approved (or issued),
in review, returned — and "not yet filed" when it has none, or only invalid or withdrawn ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import IO

from workflow.machine import FilingStatus
from workflow.queries import Queries
from workflow.units import Unit, UnitsView, level_name

APPROVED, IN_REVIEW, RETURNED, NOT_FILED = "approved", "in_review", "returned", "not_filed"
_BUCKET = {
    FilingStatus.APPROVED: APPROVED,
    FilingStatus.ISSUED: APPROVED,
    FilingStatus.IN_REVIEW: IN_REVIEW,
    FilingStatus.RECEIVED: IN_REVIEW,
    FilingStatus.RETURNED: RETURNED,
}


@dataclass
class FirstLevelProgress:
    unit: Unit
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys((APPROVED, IN_REVIEW, RETURNED, NOT_FILED), 0))
    not_filed: list[Unit] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def progress(units: UnitsView, queries: Queries, period: str | None = None) -> list[FirstLevelProgress]:
    latest: dict[str, str] = {}
    for summary in queries.filings():  # ordered by filing id, so later filings overwrite earlier ones
        if period and summary.period != period:
            continue
        latest[summary.unit] = summary.state
    out = []
    for first in units.children(units.root_code):
        report = FirstLevelProgress(first)
        for unit in units.subtree(first.code):
            bucket = _BUCKET.get(FilingStatus(latest[unit.code]), NOT_FILED) if unit.code in latest else NOT_FILED
            report.counts[bucket] += 1
            if bucket == NOT_FILED:
                report.not_filed.append(unit)
        out.append(report)
    return out


def progress_workbook_bytes(reports: list[FirstLevelProgress], title: str) -> bytes:
    """The same workbook as `write_progress_workbook`, in memory (the portal's download)."""
    out = BytesIO()
    write_progress_workbook(out, reports, title)
    return out.getvalue()


def write_progress_workbook(path: Path | IO[bytes], reports: list[FirstLevelProgress], title: str) -> None:
    """Summary sheet with a stacked bar chart, and a sheet listing every unit not yet filed."""
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, Reference
    from openpyxl.styles import Font

    workbook = Workbook()
    summary = workbook.active
    summary.title = "进度汇总"
    summary.append([title])
    summary["A1"].font = Font(bold=True, size=14)
    headers = ["一级企业", "组织机构代码", "单位总数", "已通过", "审核中", "已退回", "未填报", "完成率"]
    summary.append(headers)
    for cell in summary[2]:
        cell.font = Font(bold=True)
    for report in reports:
        c = report.counts
        rate = c[APPROVED] / report.total if report.total else 0
        summary.append(
            [
                report.unit.name,
                report.unit.code,
                report.total,
                c[APPROVED],
                c[IN_REVIEW],
                c[RETURNED],
                c[NOT_FILED],
                rate,
            ]
        )
        summary.cell(row=summary.max_row, column=8).number_format = "0.0%"
    last = summary.max_row
    totals = ["合计", "", *[f"=SUM({col}3:{col}{last})" for col in "CDEFG"]]
    summary.append(totals if reports else ["合计", "", 0, 0, 0, 0, 0])
    for column, width in zip("ABCDEFGH", (30, 14, 10, 10, 10, 10, 10, 10), strict=True):
        summary.column_dimensions[column].width = width
    if reports:
        chart = BarChart()
        chart.type = "bar"
        chart.grouping = "stacked"
        chart.overlap = 100
        chart.title = "各一级企业产权登记进度"
        chart.y_axis.title = "单位数"
        data = Reference(summary, min_col=4, max_col=7, min_row=2, max_row=last)
        categories = Reference(summary, min_col=1, min_row=3, max_row=last)
        chart.add_data(data, titles_from_data=True)
        chart.set_categories(categories)
        chart.height = max(7.5, 1.2 * len(reports) + 4)
        chart.width = 22
        summary.add_chart(chart, f"A{last + 3}")
    missing = workbook.create_sheet("未填报单位")
    missing.append(["一级企业", "组织机构代码/用户名", "单位名称", "级次", "上级单位", "境外", "填报联系人"])
    for cell in missing[1]:
        cell.font = Font(bold=True)
    for report in reports:
        for unit in report.not_filed:
            missing.append(
                [
                    report.unit.name,
                    unit.code,
                    unit.name,
                    level_name(unit.level),
                    unit.parent,
                    "是" if unit.overseas else "否",
                    "; ".join(unit.filer_emails),
                ]
            )
    for column, width in zip("ABCDEFG", (30, 20, 36, 8, 14, 6, 36), strict=True):
        missing.column_dimensions[column].width = width
    workbook.save(path)
    workbook.close()
