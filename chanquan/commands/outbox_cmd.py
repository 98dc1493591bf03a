"""`chanquan outbox`: look into the outbound spool, put a dead letter back, or run one pass by hand.

`run-once` does what `serve` does in its loop — turn new ledger events into mail and
回执 files, send what is due — once, which is what scripts and the demo need.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chanquan.app import missing_ledger_message, open_outbox
from chanquan.commands import display
from chanquan.commands.units import workflow_for
from chanquan.config import load_settings
from chanquan.failures import fail as _fail
from outbox import DispatchError, MessageInfo, Outbox

FOLDER_TEXT = {"queue": "待发", "sent": "已发", "dead": "失败"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("outbox", help="发件：列表、查看、重发、手动处理一轮")
    sub = parser.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)

    list_parser = sub.add_parser("list", help="发件队列中的邮件（待发、已发、失败）")
    list_parser.add_argument(
        "--folder",
        choices=["queue", "sent", "dead", "all"],
        default="all",
        help="queue 待发、sent 已发、dead 失败、all 全部（默认）",
    )
    list_parser.add_argument("--json", action="store_true", help="每行输出一个 JSON 对象（时间为 UTC）")
    list_parser.set_defaults(handler=run_list)

    show_parser = sub.add_parser("show", help="查看一封邮件：信封、投递状态和原始内容")
    show_parser.add_argument("id", help="邮件编号（或其开头几个字符）或 Message-ID")
    show_parser.add_argument("--raw", action="store_true", help="只输出 RFC 5322 原始邮件")
    show_parser.set_defaults(handler=run_show)

    retry_parser = sub.add_parser("retry", help="把失败（或等待重试）的邮件放回待发队列，立即发送")
    retry_parser.add_argument("id", help="邮件编号（或其开头几个字符）或 Message-ID")
    retry_parser.set_defaults(handler=run_retry)

    once_parser = sub.add_parser("run-once", help="处理新的账本事件、发送催办、发出到期的邮件")
    once_parser.add_argument("--no-send", action="store_true", help="只放入待发队列，发送留给 chanquan serve")
    once_parser.set_defaults(handler=run_once)


def _with_outbox(action: Callable[[argparse.Namespace, Outbox], int]) -> Callable[[argparse.Namespace], int]:
    """Opens the spool around an action, so every action refuses a missing data directory or bad config alike."""

    @functools.wraps(action)
    def handler(args: argparse.Namespace) -> int:
        missing = missing_ledger_message(args.data)
        if missing:
            return _fail(missing)
        box = open_outbox(args.data, load_settings(args.data))
        with box:
            return action(args, box)

    return handler


def _not_in_spool(args: argparse.Namespace) -> int:
    return _fail(f"发件队列中没有“{args.id}”：请用 chanquan outbox list 查看编号。", 1)


def _when(ts: float) -> str:
    """For programs (--json, and `show`'s envelope lines): UTC ISO."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else ""


def _filing_units(args: argparse.Namespace) -> dict[str, str]:
    """Filing id -> “unit name（code）”, so that a list names the unit each message is about."""
    with workflow_for(args, read_only=True) as wf:
        return {f.filing_id: f"{f.unit_name}（{f.unit}）" for f in wf.filings()}


def _as_json(info: MessageInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "folder": info.folder,
        "message_id": info.message_id,
        "purpose": info.purpose,
        "filing_id": info.filing_id,
        "recipients": info.recipients,
        "subject": info.subject,
        "attempts": info.attempts,
        "next_attempt": _when(info.next_at),
        "last_error": info.last_error,
    }


@_with_outbox
def run_list(args: argparse.Namespace, box: Outbox) -> int:
    folders = ("queue", "sent", "dead") if args.folder == "all" else (args.folder,)
    infos = box.list(folders)
    if args.json:
        for info in infos:
            print(json.dumps(_as_json(info), ensure_ascii=False))
        return 0
    display.use_reader_zone(args.data)
    units = _filing_units(args)
    table = Table(title=f"发件队列（{len(infos)} 封）")
    columns = ("编号", "状态", "用途", "登记编号", "单位", "收件人", "主题", "尝试", display.time_heading("下次尝试"))
    for column in (*columns, "最近错误"):
        table.add_column(column)
    for info in infos:
        table.add_row(
            info.name[:12],
            FOLDER_TEXT.get(info.folder, info.folder),
            info.purpose,
            info.filing_id,
            units.get(info.filing_id, ""),
            ", ".join(info.recipients),
            info.subject,
            str(info.attempts),
            display.when(info.next_at, label=False, seconds=True) if info.next_at and info.folder == "queue" else "",
            info.last_error[:60],
        )
    display.make_console().print(table, markup=False, highlight=False)
    return 0


@_with_outbox
def run_show(args: argparse.Namespace, box: Outbox) -> int:
    found = box.show(args.id)
    if found is None:
        return _not_in_spool(args)
    info, raw = found
    if not args.raw:
        display.use_reader_zone(args.data)
        shown = _as_json(info)
        if info.next_at:
            shown["next_attempt"] = display.when(info.next_at, seconds=True)
        for key, value in shown.items():
            print(f"{key}: {value}")
        print()
    sys.stdout.write(raw.decode("utf-8", "replace").replace("\r\n", "\n"))
    return 0


@_with_outbox
def run_retry(args: argparse.Namespace, box: Outbox) -> int:
    found = box.show(args.id)
    if found is None:
        return _not_in_spool(args)
    if found[0].folder == "sent":
        return _fail(f"邮件 {found[0].name[:12]} 已经发出，无需重发。", 1)
    info = box.retry(args.id)
    assert info is not None
    print(f"已放回待发队列：{info.name[:12]} {info.subject}（收件人 {', '.join(info.recipients)}）")
    return 0


@_with_outbox
def run_once(args: argparse.Namespace, box: Outbox) -> int:
    pending = max(box.ledger_size() - box.cursor(), 0)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    queued = events = sent = 0
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task("处理账本事件", total=pending)
        try:
            while True:
                report = box.dispatcher.dispatch_pending(limit=200)
                events, queued = events + report.events, queued + report.queued
                progress.update(task, advance=report.events)
                if report.events == 0:
                    break
        except DispatchError as exc:
            return _fail(f"处理账本事件 {exc.seq}（{exc.kind}）失败：{exc.problem}", 1)
        reminders = box.send_reminders()
        if not args.no_send:
            waiting = len(box.list(("queue",)))
            task = progress.add_task("发送邮件", total=waiting)
            while True:
                done = box.sender.send_pending(limit=50)
                box.flush_outcomes()
                sent += done
                progress.update(task, advance=done)
                if done == 0:
                    break
    left = len(box.list(("queue",)))
    dead = len(box.list(("dead",)))
    where = box.transport.description
    print(
        f"处理事件 {events} 个，新排队邮件 {queued} 封、催办 {reminders} 封，发出 {sent} 封（{where}）；"
        f"待发 {left} 封，失败 {dead} 封。"
    )
    return 0
