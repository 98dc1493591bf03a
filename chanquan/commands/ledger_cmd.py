"""`chanquan ledger`: read, audit, prove, back up and export the event ledger.

These are the commands an auditor runs years later, so every failure names the
first bad seq and what is wrong, in Chinese, and exits non-zero.
"""

from __future__ import annotations

import argparse
import base64
import json
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from chanquan.app import (
    WITNESS_LOG,
    DataDir,
    all_projections,
    fork_notice,
    open_ledger,
    retired_verifiers,
    witness_dir,
)
from chanquan.commands import display
from chanquan.config import Settings, load_settings
from chanquan.failures import fail as _fail
from ledger import (
    BlobStore,
    EventNotFoundError,
    Ledger,
    LedgerRefusedError,
    load_verifier,
    read_only_uri,
    verify_ledger,
)
from ledger.durable import durable_rename, fsync_dir, fsync_file
from ledger.localtime import reader_zone, zone_info
from ledger.proofs import prove

STAGE_TEXT = {"events": "核对事件", "tree": "核对默克尔树", "blobs": "核对文件"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("ledger", help="账本：查看、核验、包含证明、备份、导出、恢复")
    sub = parser.add_subparsers(dest="ledger_command", metavar="ACTION", required=True)

    log_parser = sub.add_parser("log", help="列出事件（从早到晚；时间为北京时间等监管机构时区，--json 为 UTC）")
    log_parser.add_argument("--json", action="store_true", help="每行输出一个 JSON 对象（时间为 UTC）")
    log_parser.add_argument("--kind", help="只列出该类事件，例如 filing.received")
    log_parser.add_argument("--subject", help="只列出关于该申报编号、单位代码、收件编号或邮件的事件")
    log_parser.add_argument("--since", help="只列出该时间及以后的事件（日期或日期时间；不带时区时按 service.timezone）")
    log_parser.set_defaults(handler=run_log)

    show_parser = sub.add_parser("show", help="显示一条事件及其叶哈希")
    show_parser.add_argument("seq", type=int, help="事件序号")
    show_parser.set_defaults(handler=run_show)

    verify_parser = sub.add_parser("verify", help="核验每条事件、默克尔树、已签名检查点和文件")
    verify_parser.add_argument(
        "--checkpoints",
        type=Path,
        action="append",
        default=[],
        help="另存的检查点文件（例如见证副本）；可多次给出",
    )
    verify_parser.add_argument("--pubkey", type=Path, help="验证公钥文件（默认 keys/ledger.pub）")
    verify_parser.add_argument("--skip-blobs", action="store_true", help="不重新计算所引用文件的哈希")
    verify_parser.set_defaults(handler=run_verify)

    proof_parser = sub.add_parser("proof", help="输出一条事件相对于已签名检查点的包含证明（JSON）")
    proof_parser.add_argument("seq", type=int, help="事件序号")
    proof_parser.set_defaults(handler=run_proof)

    backup_parser = sub.add_parser("backup", help="备份账本数据库（SQLite 备份接口，得到一致的副本）")
    backup_parser.add_argument("out", type=Path, help="备份文件，例如 backup.sqlite3")
    backup_parser.set_defaults(handler=run_backup)

    export_parser = sub.add_parser("export", help="把全部事件导出为 JSON Lines 文件")
    export_parser.add_argument("out", type=Path, help="输出文件，例如 events.jsonl")
    export_parser.set_defaults(handler=run_export)

    rebuild_parser = sub.add_parser("rebuild", help="把全部事件重放到新的投影表并与现有表比较")
    rebuild_parser.set_defaults(handler=run_rebuild)

    restore_parser = sub.add_parser(
        "restore",
        help="用备份替换账本数据库（先对照已签名检查点核验）",
    )
    restore_parser.add_argument("backup", type=Path, help="由 chanquan ledger backup 写出的备份数据库")
    restore_parser.set_defaults(handler=run_restore)


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.data)


@contextmanager
def _opened(args: argparse.Namespace, *, read_only: bool = True) -> Iterator[Ledger]:
    """The ledger, read-only unless the command signs: reading works even when writing is refused."""
    with open_ledger(args.data, _settings(args), projections=all_projections(), read_only=read_only) as ledger:
        notice = fork_notice(ledger)
        if notice:
            print(notice, file=sys.stderr)
        yield ledger


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not sys.stderr.isatty(),
    )


def _needs_ledger(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Refuses before the command runs when there is no ledger (its errors: chanquan.failures)."""

    def wrapper(args: argparse.Namespace) -> int:
        if not DataDir(args.data).ledger_db.exists():
            # says "run init" - or, next to signed checkpoints, that the database is gone
            open_ledger(args.data, _settings(args), read_only=True).close()
        return handler(args)

    wrapper.__name__ = handler.__name__
    return wrapper


def _parse_since(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(text), time())
        except ValueError:
            return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone_info(reader_zone()))


def _event_line(event_dict: dict[str, Any]) -> str:
    payload = json.dumps(event_dict["payload"], ensure_ascii=False, sort_keys=True)
    if len(payload) > 160:
        payload = payload[:157] + "..."
    seq, ts, kind = event_dict["seq"], display.when(event_dict["ts"], seconds=True), event_dict["kind"]
    return f"{seq:>8}  {ts}  {kind:<24} {event_dict['actor']:<20} {event_dict['subject']:<20} {payload}"


@_needs_ledger
def run_log(args: argparse.Namespace) -> int:
    display.use_reader_zone(args.data)
    since = None
    if args.since:
        since = _parse_since(args.since)
        if since is None:
            return _fail(f"--since 的时间格式无法识别：{args.since}（例：2026-11-01 或 2026-11-01T08:00:00）")
    with _opened(args) as ledger:
        for event in ledger.events(kind=args.kind, subject=args.subject, since=since):
            data = event.to_json_dict()
            if args.json:
                print(json.dumps(data, ensure_ascii=False, sort_keys=True))
            else:
                print(_event_line(data))
    return 0


@_needs_ledger
def run_show(args: argparse.Namespace) -> int:
    with _opened(args) as ledger:
        try:
            event = ledger.get(args.seq)
        except EventNotFoundError as exc:
            return _fail(f"没有第 {args.seq} 号事件（账本共 {exc.size} 条）")
    print(json.dumps(event.to_json_dict(), ensure_ascii=False, sort_keys=True, indent=2))
    return 0


@_needs_ledger
def run_verify(args: argparse.Namespace) -> int:
    paths = DataDir(args.data)
    pub = args.pubkey if args.pubkey is not None else paths.keys / "ledger.pub"
    verifier = load_verifier(pub) if pub.exists() or args.pubkey is not None else None
    files = []
    if paths.checkpoint_file.exists():
        files.append(paths.checkpoint_file)
    witness_problems = _witness_files(args.data, _settings(args), pub, files)
    for extra in args.checkpoints:
        if not extra.exists():
            return _fail(f"检查点文件不存在：{extra}")
        files.append(extra)
    with _progress() as progress:
        tasks: dict[str, Any] = {}

        def tick(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(STAGE_TEXT.get(stage, stage), total=total)
            progress.update(tasks[stage], completed=done, total=total)

        report = verify_ledger(
            paths.ledger_db,
            verifier=verifier,
            # checkpoints signed before a key rotation; an auditor naming --pubkey trusts that key alone
            retired_verifiers=retired_verifiers(args.data) if args.pubkey is None else (),
            checkpoint_files=files,
            blobs=None if args.skip_blobs else BlobStore(paths.blobs),
            progress=tick,
        )
    if report.ok and not witness_problems:
        print(
            f"账本完整：共 {report.size} 条事件，根哈希 {base64.b64encode(report.root).decode()}，"
            f"核对了 {report.checkpoints_checked} 个已签名检查点和 {report.blobs_checked} 个文件。"
        )
        return 0
    messages = [f"见证副本：{text}" for text in witness_problems]
    first = report.first_problem()
    if first is not None:
        messages.insert(0, first.message)
    print(f"账本核验失败：{messages[0]}", file=sys.stderr)
    for message in messages[1:]:
        print(f"  另：{message}", file=sys.stderr)
    for problem in report.problems:
        if problem is not first:
            print(f"  另：{problem.message}", file=sys.stderr)
    hidden = sum(report.counts.values()) - len(report.problems)
    if hidden > 0:
        print(f"  另有 {hidden} 个同类问题未列出。", file=sys.stderr)
    return 1


def _witness_files(data_dir: Path, settings: Settings, pub: Path, files: list[Path]) -> list[str]:
    """Adds the configured witness copy to `files`; returns what is wrong with it (a verify finding each).

    Every witness line is then verified like the local ones: its signature, and the database's
    root at its size. The witness's copy of the verifier key must be the one verified with.
    """
    witness = witness_dir(data_dir, settings)
    if witness is None:
        return []
    problems = []
    log_file = witness / WITNESS_LOG
    local = DataDir(data_dir).checkpoint_file
    if not witness.is_dir():
        problems.append(f"见证目录不可用：{witness}")
    elif log_file.exists():
        files.append(log_file)
    elif local.exists() and local.stat().st_size > 0:
        problems.append(f"见证副本缺失：{log_file}（本机 checkpoints.log 已有检查点）")
    witness_pub = witness / "ledger.pub"
    if (
        witness_pub.exists()
        and pub.exists()
        and witness_pub.read_text(encoding="utf-8").strip() != pub.read_text(encoding="utf-8").strip()
    ):
        problems.append(f"见证目录中的公钥 {witness_pub} 与核验所用的 {pub} 不同")
    return problems


@_needs_ledger
def run_proof(args: argparse.Namespace) -> int:
    paths = DataDir(args.data)
    pub = paths.keys / "ledger.pub"
    with _opened(args, read_only=False) as ledger:  # may sign a checkpoint covering the event
        try:
            key = pub.read_text(encoding="utf-8").strip() if pub.exists() else None
            proven = prove(ledger, ledger.get(args.seq), verifier_key=key)
        except EventNotFoundError as exc:
            return _fail(f"没有第 {args.seq} 号事件（账本共 {exc.size} 条）")
        if proven is None:
            return _fail(f"没有签名密钥，无法给出已签名检查点：{paths.keys / 'ledger.key'}（请先运行 chanquan init）")
    document = proven.to_json()
    print(json.dumps(document, ensure_ascii=False, indent=2))
    return 0


@_needs_ledger
def run_backup(args: argparse.Namespace) -> int:
    if args.out.exists():
        return _fail(f"目标文件已存在，不会覆盖：{args.out}")
    with _opened(args) as ledger, _progress() as progress:
        task = progress.add_task("备份账本", total=None)
        ledger.backup(args.out, progress=lambda done, total: progress.update(task, completed=done, total=total))
        size = ledger.size()
    print(f"已备份 {size} 条事件到 {args.out}（请同时保存 checkpoints.log 和 keys/ledger.pub）")
    return 0


@_needs_ledger
def run_export(args: argparse.Namespace) -> int:
    with _opened(args) as ledger, _progress() as progress:
        total = ledger.size()
        task = progress.add_task("导出事件", total=total)
        count = 0
        tmp = args.out.with_name(args.out.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as out:
            for event in ledger.events(until_seq=total):
                out.write(json.dumps(event.to_json_dict(), ensure_ascii=False, sort_keys=True) + "\n")
                count += 1
                if count % 1000 == 0:
                    progress.update(task, completed=count)
        fsync_file(tmp)
        durable_rename(tmp, args.out)
    print(f"已导出 {count} 条事件到 {args.out}")
    return 0


@_needs_ledger
def run_rebuild(args: argparse.Namespace) -> int:
    with _opened(args) as ledger:
        if not ledger.projections:
            print("没有登记的投影表，无需重建。")
            return 0
        with _progress() as progress:
            progress.add_task("按事件重建投影表", total=None)
            rebuilt = ledger.rebuild_projections()
            try:
                differences = ledger.compare_projections(rebuilt)
            finally:
                rebuilt.unlink(missing_ok=True)
    if not differences:
        names = "、".join(p.name for p in ledger.projections)
        print(f"投影表与重放结果一致：{names}")
        return 0
    for difference in differences:
        print(
            f"投影表不一致：{difference.projection}.{difference.table}："
            f"{difference.only_live} 行只在现有表中，{difference.only_rebuilt} 行只在重建结果中",
            file=sys.stderr,
        )
        for example in difference.examples:
            print(f"  {example}", file=sys.stderr)
    return 1


def run_restore(args: argparse.Namespace) -> int:
    """Replace the database by a backup that extends every signed checkpoint; the old file is kept, renamed."""
    paths = DataDir(args.data)
    settings = _settings(args)
    backup: Path = args.backup
    if not backup.is_file():
        return _fail(f"备份文件不存在：{backup}")
    if paths.ledger_db.exists() and _extends_its_checkpoints(args.data, settings):
        # never replace a sound ledger on a guess: the events after the backup would be dropped
        return _fail(
            f"当前账本 {paths.ledger_db} 与已签名的检查点一致，不需要恢复。如确需换用备份，"
            "请先停止 chanquan serve，把该文件移到别处，再运行本命令。",
            1,
        )
    witness = witness_dir(args.data, settings)
    pub = paths.keys / "ledger.pub"
    verifier = load_verifier(pub) if pub.exists() else None
    retired = retired_verifiers(args.data)
    candidate = Ledger.open(
        backup,
        checkpoint_file=paths.checkpoint_file,
        witness_file=witness / WITNESS_LOG if witness is not None else None,
        verifier=verifier,
        retired_verifiers=retired,
        blobs_dir=paths.blobs,
        read_only=True,
    )
    with candidate:
        if candidate.fork is not None:
            return _fail(f"该备份不能用来恢复：{candidate.fork.message_zh}", 1)
        files = [f for f in (paths.checkpoint_file, candidate.witness_file) if f is not None and f.exists()]
        report = verify_ledger(backup, verifier=verifier, retired_verifiers=retired, checkpoint_files=files)
    if not report.ok:
        first = report.first_problem()
        assert first is not None
        return _fail(f"该备份不能用来恢复：核验失败：{first.message}", 1)
    db = paths.ledger_db
    if Path(f"{db}-wal").exists():
        # merge what a crashed process left in the -wal (readers then see nothing new); if the file is
        # still there afterwards, another process has the database open
        conn = sqlite3.connect(db, isolation_level=None)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        if Path(f"{db}-wal").exists():
            return _fail(f"账本数据库正被其他进程使用：{db}（请先停止 chanquan serve 等进程）", 1)
    staging = db.with_name(db.name + ".restoring")
    staging.unlink(missing_ok=True)
    source, target = sqlite3.connect(read_only_uri(backup), uri=True), sqlite3.connect(staging)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    fsync_file(staging)
    kept = None
    if db.exists():
        kept = db.with_name(f"{db.name}.replaced-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}")
        db.rename(kept)
    staging.replace(db)
    fsync_dir(db.parent)
    with open_ledger(args.data, settings, projections=all_projections()) as restored:  # rebuilds projections
        size = restored.size()
    print(f"已用备份 {backup} 恢复账本：共 {size} 条事件，与 checkpoints.log{'和见证副本' if witness else ''}一致。")
    if kept is not None:
        print(f"原数据库已改名保留：{kept}（其中备份之后写入的事件未恢复，请据此调查和补录）。")
    print("请运行 chanquan ledger verify 确认。")
    return 0


def _extends_its_checkpoints(data_dir: Path, settings: Settings) -> bool:
    try:
        with open_ledger(data_dir, settings, read_only=True) as current:
            return current.fork is None
    except (LedgerRefusedError, sqlite3.DatabaseError):
        return False  # missing, empty or unreadable: a backup is what it needs
