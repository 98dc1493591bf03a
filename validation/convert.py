"""Cell value -> field value, one converter per field type, built on the tolerant parsers.

Every value the reader hands to the rules went through one of these, so that rules see one shape
of data: None for empty, str, Decimal, date, bool, or a `ParseProblem` the reader reports.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from validation.catalogue import CHOICE_ALIASES
from validation.codes import fold_width
from validation.parsing import (
    CellValue,
    choice_key,
    clean_text,
    parse_bool,
    parse_choice,
    parse_code,
    parse_date,
    parse_decimal,
)
from validation.spec import FIELD_LIST, TABLES, FieldType

_ALLOWED_LISTS: tuple[tuple[str, ...], ...] = (
    *(f.allowed for f in FIELD_LIST),
    *(c.allowed for t in TABLES for c in t.columns),
)
_CHOICES: dict[str, str] = {
    **{choice_key(alias): value for alias, value in CHOICE_ALIASES.items()},
    **{choice_key(v): v for allowed in _ALLOWED_LISTS for v in allowed},
}
"""Every allowed value by its folded form, so 国有独资(全资)企业 typed with ASCII brackets is accepted,
and by its aliases (建筑业 for E 建筑业); a listed value wins over an alias that folds the same."""


Converted = Any


def convert_text(value: CellValue) -> Converted:
    return clean_text(value)


def _folded_text(value: CellValue) -> Converted:
    return fold_width(clean_text(value))


def _amount(value: CellValue) -> Converted:
    if type(value) is float and value - value == 0:  # a finite number from a numeric cell: the common case
        return Decimal(int(value)) if value.is_integer() else Decimal(format(value, ".15g"))
    return parse_decimal(value)


def _percent(value: CellValue) -> Converted:
    if type(value) is float and value - value == 0:
        return Decimal(int(value)) if value.is_integer() else Decimal(format(value, ".15g"))
    return parse_decimal(value, percent=True)


def _choice(value: CellValue) -> Converted:
    text = parse_choice(value)
    return _CHOICES.get(choice_key(text), text)


CONVERTERS: dict[FieldType, Callable[[CellValue], Converted]] = {
    "text": convert_text,
    "email": _folded_text,
    "phone": _folded_text,
    "org_code": parse_code,
    "uscc": parse_code,
    "region": parse_code,
    "enum": _choice,
    "date": parse_date,
    "amount": _amount,
    "percent": _percent,
    "bool": parse_bool,
}
