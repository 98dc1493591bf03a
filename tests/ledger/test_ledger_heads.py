"""Opening checks the tree against the newest signed checkpoint outside the database (ledger.heads).

A database rolled back, truncated, deleted or rewritten is refused before anything is written;
a database ahead of its checkpoint file (a crash between commit and the file's append) opens.
Read-only opens never create or change a file.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from ledger_support import ORIGIN, Counter, make_keys, open_test_ledger

from ledger import (
    Ledger,
    LedgerForkError,
    LedgerMissingError,
    LedgerReadOnlyError,
    WitnessUnavailableError,
    open_note,
)
from ledger.note import Checkpoint, load_signer


def fill(folder: Path, count: int, **options: object) -> None:
    with open_test_ledger(folder, **options) as ledger:
        ledger.append_many([(Counter(n=i), "a", "s") for i in range(count)])


def files(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def last_line(path: Path) -> dict[str, object]:
    record = json.loads(path.read_text(encoding="utf-8").splitlines()[-1])
    assert isinstance(record, dict)
    return record


def test_rolled_back_database_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    fill(tmp_path, 10)
    old = tmp_path / "old.sqlite3"
    shutil.copy(tmp_path / "ledger.sqlite3", old)
    fill(tmp_path, 10)
    log_before = (tmp_path / "checkpoints.log").read_bytes()
    shutil.copy(old, tmp_path / "ledger.sqlite3")
    db_before = (tmp_path / "ledger.sqlite3").read_bytes()
    with pytest.raises(LedgerForkError) as info:
        open_test_ledger(tmp_path)
    fork = info.value
    assert (fork.reason, fork.db_size, fork.log_size) == ("behind", 10, 20)
    assert fork.source.endswith("checkpoints.log")
    assert fork.db_root is not None and fork.log_root is not None and fork.db_root != fork.log_root
    message = fork.message_zh
    assert "共 10 条事件" in message and "签名了 20 条事件" in message
    assert base64.b64encode(fork.db_root).decode() in message and base64.b64encode(fork.log_root).decode() in message
    assert "chanquan ledger restore" in message and "chanquan ledger backup" in message
    assert (tmp_path / "checkpoints.log").read_bytes() == log_before
    assert (tmp_path / "ledger.sqlite3").read_bytes() == db_before


def test_truncated_and_deleted_databases_are_refused_not_recreated(tmp_path: Path) -> None:
    fill(tmp_path, 5)
    db = tmp_path / "ledger.sqlite3"
    db.write_bytes(b"")
    with pytest.raises(LedgerForkError) as info:
        open_test_ledger(tmp_path)
    assert (info.value.reason, info.value.db_size, info.value.log_size) == ("missing", 0, 5)
    assert db.read_bytes() == b""
    db.unlink()
    with pytest.raises(LedgerForkError) as info:
        open_test_ledger(tmp_path)
    assert info.value.reason == "missing" and info.value.db_size is None and "不存在" in info.value.message_zh
    assert not db.exists()


def _append_line(path: Path, record: dict[str, object]) -> None:
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")


def test_a_foreign_or_edited_checkpoint_line_is_refused(tmp_path: Path) -> None:
    fill(tmp_path, 6)
    log = tmp_path / "checkpoints.log"
    genuine = log.read_bytes()
    stranger = load_signer(make_keys(tmp_path / "other")[0], ORIGIN)
    foreign_root = hashlib.sha256(b"another history").digest()
    foreign = stranger.sign(Checkpoint(ORIGIN, 6, foreign_root).text())
    cases: dict[str, dict[str, object]] = {
        "signed by another key": {"size": 6, "ts": "2026-01-01T00:00:00.000000Z", "note": foreign},
        "bytes changed": {**last_line(log), "note": str(last_line(log)["note"]).replace("\n6\n", "\n5\n")},
        "not a record": {"nonsense": True},
    }
    for name, record in cases.items():
        log.write_bytes(genuine)
        _append_line(log, record)
        edited = log.read_bytes()
        with pytest.raises(LedgerForkError) as info:
            open_test_ledger(tmp_path)
        assert info.value.reason == "damaged", name
        assert "无法用 keys/ledger.pub 核验" in info.value.message_zh
        assert log.read_bytes() == edited, name
    # the key holder signing another root for the same size: the database is not that history
    owner = load_signer(tmp_path / "keys" / "ledger.key", ORIGIN)
    log.write_bytes(genuine)
    _append_line(log, {"size": 6, "ts": "x", "note": owner.sign(Checkpoint(ORIGIN, 6, foreign_root).text())})
    with pytest.raises(LedgerForkError) as info:
        open_test_ledger(tmp_path)
    assert info.value.reason == "root_differs" and info.value.log_root == foreign_root
    assert info.value.db_root_at_log_size == info.value.db_root  # same size: the database's own root


def test_a_database_ahead_of_its_checkpoint_file_opens(tmp_path: Path) -> None:
    """Commit, then crash before the line was appended: legitimate, and the next close signs the tail."""
    with open_test_ledger(tmp_path) as ledger:
        for i in range(4):
            ledger.append(Counter(n=i), "a", "s")
    log = tmp_path / "checkpoints.log"
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 2
    log.write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2], encoding="utf-8")  # older line + torn one
    with open_test_ledger(tmp_path) as ledger:
        ledger.append(Counter(n=99), "a", "s")
    newest = last_line(log)
    assert newest["size"] == 5
    with open_test_ledger(tmp_path) as ledger:
        assert ledger.size() == 5


def test_the_witness_is_appended_to_and_checked(tmp_path: Path) -> None:
    witness = tmp_path / "witness"
    witness.mkdir()
    options = {"witness_file": witness / "checkpoints.log"}
    fill(tmp_path, 3, **options)
    fill(tmp_path, 3, **options)
    assert (witness / "checkpoints.log").read_bytes() == (tmp_path / "checkpoints.log").read_bytes()
    with open_test_ledger(tmp_path, **options) as ledger:
        assert ledger.verify().checkpoints_checked >= 2
    # the whole data directory (database and local log alike) put back to an older copy: only the witness knows
    old_db, old_log = tmp_path / "old.sqlite3", tmp_path / "old.log"
    shutil.copy(tmp_path / "ledger.sqlite3", old_db)
    shutil.copy(tmp_path / "checkpoints.log", old_log)
    fill(tmp_path, 3, **options)
    shutil.copy(old_db, tmp_path / "ledger.sqlite3")
    shutil.copy(old_log, tmp_path / "checkpoints.log")
    witness_before = (witness / "checkpoints.log").read_bytes()
    open_test_ledger(tmp_path).close()  # without the witness nothing on this machine can tell
    with pytest.raises(LedgerForkError) as info:
        open_test_ledger(tmp_path, **options)
    assert info.value.source == str(witness / "checkpoints.log") and info.value.reason == "behind"
    assert (witness / "checkpoints.log").read_bytes() == witness_before
    shutil.rmtree(witness)
    with pytest.raises(WitnessUnavailableError) as unavailable:
        open_test_ledger(tmp_path, **options)
    assert str(witness) in unavailable.value.message_zh


def test_read_only_open_reads_a_forked_ledger_and_changes_no_file(tmp_path: Path) -> None:
    fill(tmp_path, 8)
    old = tmp_path / "old.sqlite3"
    shutil.copy(tmp_path / "ledger.sqlite3", old)
    fill(tmp_path, 8)
    shutil.copy(old, tmp_path / "ledger.sqlite3")
    old.unlink()
    before = files(tmp_path)
    key, _pub = make_keys(tmp_path)
    with Ledger.open(
        tmp_path / "ledger.sqlite3",
        signing_key_path=key,
        checkpoint_file=tmp_path / "checkpoints.log",
        origin=ORIGIN,
        read_only=True,
    ) as ledger:
        assert ledger.fork is not None and ledger.fork.reason == "behind"
        assert ledger.size() == 8 and len(list(ledger.events())) == 8
        with pytest.raises(LedgerReadOnlyError):
            ledger.append(Counter(n=1), "a", "s")
        with pytest.raises(LedgerReadOnlyError):
            ledger.checkpoint_now()
    assert files(tmp_path) == before
    missing = tmp_path / "elsewhere" / "ledger.sqlite3"
    with pytest.raises(LedgerMissingError):
        Ledger.open(missing, read_only=True)
    assert not missing.parent.exists()


def test_without_any_key_a_rollback_is_still_seen(tmp_path: Path) -> None:
    """Unverified, the newest line can still say the database is older than what was once signed."""
    fill(tmp_path, 4)
    old = tmp_path / "old.sqlite3"
    shutil.copy(tmp_path / "ledger.sqlite3", old)
    fill(tmp_path, 4)
    shutil.copy(old, tmp_path / "ledger.sqlite3")
    with pytest.raises(LedgerForkError) as info:
        Ledger.open(tmp_path / "ledger.sqlite3", checkpoint_file=tmp_path / "checkpoints.log")
    assert info.value.log_size == 8
    verifier = load_signer(tmp_path / "keys" / "ledger.key", ORIGIN).verifier
    checkpoint = open_note(str(last_line(tmp_path / "checkpoints.log")["note"]), verifier)
    assert checkpoint.root == info.value.log_root
