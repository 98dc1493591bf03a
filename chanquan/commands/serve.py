"""`chanquan serve` (watcher, SMTP listener, processing worker and outbox sender in one process)
and `chanquan status` (queue depths, the oldest waiting item, refused and unclear reviewer replies
of the last 24 hours, the last errors)."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run intake (drop folder + SMTP), the processing worker and the outbox sender",
        description="运行服务：投递目录监视、SMTP 收件、报送处理和发件。SIGTERM / Ctrl-C 平稳退出。",
    )
    serve.add_argument("--smtp-port", type=int, default=None, help="override intake.smtp_port (0 = a free port)")
    serve.add_argument("--dropbox", type=Path, default=None, help="override intake.dropbox_dir")
    serve.add_argument("--no-outbox", action="store_true", help="do not run the outbox sender in this process")
    serve.set_defaults(handler=run_serve)

    status = subparsers.add_parser(
        "status",
        help="queue depths, the oldest waiting item, refused/unclear replies (24 h) and the last intake errors",
        description="显示待处理数量、最早的待处理项、最近 24 小时未被记录和无法识别的审核回复，以及最近的收件错误。",
    )
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    status.add_argument("--errors", type=int, default=10, help="how many recent errors to show")
    status.set_defaults(handler=run_status)


def wire_outbox(data_dir: Path, settings: Any, workflow: Any) -> Any:
    """The outbox sender of this process (its `run(stop)` joins intake's threads), or None."""
    from chanquan.app import open_outbox

    return open_outbox(data_dir, settings, workflow)


def run_serve(args: argparse.Namespace) -> int:
    from chanquan.app import open_intake, open_workflow
    from chanquan.config import ConfigError, load_settings
    from chanquan.logs import configure_logging
    from ledger import LedgerRefusedError

    try:
        settings = load_settings(args.data)
    except ConfigError as exc:
        print(f"配置文件无法使用：{exc}")
        return 2
    configure_logging(settings.service.log_level)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection at INFO
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("serve.stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        workflow = open_workflow(args.data, settings)
    except LedgerRefusedError as exc:
        # a database behind its signed checkpoints (or an unavailable witness): nothing is started
        log.error("serve.refused", extra={"reason": type(exc).__name__})
        print(exc.message_zh, file=sys.stderr)
        return 2
    outbox = None
    try:
        if not args.no_outbox:
            outbox = wire_outbox(args.data, settings, workflow)
        intake = open_intake(args.data, settings, workflow, smtp_port=args.smtp_port, dropbox=args.dropbox)
        extra = [("outbox-sender", outbox.run)] if outbox is not None else []
        try:
            intake.start(extra_workers=extra)
            port = intake.smtp.port if intake.smtp is not None else 0
            log.info(
                "serve.ready",
                extra={"smtp_port": port, "dropbox": str(intake.config.dropbox.root), "outbox": outbox is not None},
            )
            while not stop.wait(1.0):
                pass
        finally:
            intake.stop()
    finally:
        if outbox is not None:
            outbox.close()
        workflow.close()
    log.info("serve.stopped")
    return 0


def collect_status(data_dir: Path, error_count: int = 10, now: datetime | None = None) -> dict[str, Any]:
    """Everything `chanquan status` shows, as plain values (read-only: nothing is started).

    Refused and unclear reviewer replies of the last 24 hours are counted because each one is a
    reviewer who may believe they decided: a rising count is the cue to call them.
    """
    from chanquan.app import DataDir, all_projections, open_ledger
    from intake import state

    paths = DataDir(data_dir)
    since = (now or datetime.now(UTC)) - timedelta(hours=24)
    ledger = open_ledger(data_dir, projections=all_projections())
    try:
        with ledger.reader() as conn:
            queue = state.queue_status(conn)
            replies = state.reply_outcomes_since(conn, since)
        errors: list[dict[str, Any]] = []
        for kind in ("intake.rejected", "intake.folder_unknown"):
            for event in ledger.events(kind=kind):
                errors.append(
                    {
                        "seq": event.seq,
                        "at": event.ts.isoformat(timespec="seconds"),
                        "kind": event.kind,
                        "subject": event.subject,
                        "code": event.payload.get("code", "folder-unknown"),
                        "message": event.payload.get("message", ""),
                    }
                )
        errors.sort(key=lambda e: e["seq"])
    finally:
        ledger.close()

    def count(folder: Path, pattern: str = "*") -> int:
        return sum(1 for _ in folder.glob(pattern)) if folder.is_dir() else 0

    return {
        "inbound_waiting": queue.waiting,
        "inbound_processed": queue.processed,
        "oldest_waiting_item": queue.oldest_item,
        "oldest_waiting_since": queue.oldest_received_at,
        "spooled_not_recorded": count(paths.inbound, "*.msg"),
        "processing_dir": count(paths.processing),
        "outbox_queue": count(paths.outbox / "queue"),
        "outbox_dead": count(paths.outbox / "dead"),
        "replies_refused_24h": sum(replies.get(o, 0) for o in state.REFUSED_OUTCOMES),
        "replies_unclear_24h": sum(replies.get(o, 0) for o in state.UNCLEAR_OUTCOMES),
        "last_errors": errors[-error_count:] if error_count > 0 else [],
    }


def run_status(args: argparse.Namespace) -> int:
    if not (args.data / "ledger.sqlite3").exists():
        print(f"数据目录 {args.data} 中没有账本，请先运行 chanquan init。")
        return 2
    status = collect_status(args.data, args.errors)
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2))
        return 0
    print(f"待处理收件：{status['inbound_waiting']}（已处理 {status['inbound_processed']}）")
    if status["oldest_waiting_item"]:
        print(f"最早的待处理项：{status['oldest_waiting_item']}，收到于 {status['oldest_waiting_since']}")
    print(f"已落盘未入账的邮件：{status['spooled_not_recorded']}")
    print(f"processing/ 中的投递项：{status['processing_dir']}")
    print(f"发件队列：{status['outbox_queue']}（死信 {status['outbox_dead']}）")
    print(
        f"最近 24 小时的审核回复：未被记录 {status['replies_refused_24h']} 份，"
        f"无法识别结论 {status['replies_unclear_24h']} 份"
    )
    if status["last_errors"]:
        print("最近的收件错误：")
        for error in status["last_errors"]:
            print(f"  [{error['at']}] {error['subject']} {error['code']}：{error['message']}")
    else:
        print("最近没有收件错误。")
    return 0
