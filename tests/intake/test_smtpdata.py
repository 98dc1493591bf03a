"""The block DATA reader against a real aiosmtpd listener: content, dot-stuffing and limits as aiosmtpd's own."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import Iterator

import pytest

from intake import smtp
from intake.smtp import free_port
from intake.smtpdata import CHINESE_FIRST, BlockDataController, line_too_long, read_data, too_large, unstuff


class Keep:
    def __init__(self) -> None:
        self.contents: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.contents.append(envelope.original_content)  # type: ignore[attr-defined]
        return "250 OK kept"


@pytest.fixture
def server() -> Iterator[tuple[int, Keep]]:
    handler = Keep()
    port = free_port()
    controller = BlockDataController(handler, hostname="127.0.0.1", port=port, data_size_limit=4096)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


def transaction(port: int, data: bytes) -> list[bytes]:
    """Sends one transaction in raw protocol bytes (so that dot-stuffing is ours to write)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        stream = sock.makefile("rb")
        replies = [stream.readline()]
        for command in (b"EHLO x\r\n", b"MAIL FROM:<a@x>\r\n", b"RCPT TO:<b@x>\r\n", b"DATA\r\n"):
            sock.sendall(command)
            reply = stream.readline()
            while reply[3:4] == b"-":
                reply = stream.readline()
            replies.append(reply)
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
        replies = []
        for command in (b"EHLO x\r\n", b"MAIL FROM:<a@x> SIZE=99999\r\n", b"DATA\r\n", b"RCPT TO:<b@x>\r\n"):
            sock.sendall(command)
            reply = stream.readline()
            while reply[3:4] == b"-":
                reply = stream.readline()
            replies.append(reply)
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
