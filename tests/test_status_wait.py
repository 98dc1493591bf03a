"""`chanquan status --wait`: done means answered — a file just dropped counts as work until its 回执
is written, and a timeout says what is left."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from chanquan.cli import main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "inbox_samples" / "01-一级企业-占有登记.zip"
GROUP = "202600012"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    assert main(["init", "--data", str(root), "--no-witness"]) == 0
    assert main(["--data", str(root), "units", "import", str(ROOT / "inbox_samples" / "units.csv")]) == 0
    return root


def drop(data: Path) -> Path:
    folder = data / "dropbox" / GROUP
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SAMPLE, folder / SAMPLE.name)
    return folder


def test_nothing_pending_returns_at_once(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data", str(data), "status", "--wait", "--timeout", "0"]) == 1  # the outbox never ran
    assert "发件程序尚未处理的账本事件" in capsys.readouterr().err
    assert main(["--data", str(data), "outbox", "run-once"]) == 0  # e.g. the overseas unit's credentials
    assert main(["--data", str(data), "outbox", "run-once"]) == 0  # and past its own mail.sent records
    capsys.readouterr()
    assert main(["--data", str(data), "status", "--wait", "--timeout", "0"]) == 0
    assert "投递目录中尚未取走的文件：0" in capsys.readouterr().out


def test_a_dropped_file_is_pending_work_until_answered(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    drop(data)
    (data / "dropbox" / "NOSUCHUNIT").mkdir()  # never taken: it must not keep --wait waiting
    (data / "dropbox" / "NOSUCHUNIT" / "x.zip").write_bytes(b"x")
    capsys.readouterr()
    assert main(["--data", str(data), "status", "--wait", "--timeout", "0"]) == 1  # no service runs
    captured = capsys.readouterr()
    assert "投递目录中尚未取走的文件：1" in captured.out
    assert "仍未处理完毕" in captured.err and "chanquan serve" in captured.err
    assert main(["--data", str(data), "status", "--json"]) == 0
    assert '"dropbox_waiting": 1' in capsys.readouterr().out


def test_wait_ends_when_the_receipt_is_written(data: Path, tmp_path: Path) -> None:
    log = (tmp_path / "serve.log").open("wb")
    serve = [sys.executable, "-m", "chanquan", "--data", str(data), "serve", "--smtp-port", "0", "--no-web"]
    process = subprocess.Popen(serve, stdout=log, stderr=subprocess.STDOUT)
    try:
        folder = drop(data)
        waited = subprocess.run(
            [sys.executable, "-m", "chanquan", "--data", str(data), "status", "--wait", "--timeout", "120"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert waited.returncode == 0, waited.stderr
        assert "发件程序尚未处理的账本事件：0" in waited.stdout
        assert [p.name.endswith("_受理回执.txt") for p in (folder / "回执").iterdir()] == [True]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
        log.close()
