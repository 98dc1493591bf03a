"""The error workbook: 审核错误 first, every row a hyperlink to its finding's cell, cells marked."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import openpyxl
from wb_factory import ORG, check, good_investors, make_workbook

from validation import annotate_workbook
from validation.annotate import ERRORS_SHEET


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
