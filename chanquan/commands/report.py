"""`chanquan report progress`: the campaign progress workbook for SASAC."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from chanquan.commands.units import workflow_for
from chanquan.failures import fail
from workflow.progress import APPROVED, IN_REVIEW, NOT_FILED, RETURNED, progress, write_progress_workbook


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("report", help="市国资委的统计报表")
    sub = parser.add_subparsers(dest="report_command", metavar="REPORT", required=True)
    p = sub.add_parser("progress", help="按一级企业统计：已核准、审核中、被退回、未填报")
    p.add_argument("--out", type=Path, required=True, help="输出的 Excel 文件 FILE.xlsx")
    p.add_argument("--period", default=None, help="只统计该登记时期的申报（日期，如 2025-12-31）")
    p.set_defaults(handler=run_progress)


def run_progress(args: argparse.Namespace) -> int:
    if args.out.suffix.lower() != ".xlsx":
        return fail("报表只能写成 .xlsx 文件，请用 --out 报表.xlsx。")
    with workflow_for(args) as wf:
        reports = progress(wf.units, wf, args.period)
        title = f"{wf.units.root_name}产权登记进度" + (f"（时期 {args.period}）" if args.period else "")
    write_progress_workbook(args.out, reports, title)
    totals = {k: sum(r.counts[k] for r in reports) for k in (APPROVED, IN_REVIEW, RETURNED, NOT_FILED)}
    print(
        f"已生成进度报表：{args.out}（{len(reports)} 家一级企业；"
        f"已通过 {totals[APPROVED]}，审核中 {totals[IN_REVIEW]}，"
        f"已退回 {totals[RETURNED]}，未填报 {totals[NOT_FILED]}）"
    )
    return 0
