"""The command line's one error guard (chanquan/failures.py): one wording per error, the documented status."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

import pytest

from chanquan import cli
from chanquan.failures import EXIT_REFUSED, EXIT_UNUSABLE, RULES


def run(capsys: pytest.CaptureFixture[str], data: Path, *args: str) -> tuple[int, str, str]:
    code = cli.main(["--data", str(data), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_guarded_error_names_a_real_exception(name: str) -> None:
    module, _, cls = name.rpartition(".")
    found = getattr(importlib.import_module(module), cls)
    assert isinstance(found, type) and issubclass(found, Exception), name


COMMANDS_READING_THE_CONFIGURATION = [
    ("config", "show"),
    ("units", "tree"),
    ("accounts", "show", "MA5U00028"),
    ("filings", "list"),
    ("ledger", "log"),
    ("ledger", "verify"),
    ("outbox", "list"),
    ("print", "--list"),
    ("serve",),
    ("send", "--user", "MA5U00028", "x.zip"),
    ("init",),
]


def test_a_broken_configuration_reads_the_same_everywhere(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before issue 13 the same error read 配置文件无法使用 / 配置文件有误 with or without the path, and
    `serve` printed it on stdout."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "ledger.sqlite3").write_bytes(b"")  # past the "run init first" checks, to the configuration
    (data / "chanquan.toml").write_text("[intake\nbroken", encoding="utf-8")
    seen = set()
    for command in COMMANDS_READING_THE_CONFIGURATION:
        code, out, err = run(capsys, data, *command)
        assert code == EXIT_UNUSABLE, (command, out, err)
        assert out == "", (command, out)
        (line,) = err.splitlines()
        assert line.startswith(f"错误：配置文件无法使用：{data / 'chanquan.toml'}："), (command, err)
        seen.add(line)
    assert len(seen) == 1, seen


def test_refusals_exit_1_in_the_same_wording(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    assert run(capsys, data, "init", "--no-witness")[0] == 0
    for command, says in [
        (("filings", "show", "CQ2026-999999"), "申报 CQ2026-999999 不存在"),
        (("filings", "withdraw", "CQ2026-999999", "--reason", "x"), "CQ2026-999999"),
        (("queue", "MA5U00028"), "单位 MA5U00028 不存在"),
        (("accounts", "show", "MA5U00028"), "账户 MA5U00028 不存在"),
        (("units", "show", "MA5U00028"), "单位 MA5U00028 不存在"),
    ]:
        code, _, err = run(capsys, data, *command)
        assert code == EXIT_REFUSED, (command, err)
        assert err.startswith("错误：") and says in err, (command, err)
        assert "Traceback" not in err


def test_unusable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a workbook")
    code, _, err = run(capsys, tmp_path / "data", "check", str(broken))
    assert code == EXIT_UNUSABLE and err.startswith("错误：无法读取：")
    code, _, err = run(capsys, tmp_path / "data", "template", "--out", str(tmp_path / "t.txt"))
    assert code == EXIT_UNUSABLE and err.startswith("错误：") and ".xlsx" in err


def test_an_unexpected_error_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def broken(args: argparse.Namespace) -> int:
        raise RuntimeError("a bug")

    from chanquan.commands import config_cmd

    monkeypatch.setattr(config_cmd, "run", broken)
    with pytest.raises(RuntimeError, match="a bug"):
        cli.main(["--data", str(tmp_path), "config", "show"])
