"""`chanquan send`: file a bundle (or change the password) by authenticated SMTP, like a mail client would."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from chanquan.client import SendError, Server, build_filing_message, build_password_change, send_message
from chanquan.config import ConfigError, load_settings

PASSWORD_ENV = "CHANQUAN_PASSWORD"
NEW_PASSWORD_ENV = "CHANQUAN_NEW_PASSWORD"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "send",
        help="file a workbook and attachments by SMTP (prompts for the password or reads $CHANQUAN_PASSWORD)",
    )
    parser.add_argument("files", nargs="*", type=Path, help="the workbook and its attachments, or one bundle .zip")
    parser.add_argument(
        "--user", default="", help="organization code (user name); without it the mail goes unauthenticated"
    )
    parser.add_argument("--to", default="", help="recipient (default: filing@<mail_domain>); a review+TOKEN@ address")
    parser.add_argument("--subject", default="", help="subject (default: 产权登记申报)")
    parser.add_argument("--body", default="", help="plain-text body, e.g. a reviewer's 通过 / 退回 and opinion")
    parser.add_argument("--from", dest="sender", default="", help="From address (default: <user>@<mail_domain>)")
    parser.add_argument("--host", default="", help="SMTP host (default: the configured listener)")
    parser.add_argument("--port", type=int, default=0, help="SMTP port (default: the configured listener)")
    parser.add_argument("--starttls", action="store_true", help="use STARTTLS")
    parser.add_argument("--insecure", action="store_true", help="with --starttls: do not verify the certificate")
    parser.add_argument(
        "--change-password",
        action="store_true",
        help="send the 修改密码 message instead (new password prompted or from $CHANQUAN_NEW_PASSWORD)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.data)
    except ConfigError as exc:
        print(f"配置文件无法使用：{exc.path}：{exc.problem}", file=sys.stderr)
        return 2
    domain = settings.service.mail_domain
    server = Server(
        host=args.host or settings.intake.smtp_host,
        port=args.port or settings.intake.smtp_port,
        starttls=args.starttls,
        verify_tls=not args.insecure,
    )
    if not args.user and not args.sender:
        print("请用 --user 指定组织机构代码（报送），或用 --from 指定发件地址（审核回复）。", file=sys.stderr)
        return 2
    sender = args.sender or f"{args.user.lower()}@{domain}"
    service_address = args.to or f"filing@{domain}"
    password = None
    if args.user:
        password = os.environ.get(PASSWORD_ENV) or getpass.getpass(f"{args.user} 的密码：")
    if args.change_password:
        new_password = os.environ.get(NEW_PASSWORD_ENV) or _prompt_new_password()
        if new_password is None:
            print("两次输入的新密码不一致。", file=sys.stderr)
            return 2
        message = build_password_change(sender, service_address, new_password)
    else:
        missing = [str(path) for path in args.files if not path.is_file()]
        if (not args.files and not args.body) or missing:
            print(f"找不到要发送的文件：{'、'.join(missing) or '（未指定）'}", file=sys.stderr)
            return 2
        message = build_filing_message(
            sender, service_address, args.files, subject=args.subject or "产权登记申报", body=args.body
        )
    try:
        result = send_message(server, message, user=args.user or None, password=password)
    except SendError as exc:
        print(f"服务器拒绝（{exc.stage}）：{exc.code} {exc.text}", file=sys.stderr)
        return 1
    print(f"已发送：{result.code} {result.text}")
    return 0


def _prompt_new_password() -> str | None:
    first = getpass.getpass("新密码：")
    second = getpass.getpass("再次输入新密码：")
    return first if first == second else None
