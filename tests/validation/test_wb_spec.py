"""The field spec is consistent, and docs/workbook.md and docs/findings.md cover all of it."""

from __future__ import annotations

import re
from pathlib import Path

from validation import FIELD_SPEC, spec_as_json
from validation.spec import FIELD_LIST, REG_SITUATIONS, TABLES
from validation.spec_doc import render

ROOT = Path(__file__).resolve().parents[2]
CODE_SOURCES = [
    "validation/reader.py",
    "validation/table_reader.py",
    "validation/parsing.py",
    "validation/check.py",
    "validation/rules",
]


def test_keys_and_cells_are_unique() -> None:
    assert len(FIELD_SPEC) == len(FIELD_LIST)
    cells = [(f.sheet, f.cell) for f in FIELD_LIST]
    assert len(set(cells)) == len(cells)
    for table in TABLES:
        assert len({c.column for c in table.columns}) == len(table.columns)
        assert not {c.key for c in table.columns} & set(FIELD_SPEC)


def test_enumerations_have_values_and_situations_fit_types() -> None:
    for spec in FIELD_LIST:
        assert (spec.type == "enum") <= bool(spec.allowed), spec.key
    situations = FIELD_SPEC["reg_situation"].allowed
    assert set(situations) == {s for group in REG_SITUATIONS.values() for s in group}
    assert "补录历史数据" in REG_SITUATIONS["占有产权登记"]


def test_spec_json_has_contract_one_fields() -> None:
    data = spec_as_json()
    for field in data["fields"]:
        assert set(field) >= {"key", "label", "sheet", "cell", "type", "allowed", "required"}
    for table in data["tables"]:
        for column in table["columns"]:
            assert set(column) >= {"key", "label", "column", "type", "allowed", "required"}


def test_workbook_doc_is_generated_from_the_spec() -> None:
    doc = (ROOT / "docs" / "workbook.md").read_text(encoding="utf-8")
    assert doc == render(), "regenerate: python -m validation.spec_doc > docs/workbook.md"
    for spec in FIELD_LIST:
        assert f"`{spec.key}`" in doc


def test_every_finding_code_is_documented() -> None:
    doc = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")
    codes: set[str] = set()
    for source in CODE_SOURCES:
        path = ROOT / source
        files = sorted(path.glob("*.py")) if path.is_dir() else [path]
        for file in files:
            codes |= set(re.findall(r'"([a-z]+(?:-[a-z0-9]+)+)"', file.read_text(encoding="utf-8")))
    assert len(codes) > 40
    undocumented = sorted(c for c in codes if f"`{c}`" not in doc)
    assert undocumented == []
