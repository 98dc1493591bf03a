"""End to end with the real ledger, workflow and document issuer: every event becomes the right mail and 回执."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from flow_fixtures import GROUP, SUB, Flow, delivered, run

from workflow import ReviewDecision


def by_purpose(messages: list[EmailMessage], purpose: str) -> list[EmailMessage]:
    return [m for m in messages if m["X-Chanquan-Purpose"] == purpose]


def token_of(message: EmailMessage) -> str:
    reply_to = str(message["Reply-To"])
    assert reply_to.startswith("review+") and reply_to.endswith("@chanquan.test")
    return reply_to.removeprefix("review+").split("@")[0]


def test_filing_to_approval_sends_every_notice(f: Flow) -> None:
    box = f.outbox()
    try:
        outcome = f.file()
        filing = outcome.filing_id
        run(box)
        mails = delivered(f.data)
        (receipt,) = by_purpose(mails, "receipt")
        assert receipt["To"] == "filer@zhiye.test"
        assert receipt["Subject"] == f"[{filing}] 产权登记已受理"
        requests = by_purpose(mails, "review-request")
        assert sorted(str(m["To"]) for m in requests) == ["audit1@yuxin.test", "audit2@yuxin.test"]
        assert len({token_of(m) for m in requests}) == 2, "each reviewer gets a token of their own"
        for request in requests:
            assert request["Auto-Submitted"] == "auto-generated"
            assert request["References"] == f"<filing-{filing}@chanquan.test>"
            names = sorted(a.get_filename() or "" for a in request.iter_attachments())
            assert names == sorted([f"{filing}_登记表.xlsx", *(f"{i}.pdf" for i in range(5))])
            text = request.get_body(("plain",))
            assert text is not None and "首次登记" in text.get_content()

        # the first-level reviewer approves: the filer hears it went on, SASAC gets its request
        decided = f.wf.decide(token_of(requests[0]), "audit1@yuxin.test", ReviewDecision.APPROVE, "同意上报。")
        assert decided.applied, decided.reason_zh
        run(box)
        mails = delivered(f.data)
        (level,) = by_purpose(mails, "level-approved")
        assert level["Subject"] == f"[{filing}] 重庆渝新产业投资集团有限公司审核通过，已报送重庆市国资委"
        (sasac,) = [m for m in by_purpose(mails, "review-request") if m["To"] == "review@sasac.test"]

        # SASAC approves: the issuer signs the PDF, and the filer gets it
        assert f.wf.decide(token_of(sasac), "review@sasac.test", ReviewDecision.APPROVE, "同意。").applied
        run(box)
        run(box)  # document.issued was appended during the first pass
        mails = delivered(f.data)
        (approved,) = by_purpose(mails, "approved")
        (pdf,) = list(approved.iter_attachments())
        assert pdf.get_content_type() == "application/pdf"
        assert pdf.get_content().startswith(b"%PDF")
        issued = list(f.ledger.events(kind="document.issued"))
        assert len(issued) == 1 and issued[0].payload["filing_id"] == filing

        # all mail of the filing threads together; every message recorded once as mail.sent
        threaded = [m for m in mails if m["References"] == f"<filing-{filing}@chanquan.test>"]
        assert len(threaded) == len(mails)
        sent = [e.subject for e in f.ledger.events(kind="mail.sent")]
        assert sorted(sent) == sorted(str(m["Message-ID"]) for m in mails)
        assert all("body" not in e.payload for e in f.ledger.events(kind="mail.sent"))

        # 回执: receipt, level notice, approval notice and the PDF, named by filing id and time
        receipts = sorted(p.name for p in (f.data / "dropbox" / SUB / "回执").iterdir())
        assert any(n.startswith(filing) and n.endswith("_受理回执.txt") for n in receipts)
        assert any(n.endswith("_审核通过.txt") for n in receipts)
        assert any(n.endswith("_核准通知_产权登记表.pdf") for n in receipts)
        assert not [n for n in receipts if n.startswith(".")], "no temporary files left"
        text_file = next(p for p in (f.data / "dropbox" / SUB / "回执").iterdir() if p.name.endswith("_受理回执.txt"))
        assert text_file.read_text(encoding="utf-8").startswith(f"[{filing}] 产权登记已受理")

        # running again changes nothing
        before = len(delivered(f.data))
        run(box)
        assert len(delivered(f.data)) == before
    finally:
        box.close()


def test_invalid_filing_gets_error_report_with_annotated_workbook(f: Flow) -> None:
    outcome = f.file(broken=True, channel="smtp", reply_to="sender@zhiye.test")
    f.deliver()
    mails = delivered(f.data)
    (report,) = by_purpose(mails, "error-report")
    assert report["To"] == "sender@zhiye.test", "a mail filer is answered at the address they filed from"
    assert "未通过校验" in str(report["Subject"])
    (annotated,) = list(report.iter_attachments())
    assert annotated.get_filename() == f"{outcome.filing_id}_错误标注.xlsx"
    assert annotated.get_content()[:2] == b"PK"
    text = report.get_body(("plain",))
    assert text is not None and "统一社会信用代码" in text.get_content()
    assert not (f.data / "dropbox").exists(), "no 回执 for mail filers"


def test_returned_filing_and_changes_table_against_last_approval(f: Flow) -> None:
    box = f.outbox()
    try:
        f.file()
        run(box)
        request = delivered(f.data, "review-request")[0]
        f.wf.decide(token_of(request), str(request["To"]), ReviewDecision.APPROVE, "")
        run(box)
        sasac = next(m for m in delivered(f.data, "review-request") if m["To"] == "review@sasac.test")
        f.wf.decide(token_of(sasac), "review@sasac.test", ReviewDecision.APPROVE, "")
        run(box)
        # a change filing: reg capital 1000 -> 2500; the reviewers see the difference
        second = f.file(capital=2500)
        run(box)
        newest = [m for m in delivered(f.data, "review-request") if second.filing_id in str(m["Subject"])]
        assert len(newest) == 2
        body = newest[0].get_body(("plain",))
        assert body is not None
        content = body.get_content()
        assert "注册资本" in content and "1000" in content and "2500" in content
        f.wf.decide(token_of(newest[0]), str(newest[0]["To"]), ReviewDecision.RETURN, "注册资本与章程不符。\n请核实。")
        run(box)
    finally:
        box.close()
    (returned,) = delivered(f.data, "returned")
    text = returned.get_body(("plain",))
    assert text is not None and "注册资本与章程不符。\n  请核实。" in text.get_content().replace("\r\n", "\n")
    assert any(p.name.endswith("_退回通知.txt") for p in (f.data / "dropbox" / SUB / "回执").iterdir())


def test_reminders_after_working_days_second_copies_parent(f: Flow) -> None:
    now = [datetime.now(UTC).timestamp()]
    box = f.outbox(reminder_working_days=2)
    box.dispatcher.clock = lambda: now[0]
    try:
        outcome = f.file()
        run(box)
        assert box.send_reminders() == 0
        now[0] += timedelta(days=4).total_seconds()  # at least 2 working days whatever the weekday
        assert box.send_reminders() == 2  # one per reviewer
        assert box.send_reminders() == 0, "each reminder is sent once"
        now[0] += timedelta(days=4).total_seconds()
        assert box.send_reminders() == 2
        box.send_pending()
        reminders = delivered(f.data, "reminder")
        assert len(reminders) == 4
        second = [m for m in reminders if "第 2 次" in str(m["Subject"])]
        assert len(second) == 2
        assert all("review@sasac.test" in str(m["Cc"]) for m in second), "copied to the parent's contacts"
        assert all(m["Cc"] is None for m in reminders if m not in second)
        assert all(outcome.filing_id in str(m["Subject"]) for m in reminders)
        # a decision ends the reminders
        f.wf.decide(token_of(reminders[0]), str(reminders[0]["To"]), ReviewDecision.RETURN, "退回。")
        box.dispatch_pending()
        now[0] += timedelta(days=30).total_seconds()
        assert box.send_reminders() == 0
    finally:
        box.close()


def test_unclear_reply_answered_once_and_never_to_robots(f: Flow) -> None:
    from intake.events import ReviewUnclear

    box = f.outbox()
    try:
        outcome = f.file()
        for n in range(3):
            f.ledger.append(
                ReviewUnclear(
                    filing_id=outcome.filing_id,
                    sender="audit1@yuxin.test",
                    step=f"{outcome.filing_id.lower()}-r1-l1",
                    message_id=f"<r{n}@x>",
                    item_id=f"i{n}",
                ),
                actor="intake",
                subject=f"i{n}",
            )
        f.ledger.append(
            ReviewUnclear(
                filing_id=outcome.filing_id,
                sender="MAILER-DAEMON@yuxin.test",
                step="",
                message_id="<b@x>",
                item_id="ib",
            ),
            actor="intake",
            subject="ib",
        )
        run(box)
    finally:
        box.close()
    unclear = delivered(f.data, "reply-unclear")
    assert [str(m["To"]) for m in unclear] == ["audit1@yuxin.test"]
    body = unclear[0].get_body(("plain",))
    assert body is not None and "请在第一行回复 通过 或 退回" in body.get_content()
    # its Reply-To is the reviewer's own valid review address: answering it decides the filing
    decided = f.wf.decide(token_of(unclear[0]), "audit1@yuxin.test", ReviewDecision.APPROVE, "同意")
    assert decided.applied and decided.filing_id == outcome.filing_id


def test_password_change_and_overseas_credentials(f: Flow) -> None:
    f.wf.accounts.change_password(SUB, SUB, "Str0ng-Passw0rd!")
    overseas = f.wf.units.add_overseas("渝新（香港）有限公司", parent=GROUP)
    f.deliver()
    mails = delivered(f.data)
    (changed,) = by_purpose(mails, "password-changed")
    assert changed["To"] == "filer@zhiye.test"
    (creds,) = by_purpose(mails, "credentials")
    assert creds["To"] == "filer@yuxin.test"
    body = creds.get_body(("plain",))
    assert body is not None and overseas.username in body.get_content()


def test_review_request_lists_files_over_the_attachment_limit(f: Flow) -> None:
    box = f.outbox(attach_limit_bytes=1000)
    try:
        f.file()
        run(box)
    finally:
        box.close()
    request = delivered(f.data, "review-request")[0]
    assert list(request.iter_attachments()) == []
    body = request.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "【未附上，超过 1000 字节，请向填报单位索取】" in text
    assert "0.pdf" in text and "_登记表.xlsx" in text


def test_reviewers_added_later_are_reminded_too(f: Flow) -> None:
    now = [datetime.now(UTC).timestamp()]
    box = f.outbox(reminder_working_days=1)
    box.dispatcher.clock = lambda: now[0]
    try:
        f.file()
        run(box)
        f.wf.units.set_contacts(GROUP, reviewer_emails=["audit1@yuxin.test", "audit2@yuxin.test", "new@yuxin.test"])
        run(box)
        assert "new@yuxin.test" in [str(m["To"]) for m in delivered(f.data, "review-request")]
        now[0] += timedelta(days=4).total_seconds()
        assert box.send_reminders() == 3
    finally:
        box.close()
