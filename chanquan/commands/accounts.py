"""`chanquan accounts`: reset an account to the initial rule, set a password, show its public facts."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chanquan.commands.units import guarded, workflow_for
from workflow import PasswordPolicyError, UnitError, Workflow
from workflow.accounts import normalize_username

PASSWORD_ENV = "CHANQUAN_PASSWORD"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("accounts", help="unit accounts: reset, set password, show")
    sub = parser.add_subparsers(dest="accounts_command", metavar="ACTION", required=True)
    p = sub.add_parser("reset", help="back to the initial rule: password = user name, must change at next login")
    p.add_argument("code")
    p.set_defaults(handler=run_reset)
    p = sub.add_parser("passwd", help=f"set a password (asked twice, or taken from ${PASSWORD_ENV})")
    p.add_argument("code")
    p.set_defaults(handler=run_passwd)
    p = sub.add_parser("show", help="public facts of an account (never the password)")
    p.add_argument("code")
    p.set_defaults(handler=run_show)


@contextmanager
def _existing_account(args: argparse.Namespace) -> Iterator[tuple[Workflow, str]]:
    """The workflow and the normalized user name; an unknown account is refused (by `guarded`) before any change."""
    username = normalize_username(args.code)
    with workflow_for(args) as wf:
        if wf.units.by_username(username) is None:
            raise UnitError(f"账户 {username} 不存在。")
        yield wf, username


@guarded
def run_reset(args: argparse.Namespace) -> int:
    with _existing_account(args) as (wf, username):
        wf.accounts.reset(username)
    print(f"账户 {username} 已重置：初始密码与用户名相同，下次登录须修改密码。")
    return 0


def _ask_password() -> str | None:
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env is not None:
        return from_env
    first = getpass.getpass("新密码：")
    second = getpass.getpass("再次输入新密码：")
    if first != second:
        print("两次输入的密码不一致，未修改。", file=sys.stderr)
        return None
    return first


@guarded
def run_passwd(args: argparse.Namespace) -> int:
    with _existing_account(args) as (wf, username):
        password = _ask_password()
        if password is None:
            return 1
        try:
            wf.accounts.set_password(username, password)
        except PasswordPolicyError as exc:
            print(f"密码未修改：{exc.reason_zh}", file=sys.stderr)
            return 1
    print(f"账户 {username} 的密码已修改。")
    return 0


@guarded
def run_show(args: argparse.Namespace) -> int:
    username = normalize_username(args.code)
    with workflow_for(args) as wf:
        facts = wf.account_facts(username)
    if facts is None:
        print(f"账户 {username} 不存在。", file=sys.stderr)
        return 1
    print(f"用户名：{username}")
    print(f"单位：{facts['unit']}")
    print(f"创建时间：{facts['created_at']}")
    print(f"须修改密码：{'是' if facts['must_change'] else '否'}")
    print(f"最近修改密码：{facts['password_changed_at'] or '—'}")
    print(f"最近锁定：{facts['locked_at'] or '—'}（锁定至 {facts['locked_until'] or '—'}）")
    return 0
