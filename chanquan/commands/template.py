"""`chanquan template`: write the standard workbook (blank or prefilled) or print the field spec."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from chanquan.failures import fail
from validation import normalize_org_code, spec_as_json, write_template


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "template",
        help="生成标准登记工作簿，或以 JSON 输出字段规范",
        description="生成标准登记工作簿；加 --spec 时以 JSON 输出每个字段和表格列的规范。",
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--out", type=Path, help="输出的 .xlsx 工作簿")
    what.add_argument("--spec", action="store_true", help="以 JSON 输出每个字段和表格列")
    parser.add_argument("--unit", help="用该单位最近核准的登记预先填好（组织机构代码）")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.spec:
        if args.unit:
            return fail("--spec 与 --unit 不能同时使用。")
        json.dump(spec_as_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
        return 0
    out: Path = args.out
    if out.suffix.lower() != ".xlsx":
        return fail(f"输出文件“{out}”应以 .xlsx 结尾。")
    prefill = None
    if args.unit:
        try:
            from chanquan.app import prefill_registration
        except ImportError:
            return fail("按单位预填（--unit）尚不可用：本安装缺少登记数据读取功能。请先不带 --unit 生成空白模板。")
        code = normalize_org_code(args.unit)
        prefill = prefill_registration(args.data, code)
        if prefill is None:
            return fail(f"单位“{code}”没有已通过的登记数据，无法预填。可不带 --unit 生成空白模板。")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_template(out, prefill)
    done = f"已生成登记表模板：{out}"
    if prefill is not None:  # validation.template.NOT_PREFILLED: the filing's own fields are the filer's to state
        done += "（已按上次通过的登记预填企业信息；登记类型、登记情形、日期和批准文号请按本次登记填写）"
    print(done)
    return 0
