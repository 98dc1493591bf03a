"""`chanquan` command line: a thin dispatcher over one module per command group.

Each module in `COMMAND_MODULES` exposes `register(subparsers)` and sets a
`handler(args) -> int` default on the parsers it adds. The list is explicit and
ordered so that `chanquan --help` reads in the order of a filing's life. Errors a
command expects are not caught in the command: `main` turns them into one Chinese
line and the documented exit status (`chanquan.failures`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from chanquan.commands.display import chinese_help
from chanquan.config import DEFAULT_DATA_DIR
from chanquan.failures import failure_for

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
        description="产权登记系统：登记表校验、账本、逐级审核、邮件与带电子签章的登记表和登记证。",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("CHANQUAN_DATA", str(DEFAULT_DATA_DIR))),
        help="数据目录（默认 ./data，或环境变量 $CHANQUAN_DATA）",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", title="命令")
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        module.register(subparsers)
    chinese_help(parser)  # headings and -h in Chinese, for every command (chanquan.commands.display)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args))
    except KeyboardInterrupt:
        print("已中断。", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `chanquan ... | head` closed our stdout: not an error of ours, and nothing left to say.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:
        # the one guard of every command (chanquan/failures.py): expected errors become one Chinese line
        failure = failure_for(exc, args.data)
        if failure is None:
            raise
        return failure.report()


if __name__ == "__main__":
    sys.exit(main())
