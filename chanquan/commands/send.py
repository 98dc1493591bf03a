"""`chanquan send`: file a bundle (or change the password) by authenticated SMTP, like a mail client would."""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path
from typing import Any

from chanquan.client import Server, build_filing_message, build_password_change, send_message
from chanquan.config import load_settings
from chanquan.failures import fail

PASSWORD_ENV = "CHANQUAN_PASSWORD"
NEW_PASSWORD_ENV = "CHANQUAN_NEW_PASSWORD"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "send",
        help="通过 SMTP 报送工作簿和附件，或发送审核答复（密码现场输入或取自 $CHANQUAN_PASSWORD）",
    )
    parser.add_argument(
        "files", nargs="*", type=Path, help="登记工作簿及其附件，或一个报送包 .zip（发送审核答复时省略）"
    )
    parser.add_argument("--user", default="", help="组织机构代码（用户名）；省略则不登录发送（如审核答复）")
    parser.add_argument(
        "--to", default="", help="收件地址（默认 filing@<mail_domain>）；审核答复时为 review+TOKEN@ 地址"
    )
    parser.add_argument("--subject", default="", help="邮件主题（默认：产权登记申报）")
    parser.add_argument("--body", default="", help="纯文本正文，例如审核人的 通过 / 退回 及意见")
    parser.add_argument("--from", dest="sender", default="", help="发件地址（默认 <用户名>@<mail_domain>）")
    parser.add_argument("--host", default="", help="SMTP 服务器地址（默认为配置的收件服务）")
    parser.add_argument("--port", type=int, default=0, help="SMTP 端口（默认为配置的收件服务端口）")
    parser.add_argument("--starttls", action="store_true", help="使用 STARTTLS 加密")
    parser.add_argument("--insecure", action="store_true", help="与 --starttls 一起使用：不验证服务器证书")
    parser.add_argument(
        "--change-password",
        action="store_true",
        help="改为发送“修改密码”邮件（新密码现场输入或取自 $CHANQUAN_NEW_PASSWORD）",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.data)
    domain = settings.service.mail_domain
    server = Server(
        host=args.host or settings.intake.smtp_host,
        port=args.port or settings.intake.smtp_port,
        starttls=args.starttls,
        verify_tls=not args.insecure,
    )
    if not args.user and not args.sender:
        return fail("请用 --user 指定组织机构代码（报送），或用 --from 指定发件地址（审核回复）。")
    sender = args.sender or f"{args.user.lower()}@{domain}"
    service_address = args.to or f"filing@{domain}"
    password = None
    if args.user:
        password = os.environ.get(PASSWORD_ENV) or getpass.getpass(f"{args.user} 的密码：")
    if args.change_password:
        new_password = os.environ.get(NEW_PASSWORD_ENV) or _prompt_new_password()
        if new_password is None:
            return fail("两次输入的新密码不一致。")
        message = build_password_change(sender, service_address, new_password)
    else:
        missing = [str(path) for path in args.files if not path.is_file()]
        if (not args.files and not args.body) or missing:
            return fail(f"找不到要发送的文件：{'、'.join(missing) or '（未指定）'}")
        message = build_filing_message(
            sender, service_address, args.files, subject=args.subject or "产权登记申报", body=args.body
        )
    result = send_message(server, message, user=args.user or None, password=password)  # SendError: exit 1
    print(f"已发送：{result.code} {result.text}")
    return 0


def _prompt_new_password() -> str | None:
    first = getpass.getpass("新密码：")
    second = getpass.getpass("再次输入新密码：")
    return first if first == second else None
