"""The bulk shortcuts the rules take for big tables give the same answers as the plain definitions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st
from wb_factory import check, good_investors, make_workbook

from validation import read_workbook
from validation.rules import RuleContext
from validation.rules.investors import _distinct_pairs

OBJECTS = [Decimal(1), Decimal(2), Decimal("2.0"), None, "x"]


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), max_size=30))
def test_distinct_pairs_are_the_pairs_of_objects_each_once(picks: list[tuple[int, int]]) -> None:
    first = [OBJECTS[a] for a, _ in picks]
    second = [OBJECTS[b] for _, b in picks]
    got = list(_distinct_pairs(first, second))
    assert len(got) == len({(id(a), id(b)) for a, b in got})
    assert {(id(a), id(b)) for a, b in got} == {(id(a), id(b)) for a, b in zip(first, second, strict=True)}


def test_rule_context_columns_follow_the_rows() -> None:
    investors = good_investors()
    investors[1]["investor_name"] = "  第二 出资人 "
    registration = read_workbook(make_workbook(investors=investors)).registration
    ctx = RuleContext(registration=registration, today=dt.date(2026, 11, 27))
    names = ctx.column("investors", "investor_name")
    assert names == [inv.investor_name for inv in registration.investors] == ["重庆国有资本运营集团", "第二 出资人"]
    assert ctx.column("investors", "investor_name") is names  # taken out of the rows once per check
    assert ctx.column("documents", "doc_kind") == [doc.doc_kind for doc in registration.documents]


def test_names_differing_only_by_inner_blanks_are_duplicates() -> None:
    investors = good_investors()
    investors[1]["investor_name"] = "重庆国有 资本\u3000运营集团"
    result = check(make_workbook(investors=investors))
    assert ("investor-duplicate-name", "出资人情况", "A5") in {(f.code, f.sheet, f.cell) for f in result.findings}


def test_columns_the_reader_hands_over_are_exactly_the_row_values() -> None:
    investors = good_investors()
    blank_row = dict.fromkeys(investors[0], None)
    result = read_workbook(make_workbook(investors=[investors[0], blank_row, investors[1]]))
    registration = result.registration
    assert [inv.row for inv in registration.investors] == [4, 6]  # the empty row inside the table is skipped
    for table, entries in (("investors", registration.investors), ("documents", registration.documents)):
        for key in type(entries[0]).model_fields:
            if key != "row":
                assert result.columns[table, key] == [getattr(entry, key) for entry in entries], (table, key)
