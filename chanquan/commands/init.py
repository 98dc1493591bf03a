"""`chanquan init`: create a data directory with its configuration and keys.

Initialisation is an explicit ordered list of small steps (`INIT_STEPS`) so later
layers append their own (review-token key, PDF signing identity) without
touching the others. Every step is idempotent and never overwrites a key: a new
ledger key would orphan every checkpoint already copied to a witness.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chanquan.app import DataDir, init_review_token_key, init_signing_identity, open_ledger
from chanquan.config import CONFIG_FILE_NAME, ConfigError, Settings, load_settings, render_default_toml
from ledger import KeyFileError, generate_key_files

InitStep = Callable[[Path, Settings], str]


def step_data_dir(data_dir: Path, settings: Settings) -> str:
    paths = DataDir(data_dir)
    existed = data_dir.is_dir()
    for folder in (paths.root, paths.keys, paths.blobs):
        folder.mkdir(parents=True, exist_ok=True)
    paths.keys.chmod(0o700)
    return f"数据目录{'已存在' if existed else '已创建'}：{data_dir}"


def step_config_file(data_dir: Path, settings: Settings) -> str:
    path = data_dir / CONFIG_FILE_NAME
    if path.exists():
        return f"配置文件已存在，未改动：{path}"
    path.write_text(render_default_toml(), encoding="utf-8")
    return f"已写入配置文件（含全部设置及说明）：{path}"


def step_ledger_keys(data_dir: Path, settings: Settings) -> str:
    keys = DataDir(data_dir).keys
    private_path, public_path = keys / "ledger.key", keys / "ledger.pub"
    created = generate_key_files(private_path, public_path, settings.service.ledger_origin)
    if created:
        return f"已生成账本签名密钥：{private_path}（权限 0600），公钥：{public_path}"
    return f"账本签名密钥已存在，未改动：{private_path}"


def step_ledger_db(data_dir: Path, settings: Settings) -> str:
    existed = DataDir(data_dir).ledger_db.exists()
    with open_ledger(data_dir, settings) as ledger:
        size = ledger.size()
    if existed:
        return f"账本已存在，共 {size} 条事件"
    return f"已创建账本：{DataDir(data_dir).ledger_db}"


INIT_STEPS: list[InitStep] = [
    step_data_dir,
    step_config_file,
    step_ledger_keys,
    step_ledger_db,
    init_review_token_key,
    init_signing_identity,
]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "init",
        help="create the data directory, chanquan.toml and the keys (safe to run again)",
    )
    parser.add_argument(
        "--data", dest="init_data", type=Path, default=None, help="data directory (overrides the global --data)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    data_dir: Path = args.init_data if args.init_data is not None else args.data
    try:
        settings = load_settings(data_dir)
    except ConfigError as exc:
        print(f"配置文件无法使用：{exc.path}：{exc.problem}", file=sys.stderr)
        return 2
    for step in INIT_STEPS:
        try:
            print(step(data_dir, settings))
        except OSError as exc:
            print(f"初始化失败（{step.__name__}）：{exc.filename or data_dir}：{exc.strerror or exc}", file=sys.stderr)
            return 1
        except KeyFileError as exc:
            print(f"初始化失败（{step.__name__}）：密钥 {exc.path} 无法使用：{exc.problem}", file=sys.stderr)
            return 1
    print("初始化完成。请把 keys/ledger.pub 和 checkpoints.log 定期复制到另一台机器（见 docs/ledger.md）。")
    return 0
