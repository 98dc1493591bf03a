"""Portal speed: 首页 and a filing's page under concurrent sessions, next to /healthz of the same run.

    .venv/bin/python bench/web.py [--units 10000] [--filings 20000] [--sessions 50] [--seconds 10] [--flow 10]

Builds a data directory of N units (SASAC, 50 first-level groups of 10 second-level companies each,
the rest third-level) and M filings in every state, written as events in batches through the
ledger (the projections fold them as they would the live ones; bench/web_data.py), then serves the
portal with uvicorn in a separate process and drives it from this one with aiohttp: `--sessions` logged-in
sessions (each its own first-level enterprise, a reviewing unit with a queue) request the same kind
of page back to back for `--seconds`. One line per case: requests per second, p50 and p95
latency, the server process's CPU per request (from /proc), and both next to /healthz.

Three runs, each with its own server: as served with nothing happening (page parts kept), while
filings flow (the server process itself appends `--flow` filing events a second — a refused reply
on a random filing, with an intake item and a sent mail beside each, as a live service records them),
and with the page cache off (every request reads and renders anew: the cost right after an event
that concerns the page).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
# the project root first (tests/ and bench/ hold modules named like the packages); then tests/ for
# `support` and bench/ itself for the data directory's module (web_data)
sys.path[:0] = [str(_HERE.parent)]
sys.path += [str(_HERE.parent / "tests"), str(_HERE)]

import aiohttp  # noqa: E402
from web_data import PASSWORD, build, tree  # noqa: E402

from chanquan.app import open_workflow  # noqa: E402
from intake.smtp import free_port  # noqa: E402
from workflow import Workflow  # noqa: E402

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
FILING_LINK = re.compile(r'href="/filings/(CQ[0-9-]+)"')


# -- the server (a separate process) --------------------------------------------------------


def serve(data: Path, port: int, mode: str, flow: float, filings: int) -> None:
    import uvicorn

    from portal import PortalConfig, create_app

    workflow: Workflow = open_workflow(data)
    page_cache = mode != "no-cache"
    config = PortalConfig(sessions_db=data / "portal.sqlite3", login_rate_per_minute=100_000, page_cache=page_cache)
    app = create_app(workflow, config)
    if mode == "flow" and flow > 0:
        threading.Thread(target=flowing, args=(workflow, flow, filings), name="bench-flow", daemon=True).start()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


def flowing(workflow: Workflow, per_second: float, filings: int) -> None:
    """Appends, `per_second` times a second, what a live service records around one filing event."""
    from intake.events import IntakeReceived
    from outbox.events import MailSent
    from workflow.events import ReviewRefused

    pick = random.Random(7)
    tick = 1.0 / per_second
    for n in range(10**9):
        started = time.perf_counter()
        filing_id = f"CQ2026-{pick.randint(1, filings):06d}"
        item = f"WBbench{n:012d}"
        message_id = f"<bench-{n}@chanquan.localhost>"
        workflow.ledger.append_many(
            [
                (
                    IntakeReceived(
                        item_id=item,
                        channel="smtp",
                        purpose="review_reply",
                        raw_blob="0" * 64,
                        content_sha256="0" * 64,
                        sender="someone@example.cn",
                        filer="",
                        reply_to="someone@example.cn",
                        original_name="",
                        message_id=message_id,
                    ),
                    "intake",
                    item,
                ),
                (
                    ReviewRefused(
                        filing_id=filing_id,
                        token=f"{filing_id.lower()}-r1-l9",
                        sender="someone@example.cn",
                        reason="该审核环节已不是当前环节。",
                        code="stale-round",
                    ),
                    "someone@example.cn",
                    filing_id,
                ),
                (
                    MailSent(
                        message_id=message_id,
                        recipient="someone@example.cn",
                        purpose="review-refused",
                        filing_id=filing_id,
                        attempt=1,
                        outcome="250 OK",
                    ),
                    "outbox",
                    message_id,
                ),
            ]
        )
        time.sleep(max(0.0, tick - (time.perf_counter() - started)))


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the client (this process) ----------------------------------------------------------------


@dataclass
class Result:
    case: str
    requests: int
    seconds: float
    latencies: list[float]
    server_cpu: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.server_cpu / self.requests

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def log_in(base: str, username: str) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(
        base, connector=aiohttp.TCPConnector(limit=1), cookie_jar=aiohttp.CookieJar(unsafe=True)
    )
    async with session.get("/login") as page:
        token = CSRF.search(await page.text())
    assert token is not None
    form = {"csrf": token.group(1), "username": username, "password": PASSWORD}
    async with session.post("/login", data=form, allow_redirects=False) as answer:
        assert answer.status == 303 and answer.headers["location"] == "/", answer.status
    return session


async def run_case(
    case: str, sessions: list[aiohttp.ClientSession], paths: list[str], seconds: float, pid: int
) -> Result:
    async def worker(session: aiohttp.ClientSession, path: str, until: float, out: list[float]) -> None:
        while time.perf_counter() < until:
            started = time.perf_counter()
            async with session.get(path, allow_redirects=False) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{case}: {path} answered {response.status}")
            out.append(time.perf_counter() - started)

    warm: list[float] = []
    await asyncio.gather(*(worker(s, p, time.perf_counter() + 1.0, warm) for s, p in zip(sessions, paths, strict=True)))
    latencies: list[float] = []
    cpu = cpu_seconds(pid)
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(*(worker(s, p, until, latencies) for s, p in zip(sessions, paths, strict=True)))
    elapsed = time.perf_counter() - started
    return Result(case, len(latencies), elapsed, latencies, cpu_seconds(pid) - cpu)


async def drive(
    base: str, firsts: list[str], sessions_count: int, seconds: float, *, pid: int, suffix: str
) -> list[Result]:
    users = [firsts[i % len(firsts)] for i in range(sessions_count)]
    sessions = [await log_in(base, user) for user in users]
    try:
        filings = []
        for session in sessions:
            async with session.get("/") as home:
                html = await home.text()
            waiting = html[html.index('id="waiting"') :]
            found = FILING_LINK.search(waiting)
            assert found is not None, "a first-level enterprise of the bench has nothing waiting"
            filings.append(f"/filings/{found.group(1)}")
        results = []
        for case, paths in (
            ("healthz", ["/healthz"] * len(sessions)),
            ("home", ["/"] * len(sessions)),
            ("filing", filings),
        ):
            results.append(await run_case(case + suffix, sessions, paths, seconds, pid))
        return results
    finally:
        for session in sessions:
            await session.close()


def report(results: list[Result]) -> None:
    health = results[0]
    for result in results:
        print(
            f"{result.case:<18} {result.rate:7.0f} req/s  p50 {result.percentile(0.50):6.1f} ms"
            f"  p95 {result.percentile(0.95):6.1f} ms  server CPU {result.cpu_ms:5.2f} ms/req"
            f" ({result.server_cpu / result.seconds:4.0%} of a core)"
            f"  cost vs healthz {result.cpu_ms / health.cpu_ms:4.1f}x CPU, {health.rate / result.rate:4.1f}x time",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--filings", type=int, default=20_000)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--flow", type=float, default=10.0, help="filing events a second in the flowing run")
    parser.add_argument("--data", type=Path, help="build into (or reuse) this folder instead of a temporary one")
    parser.add_argument("--serve", nargs=3, metavar=("DATA", "PORT", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]), args.serve[2], args.flow, args.filings)
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or Path(tmp) / "data"
        firsts = (
            build(data, args.units, args.filings) if not (data / "ledger.sqlite3").exists() else tree(args.units)[1]
        )
        # as served with nothing happening, while filings flow, then every request reading and rendering anew
        for cache, suffix in (("cache", ""), ("flow", " (flowing)"), ("no-cache", " (no cache)")):
            port = free_port()
            command = [sys.executable, __file__, "--serve", str(data), str(port), cache]
            server = subprocess.Popen([*command, "--flow", str(args.flow), "--filings", str(args.filings)])
            try:
                base = f"http://127.0.0.1:{port}"
                wait_healthy(base, server)
                print(
                    f"serving  {base} (pid {server.pid}, {cache}); {args.sessions} sessions,"
                    f" {args.seconds:.0f} s per case",
                    flush=True,
                )
                report(asyncio.run(drive(base, firsts, args.sessions, args.seconds, pid=server.pid, suffix=suffix)))
            finally:
                server.terminate()
                server.wait(timeout=30)


def wait_healthy(base: str, server: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the portal process exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError("the portal did not answer /healthz")


if __name__ == "__main__":
    main()
