"""`chanquan accounts`: reset an account to the initial rule, set a password, show its public facts."""

from __future__ import annotations

import argparse
import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chanquan.commands import display
from chanquan.commands.units import workflow_for
from workflow import PasswordPolicyError, UnitError, Workflow
from workflow.accounts import normalize_username

PASSWORD_ENV = "CHANQUAN_PASSWORD"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("accounts", help="单位账户：重置、设置密码、查看")
    sub = parser.add_subparsers(dest="accounts_command", metavar="ACTION", required=True)
    p = sub.add_parser("reset", help="重置为初始规则：密码与用户名相同，下次登录须修改")
    p.add_argument("code", help="用户名（单位代码或境外单位的用户名）")
    p.set_defaults(handler=run_reset)
    p = sub.add_parser("passwd", help=f"设置密码（输入两次，或取自环境变量 ${PASSWORD_ENV}）")
    p.add_argument("code", help="用户名（单位代码或境外单位的用户名）")
    p.set_defaults(handler=run_passwd)
    p = sub.add_parser("show", help="账户的公开信息（从不显示密码）")
    p.add_argument("code", help="用户名（单位代码或境外单位的用户名）")
    p.set_defaults(handler=run_show)


@contextmanager
def _existing_account(args: argparse.Namespace) -> Iterator[tuple[Workflow, str]]:
    """The workflow and the normalized user name; an unknown account is refused (exit 1) before any change."""
    username = normalize_username(args.code)
    with workflow_for(args) as wf:
        if wf.units.by_username(username) is None:
            raise UnitError(f"账户 {username} 不存在。")
        yield wf, username


def run_reset(args: argparse.Namespace) -> int:
    with _existing_account(args) as (wf, username):
        wf.accounts.reset(username)
    print(f"账户 {username} 已重置：初始密码与用户名相同，下次登录须修改密码。")
    return 0


def _ask_password() -> str:
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env is not None:
        return from_env
    first = getpass.getpass("新密码：")
    second = getpass.getpass("再次输入新密码：")
    if first != second:
        raise PasswordPolicyError("两次输入的密码不一致")  # refused, exit 1 (chanquan.failures)
    return first


def run_passwd(args: argparse.Namespace) -> int:
    with _existing_account(args) as (wf, username):
        password = _ask_password()
        wf.accounts.set_password(username, password)  # PasswordPolicyError: refused, exit 1 (chanquan.failures)
    print(f"账户 {username} 的密码已修改。")
    return 0


def run_show(args: argparse.Namespace) -> int:
    username = normalize_username(args.code)
    display.use_reader_zone(args.data)
    with workflow_for(args) as wf:
        facts = wf.account_facts(username)
        unit = wf.units.get(str(facts["unit"])) if facts is not None else None
    if facts is None:
        raise UnitError(f"账户 {username} 不存在。")
    when = display.when
    print(f"用户名：{username}")
    print(f"单位：{unit.name}（{unit.code}）" if unit is not None else f"单位：{facts['unit']}")
    print(f"创建时间：{when(facts['created_at'])}")
    print(f"须修改密码：{'是' if facts['must_change'] else '否'}")
    print(f"最近修改密码：{when(facts['password_changed_at']) or '—'}")
    print(f"最近锁定：{when(facts['locked_at']) or '—'}（锁定至 {when(facts['locked_until']) or '—'}）")
    return 0
