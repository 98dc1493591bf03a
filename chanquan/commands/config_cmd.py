"""`chanquan config`: show the effective settings or print the generated reference."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from chanquan.config import load_settings, render_default_toml, render_markdown_reference


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("config", help="查看设置：当前生效值、默认配置文件或设置说明")
    parser.add_argument(
        "what",
        choices=["show", "defaults", "docs"],
        help="show：当前生效的设置（JSON）；defaults：完整的默认 chanquan.toml；docs：设置说明（Markdown）",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.what == "defaults":
        sys.stdout.write(render_default_toml())
        return 0
    if args.what == "docs":
        sys.stdout.write(render_markdown_reference())
        return 0
    settings = load_settings(args.data)
    print(json.dumps(settings.model_dump(), ensure_ascii=False, indent=2))
    return 0
