"""`chanquan filings` (list, show, withdraw) and `chanquan queue CODE` (what waits for a unit's reviewers)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.table import Table

from chanquan.commands import display
from chanquan.commands.units import workflow_for
from chanquan.config import load_settings
from workflow import FilingStatus, QueueEntry, Unit, UnitError, Workflow, WorkflowError
from workflow.events import FilingReceived

_STATES = [s.value for s in FilingStatus]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("filings", help="申报及其审核：列表、详情、撤回")
    sub = parser.add_subparsers(dest="filings_command", metavar="ACTION", required=True)
    p = sub.add_parser("list", help="申报列表，可按状态和单位筛选")
    p.add_argument(
        "--state",
        choices=_STATES,
        help="只列出该状态的申报：received 已收到、invalid 未通过校验、in_review 审核中、returned 被退回、"
        "approved 已核准、issued 已签发、withdrawn 已撤回",
    )
    p.add_argument("--unit", help="只列出该单位的（或由该单位填报的）申报（单位代码）")
    p.set_defaults(handler=run_list)
    p = sub.add_parser("show", help="一件申报的全部经过：每一步、意见、审核人和时间")
    p.add_argument("filing_id", help="申报编号，例如 CQ2026-000001")
    p.set_defaults(handler=run_show)
    p = sub.add_parser("withdraw", help="应填报单位要求撤回申报（尚未作出的审核随之取消）")
    p.add_argument("filing_id", help="申报编号，例如 CQ2026-000001")
    p.add_argument("--reason", default="", help="撤回原因（记入账本）")
    p.set_defaults(handler=run_withdraw)

    q = subparsers.add_parser(
        "queue",
        help="某单位的审核人待审核的申报；--reply-addresses 列出每位审核人的回复地址",
        description="列出等待某单位审核的申报。加 --reply-addresses 时，对每个待审核环节列出审核人邮箱和"
        "该审核人答复所用的 review+TOKEN@ 地址（服务器上的管理员命令，地址即凭据，请勿外传）。",
    )
    q.add_argument("code", help="审核单位代码，例如一级企业或市国资委的代码")
    q.add_argument(
        "--reply-addresses",
        action="store_true",
        help="列出每位审核人及其答复地址（review+TOKEN@…），以及用 chanquan send 答复的示例命令",
    )
    q.set_defaults(handler=run_queue)


def run_list(args: argparse.Namespace) -> int:
    display.use_reader_zone(args.data)
    with workflow_for(args, read_only=True) as wf:
        rows = wf.filings(state=args.state, unit=args.unit)
        names = wf.unit_names(f.review_unit for f in rows if f.state == FilingStatus.IN_REVIEW)
    table = Table("申报编号", "单位", "时期", "轮次", "状态", "当前审核单位", display.time_heading("更新时间"))
    for f in rows:
        where = f"第{f.level}级 {display.named(f.review_unit, names)}" if f.state == FilingStatus.IN_REVIEW else ""
        table.add_row(
            f.filing_id,
            f"{f.unit_name}（{f.unit}）",
            f.period,
            str(f.round),
            f.state_zh,
            where,
            display.when(f.updated_at, label=False),
        )
    display.make_console().print(table, markup=False, highlight=False)
    print(f"共 {len(rows)} 件。")
    return 0


def run_show(args: argparse.Namespace) -> int:
    display.use_reader_zone(args.data)
    with workflow_for(args, read_only=True) as wf:
        view = wf.filing(args.filing_id)
        if view is None:
            raise WorkflowError(f"申报 {args.filing_id} 不存在。")
        unit = wf.units.get(view.unit)
        names = wf.unit_names([view.filer, view.review_unit, *(entry.actor for entry in view.history)])
        sent = [ev.body_as(FilingReceived) for ev in wf.ledger.events(subject=view.filing_id, kind=FilingReceived.kind)]
    console = display.make_console()
    console.print(f"[bold]{view.filing_id}[/bold]  {unit.name if unit else ''}（{view.unit}）")
    filer = display.named(view.filer, names)
    console.print(f"状态：{view.state_zh}  第 {view.round} 轮  时期：{view.period or '—'}  填报单位：{filer}")
    if view.state == FilingStatus.IN_REVIEW:
        reviewing = display.named(view.review_unit, names)
        console.print(f"当前：第 {view.level} 级审核，单位 {reviewing}，审核人 {'、'.join(view.reviewers) or '—'}")
    table = Table("序号", display.time_heading("时间"), "操作人", "内容")
    for entry in view.history:  # the history's texts already name their units (“填报单位 name（code）”)
        actor = display.named(entry.actor, names)
        table.add_row(str(entry.seq), display.when(entry.at, label=False), actor, entry.text_zh)
    console.print(table, markup=False, highlight=False)
    console.print("报送的文件（填报单位的原文件名）：")
    for received in sent:
        # markup off: file names are the filer's own text, and "[...]" would read as rich markup
        console.print(sent_files_line(received), markup=False, highlight=False)
    return 0


def sent_files_line(received: FilingReceived) -> str:
    """One round's files under the names the filer gave them (filings recorded before the names: a note)."""
    head = f"  第 {received.round} 轮：{received.original_name or '（未记录原文件名）'}"
    parts = []
    if received.workbook_name:
        parts.append(f"登记表“{received.workbook_name}”")
    names = received.attachment_names
    if names:
        parts.append(f"附件 {len(names)} 个：" + "、".join(names))
    return head + (f"（{'；'.join(parts)}）" if parts else "")


def run_withdraw(args: argparse.Namespace) -> int:
    with workflow_for(args) as wf:
        wf.withdraw(args.filing_id.strip().upper(), reason=args.reason)  # WorkflowError: refused, exit 1
    print(f"申报 {args.filing_id.upper()} 已撤回；尚未作出的审核决定将不再受理。")
    return 0


def run_queue(args: argparse.Namespace) -> int:
    code = args.code.strip().upper()
    display.use_reader_zone(args.data)
    with workflow_for(args, read_only=True) as wf:
        unit = wf.units.get(code)
        if unit is None:
            raise UnitError(f"单位 {code} 不存在。")
        entries = wf.queue(code)
        addresses = reply_addresses(wf, args.data, entries) if args.reply_addresses else {}
    table = Table("申报编号", "申报单位", "时期", "轮次", "级", "审核人", display.time_heading("提交审核时间"))
    for e in entries:
        table.add_row(
            e.filing_id,
            f"{e.filing_unit_name}（{e.filing_unit}）",
            e.period,
            str(e.round),
            str(e.level),
            "、".join(e.reviewers) or "—",
            display.when(e.requested_at, label=False),
        )
    display.make_console().print(table, markup=False, highlight=False)
    print(f"{unit.name}（{code}）待审核 {len(entries)} 件。")
    if args.reply_addresses:
        print_reply_addresses(unit, entries, addresses)
    return 0


def reply_addresses(wf: Workflow, data_dir: Path, entries: list[QueueEntry]) -> dict[tuple[str, str], str]:
    """(filing id, reviewer) -> the review+TOKEN@ address that reviewer's answer goes to, as the request mail had it."""
    domain = load_settings(data_dir).service.mail_domain
    return {
        (e.filing_id, reviewer): f"review+{wf.review_token(e.filing_id, e.round, e.level, reviewer)}@{domain}"
        for e in entries
        for reviewer in e.reviewers
    }


def print_reply_addresses(unit: Unit, entries: list[QueueEntry], addresses: dict[tuple[str, str], str]) -> None:
    """One block per waiting step: each reviewer, the address to reply to, and a ready `chanquan send` line."""
    if not entries:
        return
    print()
    print("答复地址（每位审核人只能从自己的邮箱答复发给自己的地址；第一行写 通过 或 退回，其后写意见）：")
    for e in entries:
        print(f"{e.filing_id}（{e.filing_unit_name}，第 {e.round} 轮第 {e.level} 级，{unit.name}审核）：")
        if not e.reviewers:
            print(f"  没有审核人：请先用 chanquan units set-contacts {unit.code} --reviewers 邮箱 登记审核人。")
        for reviewer in e.reviewers:
            address = addresses[(e.filing_id, reviewer)]
            print(f"  审核人 {reviewer} → 答复地址 {address}")
            print(f"    chanquan send --from {reviewer} --to '{address}' --body '通过'")
