"""`chanquan demo`: the whole story on embedded defaults, with a progress display and a story at the end."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the whole filing story on a fresh data directory (drop folder, mail, reviews, signed PDFs)",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path("demo-data"),
        help="fresh data directory for the demo (default ./demo-data; a previous demo's is replaced)",
    )
    parser.add_argument(
        "--keep-running", action="store_true", help="leave the service running afterwards for your own files"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from chanquan.demo import STEPS, Demo, DemoError, prepare_directory, running

    console = Console()
    data_dir = args.dir.resolve()
    try:
        prepare_directory(data_dir)
    except DemoError as exc:
        console.print(f"[red]演示无法开始：{exc.problem}[/red]")
        return 2
    demo = Demo(data_dir=data_dir)
    demo.start_log()
    with running(demo):
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("演示", total=len(STEPS))
            for title, step in STEPS:
                progress.update(task, description=title)
                try:
                    step(demo)
                except DemoError as exc:
                    console.print(f"[red]演示在“{title}”一步失败：{exc.problem}[/red]")
                    return 1
                progress.advance(task)
        print_story(console, demo)
        if args.keep_running:
            wait_for_signal(console, demo)
    return 0


def print_story(console: Console, demo: Any) -> None:
    console.rule("chanquan 演示：发生了什么")
    for number, line in enumerate(demo.story, start=1):
        console.print(f"[bold]{number}. {line.title}[/bold]")
        for detail in line.details:
            console.print(f"   {detail}")
    d = demo.data_dir
    console.rule("去哪里看")
    console.print(f"邮件（Maildir，可用 mutt -f 打开）：{d / 'maildir'}")
    console.print(f"投递目录的回执：{d / 'dropbox'}/<组织机构代码>/回执/")
    console.print(f"签发的 PDF：{d / 'pdfs'}")
    console.print(f"账本：chanquan --data {d} ledger log；chanquan --data {d} ledger verify")
    console.print(f"检查点的见证副本（数据目录之外）：{demo.witness_dir}")
    console.print(f"报送：chanquan --data {d} filings list；chanquan --data {d} filings show <编号>")
    console.print(f"服务日志（每行一个 JSON 事件）：{d / 'demo.log'}")


def wait_for_signal(console: Console, demo: Any) -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    console.print(
        f"服务继续运行：SMTP 127.0.0.1:{demo.smtp_port}，投递目录 {demo.dropbox}。按 Ctrl-C 停止。",
    )
    while not stop.wait(0.5):
        pass
    print("已停止。", file=sys.stderr)
