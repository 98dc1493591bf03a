"""Numbers no person can type, in date and amount cells: each is a finding on its cell, never a crash.

A workbook's XML may hold `<v>NaN</v>`, `<v>1e400</v>` or `<v>-1e15</v>` where a date or an amount
belongs. calamine hands NaN in a date-styled cell over as 1899-12-30, an infinity or NaN in a plain
cell as a float, and panics (a BaseException, which `except Exception` lets through) on a date-styled
number far below zero. The checks must answer every one of them with a finding, as for any other
wrong value: `chanquan check` exits 1, not 2 and not with a traceback.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from support.hostile_factory import rebuild_zip
from wb_factory import check, good_attachments, make_workbook

from chanquan.cli import main

# the standard template's sheet order (validation/template.py): 填表说明, 登记信息, 基本信息, 出资人情况
_PARTS = {
    "登记信息": "xl/worksheets/sheet2.xml",
    "基本信息": "xl/worksheets/sheet3.xml",
    "出资人情况": "xl/worksheets/sheet4.xml",
}


def _with_number(data: bytes, sheet: str, cell: str, raw: str, *, styled: bool = True) -> bytes:
    """The workbook with one cell's stored number replaced by `raw`, keeping its date/number style or not."""
    part = _PARTS[sheet]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        xml = zf.read(part).decode("utf-8")
    found = re.search(rf'<c r="{cell}"([^>]*?)(?:/>|>.*?</c>)', xml, re.S)
    assert found is not None, f"{sheet}!{cell} is not in {part}"
    style = re.search(r'\ss="\d+"', found[1])
    replacement = f'<c r="{cell}"{style[0] if style and styled else ""} t="n"><v>{raw}</v></c>'
    return rebuild_zip(data, replace={part: (xml[: found.start()] + replacement + xml[found.end() :]).encode()})


def _check_json(
    tmp_path: Path, workbook: bytes, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[dict[str, str]]]:
    path = tmp_path / "登记表.xlsx"
    path.write_bytes(workbook)
    folder = tmp_path / "附件"
    folder.mkdir(exist_ok=True)
    for name, content in good_attachments().items():
        (folder / name).write_bytes(content)
    status = main(["check", str(path), "--attachments", str(folder), "--json"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return status, json.loads(captured.out or "{}").get("findings", [])


@pytest.mark.parametrize(
    ("sheet", "cell", "raw", "styled", "code", "shown"),
    [
        ("基本信息", "B6", "NaN", False, "invalid-date", "nan"),  # int(nan) raised ValueError
        ("基本信息", "B6", "1e400", False, "invalid-date", "inf"),  # int(inf) raised OverflowError
        ("基本信息", "B6", "-INF", False, "invalid-date", "-inf"),
        ("基本信息", "B6", "NaN", True, "invalid-date", "1899-12-30"),  # calamine's date for NaN, taken as true
        ("登记信息", "B8", "-1e400", True, "invalid-date", "-inf"),  # calamine panicked
        ("基本信息", "B6", "-1e15", True, "invalid-date", "-1000000000000000"),  # calamine panicked
        ("基本信息", "B10", "NaN", True, "invalid-number", "nan"),
        ("基本信息", "B10", "1e400", False, "invalid-number", "inf"),
        ("出资人情况", "D4", "-1e400", True, "invalid-number", "-inf"),
    ],
)
def test_a_non_number_in_a_cell_is_a_finding_on_that_cell(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    sheet: str,
    cell: str,
    raw: str,
    styled: bool,
    code: str,
    shown: str,
) -> None:
    status, findings = _check_json(tmp_path, _with_number(make_workbook(), sheet, cell, raw, styled=styled), capsys)
    assert status == 1
    assert {(f["code"], f["sheet"], f["cell"], f["value"]) for f in findings} >= {(code, sheet, cell, shown)}


def test_a_date_styled_number_far_below_zero_leaves_the_rest_of_its_sheet_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """calamine cannot read the sheet at all; read again without the cell's date style, nothing else changes."""
    workbook = _with_number(make_workbook({"currency": "卢布"}), "基本信息", "B6", "-1e15")
    status, findings = _check_json(tmp_path, workbook, capsys)
    assert status == 1
    assert sorted((f["code"], f["cell"]) for f in findings) == [("invalid-choice", "B11"), ("invalid-date", "B6")]


@pytest.mark.parametrize("raw", ["-1e15", "-1.5E+12", "-123456789012", "-1e400"])
def test_a_number_that_breaks_dates_never_reaches_calamines_date_conversion(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], raw: str
) -> None:
    """calamine's panic prints a Rust backtrace on the process's stderr before Python sees it: the guard's
    scan finds such numbers and the reader takes them out of date styles first, so none is printed."""
    path = tmp_path / "登记表.xlsx"
    path.write_bytes(_with_number(make_workbook(), "基本信息", "B6", raw))
    assert main(["check", str(path), "--json"]) == 1
    captured = capfd.readouterr()
    assert "panicked" not in captured.err and "backtrace" not in captured.err, captured.err
    assert ("invalid-date", "B6") in {(f["code"], f["cell"]) for f in json.loads(captured.out)["findings"]}


@pytest.mark.timeout(30)
def test_the_rewrite_keeps_well_formed_cells_and_steps_over_unclosed_ones() -> None:
    """The rewrite runs on a filer's sheet before any parser: its cell pattern stops at the next cell, so a
    crafted sheet of unclosed cells is one pass (it was a search to the sheet's end per cell, minutes)."""
    from validation.numbercells import _CELL

    well_formed = b'<c r="B6" s="3" t="n"><v>-1e15</v></c><c r="B7" s="3"/><c r="B8" t="s"><v>2</v></c>'
    assert [(m[1], m[2]) for m in _CELL.finditer(well_formed)] == [
        (b' r="B6" s="3" t="n"', b"<v>-1e15</v>"),
        (b' r="B8" t="s"', b"<v>2</v>"),
    ]
    unclosed = b"".join(b'<c r="A%d" s="3"><v>1</v>' % n for n in range(1, 20_001))
    assert _CELL.search(unclosed) is None  # a quadratic pattern would take minutes here (pytest-timeout)


def test_a_sheet_still_unreadable_without_date_styles_is_refused_not_crashed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A namespace-prefixed cell is beyond the rewrite (validation/numbercells.py): exit 2, never the panic."""
    data = make_workbook()
    part = _PARTS["基本信息"]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        xml = zf.read(part).decode("utf-8")
    prefixed = re.sub(
        r'<c r="B6"([^>]*)>.*?</c>',
        '<x:c xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" r="B6"\\1><x:v>-1e15</x:v></x:c>',
        xml,
        count=1,
        flags=re.S,
    )
    assert prefixed != xml
    status, findings = _check_json(tmp_path, rebuild_zip(data, replace={part: prefixed.encode()}), capsys)
    assert (status, findings) == (2, [])


def test_the_annotated_workbook_marks_such_a_cell(tmp_path: Path) -> None:
    path, out = tmp_path / "登记表.xlsx", tmp_path / "错误.xlsx"
    path.write_bytes(_with_number(make_workbook(), "基本信息", "B6", "-1e15"))
    assert main(["check", str(path), "--annotate", str(out)]) == 1
    marked = openpyxl.load_workbook(out)
    assert marked.sheetnames[0] == "审核错误"
    comment = marked["基本信息"]["B6"].comment
    assert comment is not None and "有效日期" in comment.text


def test_a_workbook_openpyxl_cannot_open_still_gets_its_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """openpyxl refuses `<v>NaN</v>` outright: no error workbook then, but the findings and exit 1 all the same."""
    path, out = tmp_path / "登记表.xlsx", tmp_path / "错误.xlsx"
    path.write_bytes(_with_number(make_workbook(), "基本信息", "B10", "NaN"))
    assert main(["check", str(path), "--annotate", str(out), "--json"]) == 1
    captured = capsys.readouterr()
    findings = json.loads(captured.out)["findings"]
    assert ("invalid-number", "B10", "nan") in {(f["code"], f["cell"], f["value"]) for f in findings}
    assert "无法写出标注错误的工作簿" in captured.err and "Traceback" not in captured.err
    assert not out.exists()


@pytest.mark.parametrize("typed", ["²", "①", "1" * 400])
def test_digits_typed_as_text_that_are_no_date_are_a_finding(typed: str) -> None:
    """str.isdigit() takes ² and long digit runs, which float() refuses or makes infinite."""
    result = check(make_workbook({"established_on": typed}))
    assert [(f.code, f.cell) for f in result.findings] == [("invalid-date", "B6")]
