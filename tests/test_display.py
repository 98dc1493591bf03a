"""What a person sees when a command's output goes to a pipe or a file (chanquan.commands.display)."""

from __future__ import annotations

import io

from rich.cells import cell_len
from rich.console import Console

from chanquan.commands.display import PIPE_WIDTH, RULE_WIDTH, heading


def piped_console(buffer: io.StringIO) -> Console:
    """The console make_console builds when stdout is not a terminal."""
    return Console(file=buffer, width=PIPE_WIDTH, soft_wrap=True)


def test_a_heading_stays_a_line_wide_when_nothing_is_wrapped() -> None:
    buffer = io.StringIO()
    console = piped_console(buffer)
    heading(console, "去哪里看")
    console.print("长" * 300)  # a long line is still not wrapped
    lines = buffer.getvalue().splitlines()
    assert "去哪里看" in lines[0] and cell_len(lines[0]) <= RULE_WIDTH
    assert lines[1] == "长" * 300


def test_a_heading_on_a_narrow_terminal_fits_the_terminal() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=40)
    heading(console, "去哪里看")
    assert cell_len(buffer.getvalue().splitlines()[0]) <= 40
