"""`chanquan check`: validate a workbook or bundle and report findings (contract 2)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.table import Table

from chanquan.commands.display import make_console
from chanquan.config import load_settings
from chanquan.failures import fail
from validation import BundleError, CheckResult, RuleOptions, annotate_workbook, check_bundle, load_bundle

EXIT_OK = 0
EXIT_ERRORS = 1
EXIT_UNREADABLE = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="校验登记工作簿或报送包（.xlsx、.zip 或文件夹）",
        description="校验登记工作簿或报送包。退出码：0 可以受理，1 有错误，2 无法读取或用法错误。",
    )
    parser.add_argument("path", type=Path, help="登记工作簿（.xlsx）、报送包（.zip）或报送包文件夹")
    parser.add_argument("--attachments", type=Path, help="与单独的工作簿一起校验的附件文件夹")
    parser.add_argument(
        "--require-attachments",
        action="store_true",
        help="把单独的工作簿当作报送校验：合规性资料目录中列出的文件必须齐全（默认不检查附件）",
    )
    parser.add_argument("--json", action="store_true", help="以稳定的 JSON 格式输出校验结果")
    parser.add_argument("--annotate", type=Path, metavar="OUT.xlsx", help="另存一份标注了错误单元格的工作簿")
    parser.set_defaults(handler=run)


def _print_table(result: CheckResult, source: str) -> None:
    console = make_console()  # unwrapped when piped: a finding's message stays one line
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


def _write_annotated(out: Path, workbook: bytes, result: CheckResult) -> bool:
    """False, with a line on stderr, when openpyxl cannot load what the reader could: the findings still count.

    openpyxl is stricter than calamine: a cell stored as `<v>NaN</v>` is a finding to the reader
    and a file it refuses to open (ValueError) to openpyxl.
    """
    try:
        annotated = annotate_workbook(workbook, result.findings)
    except ValueError as exc:
        print(
            f"错误：无法写出标注错误的工作簿“{out}”：工作簿中有无法标注的内容（{exc.__class__.__name__}），"
            "请按下列审核结果改正。",
            file=sys.stderr,
        )
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(annotated)
    return True


def run(args: argparse.Namespace) -> int:
    path: Path = args.path
    if args.annotate is not None and args.annotate.suffix.lower() != ".xlsx":
        return fail(f"--annotate 的输出文件“{args.annotate}”应以 .xlsx 结尾。", EXIT_UNREADABLE)
    options = _options(args.data)  # ConfigError: exit 2 (chanquan.failures), as every unreadable input
    try:
        bundle = load_bundle(path, attachments_dir=args.attachments)
        # A lone workbook is checked by itself unless asked otherwise; a bundle always with its files.
        alone = bundle.lone_workbook and args.attachments is None and not args.require_attachments
        result = check_bundle(bundle, options=options, check_attachments=not alone)
    except BundleError as exc:
        if args.json:
            print(json.dumps({"ok": False, "error": {"code": exc.code, "message": exc.message}}, ensure_ascii=False))
        raise  # one line on stderr, exit 2 (chanquan.failures)
    annotated = args.annotate is not None and _write_annotated(args.annotate, bundle.workbook_bytes, result)
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    else:
        _print_table(result, path.name)
        if annotated:
            print(f"已写出标注错误的工作簿：{args.annotate}")
    return EXIT_OK if result.ok else EXIT_ERRORS
