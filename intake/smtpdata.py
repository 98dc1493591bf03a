"""aiosmtpd's SMTP with a DATA phase read in blocks instead of line by line.

aiosmtpd 1.4 reads DATA one line at a time (an await, a log call and a few list
operations per line): a 100 KB mail of base64 lines is ~1,500 turns of the event
loop, which caps a whole server near 100 such mails per second on one core. Here the
content is read with `readuntil(b".\\r\\n")` — a match counts as the end only when the
dot starts a line — so a mail takes a handful of reads. Everything else (limits,
status lines, dot-unstuffing, the DATA hook) behaves as aiosmtpd's own `smtp_DATA`.

The status lines people may see (a mail program shows a refusal in its error dialog or in
the bounce it writes) are Chinese first, with aiosmtpd's English after: `push` rewrites
aiosmtpd's own lines of that kind (`CHINESE_FIRST`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AnyStr

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, syntax

log = logging.getLogger(__name__)

END = b".\r\n"

# aiosmtpd's own lines that a person can meet (AUTH, TLS, size, order of commands), as sent.
CHINESE_FIRST = {
    "530 5.7.0 Authentication required": (
        "530 5.7.0 请先用组织机构代码登录（SMTP 认证）后再发送 (Authentication required)"
    ),
    "530 Must issue a STARTTLS command first": (
        "530 5.7.0 请先启用加密连接（STARTTLS）后再发送 (Must issue a STARTTLS command first)"
    ),
    "538 5.7.11 Encryption required for requested authentication mechanism": (
        "538 5.7.11 登录前须先启用加密连接（STARTTLS），请在邮件程序中打开 SSL/TLS "
        "(Encryption required for requested authentication mechanism)"
    ),
    "535 5.7.8 Authentication credentials invalid": "535 5.7.8 用户名或密码错误 (Authentication credentials invalid)",
    "554 Command refused due to lack of security": (
        "554 5.7.0 加密连接未能建立，命令被拒绝 (Command refused due to lack of security)"
    ),
    "503 Error: need MAIL command": "503 5.5.1 请先发送 MAIL FROM 命令 (need MAIL command)",
    "503 Error: need RCPT command": "503 5.5.1 没有可接收的收件人，邮件未发送 (need RCPT command)",
    "500 Command line too long": "500 5.5.2 命令行过长 (Command line too long)",
}
TOO_LARGE_AT_MAIL = "552 Error: message size exceeds fixed maximum message size"


def _size(size: int) -> str:
    megabyte = 1024 * 1024
    if size >= megabyte:
        return f"{size // megabyte} MB" if size % megabyte == 0 else f"{size / megabyte:.1f} MB"
    return f"{max(1, size // 1024)} KB"


def too_large(limit: int | None) -> str:
    """The 552 line: how large a mail may be and what to do instead."""
    ceiling = f"（上限 {_size(limit)}）" if limit else ""
    return f"552 5.3.4 邮件过大{ceiling}，未能接收。请压缩附件，或分成几封邮件发送 (Message size exceeds limit)"


def line_too_long(limit: int) -> str:
    return (
        f"500 5.5.2 邮件中有超过 {limit} 字节的长行，未能接收。请把内容作为附件发送 "
        "(Line too long, see RFC 5321 4.5.3.1.6)"
    )


KEEP_WHEN_DISCARDING = 8  # enough tail to recognize "\r\n.\r\n" across reads


async def read_data(reader: asyncio.StreamReader, size_limit: int | None) -> tuple[bytes, bool]:
    """The raw DATA content up to the lone-dot line (its CRLF before the dot included, the dot
    line excluded) and whether it exceeded `size_limit` (then the content is empty: discarded
    as it arrived, as aiosmtpd does)."""
    buffer = bytearray()
    total = 0
    too_much = False
    while True:
        try:
            piece = await reader.readuntil(END)
            found = True
        except asyncio.LimitOverrunError as exc:
            piece = await reader.read(exc.consumed)  # holds no end marker; the rest stays buffered
            found = False
        total += len(piece)
        buffer += piece
        if found:
            end = len(buffer) - len(END)
            if end == 0 or buffer[end - 2 : end] == b"\r\n":
                return (b"" if too_much else bytes(buffer[:end])), too_much
        if size_limit and total > size_limit:
            too_much = True
        if too_much and len(buffer) > KEEP_WHEN_DISCARDING:
            del buffer[:-KEEP_WHEN_DISCARDING]


def longest_line(content: bytes) -> int:
    """Length of the longest line, its CRLF included (a regex for this backtracks on every byte)."""
    return max((len(line) + 1 for line in content.split(b"\n")), default=0)


def unstuff(content: bytes) -> bytes:
    """RFC 5321 §4.5.2: a line's leading dot, doubled by the client, is removed once."""
    content = content.replace(b"\r\n.", b"\r\n")
    return content[1:] if content.startswith(b".") else content


class BlockDataSMTP(SMTP):
    """aiosmtpd's SMTP protocol with `smtp_DATA` reading blocks (see the module docstring)."""

    async def push(self, status: AnyStr) -> None:
        if isinstance(status, str):
            await super().push(self.chinese_first(status))
        else:
            await super().push(status)

    def chinese_first(self, status: str) -> str:
        if status == TOO_LARGE_AT_MAIL:
            return too_large(self.data_size_limit)
        return CHINESE_FIRST.get(status, status)

    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            content, too_much = await read_data(self._reader, self.data_size_limit)
        except asyncio.IncompleteReadError:
            log.info("intake.smtp_connection_lost_during_data")
            return
        except asyncio.CancelledError:
            log.info("intake.smtp_connection_lost_during_data")
            self._writer.close()
            raise
        if too_much:
            await self.push(too_large(self.data_size_limit))
            self._set_post_data_state()
            return
        if longest_line(content) > self.line_length_limit:
            await self.push(line_too_long(self.line_length_limit))
            self._set_post_data_state()
            return
        original_content = unstuff(content)
        decoded: str | bytes = original_content
        if self._decode_data:
            if self.enable_SMTPUTF8:
                decoded = original_content.decode("utf-8", errors="surrogateescape")
            else:
                try:
                    decoded = original_content.decode("ascii", errors="strict")
                except UnicodeDecodeError:
                    await self.push("500 Error: strict ASCII mode")
                    return
        self.envelope.content = decoded
        self.envelope.original_content = original_content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)


class BlockDataController(Controller):
    """aiosmtpd's Controller serving `BlockDataSMTP`."""

    def factory(self) -> Any:
        return BlockDataSMTP(self.handler, **self.SMTP_kwargs)
