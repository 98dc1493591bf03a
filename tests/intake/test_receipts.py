"""From the drop folder and the SMTP listener to the answers: the real intake service (watchdog
observer, aiosmtpd, smtplib) and the real outbox on one ledger, as `chanquan serve` runs them."""

from __future__ import annotations

import mailbox
import os
import smtplib
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from intake_helpers import CHILD, FILER, PASSWORD, Env, filing_mail, valid_attachments, valid_zip

from outbox import MaildirDelivery, Outbox, OutboxConfig

pytestmark = pytest.mark.slow


@pytest.fixture
def box(running: Env) -> Iterator[Outbox]:
    config = OutboxConfig(mail_domain="chanquan.localhost", dropbox_dir=running.dropbox)
    opened = Outbox(
        running.ledger, running.wf, running.data / "outbox", config, transport=MaildirDelivery(running.data / "maildir")
    )
    try:
        yield opened
    finally:
        opened.close()


def notices_in_ledger(env: Env) -> list[tuple[str, int, int]]:
    """(id, round, seq) of every event that answers a drop-folder filer: the 受理回执 of a round
    that passed validation, the 校验错误 of one that did not, the 无法受理 of an unreadable item."""
    invalid = {(e.payload["filing_id"], e.payload["round"]) for e in env.kinds("filing.invalid")}
    out = [
        (e.payload["filing_id"], e.payload["round"], e.seq)
        for e in env.kinds("filing.received")
        if (e.payload["filing_id"], e.payload["round"]) not in invalid
    ]
    out += [(e.payload["filing_id"], e.payload["round"], e.seq) for e in env.kinds("filing.invalid")]
    out += [(e.payload["item_id"], 0, e.seq) for e in env.kinds("intake.rejected")]
    return out


def test_fifty_bundles_of_one_unit_dropped_at_once_each_round_gets_its_own_receipt(
    running: Env, box: Outbox, tmp_path: Path
) -> None:
    unit_dir = running.dropbox / CHILD
    unit_dir.mkdir(parents=True)
    staging = tmp_path / "staging"  # written beside the drop folder, then renamed in: 50 arrivals at once
    staging.mkdir()
    data = valid_zip()
    names = [f"报送-{n:02d}.zip" for n in range(50)]
    for name in names:
        (staging / name).write_bytes(data)
    for name in names:
        os.replace(staging / name, unit_dir / name)
    running.wait_for(lambda: len(running.kinds("intake.processed")) == 50, timeout=120)
    box.dispatch_pending()
    assert box.cursor() >= max(e.seq for e in running.ledger.events())  # deterministic: everything dispatched

    folder = unit_dir / "回执"
    files = sorted(p.name for p in folder.iterdir())
    texts = [name for name in files if name.endswith(".txt")]
    notices = notices_in_ledger(running)
    assert len(notices) == 50  # one in review, 49 rounds of a refused second filing
    assert len(texts) == len(notices), texts
    for ident, round_no, seq in notices:
        assert len([n for n in texts if n.startswith(f"{ident}_r{round_no}_{seq:08d}_")]) == 1, (ident, seq)
    assert not [n for n in files if n.startswith(".")], "no temporary files left"
    # every answer names the bundle it answers, and every bundle is answered exactly once
    bodies = [(folder / n).read_text(encoding="utf-8") for n in texts]
    for name in names:
        assert len([b for b in bodies if f"“{name}”" in b]) == 1, name
    assert len([n for n in texts if n.endswith("_受理回执.txt")]) == 1, "a refused bundle gets no 受理回执"


def test_a_mail_filing_is_named_by_its_attachments_and_answered_in_its_thread(running: Env, box: Outbox) -> None:
    message = filing_mail("请查收本年度登记材料", workbook_name="重庆测试子公司-产权登记表.xlsx")
    with smtplib.SMTP("127.0.0.1", running.port, timeout=20) as smtp:
        smtp.login(CHILD, PASSWORD)
        smtp.send_message(message)
    running.wait_for(lambda: len(running.kinds("intake.processed")) == 1)
    attached = ["重庆测试子公司-产权登记表.xlsx", *valid_attachments()]

    item = running.kinds("intake.received")[0].payload
    assert item["original_name"] == "、".join(attached), "the attachments' names, not the subject"
    filing = running.kinds("filing.received")[0].payload
    assert filing["original_name"] == item["original_name"]
    assert filing["workbook_name"] == "重庆测试子公司-产权登记表.xlsx"
    assert filing["attachment_names"] == sorted(valid_attachments())
    assert filing["message_id"] == message["Message-ID"]

    box.dispatch_pending()
    box.send_pending()
    maildir = mailbox.Maildir(running.data / "maildir", create=False)
    mails = [message_from_bytes(maildir.get_bytes(key), policy=policy.default) for key in maildir.iterkeys()]
    (receipt,) = [m for m in mails if m["X-Chanquan-Purpose"] == "receipt"]
    assert receipt["To"] == FILER
    assert receipt["In-Reply-To"] == message["Message-ID"]
    assert str(receipt["References"]).split() == [
        f"<filing-{filing['filing_id']}@chanquan.localhost>",
        message["Message-ID"],
    ]
    assert isinstance(receipt, EmailMessage)
    body = receipt.get_body(("plain",))
    assert body is not None and "重庆测试子公司-产权登记表.xlsx" in body.get_content()


def test_unreadable_items_are_answered_under_their_own_names(running: Env, box: Outbox) -> None:
    unit_dir = running.dropbox / CHILD
    unit_dir.mkdir(parents=True)
    (unit_dir / "坏文件.zip").write_bytes(b"not a zip at all")
    message = filing_mail("没有附件的报送", workbook_name="重庆测试子公司-产权登记表.xlsx")
    message.clear_content()
    message.set_content("忘了附件。")
    with smtplib.SMTP("127.0.0.1", running.port, timeout=20) as smtp:
        smtp.login(CHILD, PASSWORD)
        smtp.send_message(message)
    running.wait_for(lambda: len(running.kinds("intake.rejected")) == 2)
    box.dispatch_pending()
    box.send_pending()

    by_channel = {e.payload["channel"]: e for e in running.kinds("intake.rejected")}
    dropped = by_channel["dropbox"]
    (text,) = list((unit_dir / "回执").iterdir())
    assert text.name == f"{dropped.payload['item_id']}_{dropped.seq:08d}_无法受理.txt"
    assert "“坏文件.zip”" in text.read_text(encoding="utf-8")
    maildir = mailbox.Maildir(running.data / "maildir", create=False)
    mails = [message_from_bytes(maildir.get_bytes(key), policy=policy.default) for key in maildir.iterkeys()]
    answers = [m for m in mails if m["X-Chanquan-Purpose"] == "intake-rejected"]
    assert len(answers) == 2 and all(m["To"] == FILER for m in answers)  # FILER is also the unit's contact
    # the mail is answered in its own thread; the dropped file's answer has no mail to answer
    assert sorted(str(m["In-Reply-To"]) for m in answers) == sorted([message["Message-ID"], "None"])
