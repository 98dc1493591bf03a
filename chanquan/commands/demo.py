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

from chanquan.commands.display import heading, make_console
from chanquan.failures import EXIT_REFUSED, fail


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="在新的数据目录中演示完整流程（投递目录、邮件、逐级审核、签章 PDF）",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path("demo-data"),
        help="演示用的数据目录（默认 ./demo-data；上次演示的目录会被替换）",
    )
    parser.add_argument("--keep-running", action="store_true", help="演示结束后让服务继续运行，以便投递您自己的文件")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from chanquan.demo import STEPS
    from chanquan.demo_stage import Demo, DemoError, prepare_directory, running

    console = make_console()
    data_dir = args.dir.resolve()
    try:
        prepare_directory(data_dir)
    except DemoError as exc:
        return fail(f"演示无法开始：{exc.problem}")
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
                    progress.stop()
                    return fail(f"演示在“{title}”一步失败：{exc.problem}", EXIT_REFUSED)
                progress.advance(task)
        print_story(console, demo)
        if args.keep_running:
            wait_for_signal(console, demo)
        else:
            console.print("演示结束，服务随之停止；加 --keep-running 可在演示后继续使用网页门户、邮件和投递目录。")
    return 0


def print_story(console: Console, demo: Any) -> None:
    heading(console, "chanquan 演示：发生了什么")
    for number, line in enumerate(demo.story, start=1):
        console.print(f"[bold]{number}. {line.title}[/bold]")
        for detail in line.details:
            console.print(f"   {detail}")
    d = demo.data_dir
    heading(console, "去哪里看")
    console.print(f"邮件（Maildir，可用 mutt -f 打开）：{d / 'maildir'}")
    console.print(f"投递目录的回执：{d / 'dropbox'}/<组织机构代码>/回执/")
    console.print(f"签发的 PDF：{d / 'pdfs'}")
    console.print(f"账本：chanquan --data {d} ledger log；chanquan --data {d} ledger verify")
    console.print(f"检查点的见证副本（数据目录之外）：{demo.witness_dir}")
    console.print(f"报送：chanquan --data {d} filings list；chanquan --data {d} filings show <编号>")
    console.print(f"服务日志（每行一个 JSON 事件）：{d / 'demo.log'}")
    console.print(f"网页门户：{demo.web_url}/  {portal_login_hint()}")


def portal_login_hint() -> str:
    """One log-in to try in the portal: the subsidiary whose initial password the demo changed by mail."""
    from chanquan.demo import SUBSIDIARY, SUBSIDIARY_NEW_PASSWORD

    return f"试一试：用户名 {SUBSIDIARY}（渝发建设），密码 {SUBSIDIARY_NEW_PASSWORD}"


def wait_for_signal(console: Console, demo: Any) -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    console.print(
        f"服务继续运行：网页门户 {demo.web_url}/，SMTP 127.0.0.1:{demo.smtp_port}，投递目录 {demo.dropbox}。"
        "按 Ctrl-C 停止。",
    )
    while not stop.wait(0.5):
        pass
    print("已停止。", file=sys.stderr)
