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

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chanquan.app import DataDir, open_outbox
from chanquan.config import ConfigError, load_settings
from outbox import DispatchError, MessageInfo, Outbox

FOLDER_TEXT = {"queue": "待发", "sent": "已发", "dead": "失败"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("outbox", help="outgoing mail: list, show, retry, run one pass")
    sub = parser.add_subparsers(dest="outbox_command", metavar="ACTION", required=True)

    list_parser = sub.add_parser("list", help="messages in the spool (queued, sent, dead letters)")
    list_parser.add_argument("--folder", choices=["queue", "sent", "dead", "all"], default="all")
    list_parser.add_argument("--json", action="store_true", help="one JSON object per line")
    list_parser.set_defaults(handler=run_list)

    show_parser = sub.add_parser("show", help="one message: envelope, delivery state and the exact bytes")
    show_parser.add_argument("id", help="spool name (or its first characters) or Message-ID")
    show_parser.add_argument("--raw", action="store_true", help="print only the RFC 5322 message")
    show_parser.set_defaults(handler=run_show)

    retry_parser = sub.add_parser("retry", help="put a dead letter (or a waiting message) back in the queue, due now")
    retry_parser.add_argument("id", help="spool name (or its first characters) or Message-ID")
    retry_parser.set_defaults(handler=run_retry)

    once_parser = sub.add_parser("run-once", help="dispatch new ledger events, send reminders, send what is due")
    once_parser.add_argument("--no-send", action="store_true", help="only queue; leave sending to `serve`")
    once_parser.set_defaults(handler=run_once)


def _fail(message: str, code: int = 2) -> int:
    print(message, file=sys.stderr)
    return code


def _with_outbox(action: Callable[[argparse.Namespace, Outbox], int]) -> Callable[[argparse.Namespace], int]:
    """Opens the spool around an action, so every action refuses a missing data directory or bad config alike."""

    @functools.wraps(action)
    def handler(args: argparse.Namespace) -> int:
        if not DataDir(args.data).ledger_db.exists():
            return _fail(f"数据目录 {args.data} 尚未初始化（没有 ledger.sqlite3），请先运行 chanquan init。")
        try:
            box = open_outbox(args.data, load_settings(args.data))
        except ConfigError as exc:
            return _fail(f"配置文件有误：{exc}")
        with box:
            return action(args, box)

    return handler


def _not_in_spool(args: argparse.Namespace) -> int:
    return _fail(f"发件队列中没有“{args.id}”：请用 chanquan outbox list 查看编号。", 1)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S") if ts else ""


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
    table = Table(title=f"发件队列（{len(infos)} 封）")
    for column in ("编号", "状态", "用途", "登记编号", "收件人", "主题", "尝试", "最近错误"):
        table.add_column(column)
    for info in infos:
        table.add_row(
            info.name[:12],
            FOLDER_TEXT.get(info.folder, info.folder),
            info.purpose,
            info.filing_id,
            ", ".join(info.recipients),
            info.subject,
            str(info.attempts),
            info.last_error[:60],
        )
    Console().print(table)
    return 0


@_with_outbox
def run_show(args: argparse.Namespace, box: Outbox) -> int:
    found = box.show(args.id)
    if found is None:
        return _not_in_spool(args)
    info, raw = found
    if not args.raw:
        for key, value in _as_json(info).items():
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
