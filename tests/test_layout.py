"""The import rules of DESIGN.md's layout table, checked by the shared tool itself."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHECKER = ROOT.parent / "shared" / "tools" / "check_layout.py"


@pytest.mark.skipif(not CHECKER.exists(), reason="../shared/tools/check_layout.py is not beside this clone")
def test_no_forbidden_imports() -> None:
    done = subprocess.run(
        [sys.executable, str(CHECKER)], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "layout: 0 forbidden import(s)" in done.stdout
    assert "not there yet" not in done.stdout


def test_layout_folders_exist() -> None:
    for folder in (
        "intake",
        "validation",
        "ledger",
        "workflow",
        "outbox",
        "chanquan",
        "templates",
        "inbox_samples",
        "tests",
        "bench",
        "docs",
    ):
        assert (ROOT / folder).is_dir(), folder
