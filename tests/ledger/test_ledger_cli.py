"""`chanquan init` and `chanquan ledger ...` on a real data directory, including tampering."""

from __future__ import annotations

import json
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ledger_support import Counter, FileStored, UnitAdded, UnitsProjection, drop_guards, raw_connection

from chanquan.app import open_ledger
from chanquan.cli import main
from ledger import Ledger

ROOT = Path(__file__).resolve().parents[2]


def run(capsys: pytest.CaptureFixture[str], data: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--data", str(data), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    folder = tmp_path / "data"
    code, out, _ = run(capsys, folder, "init")
    assert code == 0 and "已生成账本签名密钥" in out
    return folder


def fill(data: Path, count: int = 30, separate: bool = True) -> None:
    """Events appended one by one (distinct timestamps), closed so the tail is signed."""
    with open_ledger(data) as ledger:
        if separate:
            for i in range(count):
                ledger.append(Counter(n=i), "SASAC0001", f"CQ-{i % 4}")
        else:
            ledger.append_many([(Counter(n=i), "SASAC0001", f"CQ-{i % 4}") for i in range(count)])


def test_init_creates_config_and_keys_and_is_idempotent(
    tmp_path: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = data / "keys" / "ledger.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert (data / "keys" / "ledger.pub").read_text().startswith("chanquan.example/ledger+")
    assert "[ledger]" in (data / "chanquan.toml").read_text(encoding="utf-8")
    before = key.read_bytes()
    (data / "chanquan.toml").write_text('[service]\nledger_origin = "other/origin"\n', encoding="utf-8")
    code, out, _ = run(capsys, data, "init")
    assert code == 0 and "未改动" in out
    assert key.read_bytes() == before
    assert (data / "chanquan.toml").read_text(encoding="utf-8").startswith("[service]")
    other = tmp_path / "other"
    assert main(["init", "--data", str(other)]) == 0
    assert (other / "keys" / "ledger.key").exists()


def test_init_refuses_an_origin_that_cannot_name_a_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "chanquan.toml").write_text('[service]\nledger_origin = "bad origin"\n', encoding="utf-8")
    code, _, err = run(capsys, folder, "init")
    assert code == 1 and "密钥" in err and "bad origin" in err
    assert not (folder / "keys" / "ledger.key").exists()


def test_log_show_and_export(data: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    fill(data, 12, separate=False)
    code, out, _ = run(capsys, data, "ledger", "log", "--json", "--subject", "CQ-1")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [e["seq"] for e in lines] == [2, 6, 10]
    assert lines[0]["payload"] == {"n": 1} and lines[0]["kind"] == "test.counter"
    code, out, _ = run(capsys, data, "ledger", "log", "--kind", "test.counter", "--since", "2000-01-01")
    assert code == 0 and len(out.splitlines()) == 12
    code, _, err = run(capsys, data, "ledger", "log", "--since", "昨天")
    assert code == 2 and "时间格式" in err
    code, out, _ = run(capsys, data, "ledger", "show", "3")
    assert code == 0 and json.loads(out)["payload"] == {"n": 2}
    code, _, err = run(capsys, data, "ledger", "show", "99")
    assert code == 2 and "没有第 99 号事件" in err
    out_file = tmp_path / "export.jsonl"
    code, out, _ = run(capsys, data, "ledger", "export", str(out_file))
    exported = [json.loads(line) for line in out_file.read_text(encoding="utf-8").splitlines()]
    assert code == 0 and [e["seq"] for e in exported] == list(range(1, 13))


def test_missing_ledger_is_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, tmp_path / "nowhere", "ledger", "verify")
    assert code == 2 and "账本不存在" in err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "ledger.sqlite3").write_bytes(b"this is not a database" * 100)
    code, _, err = run(capsys, broken, "ledger", "verify")
    assert code == 2 and "账本数据库无法读取" in err


def test_proof_checks_offline_with_the_standalone_script(
    data: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fill(data, 9, separate=False)
    with open_ledger(data) as ledger:
        ledger.append(UnitAdded(code="U1", name="重庆某某集团", capital="12.30"), "SASAC0001", "U1")
    code, out, _ = run(capsys, data, "ledger", "proof", "10")
    assert code == 0
    document = json.loads(out)
    assert document["leaf_index"] == 9 and document["tree_size"] >= 10
    proof_file = tmp_path / "proof.json"
    proof_file.write_text(out, encoding="utf-8")
    script = ROOT / "templates" / "web" / "static" / "verify_proof.py"
    pub = data / "keys" / "ledger.pub"
    result = subprocess.run(
        [sys.executable, str(script), str(proof_file), str(pub)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout
    # any change to the event, the proof or the checkpoint is refused
    mutations: list[Callable[[dict[str, Any]], object]] = [
        lambda d: d["event"]["payload"].__setitem__("capital", "12.31"),
        lambda d: d.__setitem__("leaf_index", 8),
        lambda d: d["inclusion_proof"].pop(),
        lambda d: d.__setitem__("checkpoint", d["checkpoint"].replace("\n10\n", "\n11\n")),
    ]
    for mutate in mutations:
        changed = json.loads(out)
        mutate(changed)
        proof_file.write_text(json.dumps(changed, ensure_ascii=False), encoding="utf-8")
        result = subprocess.run(
            [sys.executable, str(script), str(proof_file), str(pub)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 1 and "FAIL" in result.stdout


def test_backup_and_rebuild(
    data: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("chanquan.commands.ledger_cmd.all_projections", lambda: [UnitsProjection()])
    with open_ledger(data, projections=[UnitsProjection()]) as ledger:
        for i in range(5):
            ledger.append(UnitAdded(code=f"U{i}", name="单位", capital="1"), "a", f"U{i}")
    code, out, _ = run(capsys, data, "ledger", "rebuild")
    assert code == 0 and "一致" in out
    conn = sqlite3.connect(data / "ledger.sqlite3")
    conn.execute("DELETE FROM test_units WHERE code = 'U2'")
    conn.commit()
    conn.close()
    code, _, err = run(capsys, data, "ledger", "rebuild")
    assert code == 1 and "test_units" in err
    backup = tmp_path / "backup.sqlite3"
    code, out, _ = run(capsys, data, "ledger", "backup", str(backup))
    assert code == 0 and backup.exists()
    code, _, err = run(capsys, data, "ledger", "backup", str(backup))
    assert code == 2 and "不会覆盖" in err
    with Ledger.open(backup, blobs_dir=tmp_path / "b") as copy:
        assert copy.size() == 5


# ---------------------------------------------------------------- tampering


def verify(capsys: pytest.CaptureFixture[str], data: Path, *extra: str) -> tuple[int, str]:
    code, out, err = run(capsys, data, "ledger", "verify", *extra)
    return code, out + err


def tamper(data: Path, *statements: str) -> None:
    """Edit the ledger as an attacker with a SQLite shell would: append-only triggers dropped, then raw SQL."""
    conn = raw_connection(data / "ledger.sqlite3")
    drop_guards(conn)
    for statement in statements:
        conn.execute(statement)
    conn.close()


def test_untouched_ledger_verifies(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(data)
    code, text = verify(capsys, data)
    assert code == 0 and "账本完整：共 30 条事件" in text


def test_edited_payload_is_caught(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(data)
    tamper(data, """UPDATE ledger_events SET payload = '{"n":999}' WHERE seq = 17""")
    code, text = verify(capsys, data)
    assert code == 1
    assert "账本核验失败：第 17 号事件：事件内容被修改" in text


def test_deleted_row_is_caught(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(data)
    tamper(data, "DELETE FROM ledger_events WHERE seq = 12")
    code, text = verify(capsys, data)
    assert code == 1 and "账本核验失败：第 12 号事件：序号不连续" in text


def test_swapped_rows_are_caught(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(data)
    tamper(
        data,
        "UPDATE ledger_events SET seq = -1 WHERE seq = 5",
        "UPDATE ledger_events SET seq = 5 WHERE seq = 9",
        "UPDATE ledger_events SET seq = 9 WHERE seq = -1",
    )
    code, text = verify(capsys, data)
    assert code == 1 and "账本核验失败：第 5 号事件：事件顺序被调换" in text and "原第 9 号事件" in text


def test_cut_tail_is_caught(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(data)
    tamper(data, "DELETE FROM ledger_events WHERE seq > 25")
    code, text = verify(capsys, data)
    assert code == 1 and "第 26 号事件：账本被截断" in text
    # cutting the database's own checkpoints too does not help: the checkpoint file remembers
    tamper(data, "DELETE FROM ledger_checkpoints WHERE size > 25")
    code, text = verify(capsys, data)
    assert code == 1 and "账本被截断" in text and "checkpoints.log" in text


def test_consistent_rewrite_is_caught_only_by_the_external_checkpoints(
    data: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fill(data)
    witness = tmp_path / "witness-checkpoints.log"
    shutil.copy(data / "checkpoints.log", witness)
    # the attacker, holding the signing key, writes a whole new chain with one event changed,
    # re-signs it, and replaces both the database and the local checkpoint file
    forged_dir = tmp_path / "forged"
    forged_dir.mkdir()
    with open_ledger(data) as original:
        events = list(original.events())
    with Ledger.open(
        forged_dir / "ledger.sqlite3",
        signing_key_path=data / "keys" / "ledger.key",
        checkpoint_file=forged_dir / "checkpoints.log",
        origin="chanquan.example/ledger",
    ) as forged:
        for event in events:
            n = 4242 if event.seq == 20 else event.payload["n"]
            forged.append(Counter(n=n), event.actor, event.subject)
    for name in ("ledger.sqlite3", "ledger.sqlite3-wal", "ledger.sqlite3-shm", "checkpoints.log"):
        (data / name).unlink(missing_ok=True)
        if (forged_dir / name).exists():
            shutil.copy(forged_dir / name, data / name)
    # the witness copy `chanquan init` configured (outside the data directory) was not rewritten
    code, text = verify(capsys, data)
    assert code == 1 and "根哈希与已签名检查点不符" in text and "data-witness" in text
    config = data / "chanquan.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(str(data) + "-witness", ""), encoding="utf-8")
    code, text = verify(capsys, data)
    assert code == 0, text  # without it, internally consistent: nothing on this machine can tell
    code, text = verify(capsys, data, "--checkpoints", str(witness))
    assert code == 1 and "根哈希与已签名检查点不符" in text and "witness-checkpoints.log" in text


def test_forged_checkpoint_signature_is_caught(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fill(data, 5)
    path = data / "checkpoints.log"
    lines = path.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[-1])
    record["note"] = record["note"].replace("\n5\n", "\n4\n")
    path.write_text("\n".join([*lines, json.dumps(record)]) + "\n", encoding="utf-8")
    code, text = verify(capsys, data)
    assert code == 1 and "检查点签名无效" in text


def test_missing_and_altered_blobs_are_caught(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with open_ledger(data) as ledger:
        first = ledger.blobs.put(b"workbook bytes")
        second = ledger.blobs.put(b"attachment bytes")
        ledger.append(Counter(n=0), "a", "s")
        ledger.append(FileStored(name="a.xlsx", content_blob=first, extra_blobs=[second]), "a", "s")
        blobs = ledger.blobs
    code, text = verify(capsys, data)
    assert code == 0 and "2 个文件" in text
    blobs.path(second).unlink()
    code, text = verify(capsys, data)
    assert code == 1 and "第 2 号事件：引用的文件（blob）缺失" in text
    path = blobs.path(first)
    path.chmod(0o644)
    path.write_bytes(b"other bytes")
    code, text = verify(capsys, data)
    assert code == 1 and "内容与哈希不符" in text


def test_empty_blob_name_means_no_blob(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A decision taken in the portal has no mail: its `mail_blob` is "" and must not count as missing."""
    with open_ledger(data) as ledger:
        ledger.append(FileStored(name="web", content_blob="", extra_blobs=[""]), "a", "s")
    code, text = verify(capsys, data)
    assert code == 0, text


class Clock:
    """The ledger's checkpoint clock, moved by the test: the schedule is checked without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_checkpoints_are_signed_at_most_every_interval_under_load(tmp_path: Path) -> None:
    from ledger_support import open_test_ledger

    clock = Clock()
    interval = 3600.0  # in the clock's seconds; the writer's own idle wait (real seconds) never ends first
    with open_test_ledger(tmp_path, checkpoint_interval_seconds=interval, clock=clock) as ledger:
        for _ in range(100):  # 2.5 intervals of steady load: 40 appends per interval
            ledger.append(Counter(n=1), "a", "s")
            clock.now += interval / 40
        signed = [c.size for c in ledger.checkpoints()]
        # the first append signed at once, then one checkpoint per interval, however many appends
        assert signed == [1, 41, 81]
        size = ledger.size()
        assert ledger.checkpoint_now(only_if_due=True) is not None
        assert ledger.latest_checkpoint().size == 81  # type: ignore[union-attr]  # half an interval: not yet
        clock.now += interval / 2  # one interval after the last checkpoint: the idle tail is due
        assert ledger.checkpoint_now(only_if_due=True).size == size  # type: ignore[union-attr]
        assert len(ledger.checkpoints()) == 4
    lines = (tmp_path / "checkpoints.log").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[-1])["size"] == size
