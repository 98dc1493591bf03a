"""Outbox throughput: messages rendered+spooled per second, and delivered to a loopback SMTP relay.

Run: .venv/bin/python bench/outbox.py [--messages N]
Each case prints one line with its rate, the rate of a bare baseline measured in the
same run, and the ratio (ours / baseline). Targets (issue 6): >= 200/s spooled,
>= 100/s delivered. The dispatch case reads a ledger as a running service's is (per filing:
intake.received, filing.received, review.requested, intake.processed and two mail.sent) and
turns it into receipts and review requests; its baseline only reads and parses the same events.
"""

from __future__ import annotations

import argparse
import json
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

from intake.events import IntakeProcessed, IntakeReceived  # noqa: E402
from ledger import EventBody, Ledger  # noqa: E402
from outbox import Outbox, OutboxConfig, RelayConfig  # noqa: E402
from outbox.compose import Attachment, Composer, MailSpec  # noqa: E402
from outbox.dispatch import GROUP_MESSAGES  # noqa: E402
from outbox.events import MailSent  # noqa: E402
from outbox.ports import UnitInfo  # noqa: E402
from outbox.spool import Spool  # noqa: E402
from workflow.events import FilingReceived, ReviewRequested  # noqa: E402

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
        "period_label": "经济行为日期",
        "round": 1,
        "reviewer_unit_name": "重庆渝新产业投资集团有限公司",
        "original_name": f"CQ2026-{n:06d}_登记表.xlsx",
        "workbook_name": f"CQ2026-{n:06d}_登记表.xlsx",
        "summary": [("企业名称", "重庆渝新置业有限公司"), ("注册资本", "5000.0000")],
        "has_previous": True,
        "previous": {
            "filing_id": "CQ2025-000107",
            "period": "2024-06-30",
            "period_label": "经济行为日期",
            "approved_at": FIXED,
        },
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
        recorded = sum(1 for _ in ledger.events(kind=MailSent.kind))
    finally:
        box.close()
        ledger.close()
    assert sent == count == recorded, (sent, recorded)
    return ours, baseline


REGISTRATION = {
    "ent_name": "重庆渝新置业有限公司",
    "uscc": "91500000MA5U00028X",
    "org_code": "MA5U00028",
    "reg_type": "占有产权登记",
    "reg_situation": "已办工商",
    "as_of_date": "2025-12-31",
    "reg_capital": "5000.0000",
    "currency": "人民币",
    "state_relation": "国有实际控制企业",
    "legal_rep": "张三",
    "contact_name": "李四",
    "contact_phone": "023-12345678",
    **{f"extra_{i}": f"值{i}" for i in range(40)},
    "investors": [{"investor_name": f"出资人{i}", "share_pct": "20.00", "subscribed": "1000.0000"} for i in range(5)],
    "documents": [{"kind": "企业章程", "file_name": f"附件{i}.pdf"} for i in range(5)],
}


class BenchDirectory:
    """Every unit known, one reviewer each; tokens are cheap stand-ins (the dispatcher's reading is measured)."""

    def unit(self, code: str) -> UnitInfo | None:
        return UnitInfo(code, f"单位{code}", "GROUP", 2, ["filer@example.test"], ["audit@example.test"])

    def unit_by_username(self, username: str) -> UnitInfo | None:
        return self.unit(username)

    def review_token(self, filing_id: str, round_no: int, level: int, reviewer_email: str) -> str:
        return f"{filing_id.lower()}-r{round_no}-l{level}-abcdefghijklmnop"

    def is_reviewer(self, address: str) -> bool:
        return True


def dispatch_ledger(count: int, root: Path) -> Ledger:
    ledger = Ledger.open(root / "ledger.sqlite3", checkpoint_interval_seconds=3600)
    workbook = ledger.blobs.put(WORKBOOK)
    specs: list[tuple[EventBody, str, str]] = []
    for n in range(count):
        filing, item, unit = f"CQ2026-{n:06d}", f"IN{n:06d}", f"U{n:07d}"
        specs += [
            (
                IntakeReceived(
                    item_id=item,
                    channel="smtp",
                    purpose="filing",
                    raw_blob=workbook,
                    content_sha256=workbook,
                    sender=unit,
                    filer=unit,
                    reply_to=f"filer{n}@example.test",
                    original_name="登记表.xlsx",
                    message_id=f"<in.{n}@example.test>",
                ),
                "intake",
                item,
            ),
            (
                FilingReceived(
                    filing_id=filing,
                    round=1,
                    unit=unit,
                    filer=unit,
                    period="2025-12-31",
                    channel="smtp",
                    reply_to=f"filer{n}@example.test",
                    registration=REGISTRATION,
                    workbook_blob=workbook,
                    item_id=item,
                ),
                unit,
                filing,
            ),
            (
                ReviewRequested(filing_id=filing, round=1, level=1, unit="GROUP", reviewers=["audit@example.test"]),
                unit,
                filing,
            ),
            (IntakeProcessed(item_id=item, filing_id=filing, outcome="filed"), "intake", item),
        ]
        for purpose in ("receipt", "review-request"):
            mail = MailSent(
                message_id=f"<{purpose}.{n}@chanquan.test>",
                recipient="x@example.test",
                purpose=purpose,
                filing_id=filing,
                attempt=1,
                outcome="250 ok",
            )
            specs.append((mail, "outbox", mail.message_id))
    for first in range(0, len(specs), 1000):
        ledger.append_many(specs[first : first + 1000])
    return ledger


def dispatch_round(count: int, root: Path) -> tuple[float, float, float]:
    """(events/s dispatched into spooled messages, events/s merely read and parsed, CPU seconds of the dispatch)
    over the same ledger (CPU time too: on a shared machine it swings less than the wall clock)."""
    ledger = dispatch_ledger(count, root)
    try:
        start = time.perf_counter()
        parsed = sum(len(json.loads(e.payload_json)) for e in ledger.events())
        total = ledger.size()
        baseline = rate(total, time.perf_counter() - start)
        config = OutboxConfig(mail_domain="chanquan.test", attach_limit_bytes=10 * 1024 * 1024)
        box = Outbox(ledger, None, root / "outbox", config, directory=BenchDirectory())
        try:
            start, cpu = time.perf_counter(), time.process_time()
            report = box.dispatcher.dispatch_pending()
            ours = rate(report.events, time.perf_counter() - start)
            cpu = time.process_time() - cpu
        finally:
            box.close()
    finally:
        ledger.close()
    assert parsed and report.events == total and report.queued == 2 * count, (report, total)
    return ours, baseline, cpu


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
    parser.add_argument("--filings", type=int, default=300, help="filings in the dispatch case's ledger")
    parser.add_argument("--cases", default="spool,send,dispatch")
    args = parser.parse_args()
    cases = set(args.cases.split(","))
    port = free_port()
    relay = start_relay_process(port)
    spooled: list[tuple[float, float]] = []
    sent: list[tuple[float, float]] = []
    dispatched: list[tuple[float, float, float]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="chanquan-bench-outbox-") as tmp:
            for r in range(args.rounds):
                if "spool" in cases:
                    spooled.append(spool_round(args.messages, Path(tmp) / f"spool{r}"))
                if "send" in cases:
                    sent.append(send_round(args.messages, Path(tmp) / f"send{r}", port))
                if "dispatch" in cases:
                    dispatched.append(dispatch_round(args.filings, Path(tmp) / f"dispatch{r}"))
    finally:
        relay.terminate()
        relay.wait(timeout=10)
    if spooled:
        line(
            "render+spool (jinja2 text+html, 40 KB attachment, fsync'd, group commit of 64)",
            max(o for o, _ in spooled),
            max(b for _, b in spooled),
            "bare EmailMessage build, in memory",
            200,
        )
    if sent:
        line(
            "deliver to loopback aiosmtpd, own process (Outbox.send_pending incl. spool moves and mail.sent in ledger)",
            max(o for o, _ in sent),
            max(b for _, b in sent),
            "bare smtplib.sendmail on one connection",
            100,
        )
    if dispatched:
        ours, baseline = max(o for o, _, _ in dispatched), max(b for _, b, _ in dispatched)
        cpu = min(c for _, _, c in dispatched) / (6 * args.filings) * 1e6
        print(
            f"dispatch {args.filings} filings ({6 * args.filings} events, 2 messages each): {ours:.0f} events/s, "
            f"CPU {cpu:.0f} us/event; baseline ledger.events + json.loads: {baseline:.0f} events/s; "
            f"ratio {ours / baseline:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
