"""Filings and decisions from the portal (channel web) in the outbox: their mails name the portal as the
door, and a refusal in the portal is never answered by mail (its page showed the reason)."""

from __future__ import annotations

import ast
from pathlib import Path

from flow_fixtures import Flow, delivered, run, text_of

import outbox
from workflow.events import ReviewRefused


def test_a_web_filings_receipt_names_the_portal(f: Flow) -> None:
    f.file(channel="web", original_name="渝新置业-登记.zip")
    f.deliver()
    (receipt,) = delivered(f.data, "receipt")
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
            answered = delivered(f.data, "review-refused")
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
