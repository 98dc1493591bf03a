"""The ledger for administrators: events by filing or unit, the latest signed checkpoint, a full
`ledger verify` run in the background with its progress, the last result, and inclusion proofs.

The verification is the one `chanquan ledger verify` runs (`Ledger.verify`: every event, the
tree, the signed checkpoints, the witness copy, the blobs); it reads its own connection, so the
service goes on while it runs. One runs at a time; its result is kept in the portal's own
database (portal.sqlite3, table `ledger_checks`), so the page still shows it after a restart.
The progress page reloads itself while the check runs (a meta refresh: no script needed).
"""

from __future__ import annotations

import base64
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ledger import Ledger, StoredEvent
from ledger.errors import EventNotFoundError
from ledger.proofs import prove
from portal.admin.common import admin_or_response
from portal.context import Portal
from portal.errors import not_found
from portal.forms import posted
from portal.render import china_time

log = logging.getLogger(__name__)

PAGE_SIZE = 100
STAGES = {"events": "核对事件", "tree": "核对默克尔树", "blobs": "核对文件"}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_checks (
    id INTEGER PRIMARY KEY,
    started_at REAL NOT NULL,
    finished_at REAL NOT NULL,
    started_by TEXT NOT NULL,
    ok INTEGER NOT NULL,
    size INTEGER NOT NULL,
    summary TEXT NOT NULL       -- Chinese, as `ledger verify` prints it
);
"""


@dataclass
class CheckRun:
    """The verification running now: who started it, and how far each stage has got."""

    started_by: str
    started_at: float
    stages: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    started_at: float
    finished_at: float
    started_by: str
    ok: bool
    size: int
    summary: str


class LedgerChecks:
    """Runs `Ledger.verify` in a thread, one at a time, and remembers each result."""

    def __init__(self, ledger: Ledger, db: Path, clock: Callable[[], float] = time.time) -> None:
        self.ledger = ledger
        self.clock = clock
        self._conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self.running: CheckRun | None = None
        self._thread: threading.Thread | None = None

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._conn.close()

    def last(self) -> CheckResult | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT started_at, finished_at, started_by, ok, size, summary FROM ledger_checks"
                " ORDER BY id DESC LIMIT 1"
            ).fetchone()
        return None if row is None else CheckResult(row[0], row[1], row[2], bool(row[3]), row[4], row[5])

    def start(self, by: str) -> bool:
        """Starts a check unless one runs; False when one was already running."""
        with self._lock:
            if self.running is not None:
                return False
            run = CheckRun(by, self.clock())
            self.running = run
        self._thread = threading.Thread(target=self._run, args=(run,), name="portal-ledger-verify", daemon=True)
        self._thread.start()
        return True

    def wait(self) -> None:
        """Until the running check (if any) has finished (tests, and closing)."""
        thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self, run: CheckRun) -> None:
        def tick(stage: str, done: int, total: int) -> None:
            run.stages[stage] = (done, total)

        try:
            report = self.ledger.verify(progress=tick)
            ok, size = report.ok, report.size
            if ok:
                summary = (
                    f"账本完整：共 {report.size} 条事件，根哈希 {base64.b64encode(report.root).decode()}，"
                    f"核对了 {report.checkpoints_checked} 个已签名检查点和 {report.blobs_checked} 个文件。"
                )
            else:
                messages = [p.message for p in sorted(report.problems, key=lambda p: (p.seq is None, p.seq or 0))]
                hidden = sum(report.counts.values()) - len(report.problems)
                summary = (
                    "账本核验失败："
                    + "；".join(messages[:20])
                    + (f"；另有 {hidden} 个同类问题未列出" if hidden > 0 else "")
                )
        except Exception as exc:  # a check that cannot run is a result too, never a silent thread death
            log.exception("portal.ledger_verify_failed")
            ok, size, summary = False, 0, f"账本核验无法完成：{exc}"
        with self._lock:
            self._conn.execute(
                "INSERT INTO ledger_checks(started_at, finished_at, started_by, ok, size, summary)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (run.started_at, self.clock(), run.started_by, int(ok), size, summary),
            )
            self.running = None
        log.info("portal.ledger_verified", extra={"ok": ok, "size": size})


def checks_of(request: Request) -> LedgerChecks:
    checks = getattr(request.app.state, "ledger_checks", None)
    if not isinstance(checks, LedgerChecks):
        portal = request.app.state.portal
        checks = LedgerChecks(portal.wf.ledger, portal.config.sessions_db, clock=lambda: portal.clock().timestamp())
        portal.on_close(checks.close)
        request.app.state.ledger_checks = checks
    return checks


def proof_document(ledger: Ledger, seq: int) -> dict[str, Any] | None:
    """`chanquan ledger proof SEQ`'s document (ledger.proofs); None without a signing key."""
    proven = prove(ledger, ledger.get(seq))
    return None if proven is None else proven.to_json()


def _row(event: StoredEvent) -> tuple[int, str, str, str, str, str]:
    payload = json.dumps(event.payload, ensure_ascii=False, sort_keys=True)
    return (
        event.seq,
        china_time(event.ts.isoformat()),
        event.kind,
        event.actor,
        event.subject,
        payload if len(payload) <= 300 else payload[:300] + "…",
    )


def _result_view(result: CheckResult | None) -> dict[str, Any] | None:
    if result is None:
        return None
    return {
        "ok": result.ok,
        "size": result.size,
        "summary": result.summary,
        "by": result.started_by,
        "at": china_time(_iso(result.finished_at)),
        "seconds": f"{result.finished_at - result.started_at:.1f}",
    }


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


async def ledger_page(request: Request) -> Response:
    portal, viewer = admin_or_response(request)
    if isinstance(viewer, Response):
        return viewer
    ledger = portal.wf.ledger
    checkpoint = ledger.latest_checkpoint()
    checks = checks_of(request)
    return portal.pages.render(
        "admin/ledger.html.j2",
        {
            "viewer": viewer,
            "size": ledger.size(),
            "checkpoint": checkpoint,
            "checkpoint_root": base64.b64encode(checkpoint.root).decode() if checkpoint else "",
            "checkpoint_at": china_time(str(checkpoint.ts)) if checkpoint else "",
            "last": _result_view(checks.last()),
            "running": checks.running is not None,
            "verifier": ledger.verifier.to_string() if ledger.verifier is not None else "",
        },
    )


async def events_page(request: Request) -> Response:
    """Events about one filing or unit (its subject), oldest first, a page at a time."""
    portal, viewer = admin_or_response(request)
    if isinstance(viewer, Response):
        return viewer
    subject = request.query_params.get("subject", "").strip()[:80]
    raw = request.query_params.get("page", "1")
    page = int(raw) if raw.isdigit() and 0 < int(raw) < 1_000_000 else 1
    rows: list[tuple[int, str, str, str, str, str]] = []
    total = 0
    if subject:
        candidates = {subject, subject.upper()}
        events = [e for s in sorted(candidates) for e in portal.wf.ledger.events(subject=s)]
        events.sort(key=lambda e: e.seq)
        total = len(events)
        rows = [_row(e) for e in events[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]]
    return portal.pages.render(
        "admin/events.html.j2",
        {
            "viewer": viewer,
            "subject": subject,
            "rows": rows,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
        },
    )


async def proof_download(request: Request) -> Response:
    portal, viewer = admin_or_response(request)
    if isinstance(viewer, Response):
        return viewer
    seq = int(request.path_params["seq"])
    try:
        document = await run_in_threadpool(proof_document, portal.wf.ledger, seq)
    except EventNotFoundError:
        return not_found(portal, request)
    if document is None:
        return _ledger_message(portal, request, "账本没有签名密钥，无法给出已签名检查点（请先运行 chanquan init）。")
    body = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
    response = Response(body, media_type="application/json")
    response.headers["content-disposition"] = f'attachment; filename="proof-{seq}.json"'
    return response


def _ledger_message(portal: Portal, request: Request, message: str) -> Response:
    return portal.pages.render(
        "error.html.j2",
        {"title": "无法给出包含证明", "message": message, "viewer": portal.viewer_of(request)},
        status=409,
    )


async def start_verify(request: Request) -> Response:
    asked = await posted(request, admin=True)
    if isinstance(asked, Response):
        return asked
    checks_of(request).start(asked.viewer.session.username)
    return RedirectResponse("/admin/ledger/verify", status_code=303)


async def verify_status(request: Request) -> Response:
    portal, viewer = admin_or_response(request)
    if isinstance(viewer, Response):
        return viewer
    checks = checks_of(request)
    running = checks.running
    stages = []
    if running is not None:
        for key, label in STAGES.items():
            done, total = running.stages.get(key, (0, 0))
            stages.append((label, done, total, int(100 * done / total) if total else 0))
    return portal.pages.render(
        "admin/verify.html.j2",
        {
            "viewer": viewer,
            "running": running is not None,
            "started_by": running.started_by if running else "",
            "stages": stages,
            "last": _result_view(checks.last()),
        },
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/ledger", ledger_page, methods=["GET"], name="admin_ledger"),
        Route("/admin/ledger/events", events_page, methods=["GET"], name="admin_events"),
        Route("/admin/ledger/proof/{seq:int}.json", proof_download, methods=["GET"], name="admin_proof"),
        Route("/admin/ledger/verify", start_verify, methods=["POST"], name="admin_verify_start"),
        Route("/admin/ledger/verify", verify_status, methods=["GET"], name="admin_verify"),
    ]
