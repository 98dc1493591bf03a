"""The workbooks we write use Excel's shared string table, and the reader reads both string forms alike."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from typing import Any

import openpyxl
import pytest
from python_calamine import CalamineWorkbook
from wb_factory import blank_template, check, good_investors, good_values, make_workbook

from validation import fill_workbook, read_workbook
from validation.excel_form import SHARED_STRINGS_PART, excel_form, literal_utf8
from validation.model import Investor


def parts(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def calamine_grids(data: bytes) -> dict[str, list[list[Any]]]:
    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    try:
        return {name: book.get_sheet_by_name(name).to_python(skip_empty_area=False) for name in book.sheet_names}
    finally:
        book.close()


def openpyxl_view(data: bytes) -> dict[str, Any]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    try:
        return {
            "cells": {ws.title: [[c.value for c in row] for row in ws.iter_rows()] for ws in wb.worksheets},
            "names": sorted((key, dn.attr_text) for key, dn in wb.defined_names.items()),
            "tables": sorted((t.name, t.ref) for ws in wb.worksheets for t in ws.tables.values()),
            "validations": {
                ws.title: [(str(dv.sqref), dv.formula1, dv.prompt) for dv in ws.data_validations.dataValidation]
                for ws in wb.worksheets
            },
        }
    finally:
        wb.close()


AWKWARD_NAMES = (
    " 前后有空格的投资公司 ",
    "A&B <控股> \"有限\" '公司'",
    "两行\n名称",
    "表情😀公司",
)


def both_forms() -> tuple[bytes, bytes]:
    """The same filing saved by openpyxl (inline strings) and in Excel's form, with awkward text."""
    investors = good_investors()
    investors[1]["investor_name"] = AWKWARD_NAMES[0]
    extra = [
        {
            "investor_name": name,
            "investor_code": "",
            "investor_category": "自然人",
            "subscribed": Decimal(0),
            "paid_in": Decimal(0),
            "share_pct": Decimal(0),
        }
        for name in AWKWARD_NAMES[1:]
    ]
    values = good_values() | {"remarks": "  缩进的备注\n第二行 &amp; 不是实体 ", "approval_ref": ""}
    inline = fill_workbook(blank_template(), values, investors + extra, None, shared_strings=False)
    return inline, excel_form(inline)


def test_excel_form_has_a_shared_string_table_and_no_inline_strings() -> None:
    inline, shared = both_forms()
    assert b'"inlineStr"' in b"".join(parts(inline).values())
    found = parts(shared)
    assert not any(b"inlineStr" in content for content in found.values())
    assert SHARED_STRINGS_PART in found
    assert b"/xl/sharedStrings.xml" in found["[Content_Types].xml"]
    assert b'Target="sharedStrings.xml"' in found["xl/_rels/workbook.xml.rels"]
    assert "重庆国有资本运营集团".encode() in found[SHARED_STRINGS_PART]  # UTF-8, no character references
    assert not any(b"&#" in content for name, content in found.items() if name.startswith("xl/worksheets/"))
    assert all(b't="s"' in content for name, content in found.items() if name.startswith("xl/worksheets/sheet"))


def test_both_forms_hold_the_same_cells_for_calamine_and_openpyxl() -> None:
    inline, shared = both_forms()
    assert calamine_grids(shared) == calamine_grids(inline)
    assert openpyxl_view(shared) == openpyxl_view(inline)
    names = [row[0] for row in calamine_grids(shared)["出资人情况"][3:9]]
    assert set(AWKWARD_NAMES) <= set(names)


def test_the_reader_gives_the_same_registration_and_findings_for_both_forms() -> None:
    inline, shared = both_forms()
    from_inline, from_shared = read_workbook(inline), read_workbook(shared)
    assert from_shared.registration == from_inline.registration
    assert from_shared.findings == from_inline.findings
    assert check(shared).findings == check(inline).findings
    assert from_shared.registration.remarks == "缩进的备注\n第二行 &amp; 不是实体"


def test_a_failing_workbook_fails_the_same_way_in_both_forms() -> None:
    investors = good_investors()
    investors[0]["share_pct"] = Decimal("61")
    inline = fill_workbook(blank_template(), good_values(), investors, None, shared_strings=False)
    shared = excel_form(inline)
    codes = {(f.code, f.sheet, f.cell) for f in check(inline).findings}
    assert ("investors-share-sum", "出资人情况", "F3") in codes
    assert {(f.code, f.sheet, f.cell) for f in check(shared).findings} == codes


def test_excel_form_leaves_a_workbook_that_has_shared_strings_alone() -> None:
    shared = make_workbook()
    assert excel_form(shared) is shared
    assert excel_form(blank_template()) is blank_template()


def test_template_and_fill_write_excel_form_by_default() -> None:
    assert SHARED_STRINGS_PART in parts(blank_template())
    assert SHARED_STRINGS_PART in parts(make_workbook())
    assert SHARED_STRINGS_PART not in parts(
        fill_workbook(blank_template(), good_values(), good_investors(), None, shared_strings=False)
    )


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (b"<t>&#30331;&#35760;</t>", "<t>登记</t>".encode()),
        (b"<t>&#x767B;</t>", "<t>登</t>".encode()),
        (b"<t>&#38;&#60;&#62;&#34;&#39;</t>", b"<t>&#38;&#60;&#62;&#34;&#39;</t>"),  # must stay escaped
        (b"<t>&#9;&#10;&#13;</t>", b"<t>&#9;&#10;&#13;</t>"),  # control characters stay references
        (b"<t>&#55357;</t>", b"<t>&#55357;</t>"),  # a lone surrogate is not a character
        (b"<t>plain</t>", b"<t>plain</t>"),
    ],
)
def test_literal_utf8_only_rewrites_references_xml_does_not_need(xml: bytes, expected: bytes) -> None:
    assert literal_utf8(xml) == expected


def test_table_rows_share_a_fields_set_that_assignment_cannot_change() -> None:
    rows = read_workbook(make_workbook()).registration.investors
    first, second = rows
    assert first.__pydantic_fields_set__ is second.__pydantic_fields_set__
    assert first.model_fields_set == set(Investor.model_fields)
    first.investor_name = "改名后的公司"
    assert second.model_fields_set == set(Investor.model_fields)
    copied = first.model_copy(update={"paid_in": Decimal(1)})
    assert copied.__pydantic_fields_set__ is not first.__pydantic_fields_set__
    assert Investor.model_validate(second.model_dump()) == second
    other = read_workbook(make_workbook()).registration.investors[0]
    assert other.__pydantic_fields_set__ is not first.__pydantic_fields_set__
