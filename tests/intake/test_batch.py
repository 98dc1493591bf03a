"""Batched processing: `Workflow.submit_many` judges a batch as one-by-one submits would, and
filings prepared in worker processes end the same way as filings prepared in threads."""

from __future__ import annotations

import zipfile
from collections import Counter
from pathlib import Path

from intake_helpers import CHILD, Env, build_env, close_env, valid_zip

from validation.bundle import load_bundle
from validation.check import check_bundle
from workflow.batch import SubmitRequest, rounds


def request(item_id: str, data: bytes) -> SubmitRequest:
    bundle = load_bundle(data, name="bundle.zip")
    return SubmitRequest(item_id, CHILD, "dropbox", "", bundle, check_bundle(bundle))


def test_rounds_keep_order_and_separate_same_subject_or_item() -> None:
    keys = [("i1", "A"), ("i2", "B"), ("i3", "A"), ("i2", "C"), ("i4", "D"), ("i5", "A")]
    assert rounds(keys) == [[0, 1, 4], [2, 3], [5]]


def test_submit_many_gives_the_outcomes_of_one_by_one_submits(env: Env) -> None:
    data = valid_zip()
    outcomes = env.wf.submit_many([request("I1", data), request("I2", data), request("I1", data)])
    first, second, again = outcomes
    assert first.state == "in_review" and first.findings == []
    # the second filing of the same unit and period sees the first one open, as it would one by one
    assert second.state == "invalid" and "filing-in-review" in [f.code for f in second.findings]
    assert second.filing_id != first.filing_id
    assert again.duplicate and again.filing_id == first.filing_id
    received = env.kinds("filing.received")
    assert [ev.payload["item_id"] for ev in received] == ["I1", "I2"]
    assert env.ledger.blobs.get(received[0].payload["workbook_blob"]) == load_bundle(data, name="b.zip").workbook_bytes
    # a later single submit of the same item is still idempotent
    repeat = request("I2", data)
    assert env.wf.submit(
        "I2", filer=CHILD, channel="dropbox", reply_to="", bundle=repeat.bundle, check_result=repeat.check_result
    ).duplicate
    assert len(env.kinds("filing.received")) == 2


def test_filings_prepared_in_worker_processes(tmp_path: Path) -> None:
    env = build_env(tmp_path / "data", enable_smtp=False, check_processes=1)
    try:
        env.service.start()
        assert env.service.processor.prepare_pool is not None
        folder = env.dropbox / CHILD
        folder.mkdir(parents=True)
        (folder / "good.zip").write_bytes(valid_zip())
        (folder / "broken.zip").write_bytes(b"PK\x03\x04 not really a zip")
        env.wait_for(lambda: len(env.kinds("intake.processed")) == 2, timeout=60)
        outcomes = Counter(ev.payload["outcome"] for ev in env.kinds("intake.processed"))
        assert outcomes == Counter({"filed": 1, "rejected": 1})
        assert len(env.kinds("review.requested")) == 1
        assert len(env.kinds("intake.rejected")) == 1
    finally:
        close_env(env)
    assert env.service.processor.prepare_pool is None  # the worker processes were shut down


def test_blank_zip_is_rejected_in_a_worker_process_too(tmp_path: Path) -> None:
    env = build_env(tmp_path / "data", enable_smtp=False, check_processes=1)
    try:
        env.service.start()
        folder = env.dropbox / CHILD
        folder.mkdir(parents=True)
        with zipfile.ZipFile(folder / "empty.zip", "w"):
            pass
        env.wait_for(lambda: len(env.kinds("intake.processed")) == 1, timeout=60)
        assert env.kinds("intake.processed")[0].payload["outcome"] == "rejected"
    finally:
        close_env(env)
