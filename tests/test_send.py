"""`chanquan send` against a real aiosmtpd server on loopback: what a filer's mail client would send."""

from __future__ import annotations

import socket
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from chanquan.cli import main as cli


class Recorder:
    def __init__(self) -> None:
        self.envelopes: list[tuple[str, list[str], bytes, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        self.envelopes.append((envelope.mail_from or "", list(envelope.rcpt_tos), data, session.auth_data))
        return "250 2.0.0 OK 已收到，回执编号 TEST-1"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"Right-Password-1"
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server() -> Any:
    recorder = Recorder()
    port = free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
        auth_required=False,
    )
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


def test_filing_goes_out_authenticated_with_every_file(
    server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder, port = server
    workbook = tmp_path / "产权登记表.xlsx"
    workbook.write_bytes(b"PK\x03\x04 workbook")
    scan = tmp_path / "营业执照.pdf"
    scan.write_bytes(b"%PDF-1.4 scan")
    monkeypatch.setenv("CHANQUAN_PASSWORD", "Right-Password-1")
    code = cli(["--data", str(tmp_path), "send", "--user", "20260001-2", "--port", str(port), str(workbook), str(scan)])
    assert code == 0
    assert "回执编号 TEST-1" in capsys.readouterr().out
    ((sender, rcpts, data, auth),) = recorder.envelopes
    assert auth.login == b"20260001-2"
    assert sender == "20260001-2@chanquan.localhost"
    assert rcpts == ["filing@chanquan.localhost"]
    message = message_from_bytes(data, policy=policy.default)
    names = sorted(part.get_filename() or "" for part in message.iter_attachments())
    assert names == ["产权登记表.xlsx", "营业执照.pdf"]


def test_wrong_password_exits_1_with_the_servers_reply(
    server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder, port = server
    workbook = tmp_path / "a.xlsx"
    workbook.write_bytes(b"x")
    monkeypatch.setenv("CHANQUAN_PASSWORD", "wrong")
    assert cli(["--data", str(tmp_path), "send", "--user", "X", "--port", str(port), str(workbook)]) == 1
    assert "AUTH" in capsys.readouterr().err
    assert recorder.envelopes == []


def test_reviewer_reply_goes_unauthenticated(server: Any, tmp_path: Path) -> None:
    recorder, port = server
    to = "review+cq2026-000001-r1-l1-abc@chanquan.localhost"
    code = cli(
        [
            "--data",
            str(tmp_path),
            "send",
            "--from",
            "review@sasac.example.cn",
            "--to",
            to,
            "--port",
            str(port),
            "--body",
            "通过\n同意登记。",
        ]
    )
    assert code == 0
    ((sender, rcpts, data, auth),) = recorder.envelopes
    assert auth is None
    assert (sender, rcpts) == ("review@sasac.example.cn", [to])
    body = message_from_bytes(data, policy=policy.default).get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().splitlines()[:2] == ["通过", "同意登记。"]


def test_password_change_message(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder, port = server
    monkeypatch.setenv("CHANQUAN_PASSWORD", "Right-Password-1")
    monkeypatch.setenv("CHANQUAN_NEW_PASSWORD", "New-Password-22")
    assert cli(["--data", str(tmp_path), "send", "--user", "X", "--port", str(port), "--change-password"]) == 0
    message = message_from_bytes(recorder.envelopes[0][2], policy=policy.default)
    assert message["Subject"] == "修改密码"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().split() == ["New-Password-22", "New-Password-22"]


def test_missing_file_is_bad_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHANQUAN_PASSWORD", "x")
    assert cli(["--data", str(tmp_path), "send", "--user", "X", str(tmp_path / "nope.xlsx")]) == 2
    assert "找不到要发送的文件" in capsys.readouterr().err
