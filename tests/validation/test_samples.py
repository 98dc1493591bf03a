"""Every inbox sample gives exactly the `chanquan check` result its README states, and is rebuildable."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chanquan.cli import main
from validation.codes import is_valid_org_code, is_valid_uscc

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "inbox_samples"
_ROW = re.compile(
    r"^\| `(?P<name>[^`]+)` \| (?P<shows>[^|]+) \| (?P<exit>\d) \| (?P<codes>[^|]+) \| `(?P<filer>[^`]+)` \|$"
)


def readme_rows() -> list[tuple[str, int, list[str]]]:
    rows = []
    for line in (SAMPLES / "README.md").read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match:
            codes = re.findall(r"`([a-z0-9-]+)`", match["codes"])
            rows.append((match["name"], int(match["exit"]), codes))
    return rows


def readme_filers() -> dict[str, str]:
    lines = (SAMPLES / "README.md").read_text(encoding="utf-8").splitlines()
    return {m["name"]: m["filer"] for m in map(_ROW.match, lines) if m}


def _codes_in(document: Any) -> Iterator[str]:
    if isinstance(document, dict):
        if isinstance(document.get("code"), str):
            yield document["code"]
        for value in document.values():
            yield from _codes_in(value)
    elif isinstance(document, list):
        for value in document:
            yield from _codes_in(value)


def test_readme_lists_every_sample() -> None:
    listed = {name for name, _, _ in readme_rows()}
    # __init__.py makes the folder package data (chanquan.inbox_samples); importing it may leave __pycache__
    present = {p.name for p in SAMPLES.iterdir() if p.name not in ("README.md", "units.csv", "__init__.py")}
    present.discard("__pycache__")
    assert listed == present
    assert len(listed) >= 12
    assert {status for _, status, _ in readme_rows()} == {0, 1, 2}


@pytest.mark.parametrize(("name", "status", "codes"), readme_rows())
def test_check_gives_the_documented_result(
    name: str, status: int, codes: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    got_status = main(["check", "--json", str(SAMPLES / name)])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert got_status == status, out + err
    assert sorted(set(_codes_in(json.loads(out)))) == codes


@pytest.mark.parametrize(("name", "status"), [(n, s) for n, s, _ in readme_rows() if s != 2][:2])
def test_human_output_of_a_sample(name: str, status: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(SAMPLES / name)]) == status
    out, _ = capsys.readouterr()
    assert out.strip()


def test_units_csv_codes_are_valid_and_form_a_tree() -> None:
    with (SAMPLES / "units.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "code", "name", "parent_code", "level", "overseas", "holding", "filer_emails", "reviewer_emails"
    ]  # fmt: skip
    by_code = {r["code"]: r for r in rows}
    assert by_code["SASAC0001"]["level"] == "0"
    first_level = [r for r in rows if r["level"] == "1"]
    assert len(first_level) == 2
    assert any(r["overseas"] == "是" for r in rows)
    assert any(r["holding"] == "国有参股" for r in rows)
    for row in rows:
        if row["code"] == "SASAC0001":
            continue
        parent = by_code[row["parent_code"]]
        assert int(row["level"]) == int(parent["level"]) + 1
        if row["overseas"] == "否":
            assert is_valid_org_code(row["code"]), row
        else:
            assert row["code"].startswith("JW")


def test_good_samples_use_the_units_codes() -> None:
    """Good samples are filed by units of units.csv, so the demo's tree accepts them."""
    from validation import check_bundle, load_bundle

    with (SAMPLES / "units.csv").open(encoding="utf-8") as fh:
        codes = {r["code"] for r in csv.DictReader(fh)}
    for name, status, _ in readme_rows():
        if status != 0:
            continue
        registration = check_bundle(load_bundle(SAMPLES / name)).registration
        assert registration is not None
        assert registration.filer_org_code in codes
        assert registration.filer_org_code == readme_filers()[name]
        assert registration.org_code in codes
        assert registration.uscc and is_valid_uscc(registration.uscc)


@pytest.mark.timeout(120)
def test_samples_are_rebuilt_identically(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_samples.py"), "--out", str(tmp_path / "s")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rebuilt = sorted(p.relative_to(tmp_path / "s") for p in (tmp_path / "s").rglob("*") if p.is_file())
    committed = sorted(
        p.relative_to(SAMPLES) for p in SAMPLES.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    assert rebuilt == committed
    for relative in committed:
        assert (tmp_path / "s" / relative).read_bytes() == (SAMPLES / relative).read_bytes(), relative


def test_samples_stay_small() -> None:
    total = sum(p.stat().st_size for p in SAMPLES.rglob("*") if p.is_file())
    assert total < 8 * 1024 * 1024
