"""The demo's stage: the state its steps share, how they act on the running service (mail through
the SMTP listener, the Maildir the outbox delivers into, waiting for the ledger), and the data
directory's and the service's life around the story (chanquan/demo.py tells the story itself).
"""

from __future__ import annotations

import io
import mailbox
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from importlib.util import find_spec
from pathlib import Path
from typing import Any, TypeVar

from chanquan.client import Server, build_reply, send_message
from ledger import EventBody
from outbox.events import OUTCOME_KINDS
from workflow.events import FilingReceived, ReviewDecided

BodyT = TypeVar("BodyT", bound=EventBody)


def samples_dir() -> Path:
    """inbox_samples/, installed as the package data `chanquan.inbox_samples` (pyproject.toml's package-dir).

    So the demo runs the same from an installed wheel as from a checkout. Found by its spec, not imported:
    importing would leave a __pycache__ among the samples a newcomer browses.
    """
    spec = find_spec("chanquan.inbox_samples")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("chanquan.inbox_samples is not installed", name="chanquan.inbox_samples")
    return Path(next(iter(spec.submodule_search_locations)))


SAMPLES = samples_dir()
DEMO_MARKER = ".chanquan-demo"
WAIT_SECONDS = 90.0


class DemoError(Exception):
    """A step of the demo did not see what it waited for; `step` names it."""

    def __init__(self, step: str, problem: str) -> None:
        super().__init__(f"{step}: {problem}")
        self.step = step
        self.problem = problem


@dataclass
class StoryLine:
    title: str
    details: list[str] = field(default_factory=list)


@dataclass
class Demo:
    """State shared by the steps; `story` is what the user reads at the end."""

    data_dir: Path
    smtp_port: int = 0
    web_port: int = 0
    story: list[StoryLine] = field(default_factory=list)
    filings: dict[str, str] = field(default_factory=dict)  # role -> filing id
    pdfs: list[Path] = field(default_factory=list)
    used_tokens: set[str] = field(default_factory=set)
    workflow: Any = None
    intake: Any = None
    outbox: Any = None
    issuer: Any = None
    web: Any = None  # chanquan.web.PortalServer
    stop: threading.Event = field(default_factory=threading.Event)
    _log_stream: Any = None

    # -- helpers -----------------------------------------------------------------------------

    @property
    def server(self) -> Server:
        return Server("127.0.0.1", self.smtp_port)

    @property
    def dropbox(self) -> Path:
        return self.data_dir / "dropbox"

    @property
    def web_url(self) -> str:
        """The portal's address (also `web.public_url`, so the QR codes on the demo's PDFs lead to it)."""
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def witness_dir(self) -> Path:
        """The witness copy of the checkpoints, outside the data directory as a real one would be."""
        return witness_dir_for(self.data_dir)

    @property
    def maildir(self) -> Path:
        return self.data_dir / "maildir"

    def start_log(self) -> Path:
        """The service's structured log goes to a file so that the console shows the story only."""
        from chanquan.logs import configure_logging

        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "demo.log"
        self._log_stream = path.open("a", encoding="utf-8")
        configure_logging("INFO", self._log_stream)
        return path

    def say(self, title: str, *details: str) -> None:
        self.story.append(StoryLine(title, list(details)))

    def bodies(self, cls: type[BodyT], after_seq: int = 0) -> list[BodyT]:
        """The typed bodies of every event of one kind, in ledger order."""
        return [e.body_as(cls) for e in self.workflow.ledger.events(after_seq=after_seq, kind=cls.kind)]

    def wait_for(self, step: str, what: str, probe: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = probe()
            if found:
                return found
            time.sleep(0.1)
        raise DemoError(step, f"waited {timeout:.0f}s for {what}")

    def filing_for_unit(self, unit: str, after_seq: int = 0) -> str | None:
        for received in self.bodies(FilingReceived, after_seq):
            if received.unit == unit:
                return received.filing_id
        return None

    def mails(self) -> list[EmailMessage]:
        if not (self.maildir / "new").exists():
            return []
        box = mailbox.Maildir(self.maildir, factory=None, create=False)
        parsed = [message_from_bytes(box.get_bytes(key), policy=policy.default) for key in box.iterkeys()]
        return [mail for mail in parsed if isinstance(mail, EmailMessage)]

    def review_request(self, filing_id: str, reviewer: str) -> EmailMessage | None:
        for mail in self.mails():
            reply_to = str(mail.get("Reply-To", ""))
            to = [address.lower() for _name, address in getaddresses([str(mail.get("To", ""))])]
            match = re.search(r"review\+([^@\s>]+)@", reply_to)
            if (
                match
                and reviewer.lower() in to
                and f"[{filing_id}]" in str(mail["Subject"])
                and match.group(1) not in self.used_tokens
            ):
                return mail
        return None

    def reply_as_reviewer(self, step: str, filing_id: str, reviewer: str, body: str) -> None:
        request = self.wait_for(
            step, f"the review request for {filing_id} to {reviewer}", lambda: self.review_request(filing_id, reviewer)
        )
        reply_to = getaddresses([str(request["Reply-To"])])[0][1]
        token = reply_to.split("+", 1)[1].split("@", 1)[0]
        self.used_tokens.add(token)
        quoted = "\n".join(f"> {line}" for line in _text_of(request).splitlines()[:5])
        reply = build_reply(
            reviewer, reply_to, str(request["Subject"]), f"{body}\n\n{quoted}\n", in_reply_to=str(request["Message-ID"])
        )
        send_message(self.server, reply)

    def wait_decided(self, step: str, filing_id: str, count: int) -> None:
        def decided() -> bool:
            return sum(1 for e in self.bodies(ReviewDecided) if e.filing_id == filing_id) >= count

        self.wait_for(step, f"decision #{count} on {filing_id}", decided)


def _text_of(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def outbox_settled(demo: Demo) -> bool:
    """Every event that calls for mail has been dispatched and nothing waits in the queue."""
    last_cause = max((e.seq for e in demo.workflow.ledger.events() if e.kind not in OUTCOME_KINDS), default=0)
    return demo.outbox.cursor() >= last_cause and not demo.outbox.list(("queue",))


# -- plumbing ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def drop(sample: Path, folder: Path) -> None:
    """Copy under a temporary name, then rename: what a careful filer (or a sync client) does."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{sample.name}.part"
    shutil.copyfile(sample, partial)
    partial.rename(folder / sample.name)


def quiet(cli: Callable[[list[str]], int], argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli(argv)
    return code, out.getvalue() + err.getvalue()


def witness_dir_for(data_dir: Path) -> Path:
    from chanquan.app import DataDir

    return DataDir(data_dir).default_witness_dir


def prepare_directory(data_dir: Path) -> None:
    """Only directories the demo made itself may be wiped; anything else is refused.

    The previous demo's witness folder goes with its data directory: a fresh ledger next to
    an old witness copy would rightly be refused as a rolled-back one.
    """
    for folder in (data_dir, witness_dir_for(data_dir)):
        if folder.exists() and not (folder / DEMO_MARKER).exists():
            raise DemoError("prepare", f"{folder} exists and is not the demo's; choose another --dir")
    for folder in (data_dir, witness_dir_for(data_dir)):
        if folder.exists():
            shutil.rmtree(folder)


@contextmanager
def running(demo: Demo) -> Iterator[Demo]:
    try:
        yield demo
    finally:
        stop_service(demo)


def stop_service(demo: Demo) -> None:
    if demo.web is not None:
        demo.web.stop()  # first: no web request meets a stopped intake
        demo.web = None
    if demo.intake is not None:
        demo.intake.stop()
        demo.intake = None
    if demo.outbox is not None:
        demo.outbox.close()
        demo.outbox = None
    if demo.issuer is not None:
        demo.issuer.close()
        demo.issuer = None
    if demo.workflow is not None:
        demo.workflow.close()
        demo.workflow = None
    if demo._log_stream is not None:
        import logging

        logging.getLogger().handlers[:] = []
        demo._log_stream.close()
        demo._log_stream = None
