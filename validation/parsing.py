"""Tolerant parsing of what people type into cells, in one place.

Each parser takes one normalized calamine value (str, float, int, bool, date, datetime) and
returns either the parsed value or a `ParseProblem` saying why the text is not acceptable or
is ambiguous. Parsers never guess: 1,23 or 06/30/12 are reported, not interpreted.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from validation.codes import fold_width, normalize_org_code

EXCEL_EPOCH = dt.date(1899, 12, 30)
EXCEL_FIRST_DAY = dt.date(1900, 1, 1)  # serial 1
MAX_SERIAL = 2_958_465  # 9999-12-31


@dataclass(frozen=True, slots=True)
class ParseProblem:
    """Why a value was not accepted: `code` is a finding code, `expected` completes the message."""

    code: str
    expected: str


CellValue = str | float | int | bool | dt.date | dt.datetime | dt.time | dt.timedelta

_BLANKS = dict.fromkeys(map(ord, " \t\r\n\u3000\u00a0"), None)
_TRUE = frozenset({"是", "Y", "YES", "TRUE", "√", "✓", "✔", "T", "1", "对"})
_FALSE = frozenset({"否", "N", "NO", "FALSE", "×", "✗", "✘", "F", "0", "不是"})

_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)$")
_GROUPED_NUMBER = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_YMD = re.compile(r"^(\d{4})\s*[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
_YMD_CN = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_OTHER_DATE = re.compile(r"^\d{1,2}\s*[-/.]\s*\d{1,2}\s*[-/.]\s*\d{2,4}$")

BAD_NUMBER = ParseProblem("invalid-number", "一个数字（可带千分位逗号）")
AMBIGUOUS_NUMBER = ParseProblem("ambiguous-number", "一个含义明确的数字（逗号只能作千分位分隔，小数点用“.”）")
BAD_DATE = ParseProblem("invalid-date", "一个有效日期，例如 2012-06-30")
AMBIGUOUS_DATE = ParseProblem("ambiguous-date", "年份在前的四位年份日期，例如 2012-06-30（无法确定日、月顺序）")
BAD_BOOL = ParseProblem("invalid-boolean", "“是”或“否”")


def clean_text(value: CellValue) -> str:
    """Text of a cell with surrounding blanks stripped; whole floats lose their '.0'."""
    if isinstance(value, str):
        return value.strip()  # also strips the ideographic space and NBSP
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def is_blank(value: CellValue) -> bool:
    """Empty, or only blanks (str.strip also removes the ideographic space and NBSP)."""
    return value == "" or (isinstance(value, str) and not value.strip())


def parse_code(value: CellValue) -> str:
    """A code as the checks see it (normalize_org_code); a number keeps its digits only."""
    return normalize_org_code(clean_text(value))


@lru_cache(maxsize=2048)
def _choice_text(text: str) -> str:
    return " ".join(fold_width(text).split())


def parse_choice(value: CellValue) -> str:
    """An enumeration value: blanks removed inside too, full-width ASCII folded (Ａ 农业 -> A 农业)."""
    return _choice_text(clean_text(value))


@lru_cache(maxsize=2048)
def choice_key(text: str) -> str:
    """Folded form of an enumeration value for matching: no blanks, ASCII brackets, case-folded."""
    return "".join(fold_width(text).split()).replace("（", "(").replace("）", ")").casefold()


def _float_to_decimal(value: float) -> Decimal:
    """Decimal of the shortest 15-significant-digit form: 0.1+0.2 stays 0.3, 1234.5678 stays exact."""
    return Decimal(format(value, ".15g"))


def parse_decimal(value: CellValue, *, percent: bool = False) -> Decimal | ParseProblem:
    """A number from a numeric cell or from text with thousands separators or full-width digits."""
    if isinstance(value, bool):
        return BAD_NUMBER
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value.is_integer():
            return Decimal(int(value))
        if math.isnan(value) or math.isinf(value):
            return BAD_NUMBER
        return _float_to_decimal(value)
    if not isinstance(value, str):
        return BAD_NUMBER
    return _decimal_text(value, percent=percent)


def _decimal_text(value: str, *, percent: bool) -> Decimal | ParseProblem:
    """A number typed as text: 1,234.5 is read, but a comma that is not a thousands separator is
    ambiguous (a decimal comma?) and asked about rather than guessed."""
    text = fold_width(value).translate(_BLANKS)
    if percent and text.endswith("%"):
        text = text[:-1]
    if not text:
        return BAD_NUMBER
    if _PLAIN_NUMBER.match(text):
        pass
    elif _GROUPED_NUMBER.match(text):
        text = text.replace(",", "")
    elif "," in text and re.fullmatch(r"[+-]?[\d,.]+", text):
        return AMBIGUOUS_NUMBER
    else:
        return BAD_NUMBER
    try:
        return Decimal(text)
    except InvalidOperation:
        return BAD_NUMBER


def _make_date(y: int, m: int, d: int) -> dt.date | ParseProblem:
    try:
        return dt.date(y, m, d)
    except ValueError:
        return BAD_DATE


def parse_date(value: CellValue) -> dt.date | ParseProblem:
    """A date from a date cell, an Excel serial, or text in the year-first forms people use."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        # a date cell cannot hold a day before Excel's first: calamine's 1899-12-30 is a NaN it read
        return value if value >= EXCEL_FIRST_DAY else BAD_DATE
    if isinstance(value, bool):
        return BAD_DATE
    if isinstance(value, int | float):
        return _serial_date(value)
    if not isinstance(value, str):
        return BAD_DATE
    text = fold_width(value).strip()
    for pattern in (_YMD, _YMD_CN, _COMPACT):
        match = pattern.match(text)
        if match:
            return _make_date(int(match[1]), int(match[2]), int(match[3]))
    if _OTHER_DATE.match(text):
        return AMBIGUOUS_DATE
    if _PLAIN_NUMBER.match(text):  # not str.isdigit(), which takes ², that float() refuses
        return parse_date(float(text))
    return BAD_DATE


def _serial_date(value: int | float) -> dt.date | ParseProblem:
    """A numeric cell: an Excel serial day (a date-time serial's day part), or 20250301 typed as a number."""
    if not math.isfinite(value):  # a stored NaN or infinity, or a long digit run that float() made infinite
        return BAD_DATE
    number = int(value)
    if 1 <= number <= MAX_SERIAL:
        if number == 60:
            return BAD_DATE  # Excel's fictitious 1900-02-29
        offset = number if number > 60 else number + 1
        return EXCEL_EPOCH + dt.timedelta(days=offset)
    match = _COMPACT.match(str(number))
    if match:
        return _make_date(int(match[1]), int(match[2]), int(match[3]))
    return BAD_DATE


def parse_bool(value: CellValue) -> bool | ParseProblem:
    """是/否, Y/N, √/×, TRUE/FALSE, 1/0 (Excel booleans too)."""
    if isinstance(value, bool):
        return value
    text = fold_width(clean_text(value)).translate(_BLANKS).upper()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return BAD_BOOL
