"""`chanquan outbox list | show | retry | run-once` on an initialized data directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from outbox_testing import Relay

from chanquan.app import open_workflow
from chanquan.cli import main
from validation.codes import make_org_code

UNIT = make_org_code("30000001")


def configure_relay(data: Path, relay: Relay) -> None:
    path = data / "chanquan.toml"
    text = path.read_text(encoding="utf-8")
    for old, new in (
        ('relay_host = ""', 'relay_host = "127.0.0.1"'),
        ("relay_port = 25", f"relay_port = {relay.port}"),
        ('relay_security = "starttls"', 'relay_security = "none"'),
        ("backoff_base_seconds = 30.0", "backoff_base_seconds = 0.0"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")


def test_cli_run_once_list_show_retry(tmp_path: Path, relay: Relay, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert main(["--data", str(data), "init"]) == 0
    configure_relay(data, relay)
    with open_workflow(data) as wf:
        wf.units.add(UNIT, "重庆测试有限公司", parent="SASAC0001", filer_emails=["filer@test.example"])
        wf.accounts.change_password(UNIT, UNIT, "Str0ng-Passw0rd!")
    capsys.readouterr()

    relay.handler.script("550")
    assert main(["--data", str(data), "outbox", "run-once"]) == 0
    assert "失败 1 封" in capsys.readouterr().out
    assert main(["--data", str(data), "outbox", "list", "--json", "--folder", "dead"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    dead = json.loads(line)
    assert dead["purpose"] == "password-changed" and dead["recipients"] == ["filer@test.example"]
    assert "550" in dead["last_error"]

    assert main(["--data", str(data), "outbox", "show", dead["name"][:10], "--raw"]) == 0
    raw = capsys.readouterr().out
    assert f"Message-ID: {dead['message_id']}" in raw

    assert main(["--data", str(data), "outbox", "retry", dead["message_id"]]) == 0
    assert "已放回待发队列" in capsys.readouterr().out
    assert main(["--data", str(data), "outbox", "run-once"]) == 0
    assert "发出 1 封" in capsys.readouterr().out
    assert relay.handler.message_ids() == [dead["message_id"]]
    assert main(["--data", str(data), "outbox", "retry", dead["name"]]) == 1
    assert "已经发出" in capsys.readouterr().err
    assert main(["--data", str(data), "outbox", "show", "nonexistent-id"]) == 1
    assert "没有" in capsys.readouterr().err


def test_cli_refuses_uninitialized_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--data", str(tmp_path / "nothing"), "outbox", "list"]) == 2
    assert "chanquan init" in capsys.readouterr().err
    assert not (tmp_path / "nothing").exists()
