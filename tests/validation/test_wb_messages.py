"""Messages without noise: follow-on findings left out, sizes and lists worded as people write them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from support.hostile_factory import far_cell_workbook, high_ratio_workbook, million_row_workbook, rebuild_zip
from wb_factory import PDF, check, codes_at, good_attachments, good_documents, good_investors, make_workbook

from validation import BundleError
from validation.findings import human_size
from validation.safety import inspect_xlsx

B = "基本信息"
I = "出资人情况"  # noqa: E741
MB = 1024 * 1024


def five_investors() -> list[dict[str, Any]]:
    """Five investors of 200 万元 (20%) each: the state investor and four natural persons."""
    state = good_investors()[0]
    return [
        {
            **state,
            "investor_name": f"出资人{n}",
            "investor_code": state["investor_code"] if n == 0 else None,
            "investor_category": state["investor_category"] if n == 0 else "自然人",
            "subscribed": Decimal(200),
            "paid_in": Decimal(200),
            "share_pct": Decimal(20),
        }
        for n in range(5)
    ]


def test_negative_capital_is_one_error_not_five_share_mismatches() -> None:
    values = {"reg_capital": Decimal(-1000), "state_relation": "国有参股"}
    assert check(make_workbook({**values, "reg_capital": Decimal(1000)}, five_investors())).findings == []
    result = check(make_workbook(values, five_investors()))
    assert codes_at(result) == {("amount-negative", B, "B10")}


def test_wrong_investor_category_does_not_also_give_a_state_share_of_zero() -> None:
    rows = good_investors()
    rows[0]["investor_category"] = "国企"  # not in the list: counts as no state category
    result = check(make_workbook(None, rows))
    assert codes_at(result) == {("invalid-choice", I, "C4")}
    assert all("0%" not in f.message for f in result.findings)


def test_a_rows_own_wrong_amount_gives_no_comparisons_built_on_it() -> None:
    rows = good_investors()
    rows[1]["subscribed"] = Decimal(-400)  # the row's share and paid-in compare with it, the sum adds it
    assert codes_at(check(make_workbook(None, rows))) == {("amount-negative", I, "D5")}
    rows = good_investors()
    rows[0]["share_pct"] = Decimal(600)
    assert codes_at(check(make_workbook(None, rows))) == {("percent-range", I, "F4")}


def test_shares_that_do_not_add_up_give_no_state_share() -> None:
    rows = good_investors()
    rows[0]["share_pct"], rows[1]["share_pct"] = Decimal("0.6"), Decimal("0.4")  # fractions instead of percent
    result = check(make_workbook(None, rows))
    assert "investors-share-sum" in {f.code for f in result.findings}
    assert "state-relation-mismatch" not in {f.code for f in result.findings}


def test_disagreements_do_not_hide_each_other() -> None:
    """Neither side of a disagreement is known to be wrong: the sum and the row are both reported."""
    rows = good_investors()
    rows[1]["subscribed"] = Decimal(500)
    assert codes_at(check(make_workbook(None, rows))) == {
        ("investors-subscribed-sum", B, "B10"),
        ("investor-share-mismatch", I, "F5"),
    }


@pytest.mark.parametrize("typed", ["建筑业", "E建筑业", "Ｅ 建筑业", "e 建筑业"])
def test_industry_is_accepted_without_its_letter(typed: str) -> None:
    result = check(make_workbook({"industry": typed}))
    assert result.findings == []
    assert result.registration is not None and result.registration.industry == "E 建筑业"


def test_allowed_values_containing_the_list_separator_are_kept_apart() -> None:
    result = check(make_workbook({"industry": "制造"}))
    [finding] = result.findings
    assert finding.code == "invalid-choice"
    assert "A 农、林、牧、渔业；B 采矿业；C 制造业" in finding.message
    assert "渔业、B" not in finding.message
    assert "共 20 项" in finding.message  # cut between whole values


def test_short_lists_keep_their_usual_separator() -> None:
    [finding] = check(make_workbook({"currency": "卢布"})).findings
    assert "人民币、美元、港元" in finding.message


@pytest.mark.parametrize(
    ("size", "limit", "shown"),
    [
        (2 * MB, None, "2 MB"),
        (2 * MB + 1, 2 * MB, "2.1 MB"),
        (int(2.3 * MB), None, "2.3 MB"),
        (2_055_208, None, "2 MB"),
        (512 * 1024, None, "512 KB"),
        (800, None, "800 字节"),
        (50 * MB, None, "50 MB"),
    ],
)
def test_sizes_read_as_a_person_writes_them(size: int, limit: int | None, shown: str) -> None:
    assert human_size(size, limit=limit) == shown


def test_an_attachment_just_over_the_limit_does_not_read_as_the_limit() -> None:
    documents = good_documents()
    attachments = good_attachments()
    big = PDF + b"0" * (2 * MB + 1 - len(PDF))
    attachments[documents[0]["file_name"]] = big
    [finding] = check(make_workbook(), attachments).findings
    assert finding.code == "document-too-large"
    assert "有 2.1 MB，超过 2 MB 上限" in finding.message
    assert "2.0 MB" not in finding.message


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (million_row_workbook, "workbook-too-many-rows"),
        (far_cell_workbook, "workbook-too-many-rows"),
        (high_ratio_workbook, "workbook-compression-ratio"),
    ],
)
def test_size_limit_messages_name_the_sheet_not_the_xml_part(build: Any, code: str) -> None:
    with pytest.raises(BundleError) as info:
        inspect_xlsx(build(), name="登记表.xlsx")
    assert info.value.code == code
    assert "工作表“基本信息”" in info.value.message
    assert "xl/worksheets" not in info.value.message and ".xml" not in info.value.message


def test_a_sheet_name_with_markup_characters_is_shown_as_typed() -> None:
    import io
    import zipfile

    data = million_row_workbook()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        book = zf.read("xl/workbook.xml").replace("基本信息".encode(), b"R&amp;D &lt;1&gt;")
    with pytest.raises(BundleError) as info:
        inspect_xlsx(rebuild_zip(data, replace={"xl/workbook.xml": book}))
    assert "工作表“R&D <1>”" in info.value.message


def test_too_many_strings_does_not_name_the_xml_part() -> None:
    from support.hostile_factory import shared_strings_workbook

    with pytest.raises(BundleError) as info:
        inspect_xlsx(shared_strings_workbook(250_000), name="strings.xlsx")
    assert "sharedStrings" not in info.value.message and "200000" in info.value.message
