"""The SMTP protocol against a real aiosmtpd listener: the block DATA reader (content, dot-stuffing and
limits as aiosmtpd's own), aiosmtpd's own DATA path with the same Chinese-first lines, and the guard
on the aiosmtpd code the block reader relies on."""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import re
import socket
import tomllib
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import BinaryIO

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from packaging.requirements import Requirement

from intake import smtp
from intake.smtp import free_port
from intake.smtpdata import (
    CHINESE_FIRST,
    REVIEWED_AIOSMTPD,
    REVIEWED_SOURCES,
    BlockDataController,
    BlockDataSMTP,
    ChineseFirstController,
    line_too_long,
    read_data,
    too_large,
    unstuff,
)

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


class Keep:
    def __init__(self) -> None:
        self.contents: list[bytes] = []
        self.readers: list[type] = []

    async def handle_DATA(self, server: SMTP, session: object, envelope: object) -> str:
        self.contents.append(envelope.original_content)  # type: ignore[attr-defined]
        self.readers.append(type(getattr(server, "_reader", None)))
        return "250 OK kept"


# the block reader (what serve runs) and aiosmtpd's own DATA path, which must say the same things
@pytest.fixture(params=[BlockDataController, ChineseFirstController])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[int, Keep]]:
    handler = Keep()
    port = free_port()
    controller_class: type[Controller] = request.param
    controller = controller_class(handler, hostname="127.0.0.1", port=port, data_size_limit=4096)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


def command(sock: socket.socket, stream: BinaryIO, line: bytes) -> bytes:
    """Sends one command; its reply's last line (a multi-line reply's lines are `250-…` up to `250 …`)."""
    sock.sendall(line)
    reply = stream.readline()
    while reply[3:4] == b"-":
        reply = stream.readline()
    return reply


def transaction(port: int, data: bytes) -> list[bytes]:
    """Sends one transaction in raw protocol bytes (so that dot-stuffing is ours to write)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        stream = sock.makefile("rb")
        replies = [stream.readline()]
        for line in (b"EHLO x\r\n", b"MAIL FROM:<a@x>\r\n", b"RCPT TO:<b@x>\r\n", b"DATA\r\n"):
            replies.append(command(sock, stream, line))
        sock.sendall(data)
        replies.append(stream.readline())
        sock.sendall(b"QUIT\r\n")
        stream.readline()
        stream.close()
    return replies


def test_content_ends_only_at_a_dot_on_its_own_line(server: tuple[int, Keep]) -> None:
    port, handler = server
    body = b"Subject: t\r\n\r\nends with a dot.\r\n..leading dot doubled\r\nmiddle . dot\r\n.\r\n"
    replies = transaction(port, body)
    assert replies[-1].startswith(b"250 OK kept")
    assert handler.contents == [b"Subject: t\r\n\r\nends with a dot.\r\n.leading dot doubled\r\nmiddle . dot\r\n"]


def test_empty_content_and_a_dot_right_after_the_first_line(server: tuple[int, Keep]) -> None:
    port, handler = server
    assert transaction(port, b".\r\n")[-1].startswith(b"250")
    assert transaction(port, b"x\r\n.\r\n")[-1].startswith(b"250")
    assert handler.contents == [b"", b"x\r\n"]


def test_too_much_data_is_552_and_the_session_goes_on(server: tuple[int, Keep]) -> None:
    port, handler = server
    replies = transaction(port, b"a" * 70 + b"\r\n" + (b"b" * 70 + b"\r\n") * 100 + b".\r\n")
    assert replies[-1].startswith(b"552")
    assert chinese_first(replies[-1])
    assert handler.contents == []


def test_a_line_over_the_limit_is_refused(server: tuple[int, Keep]) -> None:
    port, handler = server
    refused = transaction(port, b"c" * 1200 + b"\r\n.\r\n")[-1]
    assert refused.startswith(b"500") and chinese_first(refused)
    assert handler.contents == []


def chinese_first(line: bytes | str) -> bool:
    """`NNN [x.y.z ]` and then Chinese: what a person sees first in a bounce or an error dialog."""
    text = line.decode() if isinstance(line, bytes) else line
    return re.match(r"\d{3}[ -](\d\.\d{1,3}\.\d{1,3} )?[\u4e00-\u9fff]", text) is not None


def test_aiosmtpds_own_refusals_are_chinese_first(server: tuple[int, Keep]) -> None:
    port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        stream = sock.makefile("rb")
        stream.readline()
        lines = (b"EHLO x\r\n", b"MAIL FROM:<a@x> SIZE=99999\r\n", b"DATA\r\n", b"RCPT TO:<b@x>\r\n")
        replies = [command(sock, stream, line) for line in lines]
        stream.close()
    size, data, rcpt = replies[1:]
    assert size.startswith(b"552 ") and chinese_first(size), size  # SIZE= over the limit, at MAIL FROM
    assert data.startswith(b"503 ") and chinese_first(data), data  # DATA before any recipient
    assert rcpt.startswith(b"503 ") and chinese_first(rcpt), rcpt  # RCPT before MAIL
    assert b"(" in size  # the English gloss follows


@pytest.mark.parametrize(
    "line",
    [
        *CHINESE_FIRST.values(),
        too_large(30 * 1024 * 1024),
        too_large(None),
        line_too_long(1001),
        smtp.OK_RECEIVED.format(item_id="IN1"),
        smtp.OK_RESENT.format(item_id="IN1"),
        smtp.OK_PASSWORD,
        smtp.NEED_AUTH,
        smtp.MUST_CHANGE,
        smtp.PASSWORD_FORM,
        smtp.TEMPORARY_FAILURE,
        smtp.AUTH_FAILED.format(reason="用户名或密码错误"),
    ],
)
def test_every_status_text_a_person_sees_is_chinese_first(line: str) -> None:
    assert chinese_first(line), line


def test_the_chinese_lines_keep_aiosmtpds_codes() -> None:
    for english, chinese in CHINESE_FIRST.items():
        assert chinese[:3] == english[:3], (english, chinese)


def test_reader_over_small_pieces() -> None:
    """The end marker split across reads and stream-limit overruns is still found."""

    async def run() -> tuple[bytes, bool]:
        reader = asyncio.StreamReader(limit=16)
        payload = b"line one.\r\n" + b"z" * 100 + b"\r\n..x\r\n.\r\nNEXT"
        for index in range(0, len(payload), 7):
            reader.feed_data(payload[index : index + 7])
        content, too_much = await read_data(reader, None)
        assert await reader.read(4) == b"NEXT"  # nothing read past the end of DATA
        return content, too_much

    content, too_much = asyncio.run(run())
    assert not too_much
    assert unstuff(content) == b"line one.\r\n" + b"z" * 100 + b"\r\n.x\r\n"


def test_aiosmtpd_is_pinned_to_the_reviewed_release() -> None:
    """BlockDataSMTP uses aiosmtpd's private `_reader`: only the reviewed release may be installed."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    (requirement,) = [Requirement(r) for r in project["dependencies"] if Requirement(r).name == "aiosmtpd"]
    assert REVIEWED_AIOSMTPD in requirement.specifier
    assert "1.4.7" not in requirement.specifier and "1.5" not in requirement.specifier, "an exact range"
    assert version("aiosmtpd") == REVIEWED_AIOSMTPD, (
        f"aiosmtpd {version('aiosmtpd')} is installed; intake/smtpdata.py was checked against {REVIEWED_AIOSMTPD}"
    )


@pytest.mark.parametrize("member", sorted(REVIEWED_SOURCES))
def test_aiosmtpd_code_the_block_reader_relies_on_is_the_reviewed_code(member: str) -> None:
    """Fails when an aiosmtpd release changes DATA handling or the private parts BlockDataSMTP uses:
    re-read the member, port the change to BlockDataSMTP, then record the new hash."""
    source = inspect.getsource(getattr(SMTP, member))
    assert hashlib.sha256(source.encode()).hexdigest() == REVIEWED_SOURCES[member], (
        f"aiosmtpd's SMTP.{member} changed since it was reviewed for intake/smtpdata.py"
    )


def test_the_block_reader_reads_aiosmtpds_stream(server: tuple[int, Keep]) -> None:
    port, handler = server
    assert transaction(port, b"x\r\n.\r\n")[-1].startswith(b"250")
    assert handler.readers == [asyncio.StreamReader]


def test_decode_data_is_refused_rather_than_ignored() -> None:
    with pytest.raises(ValueError, match="decode_data"):
        BlockDataSMTP(Keep(), decode_data=True)
