"""Crash safety: SIGKILL in the middle of dispatching or sending, then restart; two senders at once."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from outbox_testing import FakeDirectory, Relay, sample_units

from ledger import Ledger
from outbox import Outbox, OutboxConfig, RelayConfig, RetryPolicy
from workflow.events import AccountPasswordChanged

CHILD = Path(__file__).resolve().parent / "crash_child.py"


def run_child(mode: str, data: Path, port: int, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CHILD), mode, str(data), str(port)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def open_outbox(ledger: Ledger, data: Path, port: int) -> Outbox:
    config = OutboxConfig(
        mail_domain="chanquan.test",
        relay=RelayConfig("127.0.0.1", port, security="none", timeout_seconds=5),
        retry=RetryPolicy(max_attempts=5, backoff_base_seconds=0, backoff_max_seconds=0),
    )
    return Outbox(ledger, None, data / "outbox", config, directory=FakeDirectory(sample_units()))


def record_password_changes(ledger: Ledger, count: int) -> None:
    for code in ["MA5U00010", "MA5U00028", "SASAC0001"][:count]:
        ledger.append(AccountPasswordChanged(username=code), actor=code, subject=code)


@pytest.mark.parametrize(("mode", "spooled"), [("dispatch-kill-after-spool", 3), ("dispatch-kill-while-staging", 1)])
def test_sigkill_while_spooling_then_restart_sends_each_once(
    tmp_path: Path, ledger: Ledger, relay: Relay, mode: str, spooled: int
) -> None:
    data = tmp_path / "data"
    record_password_changes(ledger, 3)
    done = run_child(mode, data, relay.port)
    assert done.returncode == -signal.SIGKILL, done.stderr
    box = open_outbox(ledger, data, relay.port)
    try:
        assert box.cursor() == 0, "the cursor must not pass an event whose mail was not all spooled"
        assert len(box.list(("queue",))) == spooled
        box.dispatch_pending()
        assert box.cursor() == ledger.size()
        assert box.send_pending() == 3
        assert box.send_pending() == 0
        box.dispatch_pending()  # nothing new: re-reading the ledger spools nothing again
        assert box.send_pending() == 0
    finally:
        box.close()
    ids = relay.handler.message_ids()
    assert len(ids) == 3 and len(set(ids)) == 3
    sent = list(ledger.events(kind="mail.sent"))
    assert sorted(e.subject for e in sent) == sorted(ids)


def test_sigkill_between_spool_and_send_loses_nothing(tmp_path: Path, ledger: Ledger, relay: Relay) -> None:
    data = tmp_path / "data"
    record_password_changes(ledger, 3)
    child = subprocess.Popen(
        [sys.executable, str(CHILD), "dispatch-then-hang", str(data), str(relay.port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().split() == ["queued", "3"]
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    assert relay.handler.received == []
    box = open_outbox(ledger, data, relay.port)
    try:
        assert box.dispatch_pending() == 0
        assert box.send_pending() == 3
    finally:
        box.close()
    assert sorted(Counter(relay.handler.message_ids()).values()) == [1, 1, 1]


def test_sigkill_after_relay_250_resends_with_same_message_id(tmp_path: Path, ledger: Ledger, relay: Relay) -> None:
    """The at-least-once window: SMTP cannot tell whether the relay already has the message."""
    data = tmp_path / "data"
    record_password_changes(ledger, 1)
    box = open_outbox(ledger, data, relay.port)
    try:
        assert box.dispatch_pending() == 1
    finally:
        box.close()
    done = run_child("send-kill-after-250", data, relay.port)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert len(relay.handler.received) == 1
    box = open_outbox(ledger, data, relay.port)
    try:
        assert box.send_pending() == 1
        assert box.send_pending() == 0
    finally:
        box.close()
    ids = relay.handler.message_ids()
    assert len(ids) == 2 and ids[0] == ids[1], "re-sent, with the same Message-ID so receivers can drop the copy"
    assert relay.handler.received[0] == relay.handler.received[1], "byte-identical"


def test_connection_accepted_then_dropped_is_at_least_once(tmp_path: Path, ledger: Ledger, relay: Relay) -> None:
    data = tmp_path / "data"
    record_password_changes(ledger, 1)
    relay.handler.script("accept_drop")
    box = open_outbox(ledger, data, relay.port)
    try:
        box.dispatch_pending()
        assert box.send_pending() == 0  # deferred: the 250 never arrived
        assert box.send_pending() == 1
    finally:
        box.close()
    ids = relay.handler.message_ids()
    assert len(ids) == 2 and len(set(ids)) == 1
    kinds = [e.kind for e in ledger.events() if e.kind.startswith("mail.")]
    assert kinds == ["mail.deferred", "mail.sent"]


def test_two_senders_started_at_once_never_double_send(tmp_path: Path, relay: Relay) -> None:
    from outbox_testing import spool_messages

    from outbox.spool import Spool

    data = tmp_path / "data"
    ids = spool_messages(Spool(data / "outbox"), 40)
    Ledger.open(data / "ledger.sqlite3", checkpoint_interval_seconds=3600).close()
    children = [
        subprocess.Popen(
            [sys.executable, str(CHILD), "send-loop", str(data), str(relay.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        deadline = time.monotonic() + 20
        while len(list(data.glob("ready.*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        (data / "go").touch()
        outputs = [child.communicate(timeout=30) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()
    counts = [int(out.split()[1]) for out, _ in outputs]
    assert sum(counts) == 40, outputs
    assert Counter(relay.handler.message_ids()) == Counter(ids)


def test_run_loop_dispatches_and_sends_until_stopped(tmp_path: Path, ledger: Ledger, relay: Relay) -> None:
    import threading

    data = tmp_path / "data"
    config = OutboxConfig(
        mail_domain="chanquan.test",
        relay=RelayConfig("127.0.0.1", relay.port, security="none", timeout_seconds=5),
        poll_seconds=0.05,
    )
    box = Outbox(ledger, None, data / "outbox", config, directory=FakeDirectory(sample_units()))
    stop = threading.Event()
    loop = threading.Thread(target=box.run, args=(stop,), name="outbox-test-loop")
    loop.start()
    try:
        record_password_changes(ledger, 2)
        deadline = time.monotonic() + 20
        while len(relay.handler.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        loop.join(timeout=20)
        box.close()
    assert not loop.is_alive()
    assert len(relay.handler.message_ids()) == 2
    assert sum(1 for _ in ledger.events(kind="mail.sent")) == 2
