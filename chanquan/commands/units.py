"""`chanquan units`: the enterprise tree — import, add, show, search, tree, contacts, move, and the
filing mode of a first-level enterprise's subordinates (applied for, then approved or rejected by SASAC)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.tree import Tree

from chanquan.app import fork_notice, open_workflow
from chanquan.commands import display
from workflow import Unit, UnitError, Workflow
from workflow.accounts import normalize_username
from workflow.unitfile import COLUMNS, read_unit_rows, write_unit_template
from workflow.units import DESIGNATED, DESIGNATION_MODES, Designation, level_name, split_emails
from workflow.who import expected_filer

IMPORT_EPILOG = "文件的列（第一行为表头，可用英文列名、中文列名，或模板中的“中文(英文)”形式）：\n" + "\n".join(
    f"  {key:<16}{label}：{hint}" for key, label, hint in COLUMNS
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "units",
        help="单位名录（企业树）：导入、添加、查看、搜索、移动、填报方式申请与批准",
        description="管理单位名录：市国资委 → 一级企业 → 各级子企业。每次改动都记入账本。",
    )
    sub = parser.add_subparsers(dest="units_command", metavar="ACTION", required=True)
    _register_tree_actions(sub)
    _register_designation_actions(sub)


def _register_tree_actions(sub: Any) -> None:
    """The actions on the tree itself; registered in the order `chanquan units -h` lists them."""
    p = sub.add_parser(
        "import",
        help="从 .xlsx 或 .csv 文件新增或更新单位（全部成功或全部不导入）",
        description="从单位名录文件新增或更新单位。先检查每一行，有任何问题（附行号）则全部不导入。",
        epilog=IMPORT_EPILOG,
    )
    p.add_argument("file", type=Path, help="单位名录文件（.xlsx 或 .csv，可用 chanquan units template 生成模板）")
    p.set_defaults(handler=run_import)

    p = sub.add_parser("template", help="生成空白的单位名录模板", epilog=IMPORT_EPILOG)
    p.add_argument("--out", type=Path, required=True, help="输出文件 FILE.xlsx 或 FILE.csv")
    p.set_defaults(handler=run_template)

    p = sub.add_parser("add", help="添加一个单位（及其账户）")
    p.add_argument("code", nargs="?", default="", help="组织机构代码或统一社会信用代码（境外单位加 --overseas 时省略）")
    p.add_argument("--name", required=True, help="单位名称")
    p.add_argument("--parent", default="", help="上级单位代码（默认为市国资委，即一级企业）")
    p.add_argument("--overseas", action="store_true", help="境外单位：由系统分配用户名")
    p.add_argument("--holding", default="国有全资", help="持股类型：国有全资 | 国有绝对控股 | 国有实际控制 | 国有参股")
    p.add_argument("--filers", default="", help="填报联系人邮箱，多个用 ; 或 , 分隔")
    p.add_argument("--reviewers", default="", help="审核人邮箱，多个用 ; 或 , 分隔")
    p.set_defaults(handler=run_add)

    p = sub.add_parser("show", help="查看一个单位：上级、联系人、填报方式")
    p.add_argument("code", help="单位代码（组织机构代码或境外单位的用户名）")
    p.set_defaults(handler=run_show)

    p = sub.add_parser("search", help="按名称查找单位（完全相同、开头相同、包含，依次排列）")
    p.add_argument("name", help="单位名称或其中一部分")
    p.set_defaults(handler=run_search)

    p = sub.add_parser("tree", help="显示单位树（某单位以下，或全部），含各一级企业的填报方式")
    p.add_argument("code", nargs="?", default=None, help="从这个单位开始显示（省略则显示全部）")
    p.set_defaults(handler=run_tree)

    p = sub.add_parser("set-contacts", help="替换单位的填报联系人和/或审核人邮箱")
    p.add_argument("code", help="单位代码")
    p.add_argument("--filers", default=None, help="填报联系人邮箱（; 或 , 分隔）；省略则不变")
    p.add_argument("--reviewers", default=None, help="审核人邮箱（; 或 , 分隔）；省略则不变")
    p.set_defaults(handler=run_set_contacts)

    p = sub.add_parser("move", help="调整单位的上级单位（下级单位一同移动）")
    p.add_argument("code", help="要移动的单位代码")
    p.add_argument("new_parent", help="新的上级单位代码")
    p.set_defaults(handler=run_move)


def _register_designation_actions(sub: Any) -> None:
    """Who files below a first-level enterprise changes only by SASAC's approval, so these come as a group."""
    p = sub.add_parser(
        "designate-apply",
        help="记录一级企业改变下属单位填报方式的申请（须经市国资委批准才生效）",
        description="记录一级企业向市国资委提出的申请：下属单位的产权登记改由产权持有单位填报（holder），"
        "或由指定单位集中填报（designated），或恢复各单位自行填报（self）。批准前填报方式不变。",
    )
    p.add_argument("first_level", help="提出申请的一级企业代码")
    p.add_argument(
        "--mode",
        required=True,
        choices=DESIGNATION_MODES,
        help="holder：产权持有单位填报；designated：指定单位填报（须给出 --unit）；self：恢复各单位自行填报",
    )
    p.add_argument("--unit", default="", help="指定单位填报时，负责填报的单位代码（须属于该一级企业）")
    p.add_argument("--reason", required=True, help="申请理由（记入账本）")
    p.set_defaults(handler=run_designate_apply)

    p = sub.add_parser("designate-approve", help="市国资委批准一级企业待批准的填报方式申请（填写批准文号）")
    p.add_argument("first_level", help="一级企业代码")
    p.add_argument("--reference", required=True, help="批准文号，例如 渝国资〔2026〕12号")
    p.set_defaults(handler=run_designate_approve)

    p = sub.add_parser("designate-reject", help="市国资委驳回一级企业待批准的填报方式申请（填写意见）")
    p.add_argument("first_level", help="一级企业代码")
    p.add_argument("--opinion", required=True, help="驳回意见（记入账本）")
    p.set_defaults(handler=run_designate_reject)

    p = sub.add_parser(
        "designate",
        help="已停用：请改用 designate-apply 和 designate-approve",
        description="已停用。改变填报方式须先申请（designate-apply），经市国资委批准（designate-approve）后生效。",
    )
    p.add_argument("first_level", help="一级企业代码")
    p.add_argument("filer", nargs="?", default="", help="（已停用）集中填报单位代码")
    p.add_argument("--clear", action="store_true", help="（已停用）取消集中填报")
    p.set_defaults(handler=run_designate)


@contextmanager
def workflow_for(args: argparse.Namespace, *, read_only: bool = False) -> Iterator[Workflow]:
    """The workflow for one command; `read_only` for commands that only look (they never write a file)."""
    with open_workflow(args.data, read_only=read_only) as wf:
        notice = fork_notice(wf.ledger)
        if notice:
            print(notice, file=sys.stderr)
        yield wf


def _emails(text: str | None) -> list[str] | None:
    if text is None:
        return None
    good, bad = split_emails(text)
    if bad:
        raise UnitError(f"邮箱地址无效：{'、'.join(bad)}")
    return good


def describe(unit: Unit) -> str:
    level = "市国资委" if unit.is_root else level_name(unit.level)
    return f"{unit.name}（{unit.code}，{level}{'，境外' if unit.overseas else ''}，{unit.holding}）"


def run_import(args: argparse.Namespace) -> int:
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    progress = display.make_console(stderr=True)  # never mixed into the output a script reads
    with Progress(*columns, console=progress, transient=True, disable=not progress.is_terminal) as bar:
        task = bar.add_task("读取单位名录…", total=None)
        rows = read_unit_rows(args.file)
        bar.update(task, description=f"导入 {len(rows)} 行…")
        with workflow_for(args) as wf:
            summary = wf.units.import_rows(rows)
    print(
        f"导入完成：新增 {len(summary.added)} 个单位，更新 {len(summary.changed)} 个，"
        f"未变 {len(summary.unchanged)} 个（记录 {summary.events} 条事件）。"
    )
    return 0


def run_template(args: argparse.Namespace) -> int:
    write_unit_template(args.out)
    print(f"已生成单位名录模板：{args.out}")
    return 0


def run_add(args: argparse.Namespace) -> int:
    filers = _emails(args.filers) or []
    reviewers = _emails(args.reviewers) or []
    with workflow_for(args) as wf:
        if args.overseas:
            unit = wf.units.add_overseas(
                args.name, parent=args.parent, holding=args.holding, filer_emails=filers, reviewer_emails=reviewers
            )
            first = wf.units.first_level_of(unit.code)
            print(f"已添加境外单位：{describe(unit)}")
            print(f"分配的用户名：{unit.username}（初始密码与用户名相同，首次登录须修改）")
            if first is not None:
                print(f"已请求将账户信息发送给一级企业{first.label}的填报联系人。")
            return 0
        if not args.code:
            raise UnitError("请给出组织机构代码（境外单位请加 --overseas）。")
        unit = wf.units.add(
            args.code,
            args.name,
            parent=args.parent,
            holding=args.holding,
            filer_emails=filers,
            reviewer_emails=reviewers,
        )
    print(f"已添加单位：{describe(unit)}；用户名 {unit.username}，初始密码与用户名相同，首次登录须修改。")
    return 0


def _named(wf: Workflow, code: str) -> str:
    """`名称（代码）` of a unit, or the bare code of one no longer in the tree."""
    unit = wf.units.get(code)
    return f"{unit.name}（{unit.code}）" if unit else code


def _first_level(wf: Workflow, designation: Designation) -> Unit:
    top = wf.units.get(designation.first_level)
    assert top is not None  # workflow keeps designations of units in the tree only
    return top


def designation_text(wf: Workflow, designation: Designation) -> str:
    """A first-level's mode as `units show` and `units tree` print it: mode, unit, approval reference."""
    text = designation.mode_zh
    if designation.mode == DESIGNATED:
        text += f"：{_named(wf, designation.unit)}"
    if designation.reference_zh:
        text += f"（批准文号：{designation.reference_zh}）"
    return text


def pending_text(wf: Workflow, designation: Designation) -> str:
    pending = designation.pending
    if pending is None:
        return ""
    target = f"：{_named(wf, pending.unit)}" if pending.unit else ""
    return f"{pending.mode_zh}{target}，理由：{pending.reason}（{display.when(pending.at)}申请，待市国资委批准）"


def run_show(args: argparse.Namespace) -> int:
    display.use_reader_zone(args.data)
    with workflow_for(args, read_only=True) as wf:
        unit = wf.units.get(args.code.strip().upper())
        if unit is None:
            raise UnitError(f"单位 {args.code} 不存在。可用 `chanquan units search 名称` 查找。")
        ancestors = wf.units.ancestors(unit.code)
        children = wf.units.children(unit.code)
        first = wf.units.first_level_of(unit.code)
        designation = wf.units.designation(first.code) if first is not None else None
        mode = designation_text(wf, designation) if designation is not None else ""
        pending = pending_text(wf, designation) if designation is not None else ""
        filer, why = expected_filer(wf.units, unit, None) if not unit.is_root else (unit, "")
        approved = wf.last_approved_data(unit.code)
    console = display.make_console()
    table = Table(show_header=False, box=None)
    table.add_row("单位", describe(unit))
    table.add_row("用户名", unit.username)
    table.add_row("上级", " → ".join(f"{a.name}（{a.code}）" for a in ancestors) or "—")
    table.add_row("下级单位", str(len(children)))
    table.add_row("填报联系人", "、".join(unit.filer_emails) or "—")
    table.add_row("审核人", "、".join(unit.reviewer_emails) or "—")
    if designation is not None and first is not None:
        table.add_row("填报方式", f"{mode}（一级企业{first.name}）" if first.code != unit.code else mode)
        if pending:
            table.add_row("待批准的申请", pending)
        if designation.rejected_opinion:
            table.add_row("最近驳回", f"{designation.rejected_opinion}（{display.when(designation.rejected_at)}）")
        if not unit.is_root:
            table.add_row("本单位的登记由", f"{filer.name}（{filer.code}）填报（{why}）")
    table.add_row("最近通过的登记", str(approved.get("ent_name")) if approved else "—")
    console.print(table, markup=False, highlight=False)
    return 0


def run_search(args: argparse.Namespace) -> int:
    with workflow_for(args, read_only=True) as wf:
        found = wf.units.search(args.name)
        parents = {u.parent: wf.units.get(u.parent) for u in found if u.parent}
    if not found:
        print(f"没有名称包含“{args.name}”的单位。")
        return 1
    table = Table("代码", "名称", "级次", "上级")
    for unit in found:
        up = parents.get(unit.parent)
        table.add_row(
            unit.code,
            unit.name,
            "市国资委" if unit.is_root else level_name(unit.level),
            f"{up.name}（{up.code}）" if up is not None else (unit.parent or "—"),
        )
    display.make_console().print(table, markup=False, highlight=False)
    return 0


def run_tree(args: argparse.Namespace) -> int:
    display.use_reader_zone(args.data)
    with workflow_for(args, read_only=True) as wf:
        top = (args.code or wf.units.root_code).strip().upper()
        nodes: dict[str, Tree] = {}
        root_tree: Tree | None = None
        if wf.units.get(top) is None:
            if top != wf.units.root_code:
                raise UnitError(f"单位 {top} 不存在。")
            # a new data directory: the supervising body is recorded on the first write, looking does not record it
            root_tree = Tree(f"{wf.units.root_name} [dim]{top}[/dim]")
        for _depth, unit in wf.units.iter_tree(top):
            label = f"{escape(unit.name)} [dim]{unit.code}[/dim]"
            if unit.overseas:
                label += " [cyan]境外[/cyan]"
            if unit.holding != "国有全资":
                label += f" [yellow]{unit.holding}[/yellow]"
            if unit.level == 1:
                designation = wf.units.designation(unit.code)
                if designation.mode != "self" or designation.legacy:
                    label += f" [magenta]填报方式：{escape(designation_text(wf, designation))}[/magenta]"
                if designation.pending is not None:
                    label += f" [red]待批准申请：{escape(pending_text(wf, designation))}[/red]"
            if root_tree is None:
                root_tree = Tree(label)
                nodes[unit.code] = root_tree
            else:
                nodes[unit.code] = nodes[unit.parent].add(label)
    if root_tree is not None:
        display.make_console().print(root_tree)
    return 0


def run_set_contacts(args: argparse.Namespace) -> int:
    if args.filers is None and args.reviewers is None:
        raise UnitError("请至少给出 --filers 或 --reviewers。")
    with workflow_for(args) as wf:
        unit = wf.units.set_contacts(
            args.code, filer_emails=_emails(args.filers), reviewer_emails=_emails(args.reviewers)
        )
    print(
        f"已更新{unit.label}：填报联系人 {'、'.join(unit.filer_emails) or '—'}；"
        f"审核人 {'、'.join(unit.reviewer_emails) or '—'}"
    )
    return 0


def run_move(args: argparse.Namespace) -> int:
    with workflow_for(args) as wf:
        unit = wf.units.move(args.code, args.new_parent)
        parent = wf.units.get(unit.parent)
    print(
        f"已将{unit.label}移至{parent.label if parent else unit.parent}之下（现为{level_name(unit.level)}）。"
        "审核中的申报已按新的上级重新提交审核。"
    )
    return 0


def run_designate(args: argparse.Namespace) -> int:
    """The old direct designation: refused with the commands that replace it (contract: refuse clearly).

    Who files changes only by an application SASAC approves (`designate-apply`, `designate-approve`),
    so this refuses without opening the ledger."""
    raise UnitError(  # exit 1
        "直接指定集中填报单位已停用：改变填报方式须由一级企业提出申请、经市国资委批准。"
        f"请用 chanquan units designate-apply {normalize_username(args.first_level) or 'FIRST_LEVEL'}"
        " --mode holder|designated [--unit CODE] --reason 申请理由 记录申请，"
        "再由市国资委用 chanquan units designate-approve FIRST_LEVEL --reference 批准文号 批准。"
    )


def run_designate_apply(args: argparse.Namespace) -> int:
    display.use_reader_zone(args.data)
    with workflow_for(args) as wf:
        designation = wf.units.apply_designation(args.first_level, args.mode, unit=args.unit, reason=args.reason)
        top = _first_level(wf, designation)
        print(
            f"已记录一级企业{top.label}的申请：{pending_text(wf, designation)}。"
            f"批准前填报方式不变（现为{designation_text(wf, designation)}）；"
            f"批准：chanquan units designate-approve {top.code} --reference 批准文号"
        )
    return 0


def run_designate_approve(args: argparse.Namespace) -> int:
    with workflow_for(args) as wf:
        designation = wf.units.approve_designation(args.first_level, reference=args.reference)
        top = _first_level(wf, designation)
        print(f"已批准：一级企业{top.label}的下属单位今后采用{designation_text(wf, designation)}。")
    return 0


def run_designate_reject(args: argparse.Namespace) -> int:
    with workflow_for(args) as wf:
        designation = wf.units.reject_designation(args.first_level, opinion=args.opinion)
        top = _first_level(wf, designation)
        print(
            f"已驳回一级企业{top.label}的申请（意见：{args.opinion}）；"
            f"填报方式仍为{designation_text(wf, designation)}。"
        )
    return 0
