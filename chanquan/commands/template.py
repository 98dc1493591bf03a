"""`chanquan template`: write the standard workbook (blank or prefilled) or print the field spec."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from validation import normalize_org_code, spec_as_json, write_template


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "template",
        help="write the standard registration workbook, or print its field spec as JSON",
        description="Write the standard workbook (contract 1) or, with --spec, print the field spec as JSON.",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--out", type=Path, help="where to write the .xlsx workbook")
    what.add_argument("--spec", action="store_true", help="print every field and table column as JSON")
    parser.add_argument("--unit", help="prefill with this unit's last approved registration (organization code)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.spec:
        if args.unit:
            print("--spec 与 --unit 不能同时使用。", file=sys.stderr)
            return 2
        json.dump(spec_as_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    out: Path = args.out
    if out.suffix.lower() != ".xlsx":
        print(f"输出文件“{out}”应以 .xlsx 结尾。", file=sys.stderr)
        return 2
    prefill = None
    if args.unit:
        try:
            from chanquan.app import prefill_registration
        except ImportError:
            print(
                "按单位预填（--unit）尚不可用：本安装缺少登记数据读取功能。请先不带 --unit 生成空白模板。",
                file=sys.stderr,
            )
            return 2
        code = normalize_org_code(args.unit)
        prefill = prefill_registration(args.data, code)
        if prefill is None:
            print(f"单位“{code}”没有已通过的登记数据，无法预填。可不带 --unit 生成空白模板。", file=sys.stderr)
            return 2
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_template(out, prefill)
    except OSError as exc:
        print(f"无法写入“{out}”：{exc.strerror or exc}。", file=sys.stderr)
        return 2
    print(f"已生成登记表模板：{out}" + ("（已按上次通过的登记数据预填）" if prefill is not None else ""))
    return 0
