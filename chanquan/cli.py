"""`chanquan` command line: a thin dispatcher over one module per command group.

Each module in `COMMAND_MODULES` exposes `register(subparsers)` and sets a
`handler(args) -> int` default on the parsers it adds. The list is explicit and
ordered so that `chanquan --help` reads in the order of a filing's life.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from chanquan.config import DEFAULT_DATA_DIR

COMMAND_MODULES: tuple[str, ...] = (
    "chanquan.commands.init",
    "chanquan.commands.config_cmd",
    "chanquan.commands.template",
    "chanquan.commands.check",
    "chanquan.commands.ledger_cmd",
    "chanquan.commands.units",
    "chanquan.commands.accounts",
    "chanquan.commands.filings",
    "chanquan.commands.report",
    "chanquan.commands.serve",
    "chanquan.commands.outbox_cmd",
    "chanquan.commands.print_cmd",
    "chanquan.commands.send",
    "chanquan.commands.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chanquan",
        description="产权登记 filing service: workbook checks, ledger, review workflow, mail and signed PDFs.",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("CHANQUAN_DATA", str(DEFAULT_DATA_DIR))),
        help="data directory (default ./data, or $CHANQUAN_DATA)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    from ledger import LedgerRefusedError

    try:
        return int(handler(args))
    except LedgerRefusedError as exc:
        # a forked or unavailable ledger: the message names what disagrees and how to recover
        print(exc.message_zh, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("已中断。", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `chanquan ... | head` closed our stdout: not an error of ours, and nothing left to say.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
