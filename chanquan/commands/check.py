"""`chanquan check`: validate a workbook or bundle and report findings (contract 2)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from chanquan.config import ConfigError, load_settings
from validation import BundleError, CheckResult, RuleOptions, annotate_workbook, check_bundle, load_bundle

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_UNREADABLE = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check a registration workbook or bundle (.xlsx, .zip or folder)",
        description="Validate a workbook or a bundle. Exit 0 acceptable, 1 has errors, 2 unreadable input.",
    )
    parser.add_argument("path", type=Path, help="workbook (.xlsx), bundle (.zip) or bundle folder")
    parser.add_argument("--attachments", type=Path, help="folder of attachments to check with a lone workbook")
    parser.add_argument(
        "--require-attachments",
        action="store_true",
        help="check a lone workbook as a filing: the files it lists must be there (by default they are not checked)",
    )
    parser.add_argument("--json", action="store_true", help="print findings as stable JSON")
    parser.add_argument("--annotate", type=Path, metavar="OUT.xlsx", help="write the workbook with errors marked")
    parser.set_defaults(handler=run)


def _print_table(result: CheckResult, source: str) -> None:
    console = Console()
    if not result.findings:
        console.print(f"[green]✓[/green] {source}：未发现问题，可以报送。")
        return
    table = Table(title=f"{source} 审核结果", show_lines=False)
    for title in ("级别", "工作表", "单元格", "代码", "说明"):
        table.add_column(title, overflow="fold")
    for f in result.findings:
        level = "[red]错误[/red]" if f.severity == "error" else "[yellow]提示[/yellow]"
        table.add_row(level, f.sheet, f.cell, f.code, f.message)
    console.print(table)
    summary = f"{len(result.errors)} 个错误，{len(result.warnings)} 个提示。"
    console.print(
        ("[green]可以报送（仅有提示）。[/green] " if result.ok else "[red]不能报送，请改正错误。[/red] ") + summary
    )


def _options(data_dir: Path) -> RuleOptions:
    """The rule settings of the data directory (all defaults when it has no configuration file)."""
    from chanquan.app import rule_options

    return rule_options(load_settings(data_dir))


def run(args: argparse.Namespace) -> int:
    path: Path = args.path
    if args.annotate is not None and args.annotate.suffix.lower() != ".xlsx":
        print(f"--annotate 的输出文件“{args.annotate}”应以 .xlsx 结尾。", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        options = _options(args.data)
    except ConfigError as exc:
        print(f"配置文件无法使用：{exc}", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        bundle = load_bundle(path, attachments_dir=args.attachments)
        # A lone workbook is checked by itself unless asked otherwise; a bundle always with its files.
        alone = bundle.lone_workbook and args.attachments is None and not args.require_attachments
        result = check_bundle(bundle, options=options, check_attachments=not alone)
    except BundleError as exc:
        if args.json:
            print(json.dumps({"ok": False, "error": {"code": exc.code, "message": exc.message}}, ensure_ascii=False))
        print(f"无法读取：{exc.message}", file=sys.stderr)
        return EXIT_UNREADABLE
    if args.annotate is not None:
        try:
            args.annotate.parent.mkdir(parents=True, exist_ok=True)
            args.annotate.write_bytes(annotate_workbook(bundle.workbook_bytes, result.findings))
        except OSError as exc:
            print(f"无法写入“{args.annotate}”：{exc.strerror or exc}。", file=sys.stderr)
            return EXIT_UNREADABLE
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    else:
        _print_table(result, path.name)
        if args.annotate is not None:
            print(f"已写出标注错误的工作簿：{args.annotate}")
    return EXIT_OK if result.ok else EXIT_ERRORS
