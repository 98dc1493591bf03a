"""Spool and sender against a real aiosmtpd relay: outcomes, retries, dead letters, Maildir."""

from __future__ import annotations

import mailbox
from email.header import decode_header, make_header
from pathlib import Path

from outbox_testing import Relay, make_sender, relay_transport, spool_messages

from outbox.sender import RetryPolicy, Sender, SendReport
from outbox.spool import Spool, spool_name
from outbox.state import OutboxState
from outbox.transport import MaildirDelivery


def test_spool_put_is_idempotent_per_message_id(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "outbox")
    ids = spool_messages(spool, 2)
    again = spool_messages(spool.__class__(tmp_path / "outbox"), 0)
    assert again == []
    entries = list(spool.entries())
    assert [e.envelope.message_id for e in entries] == ids
    assert {e.name for e in entries} == {spool_name(i) for i in ids}
    # the same Message-ID is never written twice, whichever folder it has reached
    spool.move(entries[0], "sent")
    assert not spool.put(entries[0].envelope, b"Subject: x\r\n\r\nother body\r\n")
    assert not list((tmp_path / "outbox" / "tmp").iterdir()), "no temporary file may be left behind"


def test_delivers_each_message_once_and_records_sent(tmp_path: Path, relay: Relay) -> None:
    spool = Spool(tmp_path / "outbox")
    ids = spool_messages(spool, 5)
    reports: list[SendReport] = []
    sender, state = make_sender(tmp_path / "outbox", relay_transport(relay.host, relay.port), reports)
    try:
        assert sender.send_pending() == 5
        assert sender.send_pending() == 0
    finally:
        state.close()
    assert relay.handler.message_ids() == ids
    assert [r.kind for r in reports] == ["mail.sent"] * 5
    assert all(r.attempt == 1 for r in reports)
    assert len(list(spool.entries("sent"))) == 5
    assert not list(spool.entries("queue"))
    first = relay.handler.messages()[0]
    assert relay.handler.envelopes[0] == ("noreply@chanquan.test", ["user0@example.test"])
    assert first["Subject"] == "重庆测试有限公司（U0）的产权登记账户密码已修改"
    assert b"=?utf-8?" in relay.handler.received[0].split(b"\r\n\r\n", 1)[0], "Chinese headers must be RFC 2047"


def test_451_and_dropped_connection_are_retried_then_sent(tmp_path: Path, relay: Relay) -> None:
    spool = Spool(tmp_path / "outbox")
    (message_id,) = spool_messages(spool, 1)
    relay.handler.script("451", "drop")
    reports: list[SendReport] = []
    sender, state = make_sender(tmp_path / "outbox", relay_transport(relay.host, relay.port), reports, max_attempts=5)
    try:
        assert sender.send_pending() == 0
        assert state.delivery(spool_name(message_id)).attempts == 1
        assert "451" in state.delivery(spool_name(message_id)).last_error
        assert sender.send_pending() == 0
        assert "Disconnected" in state.delivery(spool_name(message_id)).last_error
        assert sender.send_pending() == 1
    finally:
        state.close()
    assert [r.kind for r in reports] == ["mail.deferred", "mail.deferred", "mail.sent"]
    assert [r.attempt for r in reports] == [1, 2, 3]
    assert relay.handler.message_ids() == [message_id]


def test_550_goes_to_dead_letters_at_once_and_retry_requeues(tmp_path: Path, relay: Relay) -> None:
    spool = Spool(tmp_path / "outbox")
    (message_id,) = spool_messages(spool, 1)
    relay.handler.script("550")
    reports: list[SendReport] = []
    sender, state = make_sender(tmp_path / "outbox", relay_transport(relay.host, relay.port), reports, max_attempts=5)
    try:
        assert sender.send_pending() == 0
        assert [r.kind for r in reports] == ["mail.dead"]
        assert reports[0].outcome.code == 550
        assert [e.envelope.message_id for e in spool.entries("dead")] == [message_id]
        assert sender.send_pending() == 0, "a dead letter is not retried by itself"
    finally:
        state.close()
    assert relay.handler.received == []


def test_too_many_temporary_failures_end_in_dead_letters(tmp_path: Path, relay: Relay) -> None:
    spool = Spool(tmp_path / "outbox")
    spool_messages(spool, 1)
    relay.handler.script("451", "451", "451")
    reports: list[SendReport] = []
    sender, state = make_sender(tmp_path / "outbox", relay_transport(relay.host, relay.port), reports, max_attempts=3)
    try:
        for _ in range(4):
            sender.send_pending()
    finally:
        state.close()
    assert [r.kind for r in reports] == ["mail.deferred", "mail.deferred", "mail.dead"]
    assert len(list(spool.entries("dead"))) == 1


def test_backoff_is_exponential_and_capped(tmp_path: Path) -> None:
    policy = RetryPolicy(max_attempts=10, backoff_base_seconds=30, backoff_max_seconds=3600)
    assert [policy.delay(n) for n in range(1, 9)] == [30, 60, 120, 240, 480, 960, 1920, 3600]
    spool = Spool(tmp_path / "outbox")
    spool_messages(spool, 1)
    now = [1000.0]
    state = OutboxState(tmp_path / "outbox" / "state.sqlite3")
    reports: list[SendReport] = []
    # nothing listens on this port: a connection failure is temporary
    dead_port = relay_transport("127.0.0.1", 9)
    sender = Sender(spool, state, dead_port, policy=policy, on_report=reports.extend, clock=lambda: now[0])
    try:
        sender.send_pending()
        name = next(spool.entries()).name
        assert state.delivery(name).next_at == 1030.0
        now[0] = 1029.0
        sender.send_pending()
        assert len(reports) == 1, "not due yet"
        now[0] = 1030.0
        sender.send_pending()
        assert state.delivery(name).next_at == 1090.0
    finally:
        state.close()
    assert [r.kind for r in reports] == ["mail.deferred", "mail.deferred"]


def test_refused_recipient_550_is_dead(tmp_path: Path, relay: Relay) -> None:
    class RefuseAll:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
            return "550 5.1.1 No such user"

    from aiosmtpd.controller import Controller
    from outbox_testing import free_port

    port = free_port()
    controller = Controller(RefuseAll(), hostname="127.0.0.1", port=port)
    controller.start()
    spool = Spool(tmp_path / "outbox")
    spool_messages(spool, 1)
    reports: list[SendReport] = []
    sender, state = make_sender(tmp_path / "outbox", relay_transport("127.0.0.1", port), reports)
    try:
        sender.send_pending()
    finally:
        state.close()
        controller.stop()
    assert [r.kind for r in reports] == ["mail.dead"]
    assert "No such user" in reports[0].outcome.detail


def test_maildir_delivery_is_readable_and_exactly_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "outbox")
    ids = spool_messages(spool, 3)
    maildir = tmp_path / "maildir"
    reports: list[SendReport] = []
    sender, state = make_sender(tmp_path / "outbox", MaildirDelivery(maildir), reports)
    try:
        assert sender.send_pending() == 3
        # a crash before the spool move would deliver again: the same file name makes it a no-op
        entry = next(spool.entries("sent"))
        again = MaildirDelivery(maildir).deliver(entry.envelope, entry.raw_message())
        assert again.status == "sent" and "already" in again.detail
    finally:
        state.close()
    box = mailbox.Maildir(maildir, create=False)
    try:
        got = sorted(str(m["Message-ID"]) for m in box)
        assert got == sorted(ids)
        subjects = [str(make_header(decode_header(m["Subject"]))) for m in box]
        assert all(s.endswith("的产权登记账户密码已修改") for s in subjects), subjects
    finally:
        box.close()
    assert sorted(p.name for p in maildir.iterdir()) == ["cur", "new", "tmp"]
    assert not list((maildir / "tmp").iterdir())
