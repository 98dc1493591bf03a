"""The standard workbook (contract 1): names, tables, drop-downs, formats, protection, prefill."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from wb_factory import check, good_attachments, good_documents, make_workbook

from validation import TEMPLATE_VERSION, fill_workbook, read_workbook, write_template
from validation.layout import read_layout
from validation.model import Registration
from validation.spec import DOC_KINDS, FIELD_LIST, FIELD_SPEC, MAX_TABLE_ROWS, TABLES, VERSION_NAME
from validation.template import NOT_PREFILLED


@pytest.fixture(scope="module")
def book(template_xlsx: bytes) -> openpyxl.Workbook:
    wb = openpyxl.load_workbook(io.BytesIO(template_xlsx))
    yield wb
    wb.close()


def _destinations(wb: openpyxl.Workbook) -> dict[str, list[tuple[str, str]]]:
    return {name: list(dn.destinations) for name, dn in wb.defined_names.items() if not name.startswith("_xlnm")}


def test_every_defined_name_resolves_to_one_input_cell(book: openpyxl.Workbook) -> None:
    names = _destinations(book)
    assert set(names) == set(FIELD_SPEC) | {VERSION_NAME}
    targets = set()
    for name, dests in names.items():
        assert len(dests) == 1, name
        sheet, coord = dests[0]
        coord = coord.replace("$", "")
        assert ":" not in coord, f"{name} names a range"
        targets.add((sheet, coord))
        cell = book[sheet][coord]
        if name == VERSION_NAME:
            assert cell.value == TEMPLATE_VERSION
            assert cell.protection.locked
            continue
        spec = FIELD_SPEC[name]
        assert (sheet, coord) == (spec.sheet, spec.cell)
        assert cell.protection.locked is False, f"{name} input is locked"
        assert cell.value is None
    assert len(targets) == len(names), "two names share a cell"


def test_reader_sees_the_same_names_as_excel(template_xlsx: bytes, book: openpyxl.Workbook) -> None:
    import zipfile

    with zipfile.ZipFile(io.BytesIO(template_xlsx)) as zf:
        layout = read_layout(zf)
    for name, dests in _destinations(book).items():
        ref = layout.names[name]
        assert ref is not None and (ref.sheet, ref.cell) == (dests[0][0], dests[0][1].replace("$", ""))


def test_labels_are_locked_and_sheets_protected(book: openpyxl.Workbook) -> None:
    for spec in FIELD_LIST:
        ws = book[spec.sheet]
        assert ws.protection.sheet
        label = ws[f"A{spec.cell[1:]}"]
        assert spec.label in str(label.value)
        assert label.protection.locked


def test_tables_have_the_spec_columns_and_unlocked_bodies(book: openpyxl.Workbook) -> None:
    for table in TABLES:
        ws = book[table.sheet]
        tab = ws.tables[table.name]
        assert tab.ref.startswith(f"{table.first_column}{table.header_row}:")
        headers = [ws[f"{c.column}{table.header_row}"].value for c in table.columns]
        assert headers == [c.label for c in table.columns]
        for col in table.columns:
            assert ws[f"{col.column}{table.header_row}"].protection.locked
            assert ws.column_dimensions[col.column].protection.locked is False
    kinds = [book["合规性资料目录"][f"A{r}"].value for r in range(4, 4 + len(DOC_KINDS))]
    assert kinds == list(DOC_KINDS)


def test_every_enumeration_has_a_drop_down(book: openpyxl.Workbook) -> None:
    def covered(ws: object, coord: str) -> list[str]:
        return [dv.formula1 for dv in ws.data_validations.dataValidation if coord in dv.sqref]  # type: ignore[attr-defined]

    for spec in FIELD_LIST:
        if spec.allowed:
            formulas = covered(book[spec.sheet], spec.cell)
            assert len(formulas) == 1, spec.key
            sheet, _, rng = formulas[0].partition("!")
            first, last = rng.replace("$", "").split(":")
            values = [c.value for row in book[sheet.strip("'")][first:last] for c in row]
            assert values == list(spec.allowed)
    for table in TABLES:
        for col in table.columns:
            if col.allowed:  # every row the reader reads (a table can hold), the first and the last
                assert covered(book[table.sheet], f"{col.column}{table.header_row + 1}")
                assert covered(book[table.sheet], f"{col.column}{table.header_row + MAX_TABLE_ROWS}")


def test_number_and_date_formats(book: openpyxl.Workbook) -> None:
    assert book["基本信息"][FIELD_SPEC["reg_capital"].cell].number_format == "#,##0.0000"
    assert book["基本信息"][FIELD_SPEC["established_on"].cell].number_format == "yyyy-mm-dd"
    assert book["基本信息"][FIELD_SPEC["org_code"].cell].number_format == "@"
    assert book["出资人情况"].column_dimensions["F"].number_format == "0.00"
    assert book["出资人情况"].column_dimensions["D"].number_format == "#,##0.0000"
    for ws in book.worksheets:
        if ws.sheet_state == "visible":
            assert str(ws.page_setup.paperSize) == ws.PAPERSIZE_A4
            assert ws.sheet_properties.pageSetUpPr.fitToPage


def test_first_sheet_explains_the_rules(book: openpyxl.Workbook) -> None:
    ws = book.worksheets[0]
    assert ws.title == "填表说明"
    text = "\n".join(str(c.value) for c in ws["A"] if c.value)
    for phrase in ("组织机构代码", "100%", "补录历史数据", "2 MB", "业务办理申请文件", TEMPLATE_VERSION, "PNG"):
        assert phrase in text


def test_first_sheet_names_no_command(book: openpyxl.Workbook) -> None:
    """Filers never run the service's CLI: 填表说明 says where the template comes from instead."""
    text = "\n".join(str(c.value) for c in book["填表说明"]["A"] if c.value)
    assert "chanquan" not in text.lower() and "运行" not in text and "--" not in text
    assert "上级单位" in text


def test_investor_sheet_shows_locked_running_totals(book: openpyxl.Workbook) -> None:
    ws = book["出资人情况"]
    first, last = 4, 3 + MAX_TABLE_ROWS
    for column in ("D", "E", "F"):  # 认缴出资额, 实缴出资额, 股权比例
        total = ws[f"{column}2"]
        assert total.value == f"=SUM({column}{first}:{column}{last})"
        assert total.protection.locked
        assert total.number_format == ws.column_dimensions[column].number_format
    assert ws["C2"].value == "合计（自动计算）" and ws["C2"].protection.locked
    rules = {str(rng.sqref): [r.formula[0] for r in rng.rules] for rng in ws.conditional_formatting}
    assert "reg_capital" in rules["D2"][0] and "100" in rules["F2"][0]


def test_running_totals_do_not_change_what_is_read(book: openpyxl.Workbook) -> None:
    result = check(make_workbook())
    assert result.ok and result.findings == []
    assert [i.row for i in result.registration.investors] == [4, 5]  # type: ignore[union-attr]


def test_blank_template_fails_with_required_fields(template_xlsx: bytes) -> None:
    result = check(template_xlsx)
    assert not result.ok
    assert {f.code for f in result.findings} >= {"required-missing", "investors-empty"}


def test_prefilled_template_reads_back_the_same(tmp_path: Path) -> None:
    source = read_workbook(make_workbook()).registration
    prefill = Registration.from_canonical(source.to_canonical())
    out = tmp_path / "prefilled.xlsx"
    write_template(out, prefill)
    again = read_workbook(out.read_bytes()).registration.to_canonical()
    expected = source.to_canonical()
    assert again.pop("documents") != expected.pop("documents")  # the catalogue is the blank template's
    # the filing's own fields (登记类型, 登记情形, 日期, 批准文号 …) are the filer's to state again
    assert {"reg_type", "reg_situation", "act_date", "approval_ref"} <= NOT_PREFILLED
    assert "filer_org_code" not in NOT_PREFILLED
    assert {key: again.pop(key, None) for key in NOT_PREFILLED} == dict.fromkeys(NOT_PREFILLED)
    assert again == {k: v for k, v in expected.items() if k not in NOT_PREFILLED}
    stated = {key: source.value(key) for key in NOT_PREFILLED if source.value(key) is not None}
    refilled = fill_workbook(out.read_bytes(), stated, None, good_documents())
    assert check(refilled, good_attachments()).ok


def test_fill_workbook_extends_the_table(template_xlsx: bytes) -> None:
    from wb_factory import good_investors

    rows = [
        {
            **good_investors()[0],
            "investor_name": f"出资人{i}",
            "investor_code": None,
            "investor_category": "自然人",
            "subscribed": Decimal(10),
            "paid_in": Decimal(10),
            "share_pct": Decimal(1),
        }
        for i in range(100)
    ]
    data = make_workbook({"reg_capital": Decimal(1000), "state_relation": "国有参股"}, rows)
    wb = openpyxl.load_workbook(io.BytesIO(data))
    assert wb["出资人情况"].tables["investors"].ref == "A3:F103"
    wb.close()
    result = check(data)
    assert result.registration is not None and len(result.registration.investors) == 100
    assert result.ok, [f.message for f in result.findings][:3]
