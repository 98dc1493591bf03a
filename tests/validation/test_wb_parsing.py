"""Tolerant parsing of typed values: accepted forms, and ambiguity reported instead of guessed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from validation.parsing import (
    ParseProblem,
    clean_text,
    is_blank,
    parse_bool,
    parse_choice,
    parse_date,
    parse_decimal,
)

DATES = st.dates(min_value=dt.date(1901, 1, 1), max_value=dt.date(2099, 12, 31))


@given(DATES)
def test_every_written_form_of_a_date(day: dt.date) -> None:
    y, m, d = day.year, day.month, day.day
    forms = [
        f"{y}-{m}-{d}",
        f"{y}-{m:02d}-{d:02d}",
        f"{y}/{m:02d}/{d:02d}",
        f"{y}.{m}.{d}",
        f"{y}年{m}月{d}日",
        f" {y}年{m:02d}月{d:02d}日 ",
        f"{y}{m:02d}{d:02d}",
        f"{y}-{m:02d}-{d:02d} 00:00:00",
        "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in f"{y}-{m}-{d}"),
    ]
    for text in forms:
        assert parse_date(text) == day, text
    serial = (day - dt.date(1899, 12, 30)).days
    assert parse_date(float(serial)) == day
    assert parse_date(dt.datetime(y, m, d, 13, 5)) == day


@pytest.mark.parametrize("text", ["30/06/2012", "06/30/2012", "12-6-30", "5/1/20"])
def test_day_month_order_is_ambiguous(text: str) -> None:
    assert parse_date(text) == ParseProblem("ambiguous-date", parse_date(text).expected)  # type: ignore[union-attr]


@pytest.mark.parametrize("text", ["2012-02-30", "2012-13-01", "昨天", "2012年"])
def test_impossible_dates(text: str) -> None:
    result = parse_date(text)
    assert isinstance(result, ParseProblem) and result.code == "invalid-date"


@given(st.decimals(min_value=Decimal(-(10**9)), max_value=Decimal(10**9), places=4, allow_nan=False))
def test_numbers_in_every_typed_form(value: Decimal) -> None:
    plain = format(value, "f")
    sign = "-" if value < 0 else ""
    whole, _, frac = format(abs(value), "f").partition(".")
    grouped = sign + f"{int(whole):,}" + (f".{frac}" if frac else "")
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in plain)
    for text in (plain, grouped, f" {plain} ", full_width):
        assert parse_decimal(text) == value, text
    assert parse_decimal(float(plain)) == value


def test_float_noise_is_removed() -> None:
    assert parse_decimal(0.1 + 0.2) == Decimal("0.3")
    assert parse_decimal(1234.5678) == Decimal("1234.5678")
    assert str(parse_decimal(600.0)) == "600"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1,23", "ambiguous-number"),
        ("1.234,5", "ambiguous-number"),
        ("一百", "invalid-number"),
        ("12万", "invalid-number"),
        ("--1", "invalid-number"),
    ],
)
def test_unclear_numbers_are_reported(text: str, code: str) -> None:
    result = parse_decimal(text)
    assert isinstance(result, ParseProblem) and result.code == code


def test_percent_sign_only_for_percentages() -> None:
    assert parse_decimal("60%", percent=True) == Decimal(60)
    assert isinstance(parse_decimal("60%"), ParseProblem)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("是", True),
        ("否", False),
        ("Y", True),
        ("n", False),
        ("√", True),
        ("×", False),
        ("TRUE", True),
        (True, True),
        (0.0, False),
        (" 是 ", True),
    ],
)
def test_booleans(text: object, value: bool) -> None:
    assert parse_bool(text) is value  # type: ignore[arg-type]


def test_unknown_boolean() -> None:
    result = parse_bool("可能")
    assert isinstance(result, ParseProblem) and result.code == "invalid-boolean"


@given(st.text(alphabet=" \t\u3000\u00a0\n", max_size=5))
def test_blank_cells(text: str) -> None:
    assert is_blank(text)


def test_calamine_values_become_text() -> None:
    assert clean_text(12345678.0) == "12345678"
    assert clean_text(" 张三\u3000") == "张三"
    assert clean_text(dt.datetime(2012, 6, 30)) == "2012-06-30"
    assert parse_choice("Ｃ　制造业") == "C 制造业"
