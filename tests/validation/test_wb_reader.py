"""Reading: tolerant input, names and tables from the XML, row caps, and calamine normalization."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wb_factory import ORG, PARENT, USCC, check, codes_at, good_investors, make_workbook

from validation import read_workbook
from validation.layout import split_a1


def _edit(data: bytes, change: object) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    change(wb)  # type: ignore[operator]
    buf = io.BytesIO()
    wb.save(buf)
    wb.close()
    return buf.getvalue()


def test_what_people_type_is_accepted_as_typed_correctly(good_xlsx: bytes) -> None:
    typed = make_workbook(
        {
            "filer_org_code": f"{ORG[:8].lower()}-{ORG[8]}",
            "org_code": "".join(chr(ord(c) + 0xFEE0) for c in ORG),
            "uscc": f" {USCC[:6]} {USCC[6:]} ",
            "parent_org_code": f"{PARENT[:8]}－{PARENT[8]}",
            "reg_capital": "1,000",
            "established_on": "2020年1月2日",
            "act_date": "2020.5.1",
            "is_biz_registered": "√",
            "is_listed": "N",
            "is_overseas": "否",
            "legal_rep": " 张三\u3000",
            "industry": "Ｃ 制造业",
            "ent_name": "\u3000重庆测试实业有限公司 ",
        },
        [
            {
                **good_investors()[0],
                "subscribed": "６００",
                "paid_in": "600.0",
                "share_pct": "60%",
                "investor_category": "国有独资(全资)企业",
            },
            {},
            {**good_investors()[1], "subscribed": 400.0, "share_pct": 40},
        ],
    )
    result = check(typed)
    assert result.findings == []
    expected = read_workbook(good_xlsx).registration.to_canonical()
    assert result.registration is not None
    assert result.registration.to_canonical() == expected
    assert [i.row for i in result.registration.investors] == [4, 6]


def test_amounts_lose_float_noise_and_dates_come_from_serials() -> None:
    data = make_workbook(
        {"act_date": 43952, "reg_capital": 0.1 + 0.2},
        [{**good_investors()[0], "subscribed": 0.1 + 0.2, "paid_in": 0.3, "share_pct": 100.0}],
    )
    reg = read_workbook(data).registration
    assert reg.act_date == dt.date(2020, 5, 1)
    assert reg.reg_capital == Decimal("0.3") and str(reg.investors[0].subscribed) == "0.3"


def test_values_know_their_cells(good_xlsx: bytes) -> None:
    reg = read_workbook(good_xlsx).registration
    assert reg.cell_of("reg_capital") == ("基本信息", "B10")
    assert reg.cell_of("filer_org_code") == ("登记信息", "B10")
    second = reg.investors[1]
    assert reg.table_cell("investors", second, "share_pct") == ("出资人情况", "F5")
    assert reg.table_cell("documents", reg.documents[0], "file_name") == ("合规性资料目录", "C4")


def test_a_moved_defined_name_is_followed(good_xlsx: bytes) -> None:
    def move(wb: openpyxl.Workbook) -> None:
        wb.defined_names["ent_name"].attr_text = "'基本信息'!$E$3"
        wb["基本信息"]["E3"] = None
        wb["基本信息"]["B3"] = "不该读到这里"

    result = check(_edit(good_xlsx, move))
    assert ("required-missing", "基本信息", "E3") in codes_at(result)
    assert result.registration is not None and result.registration.cell_of("ent_name") == ("基本信息", "E3")


def test_a_missing_defined_name_falls_back_with_a_warning(good_xlsx: bytes) -> None:
    def drop(wb: openpyxl.Workbook) -> None:
        del wb.defined_names["ent_name"]

    result = check(_edit(good_xlsx, drop))
    assert codes_at(result) == {("defined-name-missing", "基本信息", "B3")}
    assert result.ok and result.registration is not None
    assert result.registration.ent_name == "重庆测试实业有限公司"


def test_missing_template_version_is_refused(good_xlsx: bytes) -> None:
    def drop(wb: openpyxl.Workbook) -> None:
        del wb.defined_names["template_version"]

    result = check(_edit(good_xlsx, drop))
    assert [f.code for f in result.findings] == ["template-version-missing"]


def test_rows_typed_below_the_table_are_read(good_xlsx: bytes) -> None:
    def below(wb: openpyxl.Workbook) -> None:
        ws = wb["出资人情况"]
        end = int(ws.tables["investors"].ref.split(":")[1][1:])
        for col, value in zip("ABCDEF", ("王五", None, "自然人", 1, 1, 0.1), strict=True):
            ws[f"{col}{end + 5}"] = value

    data = _edit(good_xlsx, below)
    result = check(data)
    assert result.registration is not None
    rows = [i.row for i in result.registration.investors]
    assert len(rows) == 3 and (rows[-1] or 0) > 23
    assert "investors-share-sum" in {f.code for f in result.findings}


def test_missing_table_is_an_error(good_xlsx: bytes) -> None:
    def drop(wb: openpyxl.Workbook) -> None:
        del wb["出资人情况"].tables["investors"]

    result = check(_edit(good_xlsx, drop))
    assert ("table-missing", "出资人情况", "") in codes_at(result)
    assert "investors-empty" not in {f.code for f in result.findings}


def test_table_rows_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    import validation.table_reader

    monkeypatch.setattr(validation.table_reader, "MAX_TABLE_ROWS", 5)
    rows = [{**good_investors()[0], "investor_name": f"出资人{i}"} for i in range(8)]
    read = read_workbook(make_workbook(None, rows))
    assert len(read.registration.investors) == 5
    assert ("table-too-many-rows", "出资人情况", "A9") in {(f.code, f.sheet, f.cell) for f in read.findings}


def test_unparsable_cell_is_reported_once(good_xlsx: bytes) -> None:
    result = check(make_workbook({"established_on": "去年"}))
    on_cell = [f.code for f in result.findings if f.cell == "B6" and f.sheet == "基本信息"]
    assert on_cell == ["invalid-date"]


def test_split_a1() -> None:
    assert split_a1("B10") == (9, 1)
    assert split_a1("$AA$3") == (2, 26)
    with pytest.raises(ValueError):
        split_a1("10B")


def test_broken_xml_inside_a_sound_container_is_unreadable(good_xlsx: bytes) -> None:
    import zipfile

    from validation import BundleError

    source = zipfile.ZipFile(io.BytesIO(good_xlsx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/workbook.xml":
                data = data[: len(data) // 2]
            target.writestr(info, data)
    source.close()
    with pytest.raises(BundleError) as caught:
        read_workbook(out.getvalue(), name="登记表.xlsx")
    assert caught.value.code == "workbook-unreadable"
    assert "登记表.xlsx" in caught.value.message and "Error" not in caught.value.message


TYPED_FORMS: dict[str, list[object]] = {
    "act_date": ["2020-5-1", "2020/05/01", "2020.5.1", "2020年5月1日", 43952, dt.date(2020, 5, 1)],
    "reg_capital": ["1,000", "１０００", " 1000 ", 1000, "1000.0000", Decimal(1000)],
    "is_listed": ["否", "N", "n", "×", "FALSE", False],
    "org_code": [f"{ORG[:8]}-{ORG[8]}", ORG.lower(), f" {ORG} ", "".join(chr(ord(c) + 0xFEE0) for c in ORG), ORG],
}


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.fixed_dictionaries({key: st.sampled_from(forms) for key, forms in TYPED_FORMS.items()}))
def test_any_mix_of_typed_forms_reads_like_the_canonical_values(good_xlsx: bytes, typed: dict[str, object]) -> None:
    result = check(make_workbook(typed))
    assert result.findings == []
    assert result.registration is not None
    assert result.registration.to_canonical() == read_workbook(good_xlsx).registration.to_canonical()


def test_an_excel_totals_row_is_not_an_investor(good_xlsx: bytes) -> None:
    def totals(wb: openpyxl.Workbook) -> None:
        ws = wb["出资人情况"]
        tab = ws.tables["investors"]
        tab.ref = "A3:F6"
        tab.autoFilter.ref = "A3:F5"
        tab.totalsRowCount = 1
        ws["A6"] = "合计"
        ws["D6"] = 1000
        ws["F6"] = 100
        for row in range(7, 24):
            ws[f"A{row}"] = None

    result = check(_edit(good_xlsx, totals))
    assert result.findings == []
    assert result.registration is not None and [i.row for i in result.registration.investors] == [4, 5]
