"""Child process for the crash tests: runs one outbox step and, in some modes, SIGKILLs itself mid-way.

Usage: python crash_child.py MODE DATA_DIR RELAY_PORT
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from outbox_testing import FakeDirectory, sample_units

import outbox.events  # noqa: F401
from ledger import Ledger
from outbox import Outbox, OutboxConfig, RelayConfig, RetryPolicy
from outbox.spool import Spool


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> int:
    mode, data, port = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    ledger = Ledger.open(data / "ledger.sqlite3", checkpoint_interval_seconds=3600)
    config = OutboxConfig(
        mail_domain="chanquan.test",
        relay=RelayConfig("127.0.0.1", port, security="none", timeout_seconds=5),
        retry=RetryPolicy(max_attempts=5, backoff_base_seconds=0, backoff_max_seconds=0),
    )
    box = Outbox(ledger, None, data / "outbox", config, directory=FakeDirectory(sample_units()))
    if mode == "dispatch-kill-after-spool":
        original = Spool.put_many

        def put_many(self: Spool, items: Any) -> Any:
            original(self, items)
            die()  # spooled, but the cursor never moved past the events

        Spool.put_many = put_many  # type: ignore[method-assign]
        box.dispatch_pending()
    elif mode == "dispatch-kill-while-staging":
        original_replace = os.replace  # what outbox.spool renames with
        moved = [0]

        def replace(src: Any, dst: Any) -> None:
            if moved[0] == 1:
                die()  # one message renamed into the queue, the rest still in tmp/
            original_replace(src, dst)
            moved[0] += 1

        os.replace = replace  # type: ignore[assignment]
        box.dispatch_pending()
    elif mode == "dispatch-then-hang":
        print("queued", box.dispatch_pending(), flush=True)
        time.sleep(60)
    elif mode == "send-kill-after-250":
        original_move = Spool.move

        def move(self: Spool, entry: Any, folder: str, *, sync: bool = True) -> Any:
            if folder == "sent":
                die()  # the relay said 250; the spool never learns it
            return original_move(self, entry, folder, sync=sync)

        Spool.move = move  # type: ignore[method-assign]
        box.send_pending()
    elif mode == "send-loop":
        Path(data / f"ready.{os.getpid()}").touch()
        while not (data / "go").exists():
            time.sleep(0.005)
        sent = 0
        while list(box.spool.entries("queue")):
            sent += box.sender.send_pending()
        print("sent", sent, flush=True)
    box.close()
    ledger.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
