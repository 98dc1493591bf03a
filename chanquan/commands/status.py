"""What `chanquan status` adds to the queue counts: the work not yet anywhere in them, a person's view
of it, and `--wait` (until everything dropped or mailed has been answered).

A file just copied into the drop folder is in no queue yet (the watcher takes it once it stopped
changing), and a recorded event is no mail yet until the outbox has acted on it; `--wait` counts
both, so that "nothing left" means the 回执 and the mails are out.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from chanquan.commands import display
from chanquan.config import load_settings, resolve_in_data_dir
from intake.readiness import is_temporary_name
from outbox.state import read_cursor
from workflow.accounts import normalize_username
from workflow.config import RECEIPTS_FOLDER

POLL_SECONDS = 0.5
# (status key, what a person calls it) of every count that must reach zero for `--wait`
PENDING_WORK = (
    ("dropbox_waiting", "投递目录中尚未取走的文件"),
    ("spooled_not_recorded", "已落盘未入账的邮件"),
    ("processing_dir", "处理中的投递项"),
    ("inbound_waiting", "待处理收件"),
    ("outbox_events_pending", "发件程序尚未处理的账本事件"),
    ("outbox_queue", "待发邮件"),
)


def dropbox_waiting(data_dir: Path, conn: sqlite3.Connection) -> int:
    """Files and folders in the unit folders of the drop folder that the watcher has not taken yet.

    Folders named after no unit are left out: the watcher never takes from them (`chanquan status`
    lists them among the errors), so waiting for them would never end.
    """
    root = resolve_in_data_dir(data_dir, load_settings(data_dir).intake.dropbox_dir)
    if not root.is_dir():
        return 0
    waiting = 0
    for folder in os.scandir(root):
        if not folder.is_dir() or is_temporary_name(folder.name):
            continue
        name = normalize_username(folder.name)
        known = conn.execute(
            "SELECT 1 FROM wf_units WHERE (code = ? OR username = ?) AND level > 0", (name, name)
        ).fetchone()
        if known is None:
            continue
        waiting += sum(
            1
            for entry in os.scandir(folder.path)
            if entry.name != RECEIPTS_FOLDER and not is_temporary_name(entry.name)
        )
    return waiting


def outbox_events_pending(data_dir: Path, ledger_size: int) -> int:
    """Ledger events the outbox has not acted on yet (every answer starts as one of them)."""
    return max(ledger_size - read_cursor(data_dir / "outbox" / "state.sqlite3"), 0)


def pending_total(status: dict[str, Any]) -> int:
    return sum(int(status.get(key, 0)) for key, _label in PENDING_WORK)


def pending_text(status: dict[str, Any]) -> str:
    parts = [f"{label} {status[key]}" for key, label in PENDING_WORK if status.get(key)]
    return "，".join(parts) or "没有待处理的工作"


def wait_until_idle(
    collect: Callable[[], dict[str, Any]], timeout: float, *, clock: Callable[[], float] = time.monotonic
) -> tuple[bool, dict[str, Any]]:
    """Poll `collect` until no work is pending, showing what is left; (idle, last status)."""
    deadline = clock() + timeout
    status = collect()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    console = display.make_console(stderr=True)
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("等待处理完毕…", total=None)
        while pending_total(status) and clock() < deadline:
            progress.update(task, description=f"等待处理完毕：{pending_text(status)}")
            time.sleep(POLL_SECONDS)
            status = collect()
    return pending_total(status) == 0, status


def print_status(status: dict[str, Any]) -> None:
    """The status for a person: times in the supervisor's zone, saying so (`--json` keeps UTC ISO)."""
    print(f"待处理收件：{status['inbound_waiting']}（已处理 {status['inbound_processed']}）")
    if status["oldest_waiting_item"]:
        since = display.when(status["oldest_waiting_since"])
        print(f"最早的待处理项：{status['oldest_waiting_item']}，收到于 {since}")
    print(f"投递目录中尚未取走的文件：{status['dropbox_waiting']}")
    print(f"已落盘未入账的邮件：{status['spooled_not_recorded']}")
    print(f"processing/ 中的投递项：{status['processing_dir']}")
    print(f"发件程序尚未处理的账本事件：{status['outbox_events_pending']}")
    print(f"发件队列：{status['outbox_queue']}（死信 {status['outbox_dead']}）")
    print(
        f"最近 24 小时的审核回复：未被记录 {status['replies_refused_24h']} 份，"
        f"无法识别结论 {status['replies_unclear_24h']} 份"
    )
    if status["last_errors"]:
        print("最近的收件错误：")
        for error in status["last_errors"]:
            print(f"  [{display.when(error['at'])}] {error['subject']} {error['code']}：{error['message']}")
    else:
        print("最近没有收件错误。")
