"""The seam between intake and workflow: one typed record per item, a reply's token parsed once."""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

import pytest
from intake_helpers import CHILD, FILER, REVIEWER, Env, valid_zip

import workflow.tokens
from intake import state
from intake.item import InboundItem
from intake.smtp import Login
from intake.spool import MailSpool, new_item_id


class CountingPattern:
    """Stands in for the token pattern and counts how often a token is parsed."""

    def __init__(self, pattern: re.Pattern[str]) -> None:
        self.pattern = pattern
        self.calls = 0

    def match(self, text: str) -> re.Match[str] | None:
        self.calls += 1
        return self.pattern.match(text)


def filed(env: Env) -> str:
    item = InboundItem(new_item_id(), "dropbox", "filing", CHILD, CHILD, "", "bundle.zip", "")
    env.service.receiver.record(item, valid_zip(), notify=False)
    assert env.service.processor.process(item.item_id) == "filed"
    return str(env.kinds("review.requested")[0].payload["filing_id"])


def reply(env: Env, sender: str, to: str, text: str) -> str:
    """A reviewer's reply through the SMTP gate (recorded at once), then processed; the outcome."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, "Re: 审核"
    message["Message-ID"] = f"<{new_item_id()}@b.example.cn>"
    message.set_content(text)
    env.service.gate.recorder = None  # record before answering, as tools do
    assert env.service.gate.accept(None, sender, [to], message.as_bytes(policy=SMTP_POLICY)).startswith("250")
    (item_id,) = list(env.service.processor.serial_queue.queue)
    env.service.processor.serial_queue.get_nowait()
    outcome = env.service.processor.process(item_id)
    assert outcome is not None
    return outcome


@pytest.mark.parametrize(
    ("sender", "text", "outcome"),
    [
        (REVIEWER, "通过", "decided"),
        ("someone@else.example.cn", "通过", "refused"),  # wrong sender: recorded with the readable step
        (REVIEWER, "我再看看", "unclear"),
    ],
)
def test_a_replys_token_is_parsed_once(
    env: Env, monkeypatch: pytest.MonkeyPatch, sender: str, text: str, outcome: str
) -> None:
    filing_id = filed(env)
    address = f"review+{env.wf.review_token(filing_id, 1, 1, REVIEWER)}@chanquan.localhost"
    counting = CountingPattern(workflow.tokens._TOKEN_RE)
    monkeypatch.setattr(workflow.tokens, "_TOKEN_RE", counting)
    assert reply(env, sender, address, text) == outcome
    assert counting.calls == 1, "the step is read from the address once and handed over typed"
    recorded = [*env.kinds("review.refused"), *env.kinds("review.unclear")]
    for event in recorded:
        step = event.payload.get("token", event.payload.get("step"))
        assert step == f"{filing_id.lower()}-r1-l1" and event.payload["filing_id"] == filing_id


def test_a_spooled_mail_is_read_back_as_the_item_it_was(env: Env) -> None:
    item = InboundItem(new_item_id(), "smtp", "filing", CHILD, CHILD, FILER, "资料.zip", "<m@x>")
    spool = MailSpool(env.data / "spool-test")
    path = spool.write(item, b"raw message")
    assert MailSpool.read(path) == (item, b"raw message")
    # a spool file written before the merge (the arrival's own fields only) still reads
    path.write_bytes(
        b'{"item_id": "IN1", "channel": "smtp", "purpose": "review_reply", "sender": "a@b", "filer": "",'
        b' "reply_to": "a@b", "original_name": "", "message_id": "<m>", "recipient": "review+x@y"}\nraw'
    )
    old, raw = MailSpool.read(path)
    assert (old.item_id, old.purpose, old.recipient, old.raw_blob, raw) == (
        "IN1",
        "review_reply",
        "review+x@y",
        "",
        b"raw",
    )


def test_the_gate_and_the_worker_see_the_same_item(env: Env) -> None:
    """What MailGate records is what the worker reads back: the one record, with how it was stored."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = FILER, "filing@x", "报送"
    message["Message-ID"] = "<seam-1@child.example.cn>"
    message.set_content("见附件")
    message.add_attachment(valid_zip(), maintype="application", subtype="zip", filename="资料.zip")
    env.service.gate.recorder = None
    login = Login(CHILD, CHILD, False, "")
    assert env.service.gate.accept(login, FILER, ["filing@x"], message.as_bytes(policy=SMTP_POLICY)).startswith("250")
    (item_id,) = list(env.service.processor.queue.queue)
    with env.ledger.reader() as conn:
        item = state.get_item(conn, item_id)
    assert item is not None
    assert (item.channel, item.purpose, item.sender, item.filer, item.reply_to) == (
        "smtp",
        "filing",
        CHILD,
        CHILD,
        FILER,
    )
    assert item.original_name == "资料.zip" and item.message_id == "<seam-1@child.example.cn>"
    assert item.raw_blob == item.content_sha256 and env.ledger.blobs.exists(item.raw_blob) and item.received_seq > 0
