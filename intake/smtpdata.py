"""aiosmtpd's SMTP protocol with Chinese-first status lines and a DATA phase read in blocks.

Status lines: a mail program shows a refusal in its error dialog or in the bounce it writes,
so every line a person may meet says in Chinese first what happened and what to do, with
aiosmtpd's English after. aiosmtpd sends its lines through `SMTP.push`, the method its
documentation names for subclasses to answer with; `ChineseFirstSMTP.push` rewrites them
(`CHINESE_FIRST`, and the size and line limits, which name this server's limit).

DATA: aiosmtpd 1.4 reads DATA one line at a time (an await, a log call and a few list
operations per line): a 100 KB mail of base64 lines is ~1,500 turns of the event loop.
`BlockDataSMTP.smtp_DATA` reads the content with `readuntil(b".\\r\\n")` — a match counts as
the end only when the dot starts a line — so a mail takes a handful of reads. Limits (552 for
too much data, 500 for an over-long line, both answered when DATA ends and before the handler
sees anything), dot-unstuffing and the DATA hook behave as aiosmtpd's own.

Issue 13 asked whether to go back to aiosmtpd's own DATA. Measured by bench/intake.py (which runs
both): the service answers a median 297 mails/s on block reads against 189 on aiosmtpd's reader,
0.84 against 0.52 of the same run's bare aiosmtpd, below the issue's 200 mails/s (docs/intake.md
has the figures). So the block reader stays, and with it one private attribute of aiosmtpd, the protocol's
`_reader` stream; everything else it uses is public or documented (`push`, `event_handler`,
`envelope`, `session`, `transport`, `_create_envelope`, `smtp_<COMMAND>` overrides). Hence
pyproject.toml pins aiosmtpd to the reviewed release (`REVIEWED_AIOSMTPD`), and
tests/intake/test_smtpdata.py fails when an aiosmtpd release changes the code this class stands
in for or relies on (`REVIEWED_SOURCES`). On an upgrade, re-read those, port what changed,
update both. `ChineseFirstController` is the public path, kept served and tested so that the
switch back is one line (`SmtpServer.controller_class`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AnyStr

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, syntax

from validation.findings import human_size

log = logging.getLogger(__name__)

END = b".\r\n"

# The aiosmtpd release whose code `BlockDataSMTP` was checked against (pyproject.toml pins it),
# and the SHA-256 of the source of each aiosmtpd member it stands in for or relies on.
REVIEWED_AIOSMTPD = "1.4.6"
REVIEWED_SOURCES = {
    "smtp_DATA": "3a33f30d3fd6d02f39c7d78a08288bffea9170525b62e2161568041ae7e018df",  # what it stands in for
    "_cb_client_connected": "a73e95bb7f362ab9dbd9f0a4f310c203c525c0c98682dede6f98af4c97d15ad4",  # sets `_reader`
    "_set_post_data_state": "1dc8a8abca2a81644a605b8ebf427fc7472eeadf5149dd3cf2591fa86b2256e9",  # = a new envelope
    "check_helo_needed": "9829bb73251c983eef39d54df95b7d7a177c054e315fecfa0602fa74f9eee8c4",
    "check_auth_needed": "812bbc794078b1b0a6171a54910fab7fec3f3dff963fb3be933612ba775cd1ee",
}

# aiosmtpd's own lines that a person can meet (AUTH, TLS, order of commands), as it sends them.
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
# aiosmtpd's lines whose Chinese names this server's limit (rewritten by `chinese_first`).
TOO_LARGE_AT_MAIL = "552 Error: message size exceeds fixed maximum message size"
TOO_LARGE_IN_DATA = "552 Error: Too much mail data"
LINE_TOO_LONG_IN_DATA = "500 Line too long (see RFC5321 4.5.3.1.6)"


def too_large(limit: int | None) -> str:
    """The 552 line: how large a mail may be and what to do instead."""
    ceiling = f"（上限 {human_size(limit)}）" if limit else ""
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


class ChineseFirstSMTP(SMTP):
    """aiosmtpd's SMTP protocol whose status lines for people are Chinese first."""

    async def push(self, status: AnyStr) -> None:
        if isinstance(status, str):
            await super().push(self.chinese_first(status))
        else:
            await super().push(status)

    def chinese_first(self, status: str) -> str:
        if status in (TOO_LARGE_AT_MAIL, TOO_LARGE_IN_DATA):
            return too_large(self.data_size_limit)
        if status == LINE_TOO_LONG_IN_DATA:
            return line_too_long(self.line_length_limit)
        return CHINESE_FIRST.get(status, status)


class BlockDataSMTP(ChineseFirstSMTP):
    """`ChineseFirstSMTP` with `smtp_DATA` reading blocks (see the module docstring).

    The content is handed over as bytes (`envelope.content` is `envelope.original_content`):
    aiosmtpd's `decode_data` is not offered, so a caller cannot get a different type here than
    on aiosmtpd's own path.
    """

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        if kwargs.get("decode_data"):
            raise ValueError("BlockDataSMTP hands DATA over as bytes; decode_data is not supported")
        super().__init__(handler, **kwargs)

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
            if self.transport is not None:
                self.transport.close()
            raise
        if too_much:
            await self.push(too_large(self.data_size_limit))
            self.envelope = self._create_envelope()
            return
        if longest_line(content) > self.line_length_limit:
            await self.push(line_too_long(self.line_length_limit))
            self.envelope = self._create_envelope()
            return
        original_content = unstuff(content)
        self.envelope.content = original_content
        self.envelope.original_content = original_content
        hook = getattr(self.event_handler, "handle_DATA", None)
        status = await hook(self, self.session, self.envelope) if hook is not None else None
        self.envelope = self._create_envelope()
        await self.push(status or "250 OK")


class ChineseFirstController(Controller):
    """aiosmtpd's Controller serving `ChineseFirstSMTP`: aiosmtpd's own DATA path."""

    def factory(self) -> Any:
        return ChineseFirstSMTP(self.handler, **self.SMTP_kwargs)


class BlockDataController(Controller):
    """aiosmtpd's Controller serving `BlockDataSMTP`."""

    def factory(self) -> Any:
        return BlockDataSMTP(self.handler, **self.SMTP_kwargs)
