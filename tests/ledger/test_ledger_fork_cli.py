"""A data directory whose database no longer extends its signed checkpoints, driven through the CLI.

Each broken state (rolled back, truncated to 0 bytes, deleted, a checkpoint line edited) is refused
by a writing command and by `serve`, with nothing appended anywhere; the commands that only look
still work and leave every file byte for byte as it was; `ledger restore` is the way back.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from ledger_support import Counter, make_keys

from chanquan.app import open_ledger
from chanquan.cli import main
from ledger import open_note
from ledger.note import Checkpoint, load_signer, load_verifier

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "chanquan.example/ledger"
UNIT_CODES = ("202600012", "202600020")


def run(capsys: pytest.CaptureFixture[str], data: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--data", str(data), *args])
    out, err = capsys.readouterr()
    return code, out, err


def snapshot(*folders: Path) -> dict[str, str]:
    """Every file under the folders, by content: a command that only looks must leave this unchanged."""
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for folder in folders
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def fill(data: Path, count: int) -> None:
    with open_ledger(data) as ledger:
        for i in range(count):
            ledger.append(Counter(n=i), "SASAC0001", f"CQ-{i % 3}")


@pytest.fixture
def data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    folder = tmp_path / "data"
    assert run(capsys, folder, "init")[0] == 0
    code, _, err = run(capsys, folder, "units", "add", UNIT_CODES[0], "--name", "重庆渝发集团有限公司")
    assert code == 0, err
    fill(folder, 10)
    return folder


def witness(data: Path) -> Path:
    return data.parent / "data-witness"


def newest(data: Path) -> Checkpoint:
    """The newest line of the data directory's checkpoints.log, checked with its key."""
    record = json.loads((data / "checkpoints.log").read_text(encoding="utf-8").splitlines()[-1])
    return open_note(record["note"], load_verifier(data / "keys" / "ledger.pub"))


def roll_back(data: Path) -> None:
    """Copy the database aside, write more, put the old copy back (as restoring an old backup would)."""
    old = data.parent / "old.sqlite3"
    shutil.copy(data / "ledger.sqlite3", old)
    fill(data, 5)
    shutil.copy(old, data / "ledger.sqlite3")


def truncate(data: Path) -> None:
    (data / "ledger.sqlite3").write_bytes(b"")


def delete(data: Path) -> None:
    (data / "ledger.sqlite3").unlink()


def foreign_key(data: Path) -> None:
    """A last line for the same size signed by someone else's key."""
    stranger = load_signer(make_keys(data.parent / "stranger")[0], ORIGIN)
    size = newest(data).size
    note = stranger.sign(Checkpoint(ORIGIN, size, hashlib.sha256(b"other").digest()).text())
    with (data / "checkpoints.log").open("a", encoding="utf-8") as out:
        out.write(json.dumps({"size": size, "ts": "2026-01-01T00:00:00.000000Z", "note": note}) + "\n")


def bytes_changed(data: Path) -> None:
    """One character of the newest root changed: its signature no longer holds."""
    path = data / "checkpoints.log"
    lines = path.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[-1])
    root_line = record["note"].split("\n")[2]
    flipped = ("B" if root_line[0] != "B" else "C") + root_line[1:]
    record["note"] = record["note"].replace(root_line, flipped)
    path.write_text("\n".join([*lines[:-1], json.dumps(record)]) + "\n", encoding="utf-8")


BREAKS: dict[str, tuple[Callable[[Path], None], str]] = {
    "rollback": (roll_back, "数据库比已签名的检查点旧"),
    "truncated": (truncate, "数据库缺失或为空"),
    "deleted": (delete, "数据库缺失或为空"),
    "foreign-key": (foreign_key, "无法用 keys/ledger.pub 核验"),
    "bytes-changed": (bytes_changed, "无法用 keys/ledger.pub 核验"),
}


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_writing_commands_and_serve_refuse_and_append_nothing(
    name: str, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    breaker, reason = BREAKS[name]
    breaker(data)
    before = snapshot(data, witness(data))
    log_bytes = (data / "checkpoints.log").read_bytes()
    code, _, err = run(capsys, data, "units", "add", UNIT_CODES[1], "--name", "重庆渝发建设工程有限公司")
    assert code == 2 and "拒绝写入" in err and reason in err and "Traceback" not in err
    assert "chanquan ledger" in err  # the way back is named
    code, _, err = run(capsys, data, "init")
    assert code == 1 and reason in err  # init never re-creates or re-signs either
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    served = subprocess.run(
        [
            sys.executable,
            "-m",
            "chanquan",
            "--data",
            str(data),
            "serve",
            "--smtp-port",
            "0",
            "--web-port",
            "0",
            "--no-outbox",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert served.returncode == 2 and reason in served.stderr and "serve.refused" in served.stderr
    assert "Traceback" not in served.stderr
    assert (data / "checkpoints.log").read_bytes() == log_bytes
    assert snapshot(data, witness(data)) == before
    assert (data / "ledger.sqlite3").exists() == (name != "deleted")


def test_the_message_names_both_sizes_and_roots(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with open_ledger(data, read_only=True) as ledger:
        old_size = ledger.size()
    roll_back(data)
    with open_ledger(data, read_only=True) as ledger:
        db_size, db_root = ledger.size(), ledger.root()
    signed = newest(data)
    code, _, err = run(capsys, data, "units", "add", UNIT_CODES[1], "--name", "子企业")
    assert code == 2
    assert db_size == old_size and signed.size == old_size + 5
    assert f"共 {db_size} 条事件，根哈希 {base64.b64encode(db_root).decode()}" in err
    assert f"签名了 {signed.size} 条事件，根哈希 {base64.b64encode(signed.root).decode()}" in err


LOOKING: tuple[tuple[str, ...], ...] = (
    ("print", "--list"),
    ("filings", "list"),
    ("units", "tree"),
    ("units", "show", UNIT_CODES[0]),
    ("ledger", "log"),
    ("status",),
    ("status", "--json"),
)


def test_commands_that_only_look_never_write(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(data, witness(data))
    for command in LOOKING:
        code, _out, err = run(capsys, data, *command)
        assert code == 0, (command, err)
        assert snapshot(data, witness(data)) == before, command
    assert "重庆渝发集团有限公司" in run(capsys, data, "units", "tree")[1]
    # on a rolled-back ledger they still show what there is, with a warning, and still write nothing
    roll_back(data)
    before = snapshot(data, witness(data))
    for command in LOOKING:
        code, _out, err = run(capsys, data, *command)
        assert code == 0 and "只读" in err and "数据库比已签名的检查点旧" in err, (command, err)
        assert snapshot(data, witness(data)) == before, command


def test_looking_creates_neither_accounts_nor_a_missing_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    assert run(capsys, data, "init")[0] == 0
    before = snapshot(data, witness(data))
    for command in LOOKING:
        code, _, err = run(capsys, data, *command)
        assert code == (1 if command[:2] == ("units", "show") else 0), (command, err)  # no such unit yet
    assert snapshot(data, witness(data)) == before
    assert not (data / "accounts.sqlite3").exists()
    nowhere = tmp_path / "nowhere"
    for command in LOOKING:
        code, _, err = run(capsys, nowhere, *command)
        assert code == 2 and "账本不存在" in err, (command, err)
    assert not nowhere.exists()
    fill(data, 3)  # signed checkpoints now exist, and then the database goes
    delete(data)
    for command in (*LOOKING, ("outbox", "list"), ("print", "--unit", UNIT_CODES[0], "--period", "2025-01-01")):
        code, _, err = run(capsys, data, *command)
        assert code == 2 and "数据库缺失或为空" in err and "chanquan init" not in err, (command, err)
    assert not (data / "ledger.sqlite3").exists()


def test_init_sets_up_the_witness_and_verify_checks_it(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = witness(data)
    assert f'witness_dir = "{folder}"' in (data / "chanquan.toml").read_text(encoding="utf-8")
    assert (folder / "ledger.pub").read_bytes() == (data / "keys" / "ledger.pub").read_bytes()
    assert (folder / "checkpoints.log").read_bytes() == (data / "checkpoints.log").read_bytes()
    code, out, _ = run(capsys, data, "ledger", "verify")
    assert code == 0 and "账本完整" in out
    # a witness line for a root the database does not have
    owner = load_signer(data / "keys" / "ledger.key", ORIGIN)
    size = newest(data).size
    note = owner.sign(Checkpoint(ORIGIN, size, hashlib.sha256(b"x").digest()).text())
    good = (folder / "checkpoints.log").read_bytes()
    with (folder / "checkpoints.log").open("a", encoding="utf-8") as out_file:
        out_file.write(json.dumps({"size": size, "ts": "t", "note": note}) + "\n")
    code, _, err = run(capsys, data, "ledger", "verify")
    assert code == 1 and "根哈希与已签名检查点不符" in err and str(folder / "checkpoints.log") in err
    (folder / "checkpoints.log").write_bytes(good)
    shutil.copy(make_keys(data.parent / "stranger")[1], folder / "ledger.pub")
    code, _, err = run(capsys, data, "ledger", "verify")
    assert code == 1 and "见证目录中的公钥" in err
    shutil.rmtree(folder)
    code, _, err = run(capsys, data, "ledger", "verify")
    assert code == 1 and "见证目录不可用" in err
    code, _, err = run(capsys, data, "units", "add", UNIT_CODES[1], "--name", "子企业")
    assert code == 2 and "见证目录不可用" in err


def test_init_without_a_witness(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "plain"
    code, out, _ = run(capsys, data, "init", "--no-witness")
    assert code == 0 and "未配置见证副本" in out
    assert 'witness_dir = ""' in (data / "chanquan.toml").read_text(encoding="utf-8")
    assert not (tmp_path / "plain-witness").exists()
    chosen = tmp_path / "elsewhere" / "witness"
    code, _, err = run(capsys, data, "init", "--witness", str(chosen))
    assert code == 2 and "witness_dir" in err  # an existing configuration is never rewritten
    other = tmp_path / "other"
    assert run(capsys, other, "init", "--witness", str(chosen))[0] == 0
    assert (chosen / "ledger.pub").exists()
    # a witness folder that belongs to another ledger is refused
    code, _, err = run(capsys, tmp_path / "third", "init", "--witness", str(chosen))
    assert code == 1 and "另一个账本的公钥" in err


def test_restore_puts_a_covering_backup_back(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    early, late = tmp_path / "early.sqlite3", tmp_path / "late.sqlite3"
    assert run(capsys, data, "ledger", "backup", str(early))[0] == 0
    fill(data, 5)
    assert run(capsys, data, "ledger", "backup", str(late))[0] == 0
    sound = (data / "ledger.sqlite3").read_bytes()
    code, _, err = run(capsys, data, "ledger", "restore", str(late))
    assert code == 1 and "不需要恢复" in err  # a sound ledger is never replaced on a guess
    assert (data / "ledger.sqlite3").read_bytes() == sound
    shutil.copy(early, data / "ledger.sqlite3")  # older than what checkpoints.log and the witness hold
    log_bytes = (data / "checkpoints.log").read_bytes()
    code, _, err = run(capsys, data, "ledger", "restore", str(early))
    assert code == 1 and "该备份不能用来恢复" in err and "数据库比已签名的检查点旧" in err
    assert (data / "checkpoints.log").read_bytes() == log_bytes
    forked = (data / "ledger.sqlite3").read_bytes()
    code, out, err = run(capsys, data, "ledger", "restore", str(late))
    assert code == 0, err
    assert "已用备份" in out and "原数据库已改名保留" in out
    kept = [p for p in data.iterdir() if p.name.startswith("ledger.sqlite3.replaced-")]
    assert len(kept) == 1 and kept[0].read_bytes() == forked
    code, _, err = run(capsys, data, "units", "add", UNIT_CODES[1], "--name", "子企业")
    assert code == 0, err
    code, out, _ = run(capsys, data, "ledger", "verify")
    assert code == 0 and "账本完整" in out


def test_a_deleted_database_is_restored_from_a_backup(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backup = tmp_path / "backup.sqlite3"
    assert run(capsys, data, "ledger", "backup", str(backup))[0] == 0
    delete(data)
    code, _, err = run(capsys, data, "ledger", "verify")
    assert code == 2 and "数据库缺失或为空" in err
    code, out, err = run(capsys, data, "ledger", "restore", str(backup))
    assert code == 0 and "原数据库" not in out, err
    assert run(capsys, data, "ledger", "verify")[0] == 0


def test_a_rotated_key_keeps_the_ledger_writable_and_verifiable(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """README's rotation: the old key pair moves to keys/retired/, `init` makes a new one."""
    keys = data / "keys"
    (keys / "retired").mkdir()
    old_pub = (keys / "ledger.pub").read_text(encoding="utf-8")
    for name in ("ledger.key", "ledger.pub"):
        (keys / name).rename(keys / "retired" / name)
    code, out, err = run(capsys, data, "init")
    assert code == 0, err
    assert (keys / "ledger.pub").read_text(encoding="utf-8") != old_pub
    folder = witness(data)
    assert (folder / "ledger.pub").read_bytes() == (keys / "ledger.pub").read_bytes()
    assert [p.read_text(encoding="utf-8") for p in (folder / "retired").iterdir()] == [old_pub]
    # the newest line still carries the old key: not a fork
    code, _, err = run(capsys, data, "units", "add", UNIT_CODES[1], "--name", "子企业")
    assert code == 0, err
    code, out, err = run(capsys, data, "ledger", "verify")
    assert code == 0 and "账本完整" in out, err
    assert newest(data).size > 0  # signed with the new key from now on
