"""Hand-assembled MIME: the fixed shape every service mail has, written straight to bytes.

Our mails always have one shape — multipart/mixed (when there are attachments) around a
multipart/alternative of text and HTML, then base64 attachments — so it is written
directly: headers RFC 2047-encoded where not ASCII (by the library's `email.header.Header`),
file names both RFC 2231 and RFC 2047 (older Outlook and many Chinese mail programs read only
the latter, which `EmailMessage` would rewrite as RFC 2231 alone), bodies base64 with CRLF lines.

Why not `email.message.EmailMessage` (issue 13 asked): it parses and re-folds every header it
is given, which makes a mail ~3 ms of CPU instead of ~0.25 ms. Built with it under
`policy.SMTP`, bench/outbox.py's render+spool fell from 1,021-1,244 to 282-291 mails/s (ratio
to the same run's bare EmailMessage build 2.3-2.8 before, 0.65 after), run alternately with
this module; the outbox composes in the serve process, beside the SMTP listener and intake,
so that CPU is taken from them. Figures in docs/outbox.md. What keeps this module honest:
tests/outbox/test_outbox_mime.py builds every shape with `EmailMessage` as the reference and
requires the same headers, parts, parameters and contents when both are parsed back, and
the template tests parse the result with the library's strict policy.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from email.header import Header
from urllib.parse import quote

CRLF = b"\r\n"


def encode_header(name: str, value: str) -> bytes:
    """`Name: value` with non-ASCII values as folded RFC 2047 encoded words."""
    if value.isascii():
        return f"{name}: {value}".encode("ascii")
    encoded = Header(value, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}".encode("ascii")


def encode_address(display_name: str, address: str) -> str:
    if not display_name:
        return address
    if display_name.isascii():
        return f'"{display_name}" <{address}>'
    return f"{Header(display_name, 'utf-8').encode()} <{address}>"


def _base64_body(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", CRLF)


def _text_part(text: str, subtype: str) -> bytes:
    # MIME's canonical form of text has CRLF line ends, inside the encoding too.
    canonical = text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
    return f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: base64\r\n\r\n'.encode(
        "ascii"
    ) + _base64_body(canonical)


def _filename_params(filename: str) -> tuple[str, str]:
    """(Content-Type name param, Content-Disposition filename params)."""
    if filename.isascii() and '"' not in filename:
        return f'name="{filename}"', f'filename="{filename}"'
    encoded_word = Header(filename, "utf-8", maxlinelen=10_000).encode()
    return f'name="{encoded_word}"', f"filename*=utf-8''{quote(filename, safe='')}; filename=\"{encoded_word}\""


def _attachment_part(filename: str, mime_type: str, data: bytes) -> bytes:
    name_param, file_params = _filename_params(filename)
    head = (
        f"Content-Type: {mime_type}; {name_param}\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        f"Content-Disposition: attachment; {file_params}\r\n\r\n"
    )
    return head.encode("ascii") + _base64_body(data)


def _multipart(subtype: str, boundary: str, parts: Sequence[bytes]) -> tuple[bytes, bytes]:
    """(Content-Type header line, body) of a multipart entity."""
    marker = f"--{boundary}".encode("ascii")
    body = b"".join(marker + CRLF + part + CRLF for part in parts) + marker + b"--" + CRLF
    return f'Content-Type: multipart/{subtype}; boundary="{boundary}"'.encode("ascii"), body


def build_message(
    headers: Sequence[tuple[str, str]],
    text: str,
    html: str,
    attachments: Sequence[tuple[str, str, bytes]],
    boundary_seed: str,
) -> bytes:
    """RFC 5322 bytes with CRLF line ends; `attachments` are (filename, mime type, data)."""
    content_type, body = _multipart(
        "alternative", f"=_cq_{boundary_seed}_1", [_text_part(text, "plain"), _text_part(html, "html")]
    )
    if attachments:
        inner = content_type + CRLF + CRLF + body
        parts = [inner] + [_attachment_part(name, mime, data) for name, mime, data in attachments]
        content_type, body = _multipart("mixed", f"=_cq_{boundary_seed}_0", parts)
    head = CRLF.join(encode_header(name, value) for name, value in headers)
    return head + CRLF + b"MIME-Version: 1.0" + CRLF + content_type + CRLF + CRLF + body
