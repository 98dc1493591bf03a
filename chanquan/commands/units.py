"""`chanquan units`: the enterprise tree — import, add, show, search, tree, contacts, move, designate."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.tree import Tree

from chanquan.app import fork_notice, open_workflow
from chanquan.config import ConfigError
from workflow import Unit, UnitError, UnitImportError, Workflow
from workflow.unitfile import UnitFileError, read_unit_rows, write_unit_template
from workflow.units import level_name, split_emails

Handler = Callable[[argparse.Namespace], int]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("units", help="the enterprise tree: import, add, show, search, tree, move")
    sub = parser.add_subparsers(dest="units_command", metavar="ACTION", required=True)

    p = sub.add_parser("import", help="add or update units from an .xlsx or .csv file (all rows or none)")
    p.add_argument("file", type=Path)
    p.set_defaults(handler=run_import)

    p = sub.add_parser("template", help="write a blank units file to fill in")
    p.add_argument("--out", type=Path, required=True, help="FILE.xlsx or FILE.csv")
    p.set_defaults(handler=run_template)

    p = sub.add_parser("add", help="add one unit (and its account)")
    p.add_argument("code", nargs="?", default="", help="organization code (omit with --overseas)")
    p.add_argument("--name", required=True, help="unit name")
    p.add_argument("--parent", default="", help="parent unit code (default: the supervising body)")
    p.add_argument("--overseas", action="store_true", help="overseas unit: a user name is assigned")
    p.add_argument("--holding", default="国有全资", help="国有全资 | 国有绝对控股 | 国有实际控制 | 国有参股")
    p.add_argument("--filers", default="", help="filer contact emails, separated by ; or ,")
    p.add_argument("--reviewers", default="", help="reviewer emails, separated by ; or ,")
    p.set_defaults(handler=run_add)

    p = sub.add_parser("show", help="one unit with its place in the tree")
    p.add_argument("code")
    p.set_defaults(handler=run_show)

    p = sub.add_parser("search", help="find units by name (exact, then prefix, then substring)")
    p.add_argument("name")
    p.set_defaults(handler=run_search)

    p = sub.add_parser("tree", help="print the tree (below CODE, or all)")
    p.add_argument("code", nargs="?", default=None)
    p.set_defaults(handler=run_tree)

    p = sub.add_parser("set-contacts", help="replace a unit's filer and/or reviewer addresses")
    p.add_argument("code")
    p.add_argument("--filers", default=None, help="filer contact emails (; or , separated); omit to keep")
    p.add_argument("--reviewers", default=None, help="reviewer emails (; or , separated); omit to keep")
    p.set_defaults(handler=run_set_contacts)

    p = sub.add_parser("move", help="give a unit a new parent (its subtree moves with it)")
    p.add_argument("code")
    p.add_argument("new_parent")
    p.set_defaults(handler=run_move)

    p = sub.add_parser("designate", help="have a first-level enterprise's subordinates filed by one unit")
    p.add_argument("first_level")
    p.add_argument("filer", nargs="?", default="", help="designated filer; omit (or --clear) to end it")
    p.add_argument("--clear", action="store_true")
    p.set_defaults(handler=run_designate)


@contextmanager
def workflow_for(args: argparse.Namespace, *, read_only: bool = False) -> Iterator[Workflow]:
    """The workflow for one command; `read_only` for commands that only look (they never write a file)."""
    with open_workflow(args.data, read_only=read_only) as wf:
        notice = fork_notice(wf.ledger)
        if notice:
            print(notice, file=sys.stderr)
        yield wf


def guarded(body: Callable[[argparse.Namespace], int]) -> Handler:
    """Turns the expected refusals into a Chinese message and exit status 1 (2 for configuration)."""

    def run(args: argparse.Namespace) -> int:
        try:
            return body(args)
        except ConfigError as exc:
            print(f"配置文件有误：{exc}", file=sys.stderr)
            return 2
        except UnitImportError as exc:
            print(exc.message_zh, file=sys.stderr)
            for row, problem in exc.problems:
                print(f"  第 {row} 行：{problem}", file=sys.stderr)
            return 1
        except (UnitError, UnitFileError) as exc:
            print(exc.message_zh, file=sys.stderr)
            return 1

    run.__name__ = body.__name__
    return run


def make_console() -> Console:
    """Rich output; when piped (scripts, tests) tables are not squeezed to 80 columns."""
    return Console(width=None if sys.stdout.isatty() else 200)


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


@guarded
def run_import(args: argparse.Namespace) -> int:
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True) as bar:
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


@guarded
def run_template(args: argparse.Namespace) -> int:
    write_unit_template(args.out)
    print(f"已生成单位名录模板：{args.out}")
    return 0


@guarded
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


@guarded
def run_show(args: argparse.Namespace) -> int:
    with workflow_for(args, read_only=True) as wf:
        unit = wf.units.get(args.code.strip().upper())
        if unit is None:
            raise UnitError(f"单位 {args.code} 不存在。可用 `chanquan units search 名称` 查找。")
        ancestors = wf.units.ancestors(unit.code)
        children = wf.units.children(unit.code)
        first = wf.units.first_level_of(unit.code)
        designated = wf.units.get(first.designated_filer) if first and first.designated_filer else None
        approved = wf.last_approved_data(unit.code)
    console = make_console()
    table = Table(show_header=False, box=None)
    table.add_row("单位", describe(unit))
    table.add_row("用户名", unit.username)
    table.add_row("上级", " → ".join(f"{a.name}（{a.code}）" for a in ancestors) or "—")
    table.add_row("下级单位", str(len(children)))
    table.add_row("填报联系人", "、".join(unit.filer_emails) or "—")
    table.add_row("审核人", "、".join(unit.reviewer_emails) or "—")
    if designated is not None:
        table.add_row("集中填报单位", f"{designated.name}（{designated.code}）")
    table.add_row("最近通过的登记", str(approved.get("ent_name")) if approved else "—")
    console.print(table)
    return 0


@guarded
def run_search(args: argparse.Namespace) -> int:
    with workflow_for(args, read_only=True) as wf:
        found = wf.units.search(args.name)
    if not found:
        print(f"没有名称包含“{args.name}”的单位。")
        return 1
    table = Table("代码", "名称", "级次", "上级")
    for unit in found:
        table.add_row(unit.code, unit.name, "市国资委" if unit.is_root else level_name(unit.level), unit.parent or "—")
    make_console().print(table)
    return 0


@guarded
def run_tree(args: argparse.Namespace) -> int:
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
            label = f"{unit.name} [dim]{unit.code}[/dim]"
            if unit.overseas:
                label += " [cyan]境外[/cyan]"
            if unit.holding != "国有全资":
                label += f" [yellow]{unit.holding}[/yellow]"
            if root_tree is None:
                root_tree = Tree(label)
                nodes[unit.code] = root_tree
            else:
                nodes[unit.code] = nodes[unit.parent].add(label)
    if root_tree is not None:
        make_console().print(root_tree)
    return 0


@guarded
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


@guarded
def run_move(args: argparse.Namespace) -> int:
    with workflow_for(args) as wf:
        unit = wf.units.move(args.code, args.new_parent)
    print(
        f"已将{unit.label}移至 {unit.parent} 之下（现为{level_name(unit.level)}）。"
        "审核中的申报已按新的上级重新提交审核。"
    )
    return 0


@guarded
def run_designate(args: argparse.Namespace) -> int:
    filer = "" if args.clear else args.filer
    with workflow_for(args) as wf:
        top = wf.units.designate(args.first_level, filer)
    if top.designated_filer:
        print(f"一级企业{top.label}的下属单位今后由 {top.designated_filer} 集中填报。")
    else:
        print(f"一级企业{top.label}已取消集中填报，下属单位恢复自行填报。")
    return 0
