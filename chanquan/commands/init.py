"""`chanquan init`: create a data directory with its configuration and keys.

Initialisation is an explicit ordered list of small steps (`INIT_STEPS`) so later
layers append their own (review-token key, PDF signing identity) without
touching the others. Every step is idempotent and never overwrites a key: a new
ledger key would orphan every checkpoint already copied to a witness.

A new data directory gets a witness copy of its checkpoints by default, in a
folder beside it (`<data>-witness`, or `--witness DIR`): a stand-in for a second
machine until the operator points ledger.witness_dir at one (docs/ledger.md).
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chanquan.app import (
    RETIRED_KEYS,
    WITNESS_LOG,
    DataDir,
    all_projections,
    init_review_token_key,
    init_signing_identity,
    open_ledger,
    witness_dir,
)
from chanquan.config import CONFIG_FILE_NAME, Settings, load_settings, render_default_toml
from chanquan.failures import EXIT_REFUSED, fail, failure_for
from ledger import KeyFileError, NoteVerifier, generate_key_files
from ledger.durable import atomic_write_bytes, write_new

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
    chosen = {"ledger.witness_dir": settings.ledger.witness_dir} if settings.ledger.witness_dir else {}
    path.write_text(render_default_toml(chosen), encoding="utf-8")
    return f"已写入配置文件（含全部设置及说明）：{path}"


def step_ledger_keys(data_dir: Path, settings: Settings) -> str:
    keys = DataDir(data_dir).keys
    private_path, public_path = keys / "ledger.key", keys / "ledger.pub"
    created = generate_key_files(private_path, public_path, settings.service.ledger_origin)
    if created:
        return f"已生成账本签名密钥：{private_path}（权限 0600），公钥：{public_path}"
    return f"账本签名密钥已存在，未改动：{private_path}"


def step_witness(data_dir: Path, settings: Settings) -> str:
    """The witness folder with a copy of the verifier key, and the checkpoints signed so far.

    A different key already there is refused (that witness belongs to another ledger), unless it
    is one this ledger retired (keys/retired/): after a key rotation the witness gets the new key
    and keeps the old one in its own retired/ folder.
    """
    folder = witness_dir(data_dir, settings)
    if folder is None:
        return "未配置见证副本（[ledger] witness_dir 为空）：请定期把 checkpoints.log 复制到另一台机器。"
    folder.mkdir(parents=True, exist_ok=True)
    keys = DataDir(data_dir).keys
    pub, witness_pub = keys / "ledger.pub", folder / "ledger.pub"
    ours = pub.read_text(encoding="utf-8")
    if not witness_pub.exists():
        write_new(witness_pub, ours.encode("utf-8"), mode=0o644)
    elif (theirs := witness_pub.read_text(encoding="utf-8")).strip() != ours.strip():
        retired = {p.read_text(encoding="utf-8").strip() for p in (keys / RETIRED_KEYS).glob("*.pub")}
        if theirs.strip() not in retired:
            raise KeyFileError(str(witness_pub), f"见证目录中已有另一个账本的公钥，与 {pub} 不同；请另选见证目录")
        old_id = NoteVerifier.from_string(theirs).key_id.hex()
        (folder / RETIRED_KEYS).mkdir(exist_ok=True)
        with contextlib.suppress(FileExistsError):  # kept from an earlier rotation: the same key, by its id
            write_new(folder / RETIRED_KEYS / f"ledger-{old_id}.pub", theirs.encode("utf-8"), mode=0o644)
        atomic_write_bytes(witness_pub, ours.encode("utf-8"))
    local, copy = DataDir(data_dir).checkpoint_file, folder / WITNESS_LOG
    if not copy.exists() and local.exists() and local.stat().st_size > 0:
        write_new(copy, local.read_bytes(), mode=0o644)  # enrolment: the witness starts from what is signed so far
        return f"见证副本：{folder}（已复制公钥和现有的 {local.name}；此后每个新检查点都会追加到这里）"
    return f"见证副本：{folder}（每个新检查点都会追加到这里；请把它放到另一台机器上，见 docs/ledger.md）"


def step_ledger_db(data_dir: Path, settings: Settings) -> str:
    existed = DataDir(data_dir).ledger_db.exists()
    # with every projection, so tables a new version changed are rebuilt here (read-only commands cannot)
    with open_ledger(data_dir, settings, all_projections()) as ledger:
        size = ledger.size()
    if existed:
        return f"账本已存在，共 {size} 条事件"
    return f"已创建账本：{DataDir(data_dir).ledger_db}"


INIT_STEPS: list[InitStep] = [
    step_data_dir,
    step_config_file,
    step_ledger_keys,
    step_witness,
    step_ledger_db,
    init_review_token_key,
    init_signing_identity,
]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "init",
        help="创建数据目录、chanquan.toml 和各类密钥（可重复运行，不会覆盖已有文件）",
    )
    parser.add_argument("--data", dest="init_data", type=Path, default=None, help="数据目录（优先于全局的 --data）")
    witness = parser.add_mutually_exclusive_group()
    witness.add_argument(
        "--witness",
        type=Path,
        default=None,
        help="检查点见证副本所在的文件夹，须在数据目录之外（默认：<数据目录>-witness）",
    )
    witness.add_argument("--no-witness", action="store_true", help="不设置见证副本")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    data_dir: Path = args.init_data if args.init_data is not None else args.data
    settings = load_settings(data_dir)  # ConfigError: exit 2 (chanquan.failures)
    if (data_dir / CONFIG_FILE_NAME).exists():
        if args.witness is not None or args.no_witness:
            return fail(
                f"配置文件已存在，不会改动：{data_dir / CONFIG_FILE_NAME}。"
                "请在其中的 [ledger] witness_dir 设置见证目录后再运行 chanquan init。"
            )
    elif not args.no_witness:
        chosen = args.witness.absolute() if args.witness is not None else DataDir(data_dir).default_witness_dir
        settings.ledger.witness_dir = str(chosen)
    for step in INIT_STEPS:
        try:
            print(step(data_dir, settings))
        except Exception as exc:
            failure = failure_for(exc, data_dir)
            if failure is None:
                raise
            # a step that failed is exit status 1 whatever the error (the steps before it stand)
            return fail(f"初始化失败（{step.__name__}）：{failure.message}", EXIT_REFUSED)
    folder = witness_dir(data_dir, settings)
    if folder is not None:
        print(f"初始化完成。已签名的检查点会同时追加到见证目录 {folder}；请把它放到另一台机器上（见 docs/ledger.md）。")
    else:
        print("初始化完成。请把 keys/ledger.pub 和 checkpoints.log 定期复制到另一台机器（见 docs/ledger.md）。")
    return 0
