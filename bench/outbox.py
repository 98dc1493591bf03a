"""Outbox throughput: messages rendered+spooled per second, and delivered to a loopback SMTP relay.

Run: .venv/bin/python bench/outbox.py [--messages N]
Each case prints one line with its rate, the rate of a bare baseline measured in the
same run, and the ratio (ours / baseline). Targets (issue 6): >= 200/s spooled,
>= 100/s delivered.
"""

from __future__ import annotations

import argparse
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from pathlib import Path

# This file is named like the package it measures: keep bench/ itself off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from ledger import Ledger  # noqa: E402
from outbox import Outbox, OutboxConfig, RelayConfig  # noqa: E402
from outbox.compose import Attachment, Composer, MailSpec  # noqa: E402
from outbox.dispatch import GROUP_MESSAGES  # noqa: E402
from outbox.spool import Spool  # noqa: E402

FIXED = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
WORKBOOK = bytes(range(256)) * 160  # ~40 KB, like a filled registration workbook


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spec(n: int) -> MailSpec:
    rows = [
        {"name": f"CQ2026-{n:06d}_登记表.xlsx", "size": "40 KB", "attached": True, "row": ["登记表", "40 KB", "已附上"]}
    ]
    context = {
        "unit_name": "重庆渝新置业有限公司",
        "unit_code": "MA5U00028",
        "period": "2025-12-31",
        "round": 1,
        "reviewer_unit_name": "重庆渝新产业投资集团有限公司",
        "summary": [("企业名称", "重庆渝新置业有限公司"), ("注册资本", "5000.0000")],
        "has_previous": True,
        "changes": [{"label": "注册资本", "old": "3000", "new": "5000", "row": ["注册资本", "3000", "5000"]}],
        "files": rows,
        "attach_limit": "10 MB",
        "reply_address": f"review+cq2026-{n:06d}-r1-l1-abcdefghijklmnop@chanquan.test",
    }
    return MailSpec(
        purpose="review-request",
        template="review_request",
        to=[f"audit{n}@example.test"],
        key=str(n),
        date=FIXED,
        context=context,
        filing_id=f"CQ2026-{n:06d}",
        reply_to=context["reply_address"],
        attachments=[Attachment(rows[0]["name"], WORKBOOK)],
    )


def bare_message(n: int) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = "noreply@chanquan.test"
    msg["To"] = f"audit{n}@example.test"
    msg["Subject"] = f"[CQ2026-{n:06d}] 请审核：重庆渝新置业有限公司 产权登记"
    msg["Message-ID"] = f"<bare.{n}@chanquan.test>"
    msg.set_content("请审核。\n" * 20)
    msg.add_alternative("<p>请审核。</p>" * 20, subtype="html")
    msg.add_attachment(WORKBOOK, maintype="application", subtype="octet-stream", filename=f"CQ2026-{n:06d}.xlsx")
    return msg.as_bytes()


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def line(case: str, ours: float, baseline: float, baseline_name: str, target: float) -> None:
    verdict = "ok" if ours >= target else "BELOW TARGET"
    print(
        f"{case}: {ours:.0f} msg/s; baseline {baseline_name}: {baseline:.0f} msg/s; "
        f"ratio {ours / baseline:.2f}; target >= {target:.0f} msg/s {verdict}"
    )


def spool_round(count: int, root: Path) -> tuple[float, float]:
    start = time.perf_counter()
    for n in range(count):
        bare_message(n)
    baseline = rate(count, time.perf_counter() - start)
    composer = Composer("chanquan.test", common={"supervisor_name": "重庆市国资委"})
    spool = Spool(root)
    start = time.perf_counter()
    written = 0
    for first in range(0, count, GROUP_MESSAGES):  # as the dispatcher does: one group commit per 64
        group = [composer.compose(spec(n)) for n in range(first, min(first + GROUP_MESSAGES, count))]
        written += len(spool.put_many(group))
    assert written == count
    return rate(count, time.perf_counter() - start), baseline


def send_round(count: int, root: Path, port: int) -> tuple[float, float]:
    messages = [bare_message(n) for n in range(count)]
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        for n, raw in enumerate(messages):
            smtp.sendmail("noreply@chanquan.test", [f"audit{n}@example.test"], raw)
    baseline = rate(count, time.perf_counter() - start)

    ledger = Ledger.open(root / "ledger.sqlite3", checkpoint_interval_seconds=3600)
    relay = RelayConfig("127.0.0.1", port, security="none", timeout_seconds=10)
    box = Outbox(ledger, None, root / "outbox", OutboxConfig(mail_domain="chanquan.test", relay=relay))
    try:
        for n in range(count):
            box.spool.put(*box.composer.compose(spec(n)))
        start = time.perf_counter()
        sent = box.send_pending()
        ours = rate(sent, time.perf_counter() - start)
        recorded = sum(1 for _ in ledger.events(kind="mail.sent"))
    finally:
        box.close()
        ledger.close()
    assert sent == count == recorded, (sent, recorded)
    return ours, baseline


def start_relay_process(port: int) -> subprocess.Popen[bytes]:
    """aiosmtpd's Sink in its own process: in-process, relay and client would share one GIL."""
    relay = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=2) as probe:
                probe.noop()
            return relay
        except OSError:
            time.sleep(0.1)
    relay.kill()
    relay.wait()
    raise SystemExit("the loopback relay did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="best of N rounds (the machine may be shared)")
    args = parser.parse_args()
    port = free_port()
    relay = start_relay_process(port)
    spooled: list[tuple[float, float]] = []
    sent: list[tuple[float, float]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="chanquan-bench-outbox-") as tmp:
            for r in range(args.rounds):
                spooled.append(spool_round(args.messages, Path(tmp) / f"spool{r}"))
                sent.append(send_round(args.messages, Path(tmp) / f"send{r}", port))
    finally:
        relay.terminate()
        relay.wait(timeout=10)
    line(
        "render+spool (jinja2 text+html, 40 KB attachment, fsync'd, group commit of 64)",
        max(o for o, _ in spooled),
        max(b for _, b in spooled),
        "bare EmailMessage build, in memory",
        200,
    )
    line(
        "deliver to loopback aiosmtpd, own process (Outbox.send_pending incl. spool moves and mail.sent in ledger)",
        max(o for o, _ in sent),
        max(b for _, b in sent),
        "bare smtplib.sendmail on one connection",
        100,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
