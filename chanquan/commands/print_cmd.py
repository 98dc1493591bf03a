"""`chanquan print` and `chanquan verify-pdf`: signed registration forms and certificates.

`print` issues a fresh signed copy of an approved registration (recorded in the ledger as
a `document.issued` event linked to the first issuance), `verify-pdf` checks one: the
signature against our CA, the exact bytes against the issuance record, and the record's
inclusion in the newest signed checkpoint. See docs/documents.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from chanquan.app import open_document_issuer
from chanquan.commands.display import make_console
from chanquan.config import load_settings
from chanquan.failures import fail as _fail

log = logging.getLogger(__name__)

DOC_TYPE_CHOICES = ("登记表", "登记证")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "print",
        help="打印已核准登记的签章产权登记表/产权登记证，或列出可打印的单位",
        description="打印已经市国资委审核通过的产权登记表（非一级企业）或产权登记证（一级企业），带电子签章。",
    )
    parser.add_argument("--unit", help="单位代码（组织机构代码）")
    parser.add_argument(
        "--period",
        help="登记时期：补录为数据时点，否则为经济行为日期，例如 2012-06-30",
    )
    parser.add_argument("--template", help="打印模板名称（见 --templates）；默认取设置 pdf.default_template")
    parser.add_argument(
        "--type", dest="doc_type", choices=DOC_TYPE_CHOICES, help="期望的文书类型（实际按单位级次确定）"
    )
    parser.add_argument("--out", type=Path, help="签章 PDF 的输出文件")
    parser.add_argument("--preview", type=Path, help="同时把第一页输出为 PNG 预览图")
    parser.add_argument("--list", action="store_true", help="列出有可打印登记的单位")
    parser.add_argument("--search", help="与 --list 一起使用：只列出名称包含该文字的单位")
    parser.add_argument("--templates", action="store_true", help="列出打印模板")
    parser.set_defaults(handler=run_print)

    verify = subparsers.add_parser(
        "verify-pdf",
        help="核验 PDF：电子签名、是否与签发的文件完全一致、账本包含证明",
        description="核验 PDF：电子签名、与签发记录逐字节一致、签发记录在已签名检查点中的包含证明。",
    )
    verify.add_argument("pdf", type=Path, help="要核验的 PDF 文件")
    verify.add_argument("--json", action="store_true", help="以 JSON 输出核验结果")
    verify.add_argument("--expect-unit", metavar="CODE", help="文书不是签发给该单位（组织机构代码）时判为不通过")
    verify.add_argument("--expect-number", metavar="NO", help="文书的登记编号不是该编号（例如 DJB-…-1）时判为不通过")
    verify.set_defaults(handler=run_verify)


def parse_period(text: str) -> str | None:
    """ISO date from 2012-06-30, 2012/6/30, 2012.6.30 or 2012年6月30日; None when it is not a date."""
    match = re.fullmatch(r"\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*", text)
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
    except ValueError:
        return None


def _require_data(args: argparse.Namespace) -> str | None:
    from chanquan.app import missing_ledger_message

    return missing_ledger_message(args.data)


def run_print(args: argparse.Namespace) -> int:
    from documents.labels import document_label

    if args.templates:
        return _list_templates()
    missing = _require_data(args)
    if missing:
        return _fail(missing)
    if args.list:
        return _list_printable(args)
    if not args.unit or not args.period or not args.out:
        return _fail(
            "请指定 --unit 单位代码、--period 登记时期（补录历史数据为数据时点，其他登记为经济行为日期，"
            "如 2012-06-30）和 --out 输出文件；"
            "或使用 --list 查看可打印的单位。"
        )
    period = parse_period(args.period)
    if period is None:
        return _fail(f"登记时期“{args.period}”不是有效日期，请写成 2012-06-30 的形式。")
    settings = load_settings(args.data)
    with (
        open_document_issuer(args.data, settings) as issuer,
        _progress() as progress,
    ):
        progress.add_task("生成并签署文件", total=None)
        issued = issuer.print_document(args.unit, period, template=args.template, doc_type=args.doc_type)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(issued.pdf)
    p = issued.body
    print(f"已生成{document_label(p.doc_type)}：{args.out}")
    print(f"  编号 {p.cert_no}，模板 {p.template}，{p.pages} 页")
    print(f"  签发记录：账本第 {issued.event.seq} 号事件", end="")
    print(f"（补打，首次签发为第 {p.reissue_of} 号）" if p.reissue_of else "")
    print(f"  SHA-256 {p.sha256}")
    if p.missing_chars:
        print(_missing_warning(p.missing_chars), file=sys.stderr)
    if args.preview:
        _preview(issued.pdf, args.preview)
        print(f"  首页预览：{args.preview}")
    return 0


def _missing_warning(labels: list[str]) -> str:
    """What `print` says when the fonts lacked characters: the document is issued, marked, and recorded."""
    chars = "、".join(f"{label}（{chr(int(label[2:], 16))}）" for label in labels)
    return (
        f"警告：字体中没有以下 {len(labels)} 个字符，文件中以“〓U+码位〓”标示，并已记入签发记录：{chars}。"
        "如需正常显示，请安装含这些字符的 TrueType 字体并加入 pdf.fallback_font_files，然后重新打印。"
    )


def _preview(pdf: bytes, out: Path) -> None:
    """First page as PNG through pdfium (the same engine Chrome uses), as the portal's 预览 renders pages."""
    from documents.preview import page_images

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(page_images(pdf, scale=2, max_pages=1)[0])


def _progress() -> Progress:
    """The spinner goes to stderr, and only on a terminal: what stdout carries stays clean for scripts."""
    console = make_console(stderr=True)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    return Progress(*columns, console=console, transient=True, disable=not console.is_terminal)


def _console() -> Console:
    """Rich wraps to 80 columns when piped; listings must not be cut short there (chanquan.commands.display)."""
    return make_console()


def _list_templates() -> int:
    from documents import TemplateCatalog

    table = Table(title="打印模板")
    for column in ("文件类型", "名称", "方向", "说明"):
        table.add_column(column)
    for template in TemplateCatalog().all():
        table.add_row(template.doc_type, template.name, "横版" if template.landscape else "竖版", template.description)
    _console().print(table)
    return 0


def _list_printable(args: argparse.Namespace) -> int:
    from chanquan.app import fork_notice, open_workflow
    from documents import doc_type_for_level
    from documents.facts import local, zone_of
    from documents.labels import document_label, period_label
    from ledger.localtime import zone_label

    timezone = load_settings(args.data).service.timezone
    zone = zone_of(timezone)
    with open_workflow(args.data, read_only=True) as workflow:  # listing never writes
        notice = fork_notice(workflow.ledger)
        if notice:
            print(notice, file=sys.stderr)
        rows = workflow.approved_registrations(args.search)
        # each period named by what it is: 数据时点 of a backfill, 经济行为日期 of any other registration
        periods = [f"{r.period}（{period_label(workflow.last_approved_data(r.unit, r.period))}）" for r in rows]
    if not rows:
        suffix = f"（名称含“{args.search}”）" if args.search else ""
        print(f"没有可打印的登记{suffix}。")
        return 0
    table = Table(title="可打印的登记（已经市国资委审核通过）")
    for column in (
        "单位代码",
        "单位名称",
        "级次",
        "登记时期",
        "文件",
        "登记编号",
        f"批准时间（{zone_label(timezone)}）",
    ):
        table.add_column(column)
    for r, period in zip(rows, periods, strict=True):
        table.add_row(
            r.unit,
            r.unit_name,
            str(r.unit_level),
            period,
            document_label(doc_type_for_level(r.unit_level)),
            r.filing_id,
            local(r.approved_at, zone).strftime("%Y-%m-%d %H:%M"),
        )
    _console().print(table)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from documents.labels import document_label

    try:
        pdf = args.pdf.read_bytes()
    except OSError as exc:
        return _fail(f"无法读取文件 {args.pdf}：{exc.strerror or exc}")
    missing = _require_data(args)
    if missing:
        return _fail(missing)
    with open_document_issuer(args.data) as issuer:
        report = issuer.verify(pdf, expect_unit=args.expect_unit, expect_number=args.expect_number)
    if args.json:
        print(json.dumps(_report_json(args.pdf, report), ensure_ascii=False, indent=2))
        if not report.ok:
            print(_verdict(report.problems), file=sys.stderr)
        return 0 if report.ok else 1
    print(f"文件：{args.pdf}")
    print(f"SHA-256：{report.sha256}")
    sig = report.signature
    print(f"电子签名：{'通过' if sig.ok else '未通过'} — {sig.reason_zh}")
    if sig.signer:
        print(f"  签署者：{sig.signer}；签署时间：{sig.signed_at or '—'}")
    issuance = report.issuance
    if issuance is None:
        print("签发记录：未找到与本文件逐字节一致的签发记录")
    else:
        print(f"单位：{issuance.unit_name or '（单位名册中没有）'}（{issuance.unit}）")
        print(f"登记编号：{issuance.cert_no}（{document_label(issuance.doc_type)}）")
        print(f"登记：{issuance.filing_id}，第 {issuance.round} 轮；{issuance.period_label}：{issuance.period}")
        print(
            f"签发记录：账本第 {issuance.seq} 号事件（{issuance.ts}）"
            + (f"，为第 {issuance.reissue_of} 号的补打" if issuance.reissue_of else "")
        )
        print(f"  页面上的登记编号和核验码应为：{issuance.cert_no}，{issuance.verification_code}")
        if issuance.missing_chars:
            print(
                f"  注意：签发时字体缺少 {len(issuance.missing_chars)} 个字符，文件中以“〓U+码位〓”标示："
                + "、".join(issuance.missing_chars)
            )
        if issuance.proof:
            print(f"包含证明（对最新已签名检查点，树大小 {issuance.proof['tree_size']}）：")
            print(json.dumps(issuance.proof, ensure_ascii=False, indent=2))
    if report.ok:
        print("结论：文件真实有效。")
        return 0
    print("核验未通过的原因：")
    for problem in report.problems:
        print(f"  - {problem}")
    print(_verdict(report.problems), file=sys.stderr)
    return 1


def _verdict(problems: list[str]) -> str:
    """The one stderr line of a failed check: a tampered or foreign file is an answer, not an error."""
    return "结论：核验未通过——" + "；".join(p.rstrip("。") for p in problems) + "。"


def _report_json(path: Path, report: Any) -> dict[str, Any]:
    issuance = report.issuance
    return {
        "file": str(path),
        "sha256": report.sha256,
        "ok": report.ok,
        "problems": report.problems,
        "signature": {
            "ok": report.signature.ok,
            "reason": report.signature.reason_zh,
            "signer": report.signature.signer,
            "signed_at": report.signature.signed_at,
        },
        "issuance": None
        if issuance is None
        else {
            "seq": issuance.seq,
            "ts": issuance.ts,
            "filing_id": issuance.filing_id,
            "unit": issuance.unit,
            "doc_type": issuance.doc_type,
            "cert_no": issuance.cert_no,
            "unit_name": issuance.unit_name,
            "round": issuance.round,
            "period": issuance.period,
            "period_label": issuance.period_label,
            "missing_chars": list(issuance.missing_chars),
            "reissue_of": issuance.reissue_of,
            "verification_code": issuance.verification_code,
            "proof_ok": issuance.proof_ok,
            "proof": issuance.proof,
        },
    }
