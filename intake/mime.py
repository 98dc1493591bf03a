"""Reads real-world mail: Chinese charsets, RFC 2231/2047 names, raw 8-bit headers, forwards.

Mail clients in the field label GBK text as GB2312, put RFC 2047 words inside quoted
RFC 2231 parameters, send raw 8-bit headers, or wrap everything in TNEF. This module
turns such a message into plain values (`ParsedMail`) and never raises on bad input:
what cannot be decoded is replaced, and the caller decides what to refuse.
"""

from __future__ import annotations

import codecs
import dataclasses
import email
import email.message
import email.parser
import email.utils
import html
import io
import itertools
import re
import zipfile
from dataclasses import dataclass, field
from email.header import decode_header
from email.policy import Compat32
from typing import Any

from validation.bundle import Bundle, BundleError, load_bundle, sanitize_name

# Labels that real senders use for text that is in fact GB18030 (a superset of them all).
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "euc-cn": "gb18030",
    "csgb2312": "gb18030",
    "x-euc-cn": "gb18030",
    "gb_2312-80": "gb18030",
    "chinese": "gb18030",
    "utf8": "utf-8",
    "unknown-8bit": "",
    "x-unknown": "",
    "us-ascii": "utf-8",  # a mislabelled 8-bit body is more often UTF-8 than anything else
}

TNEF_TYPES = ("application/ms-tnef", "application/vnd.ms-tnef")
TNEF_REFUSAL_ZH = (
    "邮件附件为 Outlook 专用格式（winmail.dat），无法读取。"
    "请在 Outlook 中将邮件格式设为“纯文本”或“HTML”后重新发送，使登记表和附件以普通附件形式随邮件发出。"
)


def normalize_charset(label: str | None) -> str:
    """A Python codec name for a declared charset, or "" when the label is unknown."""
    if not label:
        return ""
    name = label.strip().strip('"').lower()
    name = _CHARSET_ALIASES.get(name, name)
    if not name:
        return ""
    try:
        return codecs.lookup(name).name
    except LookupError:
        return ""


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Decodes with the declared charset if it fits, else UTF-8, else GB18030 (never fails)."""
    tried: list[str] = []
    for charset in (normalize_charset(declared), "utf-8", "gb18030"):
        if not charset or charset in tried:
            continue
        tried.append(charset)
        try:
            return data.decode(charset)
        except UnicodeDecodeError:
            continue
    return data.decode(normalize_charset(declared) or "gb18030", errors="replace")


def _raw_8bit(text: str) -> str:
    """Headers sent as raw 8-bit bytes arrive as surrogate escapes; decode them properly."""
    if not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    return decode_bytes(text.encode("utf-8", "surrogateescape"))


class _Lenient8bitPolicy(Compat32):
    """compat32, except that raw 8-bit header bytes come back as properly decoded text."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if any("\udc80" <= ch <= "\udcff" for ch in value):
            return _raw_8bit(value)
        return super().header_fetch_parse(name, value)


LENIENT_POLICY = _Lenient8bitPolicy()


def decode_header_text(value: object) -> str:
    """A header value as text: RFC 2047 words (any charset label), raw 8-bit, folded lines."""
    if value is None:
        return ""
    text = _raw_8bit(str(value))
    if "=?" not in text:
        return " ".join(text.split()) if "\n" in text else text
    # decode_header drops whitespace between adjacent encoded words, as RFC 2047 asks.
    try:
        parts = decode_header(text)
    except (ValueError, LookupError, AssertionError):
        return text
    out: list[str] = []
    for chunk, charset in parts:
        out.append(decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk)
    return " ".join("".join(out).split()) if "\n" in text else "".join(out)


def _param_value(value: object) -> str:
    """A MIME parameter value: RFC 2231 (charset'lang'%xx), then any RFC 2047 words inside."""
    if isinstance(value, tuple):
        charset, _language, text = value
        raw = str(text).encode("raw-unicode-escape")
        decoded = decode_bytes(raw, charset)
    else:
        decoded = email.utils.unquote(str(value or ""))
    return decode_header_text(decoded)


def attachment_name(part: email.message.Message) -> str:
    """The name a sender gave a part: filename first, then the older Content-Type name."""
    for getter, header in ((part.get_param, "content-disposition"), (part.get_param, "content-type")):
        key = "filename" if header == "content-disposition" else "name"
        raw = getter(key, header=header)
        if raw:
            return _param_value(raw).strip()
    return ""


@dataclass(frozen=True)
class MailAttachment:
    original_name: str
    content_type: str
    data: bytes


@dataclass
class ParsedMail:
    """The plain values of one message that intake needs."""

    subject: str = ""
    from_addr: str = ""
    from_display: str = ""
    to_addrs: list[str] = field(default_factory=list)
    message_id: str = ""
    in_reply_to: str = ""
    text: str = ""
    attachments: list[MailAttachment] = field(default_factory=list)
    has_tnef: bool = False
    headers: dict[str, str] = field(default_factory=dict)


_AUTO_HEADERS = (
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "precedence",
    "x-autogenerated",
    "x-mailer",
    "list-id",
    "list-unsubscribe",
    "return-path",
)


def _html_to_text(markup: str) -> str:
    """Good enough for replies written in HTML-only clients: keep line structure, drop tags."""
    markup = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", "", markup)
    markup = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</tr>|<blockquote[^>]*>|</blockquote>|<hr[^>]*>", "\n", markup)
    markup = re.sub(r"(?s)<[^>]+>", "", markup)
    return html.unescape(markup).replace("\xa0", " ")


def _part_text(part: email.message.Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    return decode_bytes(payload, part.get_content_charset()).replace("\r\n", "\n")


def _is_attachment(part: email.message.Message) -> bool:
    disposition = (part.get("content-disposition") or "").split(";")[0].strip().lower()
    if disposition == "attachment":
        return True
    if part.get_content_maintype() in ("text", "multipart", "message"):
        return bool(attachment_name(part)) and disposition != "inline"
    return True


def parse_mail(raw: bytes) -> ParsedMail:
    """Parses a raw RFC 5322 message; the first text part of the outer message is the body."""
    message = email.message_from_bytes(raw, policy=LENIENT_POLICY)
    parsed = ParsedMail()
    parsed.subject = decode_header_text(message.get("subject"))
    display, address = email.utils.parseaddr(decode_header_text(message.get("from")))
    parsed.from_addr = address.strip().lower()
    parsed.from_display = display
    parsed.to_addrs = [
        addr.strip().lower()
        for _, addr in email.utils.getaddresses([decode_header_text(v) for v in message.get_all("to", [])])
        if addr
    ]
    parsed.message_id = (message.get("message-id") or "").strip()
    parsed.in_reply_to = (message.get("in-reply-to") or "").strip()
    parsed.headers = {name: decode_header_text(message.get(name)) for name in _AUTO_HEADERS if message.get(name)}

    plain: str | None = None
    html_text: str | None = None
    for part in message.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        name = attachment_name(part)
        if content_type in TNEF_TYPES or name.lower() == "winmail.dat":
            parsed.has_tnef = True
            continue
        if _is_attachment(part):
            data = part.get_payload(decode=True)
            if isinstance(data, bytes) and data:
                parsed.attachments.append(MailAttachment(name or "附件", content_type, data))
            continue
        if content_type == "text/plain" and plain is None:
            plain = _part_text(part)
        elif content_type == "text/html" and html_text is None:
            html_text = _html_to_text(_part_text(part))
    parsed.text = plain if plain is not None else (html_text or "")
    return parsed


WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".et")


def load_mail_bundle(attachments: list[MailAttachment], *, source: str = "邮件附件") -> Bundle:
    """The attachments of a filing mail as a Bundle, or BundleError (Chinese message) saying why not.

    One zip is the bundle itself and one workbook alone is a bundle; several files are
    zipped under their sanitized names and read by validation's load_bundle (all its
    container checks apply), then the senders' original names are put back for display.
    A web upload's files are read the same way (`source` names them for people).
    """
    if not attachments:
        raise BundleError(
            "mail-no-attachment",
            "邮件中没有附件。请把填好的登记表工作簿（.xlsx）和合规性资料作为附件发送，或打包成一个 .zip 附件。",
        )
    if len(attachments) == 1:
        only = attachments[0]
        return load_bundle(only.data, name=sanitize_name(only.original_name))
    buffer = io.BytesIO()
    originals: dict[str, str] = {}
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for attachment in attachments:
            safe = sanitize_name(attachment.original_name)
            stem, dot, suffix = safe.rpartition(".")
            candidate, counter = safe, 1
            while candidate in originals:
                counter += 1
                candidate = f"{stem}({counter}).{suffix}" if dot else f"{safe}({counter})"
            originals[candidate] = attachment.original_name
            archive.writestr(zipfile.ZipInfo(candidate, date_time=(2000, 1, 1, 0, 0, 0)), attachment.data)
    bundle = load_bundle(buffer.getvalue(), name=f"{source}.zip")
    restored = {safe: originals.get(safe, shown) for safe, shown in bundle.original_names.items()}
    return dataclasses.replace(bundle, original_names=restored, source=source)


def attachments_label(raw: bytes) -> str:
    """A mail's attachment names as one line for people (the SMTP item's original name)."""
    shown = ("".join(ch for ch in name if ch.isprintable()).strip() for name in attachment_names(raw))
    return "、".join(name for name in shown if name)


# Bounds for the header-only walk: real mail nests two or three levels and has a few dozen parts.
_MAX_DEPTH = 12
_MAX_PARTS = 1000


def attachment_names(raw: bytes) -> list[str]:
    """The names `parse_mail` would give the attachments, read from the part headers alone.

    The SMTP gate records them as the item's original name before it answers 250, where a
    full parse (which copies every body line: ~12 ms per MB) would hold up the answer; here
    the bodies are only searched for their boundaries, by offsets into `raw` (no copies).
    Never raises: a message it cannot follow just yields fewer names (they are shown to
    people, never used to read the bundle).
    """
    names: list[str] = []
    try:
        _scan_part(raw, 0, len(raw), names=names, depth=0, count=[0])
    except (ValueError, LookupError, TypeError, AttributeError, UnicodeError):
        return names
    return names


_HEAD_END = re.compile(rb"\r?\n\r?\n")
_NOT_SPACE = re.compile(rb"\S")


def _body_start(raw: bytes, start: int, end: int) -> int:
    """Where a part's body begins: after the blank line (at once when the part has no headers)."""
    for blank in (b"\r\n", b"\n"):
        if raw.startswith(blank, start, end):
            return start + len(blank)
    found = _HEAD_END.search(raw, start, end)
    return end if found is None else found.end()


def _scan_part(raw: bytes, start: int, end: int, *, names: list[str], depth: int, count: list[int]) -> None:
    count[0] += 1
    if depth > _MAX_DEPTH or count[0] > _MAX_PARTS:
        return
    body = _body_start(raw, start, end)
    part = email.parser.BytesHeaderParser(policy=LENIENT_POLICY).parsebytes(raw[start:body])
    content_type = part.get_content_type()
    if part.get_content_maintype() == "multipart":
        boundary = part.get_boundary()
        for chunk_start, chunk_end in _chunks(raw, body, end, boundary.encode("utf-8", "replace")) if boundary else []:
            _scan_part(raw, chunk_start, chunk_end, names=names, depth=depth + 1, count=count)
        return
    if content_type == "message/rfc822":
        _scan_part(raw, body, end, names=names, depth=depth + 1, count=count)
        return
    name = attachment_name(part)
    if content_type in TNEF_TYPES or name.lower() == "winmail.dat":
        return
    if _is_attachment(part) and _NOT_SPACE.search(raw, body, end):
        names.append(name or "附件")


def _chunks(raw: bytes, start: int, end: int, boundary: bytes) -> list[tuple[int, int]]:
    """(start, end) of each part of a multipart body: between `--boundary` lines (RFC 2046 §5.1.1)."""
    marker = b"--" + boundary
    delimiters: list[tuple[int, int, bool]] = []  # (start, end of its line, closing)
    pos = raw.find(marker, start, end)
    while pos >= 0:
        eol = raw.find(b"\n", pos, end)
        eol = end if eol < 0 else eol + 1
        rest = raw[pos + len(marker) : eol].rstrip(b"\r\n \t")
        if (pos == start or raw[pos - 1] == 0x0A) and rest in (b"", b"--"):
            delimiters.append((pos, eol, rest == b"--"))
            if rest == b"--":
                break
            pos = raw.find(marker, eol, end)
        else:
            pos = raw.find(marker, pos + 1, end)
    chunks = []
    for (_, line_end, closing), (next_start, _, _) in itertools.pairwise(delimiters):
        if closing:
            break
        # the line break before a delimiter belongs to the delimiter
        stop = next_start - (2 if raw.startswith(b"\r\n", next_start - 2, next_start) else 1)
        chunks.append((line_end, max(line_end, stop)))
    if delimiters and not delimiters[-1][2]:
        chunks.append((delimiters[-1][1], end))  # no closing delimiter: the last part runs to the end
    return chunks
