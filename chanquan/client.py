"""A small SMTP client for filers: what Outlook would do, for people and scripts without one.

It speaks to chanquan's own listener exactly as contract 4 describes (AUTH with the
organization code, the bundle as attachments, 修改密码 with the new password twice),
so the demo and the tests exercise the same path a real filer does.
"""

from __future__ import annotations

import mimetypes
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, getaddresses, make_msgid
from pathlib import Path

PASSWORD_CHANGE_SUBJECT = "修改密码"


@dataclass(frozen=True)
class SendResult:
    """What the server answered to the final DATA; `code` 250 means durably accepted."""

    code: int
    text: str
    message_id: str


class SendError(Exception):
    """The server refused the session or the message; `code` and `text` are its reply."""

    def __init__(self, code: int, text: str, stage: str) -> None:
        super().__init__(f"{stage}: {code} {text}")
        self.code = code
        self.text = text
        self.stage = stage


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    starttls: bool = False
    verify_tls: bool = True


def build_filing_message(
    sender: str, to: str, files: Sequence[Path], subject: str = "产权登记申报", body: str = ""
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message.set_content((body or "产权登记申报材料见附件。") + "\n")
    for path in files:
        ctype, _ = mimetypes.guess_type(path.name)
        maintype, subtype = (ctype or "application/octet-stream").split("/", 1)
        message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    return message


def build_password_change(sender: str, to: str, new_password: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = PASSWORD_CHANGE_SUBJECT
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    message.set_content(f"{new_password}\n{new_password}\n")
    return message


def build_reply(sender: str, to: str, subject: str, body: str, in_reply_to: str = "") -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject if subject.lower().startswith(("re:", "回复")) else f"回复：{subject}"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "localhost")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(body)
    return message


def send_message(
    server: Server, message: EmailMessage, user: str | None = None, password: str | None = None
) -> SendResult:
    """Send one message; AUTH only when a user is given. Raises SendError with the server's reply."""
    try:
        with smtplib.SMTP(server.host, server.port, timeout=60) as smtp:
            smtp.ehlo()
            if server.starttls:
                context = ssl.create_default_context()
                if not server.verify_tls:
                    context.check_hostname = False
                    context.verify_mode = ssl.CERT_NONE
                smtp.starttls(context=context)
                smtp.ehlo()
            if user is not None:
                try:
                    smtp.login(user, password or "")
                except smtplib.SMTPAuthenticationError as exc:
                    raise SendError(exc.smtp_code, _text(exc.smtp_error), "AUTH") from exc
            sender = _bare_address(str(message["From"]))
            code, text = smtp.mail(sender)
            if code != 250:
                raise SendError(code, _text(text), "MAIL")
            for recipient in _recipients(message):
                code, text = smtp.rcpt(recipient)
                if code not in (250, 251):
                    raise SendError(code, _text(text), "RCPT")
            code, text = smtp.data(message.as_bytes(policy=SMTP_POLICY))
            if code != 250:
                raise SendError(code, _text(text), "DATA")
            return SendResult(code=code, text=_text(text), message_id=str(message["Message-ID"]))
    except OSError as exc:
        raise SendError(0, str(exc), "CONNECT") from exc


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def _bare_address(header: str) -> str:
    return getaddresses([header])[0][1]


def _recipients(message: EmailMessage) -> list[str]:
    fields = [str(v) for key in ("To", "Cc", "Bcc") for v in message.get_all(key, [])]
    return [address for _name, address in getaddresses(fields) if address]
