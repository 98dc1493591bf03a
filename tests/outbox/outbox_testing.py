"""Builders shared by the outbox tests: messages, senders, a unit directory, a scriptable SMTP relay.

Named outbox_testing (not helpers) so it never collides with another test folder's module."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections import deque
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from outbox.compose import Composer, MailSpec
from outbox.ports import UnitInfo
from outbox.sender import RetryPolicy, Sender, SendReport
from outbox.spool import Spool
from outbox.state import OutboxState
from outbox.transport import RelayConfig, SmtpRelay, Transport

FIXED = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 2026-03-02 09:30 in Beijing, a Monday


def composer() -> Composer:
    return Composer("chanquan.test", common={"supervisor_name": "重庆市国资委"})


def spool_messages(spool: Spool, count: int, prefix: str = "m") -> list[str]:
    """Queue `count` small messages; returns their Message-IDs in order."""
    comp = composer()
    ids = []
    for n in range(count):
        spec = MailSpec(
            purpose="password-changed",
            template="password_changed",
            to=[f"user{n}@example.test"],
            key=f"{prefix}{n}",
            date=FIXED,
            context={"username": f"U{n}", "unit_name": "重庆测试有限公司", "changed_at": FIXED},
        )
        envelope, raw = comp.compose(spec)
        assert spool.put(envelope, raw)
        ids.append(envelope.message_id)
    return ids


def relay_transport(host: str, port: int) -> SmtpRelay:
    return SmtpRelay(RelayConfig(host=host, port=port, security="none", timeout_seconds=5))


def make_sender(
    outbox_dir: Path, transport: Transport, reports: list[SendReport], max_attempts: int = 3
) -> tuple[Sender, OutboxState]:
    state = OutboxState(outbox_dir / "state.sqlite3")
    policy = RetryPolicy(max_attempts=max_attempts, backoff_base_seconds=0.0, backoff_max_seconds=0.0)
    return Sender(Spool(outbox_dir), state, transport, policy=policy, on_report=reports.extend), state


class FakeDirectory:
    """A unit directory for tests that only need names and addresses (the real one is tested end to end)."""

    def __init__(self, units: list[UnitInfo]) -> None:
        self.units = {u.code: u for u in units}

    def unit(self, code: str) -> UnitInfo | None:
        return self.units.get(code)

    def unit_by_username(self, username: str) -> UnitInfo | None:
        return next((u for u in self.units.values() if u.username == username or u.code == username), None)

    def review_token(self, filing_id: str, round_no: int, level: int, reviewer_email: str) -> str:
        digest = hashlib.sha256(reviewer_email.lower().encode()).hexdigest()[:6]
        return f"{filing_id.lower()}-r{round_no}-l{level}-{digest}"

    def is_reviewer(self, address: str) -> bool:
        return any(address.lower() in (e.lower() for e in u.reviewer_emails) for u in self.units.values())


def sample_units() -> list[UnitInfo]:
    """SASAC -> 渝新集团 (first level) -> 渝新置业 (second level), with contacts."""
    return [
        UnitInfo("SASAC0001", "重庆市国资委", "", 0, ["office@sasac.test"], ["review@sasac.test"], "SASAC0001"),
        UnitInfo(
            "MA5U00010",
            "重庆渝新产业投资集团有限公司",
            "SASAC0001",
            1,
            ["filer@yuxin.test"],
            ["audit1@yuxin.test", "audit2@yuxin.test"],
            "MA5U00010",
        ),
        UnitInfo(
            "MA5U00028", "重庆渝新置业有限公司", "MA5U00010", 2, ["filer@zhiye.test"], ["boss@zhiye.test"], "MA5U00028"
        ),
    ]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RelayHandler:
    """Answers each DATA according to the next scripted mode: ok, 451, 550, drop, accept_drop."""

    def __init__(self) -> None:
        self.modes: deque[str] = deque()
        self.received: list[bytes] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        self.data_started = threading.Event()

    def script(self, *modes: str) -> None:
        with self.lock:
            self.modes.extend(modes)

    def _next(self) -> str:
        with self.lock:
            return self.modes.popleft() if self.modes else "ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mode = self._next()
        if mode == "451":
            return "451 4.3.0 Temporary local problem, try later"
        if mode == "550":
            return "550 5.7.1 Message rejected by policy"
        if mode == "drop":
            # The message never got its final reply: the client sees the connection die mid-DATA.
            server.transport.close()
            return "421 4.3.0 closing"
        with self.lock:
            self.received.append(envelope.content)
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        if mode == "accept_drop":
            # Accepted (counted above) but the 250 never reaches the client: the at-least-once case.
            server.transport.close()
            return "421 4.3.0 closing"
        return "250 2.0.0 OK queued"

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [message_from_bytes(raw, policy=policy.default) for raw in self.received]

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages()]


class Relay:
    def __init__(self, handler: RelayHandler, port: int) -> None:
        self.handler = handler
        self.host = "127.0.0.1"
        self.port = port
