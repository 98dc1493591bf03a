"""The CLI speaks Chinese to its users: every command's help, every argument's, and rich output
that a pipe receives unwrapped."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chanquan.cli import build_parser, main
from workflow.unitfile import COLUMNS

CJK = re.compile(r"[\u4e00-\u9fff]")


def walk(parser: argparse.ArgumentParser, path: str = "chanquan") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, f"{path} {name}")


def subcommand_helps(parser: argparse.ArgumentParser) -> Iterator[tuple[str, str]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                yield choice.dest, choice.help or ""


def test_every_command_and_argument_has_chinese_help() -> None:
    problems = []
    for path, parser in walk(build_parser()):
        for name, text in subcommand_helps(parser):
            if not CJK.search(text):
                problems.append(f"{path} {name}: command help {text!r}")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            label = "/".join(action.option_strings) or action.dest
            if not action.option_strings and not action.help:
                problems.append(f"{path} {label}: positional argument without help")
            elif not CJK.search(action.help or ""):
                problems.append(f"{path} {label}: {action.help!r}")
        for blurb in (parser.description, parser.epilog):
            if blurb and not CJK.search(blurb):
                problems.append(f"{path}: description/epilog {blurb[:60]!r}")
    assert problems == []


def test_help_headings_are_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["units", "move", "--help"])
    out = capsys.readouterr().out
    assert out.startswith("用法：") and "位置参数" in out and "显示本帮助并退出" in out
    assert "new_parent" in out and "新的上级单位代码" in out


def test_units_import_help_lists_the_columns(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["units", "import", "--help"])
    out = capsys.readouterr().out
    for key, label, hint in COLUMNS:
        assert key in out and label in out and hint in out, key


def test_piped_rich_output_is_not_wrapped(tmp_path: Path) -> None:
    """A long Chinese line reaches a pipe as one line: the unit's name is never cut in the middle."""
    data = tmp_path / "data"
    name = "重庆市" + "某某国有资本运营管理控股集团有限责任公司" * 8  # far wider than any terminal
    env = {**os.environ, "COLUMNS": "80", "CHANQUAN_DATA": str(data)}
    cli = [sys.executable, "-m", "chanquan"]
    subprocess.run([*cli, "units", "add", "500100008", "--name", name], env=env, check=True, capture_output=True)
    for argv in (["units", "show", "500100008"], ["units", "tree"], ["units", "search", "某某"]):
        out = subprocess.run([*cli, *argv], env=env, check=True, capture_output=True, text=True).stdout
        assert any(name in line for line in out.splitlines()), (argv, out)
