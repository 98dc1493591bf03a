"""`chanquan filings` (list, show, withdraw) and `chanquan queue CODE` (what waits for a unit's reviewers)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.table import Table

from chanquan.commands.units import guarded, make_console, workflow_for
from workflow import FilingStatus, WorkflowError

_STATES = [s.value for s in FilingStatus]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("filings", help="filings and their review: list, show, withdraw")
    sub = parser.add_subparsers(dest="filings_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="filings, optionally by state and unit")
    p.add_argument("--state", choices=_STATES, help="only filings in this state")
    p.add_argument("--unit", help="only filings of (or filed by) this unit")
    p.set_defaults(handler=run_list)
    p = sub.add_parser("show", help="one filing with its whole history: each step, opinion, reviewer and time")
    p.add_argument("filing_id")
    p.set_defaults(handler=run_show)
    p = sub.add_parser("withdraw", help="withdraw a filing at its filer's request (pending reviews are cancelled)")
    p.add_argument("filing_id")
    p.add_argument("--reason", default="", help="why (recorded in the ledger)")
    p.set_defaults(handler=run_withdraw)

    q = subparsers.add_parser("queue", help="what waits for a unit's reviewers")
    q.add_argument("code")
    q.set_defaults(handler=run_queue)


@guarded
def run_list(args: argparse.Namespace) -> int:
    with workflow_for(args, read_only=True) as wf:
        rows = wf.filings(state=args.state, unit=args.unit)
    table = Table("申报编号", "单位", "时期", "轮次", "状态", "当前审核单位", "更新时间")
    for f in rows:
        where = f"第{f.level}级 {f.review_unit}" if f.state == FilingStatus.IN_REVIEW else ""
        table.add_row(
            f.filing_id, f"{f.unit_name}（{f.unit}）", f.period, str(f.round), f.state_zh, where, f.updated_at
        )
    make_console().print(table)
    print(f"共 {len(rows)} 件。")
    return 0


@guarded
def run_show(args: argparse.Namespace) -> int:
    with workflow_for(args, read_only=True) as wf:
        view = wf.filing(args.filing_id)
        if view is None:
            print(f"申报 {args.filing_id} 不存在。", file=sys.stderr)
            return 1
        unit = wf.units.get(view.unit)
        sent = [ev.payload for ev in wf.ledger.events(subject=view.filing_id, kind="filing.received")]
    console = make_console()
    console.print(f"[bold]{view.filing_id}[/bold]  {unit.name if unit else ''}（{view.unit}）")
    console.print(f"状态：{view.state_zh}  第 {view.round} 轮  时期：{view.period or '—'}  填报单位：{view.filer}")
    if view.state == FilingStatus.IN_REVIEW:
        console.print(
            f"当前：第 {view.level} 级审核，单位 {view.review_unit}，审核人 {'、'.join(view.reviewers) or '—'}"
        )
    table = Table("序号", "时间", "操作人", "内容")
    for entry in view.history:
        table.add_row(str(entry.seq), entry.at, entry.actor, entry.text_zh)
    console.print(table)
    console.print("报送的文件（填报单位的原文件名）：")
    for received in sent:
        # markup off: file names are the filer's own text, and "[...]" would read as rich markup
        console.print(sent_files_line(received), markup=False, highlight=False)
    return 0


def sent_files_line(received: dict[str, Any]) -> str:
    """One round's files under the names the filer gave them (filings recorded before the names: a note)."""
    head = f"  第 {received.get('round')} 轮：{received.get('original_name') or '（未记录原文件名）'}"
    parts = []
    if received.get("workbook_name"):
        parts.append(f"登记表“{received['workbook_name']}”")
    names = [str(name) for name in received.get("attachment_names") or []]
    if names:
        parts.append(f"附件 {len(names)} 个：" + "、".join(names))
    return head + (f"（{'；'.join(parts)}）" if parts else "")


@guarded
def run_withdraw(args: argparse.Namespace) -> int:
    with workflow_for(args) as wf:
        try:
            wf.withdraw(args.filing_id.strip().upper(), reason=args.reason)
        except WorkflowError as exc:
            print(exc.message_zh, file=sys.stderr)
            return 1
    print(f"申报 {args.filing_id.upper()} 已撤回；尚未作出的审核决定将不再受理。")
    return 0


@guarded
def run_queue(args: argparse.Namespace) -> int:
    code = args.code.strip().upper()
    with workflow_for(args, read_only=True) as wf:
        unit = wf.units.get(code)
        if unit is None:
            print(f"单位 {code} 不存在。", file=sys.stderr)
            return 1
        entries = wf.queue(code)
    table = Table("申报编号", "申报单位", "时期", "轮次", "级", "审核人", "提交审核时间")
    for e in entries:
        table.add_row(
            e.filing_id,
            f"{e.filing_unit_name}（{e.filing_unit}）",
            e.period,
            str(e.round),
            str(e.level),
            "、".join(e.reviewers) or "—",
            e.requested_at,
        )
    make_console().print(table)
    print(f"{unit.name}（{code}）待审核 {len(entries)} 件。")
    return 0
