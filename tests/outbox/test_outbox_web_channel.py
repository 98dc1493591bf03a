"""Filings and decisions from the portal (channel web) in the outbox: their mails name the portal as the
door, and a refusal in the portal is never answered by mail (its page showed the reason)."""

from __future__ import annotations

import ast
import mailbox
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from flow_fixtures import Flow, flow

import outbox
from outbox import Outbox
from workflow.events import ReviewRefused


@pytest.fixture(scope="module")
def keys_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture
def f(tmp_path: Path, keys_cache: Path) -> Iterator[Flow]:
    with flow(tmp_path, keys_cache) as opened:
        yield opened


def delivered(f: Flow, purpose: str) -> list[EmailMessage]:
    if not (f.data / "maildir").exists():
        return []
    box = mailbox.Maildir(f.data / "maildir", create=False)
    found = []
    for key in box.iterkeys():
        parsed = message_from_bytes(box.get_bytes(key), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        if parsed["X-Chanquan-Purpose"] == purpose:
            found.append(parsed)
    return found


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def run(box: Outbox) -> None:
    box.dispatch_pending()
    box.send_pending()


def test_a_web_filings_receipt_names_the_portal(f: Flow) -> None:
    f.file(channel="web", original_name="渝新置业-登记.zip")
    box = f.outbox()
    try:
        run(box)
    finally:
        box.close()
    (receipt,) = delivered(f, "receipt")
    assert "通过网页门户收到" in text_of(receipt) and "通过—" not in text_of(receipt)


def test_a_refusal_in_the_portal_is_never_mailed(f: Flow) -> None:
    """Even when the recorded sender is an address the outbox would answer (it must not rely on
    an account name never being one)."""
    filing = f.file().filing_id
    box = f.outbox()
    try:
        run(box)
        for channel in ("web", "smtp"):
            refused = ReviewRefused(
                filing_id=filing,
                token=f"{filing.lower()}-r1-l1",
                sender="audit1@yuxin.test",  # a reviewer address of the unit asked
                reason="该审核环节已不是当前环节，本次操作不予处理。",
                code="stale-round",
                decision="通过",
                channel=channel,
            )
            f.ledger.append(refused, actor="audit1@yuxin.test", subject=filing)
            run(box)
            answered = delivered(f, "review-refused")
            assert len(answered) == (0 if channel == "web" else 1), channel
    finally:
        box.close()


def test_the_receipts_folder_is_named_only_by_workflow() -> None:
    """`<dropbox>/<ORG>/回执/` is declared once (workflow.config.RECEIPTS_FOLDER), never spelled here."""
    spelled = []
    for path in sorted(Path(outbox.__file__).parent.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value == "回执":
                spelled.append(f"{path.name}:{node.lineno}")
    assert spelled == []
