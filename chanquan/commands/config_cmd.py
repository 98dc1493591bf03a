"""`chanquan config`: show the effective settings or print the generated reference."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from chanquan.config import ConfigError, load_settings, render_default_toml, render_markdown_reference


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("config", help="show settings (effective, defaults, or the reference)")
    parser.add_argument(
        "what",
        choices=["show", "defaults", "docs"],
        help="show: effective settings as JSON; defaults: a full chanquan.toml; docs: Markdown reference",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.what == "defaults":
        sys.stdout.write(render_default_toml())
        return 0
    if args.what == "docs":
        sys.stdout.write(render_markdown_reference())
        return 0
    try:
        settings = load_settings(args.data)
    except ConfigError as exc:
        print(f"配置文件无法使用：{exc.path}：{exc.problem}", file=sys.stderr)
        return 2
    print(json.dumps(settings.model_dump(), ensure_ascii=False, indent=2))
    return 0
