"""`BlobStore.put_many`: the same blobs `put` makes, in one batch of shared waits."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
from pathlib import Path

import pytest

from ledger.blobs import BlobStore


def leftovers(root: Path) -> list[Path]:
    return list(root.rglob(".tmp-*"))


def test_digests_in_order_with_duplicates_and_existing_blobs(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    existing = store.put(b"already here")
    inode = store.path(existing).stat().st_ino
    datas = [b"one", b"already here", b"two" * 10_000, b"one", b""]
    digests = store.put_many(datas)
    assert digests == [hashlib.sha256(d).hexdigest() for d in datas]
    for data, digest in zip(datas, digests, strict=True):
        assert store.get(digest) == data
        assert store.check(digest) is None
        assert stat.S_IMODE(store.path(digest).stat().st_mode) == 0o444
    assert store.path(existing).stat().st_ino == inode  # an existing blob is never replaced
    assert leftovers(store.root) == []
    assert store.put_many([]) == []


def test_same_bytes_from_concurrent_batches_is_one_blob(tmp_path: Path) -> None:
    store = BlobStore(tmp_path / "blobs")
    datas = [os.urandom(2048) for _ in range(20)]
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(store.put_many(datas))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all(r == results[0] for r in results)
    assert all(store.get(d) == data for d, data in zip(results[0], datas, strict=True))
    assert sorted(p.name for p in store.root.rglob("*") if p.is_file()) == sorted(results[0])


def test_nothing_is_visible_under_its_name_when_a_sync_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = BlobStore(tmp_path / "blobs")
    datas = [b"first", b"second", b"third"]

    def failing_fsync(fd: int) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        store.put_many(datas)
    monkeypatch.undo()
    assert not any(store.exists(hashlib.sha256(d).hexdigest()) for d in datas)
    assert leftovers(store.root) == []
    assert store.put_many(datas) == [hashlib.sha256(d).hexdigest() for d in datas]  # and a retry works
