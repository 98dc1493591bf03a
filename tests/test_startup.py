"""What a command's start-up loads: the PDF stack (reportlab, pyHanko and its HTTP clients, about half a
second) only when a command renders, signs or verifies a document."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import documents

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("reportlab", "pyhanko", "aiohttp")


def _loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_building_the_cli_and_reading_events_leave_the_pdf_stack_unloaded() -> None:
    for code in (
        "from chanquan.cli import build_parser; build_parser()",
        "import documents.events, outbox, intake, workflow",
    ):
        assert not _loaded_after(code) & set(HEAVY), code


def test_every_exported_name_of_documents_resolves() -> None:
    """...to itself, not to a submodule of the same name: importing a submodule sets the package's
    attribute of its name, which would hide a lazily exported name for good (documents.render once)."""
    assert set(documents._EXPORTS) == set(documents.__all__)
    submodules = {path.stem for path in (ROOT / "documents").glob("*.py")}
    assert not submodules & set(documents.__all__)
    for name in documents.__all__:
        assert getattr(documents, name) is not None, name
    assert "reportlab" in _loaded_after("from documents import DocumentIssuer")  # lazily, but loaded
