"""Turns a MailSpec (who, why, which template, what context) into exact RFC 5322 bytes.

Everything that varies between two renderings of the same spec is pinned down, so a
re-run after a crash produces the same bytes under the same Message-ID: the Message-ID
comes from (key, purpose, recipients), Date from the event's own time, MIME boundaries
from the Message-ID. All mails of one filing reference one stable root id
(`<filing-ID@domain>`) and carry the same Thread-Index, which is what threads them in
Outlook as well as in RFC 5322 clients.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from jinja2 import BaseLoader, Environment, FileSystemLoader, PackageLoader, StrictUndefined, select_autoescape

from ledger.localtime import DEFAULT_ZONE, reader_time, zone_info
from outbox.mime import build_message, encode_address
from outbox.spool import Envelope

CHINA = timezone(timedelta(hours=8), "CST")
# A Message-ID taken from an inbound mail goes into our headers only in this plain shape (no
# spaces, line breaks or brackets inside): anything else is dropped rather than passed on.
_MESSAGE_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,250}>\Z")
# templates/mail, installed as package data (pyproject.toml maps this package onto that folder), so a wheel
# finds it as a checkout does; `templates_dir` overrides it (tests, a deployment's own wording).
MAIL_TEMPLATES_PACKAGE = "outbox.mail_templates"


class TemplateMissingError(Exception):
    def __init__(self, template: str, problem: str) -> None:
        super().__init__(f"{template}: {problem}")
        self.template = template


@dataclass(frozen=True)
class Attachment:
    filename: str
    data: bytes
    mime_type: str = ""

    def types(self) -> tuple[str, str]:
        mime = self.mime_type or mimetypes.guess_type(self.filename)[0] or "application/octet-stream"
        maintype, _, subtype = mime.partition("/")
        return maintype, subtype


@dataclass(frozen=True)
class MailSpec:
    """One message to render. `key` is unique per source (an event seq, a reminder id)."""

    purpose: str
    template: str
    to: list[str]
    key: str
    date: datetime
    context: dict[str, Any] = field(default_factory=dict)
    cc: list[str] = field(default_factory=list)
    filing_id: str = ""
    reply_to: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    auto_submitted: bool = True
    in_reply_to: str = ""  # the Message-ID of the mail this answers (a reviewer's reply), if any


def mail_template_loader(templates_dir: Path | None = None) -> BaseLoader:
    """The shipped mail templates as package resources, or the folder given instead."""
    if templates_dir is not None:
        return FileSystemLoader(str(templates_dir))
    return PackageLoader(MAIL_TEMPLATES_PACKAGE, "")


def _hash(text: str, length: int = 12) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def thread_index(filing_id: str) -> str:
    """Outlook's conversation header: 6 bytes of time + a 16-byte GUID, both derived from the filing id."""
    digest = hashlib.sha256(("thread:" + filing_id).encode("utf-8")).digest()
    return base64.b64encode(digest[:22]).decode("ascii")


class Composer:
    def __init__(
        self,
        mail_domain: str,
        from_address: str = "",
        from_name: str = "产权登记系统",
        templates_dir: Path | None = None,
        common: dict[str, Any] | None = None,
        *,
        zone: str = DEFAULT_ZONE,
    ) -> None:
        self.mail_domain = mail_domain
        self.zone = zone  # the supervisor's (service.timezone): every time in a mail is in it, and says so
        self.from_address = from_address or f"noreply@{mail_domain}"
        self.from_name = from_name
        self.common = dict(common or {})
        self.env = Environment(
            loader=mail_template_loader(templates_dir),
            autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["cn_date"] = lambda value: reader_time(value, zone, style="zh")

    def message_id(self, spec: MailSpec) -> str:
        who = ",".join(sorted(addr.lower() for addr in spec.to + spec.cc))
        return f"<cq.{spec.key}.{spec.purpose}.{_hash(who, 10)}@{self.mail_domain}>"

    def root_id(self, filing_id: str) -> str:
        return f"<filing-{filing_id}@{self.mail_domain}>"

    def render_parts(self, spec: MailSpec) -> tuple[str, str, str]:
        """(subject, text, html) — what the snapshot tests compare."""
        context = {
            **self.common,
            **spec.context,
            "filing_id": spec.filing_id,
            "date": spec.date,
            "purpose": spec.purpose,
        }
        try:
            subject = self.env.get_template(f"{spec.template}.subject.j2").render(context)
            text = self.env.get_template(f"{spec.template}.txt.j2").render(context)
            html = self.env.get_template(f"{spec.template}.html.j2").render(context)
        except OSError as exc:  # jinja2's TemplateNotFound is an IOError subclass
            raise TemplateMissingError(spec.template, str(exc)) from exc
        subject = " ".join(subject.split())
        if spec.filing_id and f"[{spec.filing_id}]" not in subject:
            subject = f"[{spec.filing_id}] {subject}"
        return subject, text, html

    def compose(self, spec: MailSpec) -> tuple[Envelope, bytes]:
        subject, text, html = self.render_parts(spec)
        message_id = self.message_id(spec)
        headers = [
            ("From", encode_address(self.from_name, self.from_address)),
            ("To", ", ".join(spec.to)),
        ]
        if spec.cc:
            headers.append(("Cc", ", ".join(spec.cc)))
        if spec.reply_to:
            headers.append(("Reply-To", spec.reply_to))
        headers += [
            ("Subject", subject),
            ("Date", format_datetime(spec.date.astimezone(zone_info(self.zone)))),
            ("Message-ID", message_id),
        ]
        answered = spec.in_reply_to if _MESSAGE_ID.match(spec.in_reply_to) else ""
        references = [self.root_id(spec.filing_id)] if spec.filing_id else []
        references += [answered] if answered else []
        if references:
            # An answer threads under the mail it answers, and still under the filing's root.
            headers += [("In-Reply-To", answered or references[0]), ("References", "\r\n ".join(references))]
        if spec.filing_id:
            headers += [
                ("Thread-Topic", f"产权登记 {spec.filing_id}"),
                ("Thread-Index", thread_index(spec.filing_id)),
            ]
        if spec.auto_submitted:
            headers += [("Auto-Submitted", "auto-generated"), ("X-Auto-Response-Suppress", "All")]
        headers.append(("X-Chanquan-Purpose", spec.purpose))
        files = [(a.filename, "/".join(a.types()), a.data) for a in spec.attachments]
        raw = build_message(headers, text, html, files, _hash(message_id, 16))
        envelope = Envelope(
            message_id=message_id,
            mail_from=self.from_address,
            rcpt=[*spec.to, *spec.cc],
            purpose=spec.purpose,
            filing_id=spec.filing_id,
            subject=subject,
        )
        return envelope, raw
