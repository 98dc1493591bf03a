"""The demo keeps its witness copy outside its data directory, and a re-run starts both afresh."""

from __future__ import annotations

from pathlib import Path

import pytest

from chanquan.config import load_settings
from chanquan.demo import step_prepare
from chanquan.demo_stage import DEMO_MARKER, Demo, DemoError, prepare_directory


def test_the_demo_sets_up_a_witness_and_a_rerun_replaces_it(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    demo = Demo(data_dir=data)
    step_prepare(demo)
    witness = tmp_path / "demo-data-witness"
    assert demo.witness_dir == witness
    assert load_settings(data).ledger.witness_dir == str(witness)
    assert (witness / "ledger.pub").read_bytes() == (data / "keys" / "ledger.pub").read_bytes()
    assert (witness / "checkpoints.log").read_bytes() == (data / "checkpoints.log").read_bytes()
    # a second run wipes both: a fresh ledger beside the old witness would rightly be refused
    prepare_directory(data)
    assert not data.exists() and not witness.exists()
    step_prepare(Demo(data_dir=data))
    assert (witness / "checkpoints.log").read_bytes() == (data / "checkpoints.log").read_bytes()


def test_a_witness_folder_the_demo_did_not_make_is_left_alone(tmp_path: Path) -> None:
    data = tmp_path / "demo-data"
    data.mkdir()
    (data / DEMO_MARKER).write_text("demo\n")
    foreign = tmp_path / "demo-data-witness"
    foreign.mkdir()
    (foreign / "checkpoints.log").write_text("someone else's\n")
    with pytest.raises(DemoError):
        prepare_directory(data)
    assert (foreign / "checkpoints.log").exists() and data.exists()
