"""What every command that prints for a person shares: the console, times in the supervisor's zone,
units named with their codes, and the help formatter.

Output for a person is Chinese; when stdout is not a terminal (a pipe, a file, a script) nothing is
wrapped: a line a script or `grep` reads stays one line, and no Chinese phrase is cut in two.
`--json` output is for programs and keeps UTC ISO times.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from chanquan.config import load_settings
from ledger.localtime import reader_time, set_reader_zone, zone_label

PIPE_WIDTH = 100_000  # "no wrapping": wider than any line a table or a message produces


def make_console(*, stderr: bool = False) -> Console:
    """Rich output: the terminal's width on a terminal; unwrapped when piped (see the module docstring)."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=PIPE_WIDTH, soft_wrap=True)


RULE_WIDTH = 100


def heading(console: Console, title: str) -> None:
    """A titled rule; bounded, since an unwrapped console is "as wide as any line" and a rule fills it."""
    console.print(Rule(title), width=min(console.width, RULE_WIDTH))


def use_reader_zone(data_dir: Path) -> str:
    """The configured `service.timezone` of the data directory, made this process's reader zone."""
    zone = load_settings(data_dir).service.timezone
    set_reader_zone(zone)
    return zone


def when(value: datetime | str | float | None, *, label: bool = True, seconds: bool = False) -> str:
    """A time for a person, in the reader zone (`use_reader_zone` first): “2026-12-03 15:42（北京时间）”."""
    return reader_time(value, style="second" if seconds else "minute", label=label)


def time_heading(text: str) -> str:
    """A table column of times says its zone once, in the heading: “更新时间（北京时间）”."""
    return f"{text}（{zone_label()}）"


def named(code: str, names: dict[str, str]) -> str:
    """A unit as lists show it: “name（code）”, or the code alone when the unit is unknown."""
    name = names.get(code, "")
    return f"{name}（{code}）" if name and code else code


class ChineseHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's layout with Chinese headings; descriptions and epilogs keep their line breaks."""

    def add_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[argparse._MutuallyExclusiveGroup],
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, "用法：" if prefix is None else prefix)


def chinese_help(parser: argparse.ArgumentParser) -> None:
    """Chinese headings and -h text for `parser` and every subcommand below it."""
    parser.formatter_class = ChineseHelpFormatter
    parser._positionals.title = "位置参数"
    parser._optionals.title = "选项"
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            action.help = "显示本帮助并退出"
        elif isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                chinese_help(sub)
