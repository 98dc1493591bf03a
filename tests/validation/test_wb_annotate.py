"""The error workbook: 审核错误 first, every row a hyperlink to its finding's cell, cells marked."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import openpyxl
from openpyxl.xml.functions import tostring
from wb_factory import ORG, check, good_investors, make_workbook

from validation import annotate_workbook
from validation.annotate import COMMENT_AUTHOR, ERROR_FILL, ERRORS_SHEET, MARKS_SHEET
from validation.findings import ERROR, Finding


def _bad_workbook() -> bytes:
    return make_workbook(
        {"org_code": ORG[:8] + ("1" if ORG[8] != "1" else "2"), "currency": "卢布", "contact_email": "x"},
        [{**good_investors()[0], "share_pct": Decimal(70)}, good_investors()[1]],
    )


def test_every_hyperlink_points_at_its_findings_cell() -> None:
    data = _bad_workbook()
    result = check(data)
    assert len(result.findings) >= 4
    out = annotate_workbook(data, result.findings)
    wb = openpyxl.load_workbook(io.BytesIO(out))
    try:
        assert wb.sheetnames[0] == ERRORS_SHEET
        ws = wb[ERRORS_SHEET]
        rows = list(ws.iter_rows(min_row=3))
        assert len(rows) == len(result.findings)
        for row, finding in zip(rows, result.findings, strict=True):
            link = row[3].hyperlink
            assert link is not None
            assert link.location == f"'{finding.sheet}'!{finding.cell}"
            assert row[3].font.color.rgb.endswith("0563C1") and row[3].font.underline == "single"
            assert row[5].value == finding.message
            target = wb[finding.sheet][finding.cell]
            assert target.comment is not None and finding.message in target.comment.text
            assert target.fill.fgColor.rgb.endswith("FFC7CE")
    finally:
        wb.close()


def test_hyperlinks_are_internal_in_the_xml() -> None:
    data = _bad_workbook()
    out = annotate_workbook(data, check(data).findings)
    with zipfile.ZipFile(io.BytesIO(out)) as zf:
        sheet1 = zf.read("xl/worksheets/sheet1.xml").decode()
    assert "<hyperlink " in sheet1 and 'location="' in sheet1
    assert "r:id" not in sheet1.split("<hyperlinks>")[1]  # no external relationship targets


def test_annotated_workbook_checks_the_same() -> None:
    data = _bad_workbook()
    first = check(data)
    again = check(annotate_workbook(data, first.findings))
    assert [(f.code, f.sheet, f.cell) for f in again.findings] == [(f.code, f.sheet, f.cell) for f in first.findings]


def test_annotating_twice_replaces_the_error_sheet() -> None:
    data = _bad_workbook()
    findings = check(data).findings
    twice = annotate_workbook(annotate_workbook(data, findings), findings[:1])
    wb = openpyxl.load_workbook(io.BytesIO(twice))
    try:
        assert wb.sheetnames.count(ERRORS_SHEET) == 1
        assert wb[ERRORS_SHEET].max_row == 3
    finally:
        wb.close()


def _load(data: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(data))


def _our_comments(data: bytes) -> set[tuple[str, str]]:
    wb = _load(data)
    try:
        return {
            (ws.title, cell.coordinate)
            for ws in wb.worksheets
            for cell in ws._cells.values()
            if cell.comment is not None and cell.comment.author == COMMENT_AUTHOR
        }
    finally:
        wb.close()


def _style(style: object) -> bytes:
    return bytes(tostring(style.to_tree()))  # type: ignore[attr-defined]


def _fix(data: bytes, sheet: str, cell: str, value: object) -> bytes:
    """The filer corrects one cell of the returned file in Excel and sends that file back."""
    wb = _load(data)
    try:
        wb[sheet][cell].value = value
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()
    finally:
        wb.close()


def test_reannotating_clears_the_marks_of_the_earlier_check() -> None:
    data = _bad_workbook()
    first = check(data)
    fixed = next(f for f in first.findings if f.field == "currency")
    resubmitted = _fix(annotate_workbook(data, first.findings), fixed.sheet, fixed.cell, "人民币")
    second = check(resubmitted)
    assert (fixed.sheet, fixed.cell) not in {(f.sheet, f.cell) for f in second.findings}
    assert len(second.findings) == len(first.findings) - 1
    again = annotate_workbook(resubmitted, second.findings)
    # only the current findings carry a mark
    assert _our_comments(again) == {(f.sheet, f.cell) for f in second.findings if f.cell}
    wb, original = _load(again), _load(data)
    try:
        cell, before = wb[fixed.sheet][fixed.cell], original[fixed.sheet][fixed.cell]
        assert cell.comment is None
        assert _style(cell.fill) == _style(before.fill) and _style(cell.border) == _style(before.border)
        for f in second.findings:
            assert wb[f.sheet][f.cell].fill.fgColor.rgb.endswith("FFC7CE")
        assert wb[ERRORS_SHEET].max_row == 2 + len(second.findings)
        assert wb[MARKS_SHEET].sheet_state == "veryHidden"
    finally:
        wb.close()
        original.close()
    # and a third round with nothing left to find gives the filer's workbook back unmarked
    clean = annotate_workbook(again, [])
    assert _our_comments(clean) == set()
    wb, original = _load(clean), _load(data)
    try:
        for f in second.findings:
            assert _style(wb[f.sheet][f.cell].fill) == _style(original[f.sheet][f.cell].fill)
        assert MARKS_SHEET not in wb.sheetnames
    finally:
        wb.close()
        original.close()


def test_a_marked_cell_gets_its_own_comment_back() -> None:
    data = _bad_workbook()
    wb = _load(data)
    try:
        ws, cell = next(
            (ws, c) for ws in wb.worksheets for c in ws._cells.values() if c.comment is not None
        )  # a table header's help note from the template
        sheet, coordinate, help_text = ws.title, cell.coordinate, cell.comment.text
    finally:
        wb.close()
    finding = Finding("header-test", ERROR, sheet, coordinate, "", "", "表头有误")
    marked = annotate_workbook(data, [finding])
    wb = _load(annotate_workbook(marked, []))
    try:
        restored = wb[sheet][coordinate].comment
        assert restored is not None and restored.text == help_text and restored.author != COMMENT_AUTHOR
    finally:
        wb.close()


def test_marks_without_their_record_are_still_cleared() -> None:
    """A workbook annotated before the records were kept, or saved by a program that dropped the hidden sheet."""
    data = _bad_workbook()
    first = check(data)
    wb = _load(annotate_workbook(data, first.findings))
    try:
        del wb[MARKS_SHEET]
        out = io.BytesIO()
        wb.save(out)
    finally:
        wb.close()
    fixed = next(f for f in first.findings if f.field == "currency")
    resubmitted = _fix(out.getvalue(), fixed.sheet, fixed.cell, "人民币")
    second = check(resubmitted)
    again = annotate_workbook(resubmitted, second.findings)
    assert _our_comments(again) == {(f.sheet, f.cell) for f in second.findings if f.cell}
    wb = _load(again)
    try:
        assert wb[fixed.sheet][fixed.cell].fill.fgColor.rgb != ERROR_FILL.fgColor.rgb
    finally:
        wb.close()
