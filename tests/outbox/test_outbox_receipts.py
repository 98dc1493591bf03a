"""回执 files and the answers to a filing: one file per notice, the filer's own names, threading.

The real ledger, workflow and outbox; `SameSecond` reads the ledger back with every event
at one and the same time, which is what a burst of filings within one second looks like to
the dispatcher (the case in which 回执 files named by time overwrote each other).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flow_fixtures import SUB, Flow, delivered

from ledger import Ledger
from ledger.events import StoredEvent
from outbox import MaildirDelivery, Outbox, OutboxConfig

AT = datetime(2026, 3, 2, 1, 30, 5, tzinfo=UTC)


class SameSecond:
    """The real ledger, except that every event read back carries the time `AT`."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ledger, name)

    def events(self, after_seq: int = 0, kind: str | None = None, subject: str | None = None) -> Iterator[StoredEvent]:
        for ev in self.ledger.events(after_seq=after_seq, kind=kind, subject=subject):
            yield StoredEvent(ev.seq, AT, ev.kind, ev.actor, ev.subject, ev.payload_json, ev.leaf_hash)


def same_second_outbox(f: Flow) -> Outbox:
    config = OutboxConfig(mail_domain="chanquan.test", supervisor_name="重庆市国资委", dropbox_dir=f.data / "dropbox")
    return Outbox(
        SameSecond(f.ledger),
        f.wf,
        f.data / "outbox",
        config,
        pdf_issuer=f.issuer.on_approved,
        transport=MaildirDelivery(f.data / "maildir"),
    )


def receipts(f: Flow) -> dict[str, bytes]:
    folder = f.data / "dropbox" / SUB / "回执"
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else {}


def purposes(data: Path) -> list[str]:
    return sorted(str(m["X-Chanquan-Purpose"]) for m in delivered(data))


def test_every_round_within_one_second_gets_its_own_receipt_file_and_a_rerun_adds_none(f: Flow) -> None:
    f.file(original_name="报送-0.zip")  # in review: later bundles of the same period are refused
    for n in range(1, 6):
        f.file(original_name=f"报送-{n}.zip")  # rounds 1..5 of one invalid filing, all "in the same second"
    box = same_second_outbox(f)
    try:
        box.dispatch_pending()
        first = receipts(f)
        invalid = list(f.ledger.events(kind="filing.invalid"))
        assert len(invalid) == 5 and len({ev.payload["filing_id"] for ev in invalid}) == 1
        texts = sorted(name for name in first if name.endswith(".txt"))
        assert len(texts) == 1 + len(invalid), texts  # one 受理回执, one 校验错误 per round
        for ev in invalid:
            p = ev.payload
            stem = f"{p['filing_id']}_r{p['round']}_{ev.seq:08d}_校验错误"
            assert f"{stem}.txt" in first and f"{stem}_错误标注.xlsx" in first
        # each names the bundle it answers
        named = {n: first[n].decode() for n in texts}
        for n in range(6):
            assert len([t for t in named.values() if f"“报送-{n}.zip”" in t]) == 1

        # a crash before the cursor moved: the same events run again, onto the same names
        box.state.set_cursor(0)
        box.dispatch_pending()
        assert receipts(f) == first
    finally:
        box.close()


def test_an_invalid_filing_gets_the_error_report_only(f: Flow) -> None:
    outcome = f.file(broken=True, original_name="渝新置业-2025.zip")
    assert outcome.state == "invalid"
    f.deliver()
    assert purposes(f.data) == ["error-report"], "no 受理回执 saying it is being checked"
    names = sorted(receipts(f))
    assert [n.rsplit("_", 1)[-1] for n in names] == ["校验错误.txt", "错误标注.xlsx"], names
    (report,) = delivered(f.data)
    body = report.get_body(("plain",))
    assert body is not None and "“渝新置业-2025.zip”" in body.get_content()


def test_a_valid_filing_gets_the_receipt_with_the_filers_own_names(f: Flow) -> None:
    outcome = f.file(original_name="2025年度产权登记.zip")
    f.deliver()
    received = next(f.ledger.events(kind="filing.received")).payload
    assert received["original_name"] == "2025年度产权登记.zip"
    assert received["workbook_name"] == "登记表.xlsx"
    assert received["attachment_names"] == [f"{i}.pdf" for i in range(5)]
    mails = delivered(f.data)
    (receipt,) = [m for m in mails if m["X-Chanquan-Purpose"] == "receipt"]
    text = receipt.get_body(("plain",))
    assert text is not None and "本回执针对您报送的“2025年度产权登记.zip”" in text.get_content()
    assert "已通过校验" in text.get_content()
    (txt,) = [body for name, body in receipts(f).items() if name.endswith("_受理回执.txt")]
    assert "“2025年度产权登记.zip”" in txt.decode()
    # the reviewers see the same names
    for request in [m for m in mails if m["X-Chanquan-Purpose"] == "review-request"]:
        body = request.get_body(("plain",))
        assert body is not None and "填报单位报送的是“2025年度产权登记.zip”" in body.get_content()
        assert outcome.filing_id in str(request["Subject"])


def test_answers_to_a_mail_filer_thread_under_their_message(f: Flow) -> None:
    mine = "<abc.123@zhiye.test>"
    valid = f.file(channel="smtp", reply_to="sender@zhiye.test", message_id=mine, original_name="登记表.xlsx")
    box = f.outbox()
    try:
        box.dispatch_pending()
        # the invalid one is a later round of no filing: a filing of its own, with its own message
        f.wf.withdraw(valid.filing_id, reason="重报", by=SUB)
        f.file(channel="smtp", reply_to="sender@zhiye.test", message_id="<def.456@zhiye.test>", broken=True)
        box.dispatch_pending()
        box.send_pending()
    finally:
        box.close()
    mails = {str(m["X-Chanquan-Purpose"]): m for m in delivered(f.data) if m["To"] == "sender@zhiye.test"}
    assert set(mails) == {"receipt", "error-report"}
    for purpose, answered in (("receipt", mine), ("error-report", "<def.456@zhiye.test>")):
        mail = mails[purpose]
        assert mail["In-Reply-To"] == answered
        references = str(mail["References"]).split()
        assert references[-1] == answered and references[0].startswith("<filing-")


def test_a_filing_recorded_before_the_names_were_kept_still_reads_and_gets_its_receipt(f: Flow) -> None:
    from outbox.notices import on_filing_received
    from workflow.events import FilingReceived

    f.file(original_name="新.zip")
    ev = next(f.ledger.events(kind="filing.received"))
    added = ("original_name", "workbook_name", "attachment_names", "message_id")
    old = {key: value for key, value in ev.payload.items() if key not in added}
    assert FilingReceived.model_validate(old).original_name == ""
    older = StoredEvent(ev.seq, ev.ts, ev.kind, ev.actor, ev.subject, json.dumps(old, ensure_ascii=False), b"")
    box = f.outbox()
    try:
        (notice,) = on_filing_received(box.dispatcher.ctx, older)
        _, text, html = box.composer.render_parts(notice.spec)
    finally:
        box.close()
    assert "本回执针对" not in text + html and "收到的文件" in text
    assert notice.spec.in_reply_to == "" and notice.receipt_stem.endswith(f"_r1_{ev.seq:08d}_受理回执")
