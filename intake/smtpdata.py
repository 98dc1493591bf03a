"""aiosmtpd's SMTP with a DATA phase read in blocks instead of line by line.

aiosmtpd 1.4 reads DATA one line at a time (an await, a log call and a few list
operations per line): a 100 KB mail of base64 lines is ~1,500 turns of the event
loop, which caps a whole server near 100 such mails per second on one core. Here the
content is read with `readuntil(b".\\r\\n")` — a match counts as the end only when the
dot starts a line — so a mail takes a handful of reads. Everything else (limits,
status lines, dot-unstuffing, the DATA hook) behaves as aiosmtpd's own `smtp_DATA`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, syntax

log = logging.getLogger(__name__)

END = b".\r\n"
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
            await self.push("552 Error: Too much mail data")
            self._set_post_data_state()
            return
        if longest_line(content) > self.line_length_limit:
            await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
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
