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

from chanquan.commands import display
from chanquan.commands import status as status_view
from chanquan.failures import fail

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="运行服务：投递目录、SMTP 收件、报送处理、发件和网页门户",
        description="运行服务：投递目录监视、SMTP 收件、报送处理、发件和网页门户。SIGTERM / Ctrl-C 平稳退出。",
    )
    serve.add_argument("--smtp-port", type=int, default=None, help="代替设置 intake.smtp_port（0 为任选空闲端口）")
    serve.add_argument("--dropbox", type=Path, default=None, help="代替设置 intake.dropbox_dir（投递目录）")
    serve.add_argument("--no-outbox", action="store_true", help="本进程不运行发件程序")
    serve.add_argument("--web-port", type=int, default=None, help="代替设置 web.port，门户端口（0 为任选空闲端口）")
    serve.add_argument("--no-web", action="store_true", help="本进程不提供网页门户")
    serve.set_defaults(handler=run_serve)

    status = subparsers.add_parser(
        "status",
        help="服务状态：待处理数量、最早的待处理项、最近 24 小时的异常审核回复和收件错误；--wait 等到处理完毕",
        description="显示待处理数量、最早的待处理项、最近 24 小时未被记录和无法识别的审核回复，以及最近的收件错误。"
        "加 --wait 时先等到投递目录、收件和发件都处理完毕（回执已写出、邮件已发出），再显示。",
    )
    status.add_argument("--json", action="store_true", help="以 JSON 输出（时间为 UTC ISO 格式）")
    status.add_argument("--errors", type=int, default=10, help="显示最近多少条收件错误（默认 10）")
    status.add_argument(
        "--wait",
        action="store_true",
        help="等到投递目录、收件队列和发件队列都处理完毕再显示（需要 chanquan serve 在运行）",
    )
    status.add_argument(
        "--timeout", type=float, default=120.0, help="--wait 最多等待的秒数（默认 120）；超时则退出码为 1"
    )
    status.set_defaults(handler=run_status)


def wire_outbox(data_dir: Path, settings: Any, workflow: Any, issuer: Any = None) -> Any:
    """The outbox sender of this process (its `run(stop)` joins intake's threads), or None."""
    from chanquan.app import open_outbox

    return open_outbox(data_dir, settings, workflow, issuer=issuer)


def bind_portal(settings: Any, port: int | None) -> Any:
    """The portal's listening socket, bound before anything starts (a taken port stops `serve` at once)."""
    from chanquan.web import PortalServer

    host = settings.web.host
    port = settings.web.port if port is None else port
    try:
        return PortalServer(host, port)
    except OSError as exc:
        raise PortalBindError(host, port, exc.strerror or str(exc)) from exc


class PortalBindError(Exception):
    """The portal's address cannot be listened on; nothing was started."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"cannot listen on {host}:{port}: {reason}")
        self.host = host
        self.port = port
        self.reason = reason


def run_serve(args: argparse.Namespace) -> int:
    from chanquan.app import open_workflow
    from chanquan.config import load_settings
    from chanquan.logs import configure_logging
    from chanquan.web import with_bound_port
    from ledger import LedgerRefusedError

    settings = load_settings(args.data)  # ConfigError: one line on stderr, exit 2 (chanquan.failures)
    configure_logging(settings.service.log_level)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every connection at INFO
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("serve.stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    web = None
    if not args.no_web:
        try:
            web = bind_portal(settings, args.web_port)
        except PortalBindError as exc:
            log.error("serve.web_bind_failed", extra={"host": exc.host, "port": exc.port, "reason": exc.reason})
            where = f"{exc.host}:{exc.port}"
            return fail(f"网页门户无法监听 {where}（{exc.reason}），服务未启动。请换一个端口（web.port 或 --web-port）")
        settings = with_bound_port(settings, web.port)  # --web-port 0: QR codes and mail name the real port
    try:
        try:
            workflow = open_workflow(args.data, settings)
        except LedgerRefusedError as exc:
            # a database behind its signed checkpoints (or an unavailable witness): nothing is started
            log.error("serve.refused", extra={"reason": type(exc).__name__})
            raise  # its message on stderr, exit 2 (chanquan.failures)
        try:
            serve_with(args, settings, workflow, web, stop)
        finally:
            workflow.close()
    finally:
        if web is not None:
            web.stop()  # idempotent; closes the socket when the portal never started
    log.info("serve.stopped")
    return 0


def serve_with(args: argparse.Namespace, settings: Any, workflow: Any, web: Any, stop: threading.Event) -> None:
    """Everything over one workflow: one document issuer, the outbox, intake and the portal, until `stop`.

    The portal starts last (it submits through intake) and stops first (no web request then meets a
    stopped intake); the outbox stops after intake, whose threads run its sender.
    """
    from chanquan.app import open_document_issuer, open_intake, open_portal

    issuer = open_document_issuer(args.data, settings, workflow) if web is not None or not args.no_outbox else None
    outbox = None
    try:
        if not args.no_outbox:
            outbox = wire_outbox(args.data, settings, workflow, issuer)
        intake = open_intake(args.data, settings, workflow, smtp_port=args.smtp_port, dropbox=args.dropbox)
        extra = [("outbox-sender", outbox.run)] if outbox is not None else []
        try:
            intake.start(extra_workers=extra)
            if web is not None:
                web.start(open_portal(args.data, settings, workflow, intake=intake, issuer=issuer))
                print(f"门户网站：{web.url}/", flush=True)
            port = intake.smtp.port if intake.smtp is not None else 0
            log.info(
                "serve.ready",
                extra={
                    "smtp_port": port,
                    "dropbox": str(intake.config.dropbox.root),
                    "outbox": outbox is not None,
                    "web": web.url if web is not None else "",
                },
            )
            while not stop.wait(1.0):
                pass
        finally:
            if web is not None:
                web.stop()
            intake.stop()
    finally:
        if outbox is not None:
            outbox.close()
        if issuer is not None:
            issuer.close()


def collect_status(data_dir: Path, error_count: int = 10, now: datetime | None = None) -> dict[str, Any]:
    """Everything `chanquan status` shows, as plain values (read-only: nothing is started).

    Refused and unclear reviewer replies of the last 24 hours are counted because each one is a
    reviewer who may believe they decided: a rising count is the cue to call them.
    """
    from chanquan.app import DataDir, all_projections, fork_notice, open_ledger
    from intake import state
    from intake.events import IntakeFolderUnknown, IntakeRejected

    paths = DataDir(data_dir)
    since = (now or datetime.now(UTC)) - timedelta(hours=24)
    # looking only: never creates or changes a file, and still answers on a ledger that forked
    ledger = open_ledger(data_dir, projections=all_projections(), read_only=True)
    ledger_problem = fork_notice(ledger) or ""
    try:
        with ledger.reader() as conn:
            queue = state.queue_status(conn)
            replies = state.reply_outcomes_since(conn, since)
        errors: list[dict[str, Any]] = []
        for kind in (IntakeRejected.kind, IntakeFolderUnknown.kind):
            for event in ledger.events(kind=kind):
                body = event.body
                assert isinstance(body, IntakeRejected | IntakeFolderUnknown)
                errors.append(
                    {
                        "seq": event.seq,
                        "at": event.ts.isoformat(timespec="seconds"),
                        "kind": event.kind,
                        "subject": event.subject,
                        "code": body.code if isinstance(body, IntakeRejected) else "folder-unknown",
                        "message": body.message,
                    }
                )
        errors.sort(key=lambda e: e["seq"])
        with ledger.reader() as conn:
            dropped = status_view.dropbox_waiting(data_dir, conn)
        undispatched = status_view.outbox_events_pending(data_dir, ledger.size())
    finally:
        ledger.close()

    def count(folder: Path, pattern: str = "*") -> int:
        return sum(1 for _ in folder.glob(pattern)) if folder.is_dir() else 0

    return {
        "inbound_waiting": queue.waiting,
        "inbound_processed": queue.processed,
        "oldest_waiting_item": queue.oldest_item,
        "oldest_waiting_since": queue.oldest_received_at,
        "dropbox_waiting": dropped,
        "spooled_not_recorded": count(paths.inbound, "*.msg"),
        "processing_dir": count(paths.processing),
        "outbox_events_pending": undispatched,
        "outbox_queue": count(paths.outbox / "queue"),
        "outbox_dead": count(paths.outbox / "dead"),
        "replies_refused_24h": sum(replies.get(o, 0) for o in state.REFUSED_OUTCOMES),
        "replies_unclear_24h": sum(replies.get(o, 0) for o in state.UNCLEAR_OUTCOMES),
        "last_errors": errors[-error_count:] if error_count > 0 else [],
        "ledger_problem": ledger_problem,
    }


def run_status(args: argparse.Namespace) -> int:
    from chanquan.app import missing_ledger_message

    missing = missing_ledger_message(args.data)
    if missing:
        return fail(missing)
    display.use_reader_zone(args.data)
    idle = True
    if args.wait:
        idle, status = status_view.wait_until_idle(lambda: collect_status(args.data, args.errors), args.timeout)
    else:
        status = collect_status(args.data, args.errors)
    if status["ledger_problem"]:
        print(status["ledger_problem"], file=sys.stderr)
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2))
    else:
        status_view.print_status(status)
    if not idle:
        return fail(
            f"等待 {args.timeout:g} 秒后仍未处理完毕（{status_view.pending_text(status)}）。"
            "请确认 chanquan serve 正在运行（且未加 --no-outbox），或用 chanquan outbox list 查看待发邮件。",
            1,
        )
    return 0
