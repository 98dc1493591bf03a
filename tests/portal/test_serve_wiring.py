"""`chanquan serve` runs the portal next to SMTP, the watcher and the outbox, as a real process:
`--web-port 0` picks a free port, one human line gives the URL, /healthz answers, the portal's
pages are served over the service's own workflow, and SIGTERM stops everything cleanly. A port
that is taken stops `serve` before anything starts.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from chanquan.cli import main as cli

pytestmark = pytest.mark.timeout(120)
URL_LINE = re.compile(r"^门户网站：(http://127\.0\.0\.1:(\d+))/$")


@pytest.fixture
def data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    folder = tmp_path / "data"
    assert cli(["--data", str(folder), "init"]) == 0
    capsys.readouterr()
    return folder


def serve(data: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "chanquan", "--data", str(data), "serve", "--smtp-port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def first_line(process: subprocess.Popen[str], timeout: float = 60.0) -> str:
    """The first stdout line, or the failure with stderr (a line is what serve prints once it is up)."""
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            process.kill()
            raise AssertionError(f"serve printed nothing in {timeout:.0f}s: {process.communicate()[1][-3000:]}")
    line = process.stdout.readline()
    if not line:
        raise AssertionError(f"serve exited {process.wait()}: {process.communicate()[1][-3000:]}")
    return line.rstrip("\n")


@pytest.fixture
def running(data: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = serve(data, "--web-port", "0")
    try:
        line = first_line(process)
        found = URL_LINE.match(line)
        assert found, line
        yield process, found.group(1)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_serve_prints_the_url_and_the_portal_answers(running: tuple[subprocess.Popen[str], str]) -> None:
    process, url = running
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as client:
        health = client.get("/healthz")
        assert (health.status_code, health.text) == (200, "ok")
        login = client.get("/login")
        assert login.status_code == 200 and "用户登录" in login.text
        assert client.get("/").headers["location"].startswith("/login")
        # the guide names the portal's real address (port 0 became this one), not the configured 8080
        assert url in client.get("/help/submit").text
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-3000:]
    assert '"serve.stopped"' in err or "serve.stopped" in err


def test_a_taken_port_stops_serve_before_anything_starts(data: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        before = (data / "ledger.sqlite3").stat().st_mtime_ns
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "chanquan",
                "--data",
                str(data),
                "serve",
                "--smtp-port",
                "0",
                "--web-port",
                str(port),
            ],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2, result.stderr
    assert f"网页门户无法监听 127.0.0.1:{port}" in result.stderr
    assert result.stdout == ""
    assert (data / "ledger.sqlite3").stat().st_mtime_ns == before  # the ledger was never opened for writing


def test_intake_is_told_where_the_guide_explains_passwords(data: Path) -> None:
    """The SMTP 修改密码 refusal names the portal's 登录与修改密码 chapter under web.public_url."""
    from chanquan.app import open_intake, open_workflow
    from chanquan.config import load_settings

    settings = load_settings(data)
    settings = settings.model_copy(
        update={"web": settings.web.model_copy(update={"public_url": "https://cq.example.cn/"})}
    )
    workflow = open_workflow(data, settings)
    try:
        intake = open_intake(data, settings, workflow, smtp_port=0)
        assert intake.config.password_help_url == "https://cq.example.cn/help/login"
    finally:
        workflow.close()
