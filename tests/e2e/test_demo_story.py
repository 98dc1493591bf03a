"""The demo's story as a test: every ledger event, every mail, every receipt file, every PDF.

It drives the same steps `chanquan demo` runs (real SMTP listener on a free loopback
port, real watchdog observer on the drop folder, real Maildir, real signatures), then
checks what the story left behind against what a reader of the README would expect.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from pypdf import PdfReader

from chanquan.cli import main as cli
from chanquan.demo import STEPS
from chanquan.demo_stage import Demo, running

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    demo = Demo(data_dir=tmp_path_factory.mktemp("e2e") / "demo-data")
    with running(demo):
        for _title, step in STEPS:
            step(demo)
        yield demo


def kinds(demo: Demo) -> Counter[str]:
    return Counter(event.kind for event in demo.workflow.ledger.events())


def test_every_ledger_event(story: Demo) -> None:
    assert kinds(story) == Counter(
        {
            "unit.added": 7,
            "unit.contacts_set": 1,
            "account.created": 6,
            "credentials.mail_requested": 1,
            "account.password_changed": 1,
            "intake.received": 10,
            "intake.processed": 10,
            "filing.received": 5,
            "filing.invalid": 1,
            "review.requested": 5,
            "review.decided": 5,
            "filing.returned": 1,
            "filing.approved": 3,
            "document.issued": 3,
            "mail.sent": 17,
        }
    )
    sub = story.filings["subsidiary"]
    history = [
        (e.kind, e.payload.get("level"), e.payload.get("decision")) for e in story.workflow.ledger.events(subject=sub)
    ]
    assert history == [
        ("filing.received", None, None),
        ("review.requested", 1, None),
        ("review.decided", 1, "退回"),
        ("filing.returned", 1, None),
        ("filing.received", None, None),
        ("review.requested", 1, None),
        ("review.decided", 1, "通过"),
        ("review.requested", 2, None),
        ("review.decided", 2, "通过"),
        ("filing.approved", None, None),
        ("document.issued", None, None),
    ]
    returned = next(story.workflow.ledger.events(kind="filing.returned"))
    assert "批准情况" in returned.payload["opinion"]
    invalid = next(story.workflow.ledger.events(kind="filing.invalid"))
    assert {f["code"] for f in invalid.payload["findings"]} >= {"investors-share-sum"}
    # nothing was filed twice: one intake.processed per intake.received
    received = [e.subject for e in story.workflow.ledger.events(kind="intake.received")]
    processed = [e.subject for e in story.workflow.ledger.events(kind="intake.processed")]
    assert sorted(received) == sorted(processed)
    assert len(set(received)) == len(received)


def test_every_mail_in_the_maildir(story: Demo) -> None:
    mails = story.mails()
    sent = list(story.workflow.ledger.events(kind="mail.sent"))
    assert len(mails) == len(sent) == 17
    by_id = {str(m["Message-ID"]): m for m in mails}
    assert set(by_id) == {e.payload["message_id"] for e in sent}
    purposes = Counter((e.payload["purpose"], e.payload["recipient"]) for e in sent)
    assert purposes == Counter(
        {
            ("credentials", "filer@yufa.example.cn"): 1,
            ("receipt", "filer@yufa.example.cn"): 2,  # the invalid bundle gets the error report alone
            ("receipt", "filer@yfjs.example.cn"): 2,
            ("error-report", "filer@yufa.example.cn"): 1,
            ("password-changed", "filer@yfjs.example.cn"): 1,
            ("review-request", "review@sasac.example.cn"): 3,
            ("review-request", "review@yufa.example.cn"): 2,
            ("returned", "filer@yfjs.example.cn"): 1,
            ("level-approved", "filer@yfjs.example.cn"): 1,
            ("approved", "filer@yufa.example.cn"): 2,
            ("approved", "filer@yfjs.example.cn"): 1,
        }
    )
    for event in sent:
        mail = by_id[event.payload["message_id"]]
        filing = event.payload.get("filing_id")
        if filing:
            assert f"[{filing}]" in str(mail["Subject"])
            assert f"filing-{filing}" in str(mail.get("References", "")) + str(mail.get("In-Reply-To", ""))
        if event.payload["purpose"] == "review-request":
            assert re.search(r"review\+[^@]+@chanquan\.localhost", str(mail["Reply-To"]))
            assert mail["Auto-Submitted"] == "auto-generated"
            assert mail["X-Auto-Response-Suppress"] == "All"
        if event.payload["purpose"] == "approved":
            pdfs = [p for p in mail.iter_attachments() if p.get_content_type() == "application/pdf"]
            assert len(pdfs) == 1


def test_every_receipt_file(story: Demo) -> None:
    folder = story.dropbox / "202600012" / "回执"
    names = sorted(p.name for p in folder.iterdir())
    first, invalid, minority = (
        story.filings["first_level"],
        next(story.workflow.ledger.events(kind="filing.invalid")).payload["filing_id"],
        story.filings["minority"],
    )
    # filing id, round, ledger seq of the answered event, label: one file per notice, never reused
    patterns = [
        rf"{first}_r1_\d{{8}}_受理回执\.txt",
        rf"{first}_r1_\d{{8}}_核准通知\.txt",
        rf"{first}_r1_\d{{8}}_核准通知_产权登记证\.pdf",
        rf"{invalid}_r1_\d{{8}}_校验错误\.txt",
        rf"{invalid}_r1_\d{{8}}_校验错误_错误标注\.xlsx",
        rf"{minority}_r1_\d{{8}}_受理回执\.txt",
        rf"{minority}_r1_\d{{8}}_核准通知\.txt",
        rf"{minority}_r1_\d{{8}}_核准通知_产权登记表\.pdf",
    ]
    assert len(names) == len(patterns), names
    for pattern in patterns:
        assert [n for n in names if re.fullmatch(pattern, n)], (pattern, names)
    # each answer names the bundle it answers
    answers = {
        "_受理回执.txt": {first: "01-一级企业-占有登记.zip", minority: "03-参股企业-出资人填报.zip"},
        "_校验错误.txt": {invalid: "08-错误-股权比例合计不等于100.zip"},
    }
    for suffix, bundles in answers.items():
        for filing, bundle in bundles.items():
            (text,) = [folder / n for n in names if n.startswith(filing) and n.endswith(suffix)]
            assert f"“{bundle}”" in text.read_text(encoding="utf-8")
    # the filer who used mail gets no receipts folder
    assert not (story.dropbox / "202600020" / "回执").exists()


def test_mail_receipts_answer_the_filers_own_messages(story: Demo) -> None:
    sub = story.filings["subsidiary"]
    received = [e.payload for e in story.workflow.ledger.events(kind="filing.received", subject=sub)]
    assert [r["original_name"] for r in received] == ["02-子企业-变动登记.zip"] * 2  # the attachment, not the subject
    assert all(r["message_id"] for r in received) and received[0]["message_id"] != received[1]["message_id"]
    receipts = [m for m in story.mails() if m["X-Chanquan-Purpose"] == "receipt" and f"[{sub}]" in str(m["Subject"])]
    assert sorted(str(m["In-Reply-To"]) for m in receipts) == sorted(r["message_id"] for r in received)
    for mail in receipts:
        assert str(mail["References"]).split() == [f"<filing-{sub}@chanquan.localhost>", str(mail["In-Reply-To"])]
    # the reviewers are told which bundle it is too
    requests = [
        m for m in story.mails() if m["X-Chanquan-Purpose"] == "review-request" and f"[{sub}]" in str(m["Subject"])
    ]
    assert requests and all("“02-子企业-变动登记.zip”" in _plain_text(m) for m in requests)


def _plain_text(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None, mail["Subject"]
    return str(body.get_content())


def test_filings_show_lists_the_filers_own_file_names(story: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert cli(["--data", str(story.data_dir), "filings", "show", story.filings["subsidiary"]]) == 0
    out = capsys.readouterr().out
    assert out.count("02-子企业-变动登记.zip") == 2, out  # both rounds
    assert "第 1 轮" in out and "第 2 轮" in out


def test_signed_pdfs_verify(story: Demo) -> None:
    from asn1crypto import pem, x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    ca_bytes = (story.data_dir / "keys" / "ca.pem").read_bytes()
    _type, _headers, der = pem.unarmor(ca_bytes)
    context = ValidationContext(trust_roots=[x509.Certificate.load(der)])
    assert len(story.pdfs) == 3
    doc_types = set()
    for path in story.pdfs:
        data = path.read_bytes()
        reader = PdfFileReader(io.BytesIO(data))
        (signature,) = reader.embedded_signatures
        status = validate_pdf_signature(signature, context)
        details = status.pretty_print_details  # unannotated in pyHanko
        assert status.intact and status.valid and status.trusted, details()  # type: ignore[no-untyped-call]
        assert status.coverage is not None and status.coverage.name == "ENTIRE_FILE"
        text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
        assert "重庆" in text
        doc_types.add(path.stem.rsplit("-", 1)[1])
        assert cli(["--data", str(story.data_dir), "verify-pdf", str(path)]) == 0
    assert doc_types == {"登记证", "登记表"}


def test_ledger_verifies_at_the_end(story: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["--data", str(story.data_dir), "ledger", "verify"]) == 0
    capsys.readouterr()
    assert (story.data_dir / "checkpoints.log").read_text().count("\n") > 0


def test_a_flipped_byte_fails_verification(story: Demo, tmp_path: Path) -> None:
    data = bytearray(story.pdfs[0].read_bytes())
    data[len(data) // 2] ^= 0x01
    forged = tmp_path / "forged.pdf"
    forged.write_bytes(bytes(data))
    assert cli(["--data", str(story.data_dir), "verify-pdf", str(forged)]) != 0


def test_the_portal_serves_the_demo_with_the_printed_login(story: Demo) -> None:
    """The demo runs the portal as `serve` does; the log-in its story prints works, and the QR codes'
    base URL (web.public_url) is the portal's own address."""
    import re

    import httpx2 as httpx

    from chanquan.commands.demo import portal_login_hint
    from chanquan.config import load_settings
    from chanquan.demo import SUBSIDIARY, SUBSIDIARY_NEW_PASSWORD

    assert load_settings(story.data_dir).web.base_url() == story.web_url
    assert SUBSIDIARY in portal_login_hint() and SUBSIDIARY_NEW_PASSWORD in portal_login_hint()
    with httpx.Client(base_url=story.web_url, follow_redirects=False, timeout=30) as client:
        assert client.get("/healthz").text == "ok"
        form = client.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        login = client.post(
            "/login", data={"csrf": csrf.group(1), "username": SUBSIDIARY, "password": SUBSIDIARY_NEW_PASSWORD}
        )
        assert login.status_code == 303 and login.headers["location"] == "/"
        home = client.get("/").text
        assert story.filings["subsidiary"] in home and "报送申报" in home
