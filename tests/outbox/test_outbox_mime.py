"""outbox/mime.py against the standard library: every shape it writes must mean what `EmailMessage`
would write for the same mail (issue 13 kept the hand-assembled MIME for its speed, on this condition)."""

from __future__ import annotations

from collections.abc import Sequence
from email import message_from_bytes, policy
from email.message import EmailMessage, Message

import pytest

from outbox.mime import build_message, encode_address

LONG_NAME = "重庆渝新产业投资集团有限公司关于产权登记的业务办理申请文件（二〇二六年度，第一次补充材料）.pdf"
HEADERS = [
    ("From", encode_address("产权登记系统", "noreply@chanquan.test")),
    ("To", "audit1@yuxin.test, audit2@yuxin.test"),
    ("Cc", "c@x.test"),
    ("Reply-To", "review+cq2026-000001-r1-l1-abcdefghijklmnop@chanquan.test"),
    ("Subject", "[CQ2026-000001] 请审核：重庆渝新产业投资集团有限公司下属重庆渝新置业有限公司 2025 年度产权登记"),
    ("Date", "Mon, 02 Mar 2026 09:30:00 +0800"),
    ("Message-ID", "<cq.7.review-request.fd338cfd38@chanquan.test>"),
    ("In-Reply-To", "<reply-1@yuxin.test>"),
    ("References", "<filing-CQ2026-000001@chanquan.test>\r\n <reply-1@yuxin.test>"),
    ("Thread-Topic", "产权登记 CQ2026-000001"),
    ("Auto-Submitted", "auto-generated"),
    ("X-Chanquan-Purpose", "review-request"),
]
TEXT = "您好：\n\n重庆渝新置业有限公司报送的产权登记请审核。\n第一行只写“通过”或“退回”。\n"
HTML = "<html><body><p>您好：</p>\n<table><tr><td>注册资本</td><td>5000.0000</td></tr></table></body></html>\n"
ATTACHMENTS = {
    "none": [],
    "ascii": [("plain.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", b"PK\x03\x04")],
    "chinese": [
        (LONG_NAME, "application/pdf", b"%PDF-1.4 data" * 500),
        ("CQ2026-000001_登记表.xlsx", "application/octet-stream", bytes(range(256)) * 40),
        ('quote"d name.pdf', "application/pdf", b"x"),
    ],
}


def reference(
    headers: Sequence[tuple[str, str]], text: str, html: str, attachments: Sequence[tuple[str, str, bytes]]
) -> bytes:
    """The same mail as the standard library writes it."""
    message = EmailMessage(policy=policy.SMTP)
    for name, value in headers:
        message[name] = " ".join(value.split())  # the library folds itself
    message.set_content(text, subtype="plain", charset="utf-8", cte="base64")
    message.add_alternative(html, subtype="html", charset="utf-8", cte="base64")
    for filename, mime_type, data in attachments:
        maintype, _, subtype = mime_type.partition("/")
        message.add_attachment(data, maintype, subtype, filename=filename)
        payload = message.get_payload()
        assert isinstance(payload, list)
        part = payload[-1]
        assert isinstance(part, Message)
        part.set_param("name", filename)
    return message.as_bytes()


def meaning(raw: bytes) -> list[tuple[object, ...]]:
    """What a mail program reads: each part's headers (decoded, boundaries aside), type and content."""
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    parts: list[tuple[object, ...]] = []
    for part in parsed.walk():
        assert not part.defects, (part.get_content_type(), part.defects)
        headers = sorted(
            (name.lower(), str(value))
            for name, value in part.items()
            if name.lower() not in ("content-type", "mime-version", "content-disposition")
        )
        params = {k: v for k, v in part["Content-Type"].params.items() if k != "boundary"}
        content = None if part.is_multipart() else part.get_content()
        parts.append((part.get_content_type(), params, part.get_content_disposition(), part.get_filename(), headers))
        parts.append(("content", content))
    return parts


@pytest.mark.parametrize("shape", sorted(ATTACHMENTS))
def test_hand_assembled_mime_means_what_emailmessage_writes(shape: str) -> None:
    ours = build_message(HEADERS, TEXT, HTML, ATTACHMENTS[shape], "seed")
    assert meaning(ours) == meaning(reference(HEADERS, TEXT, HTML, ATTACHMENTS[shape]))


def test_file_names_are_given_in_both_forms_mail_programs_read() -> None:
    """RFC 2231 (`filename*=`) for standard readers, RFC 2047 words in `name=`/`filename=` for older
    Outlook and Chinese mail programs; the library alone would write only the first."""
    ours = build_message(HEADERS, TEXT, HTML, ATTACHMENTS["chinese"][:1], "seed")
    part = ours.split(b"--=_cq_seed_0\r\n")[2]
    head = part.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "filename*=utf-8''%E9%87%8D" in head
    assert 'filename="=?utf-8?b?' in head and 'name="=?utf-8?b?' in head
    assert b'filename="=?' not in reference(HEADERS, TEXT, HTML, ATTACHMENTS["chinese"][:1])
