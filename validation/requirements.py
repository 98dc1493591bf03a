"""How the workbook's fields are declared: types, when a field is required, and the declaration
types for single cells, table columns and tables.

spec.py declares the actual fields with these; rules/required.py evaluates a Requirement, the
docs and `chanquan template --spec` print its description.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

FieldType = Literal["text", "org_code", "uscc", "enum", "date", "amount", "percent", "bool", "email", "phone", "region"]


@dataclass(frozen=True)
class Requirement:
    """When a field must be filled; evaluated by rules.required, described in docs and the spec JSON."""

    always: bool = False
    reg_types: tuple[str, ...] = ()
    backfill_only: bool = False
    not_backfill: bool = False
    exempt_overseas: bool = False
    exempt_first_level: bool = False

    @property
    def is_conditional(self) -> bool:
        return not self.always and bool(
            self.reg_types or self.backfill_only or self.not_backfill or self.exempt_overseas or self.exempt_first_level
        )

    def describe(self) -> str:
        if not self.always and not self.is_conditional:
            return "选填"
        parts: list[str] = []
        if self.backfill_only:
            parts.append("登记情形为“补录历史数据”时必填，其他情形不填")
        if self.reg_types:
            parts.append("登记类型为" + "、".join(self.reg_types) + "时必填")
        if self.not_backfill:
            parts.append("补录历史数据以外的情形必填")
        if self.always and not parts:
            parts.append("必填")
        if self.exempt_overseas:
            parts.append("境外企业免填")
        if self.exempt_first_level:
            parts.append("一级企业免填")
        return "；".join(parts)


ALWAYS = Requirement(always=True)
OPTIONAL = Requirement()
DOMESTIC = Requirement(always=True, exempt_overseas=True)


class _Input:
    """What a single cell and a table column share; each subclass declares these fields itself, in
    the order its positional constructor takes them (spec.py), and only where it is differs."""

    key: str
    label: str
    type: FieldType
    requirement: Requirement
    help: str
    allowed: tuple[str, ...]

    @property
    def required(self) -> bool:
        return self.requirement.always and not self.requirement.is_conditional

    def _as_json(self, place: dict[str, str]) -> dict[str, Any]:
        """The spec JSON (`chanquan template --spec`): key and label, where the input is, then the rest."""
        return {
            "key": self.key,
            "label": self.label,
            **place,
            "type": self.type,
            "allowed": list(self.allowed),
            "required": self.required,
            "required_when": self.requirement.describe(),
            "help": self.help,
        }


@dataclass(frozen=True)
class FieldSpec(_Input):
    """One input cell of the workbook."""

    key: str
    label: str
    sheet: str
    cell: str
    type: FieldType
    requirement: Requirement
    help: str
    allowed: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return self._as_json({"sheet": self.sheet, "cell": self.cell})


@dataclass(frozen=True)
class ColumnSpec(_Input):
    """One column of an Excel table; `column` is the sheet column letter in the template."""

    key: str
    label: str
    column: str
    type: FieldType
    requirement: Requirement
    help: str
    allowed: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return self._as_json({"column": self.column})


@dataclass(frozen=True)
class TableSpec:
    """An Excel table (ListObject): header row at `header_row`, body rows below it."""

    name: str
    label: str
    sheet: str
    header_row: int
    columns: tuple[ColumnSpec, ...]
    help: str

    @property
    def first_column(self) -> str:
        return self.columns[0].column

    @property
    def last_column(self) -> str:
        return self.columns[-1].column

    def column(self, key: str) -> ColumnSpec:
        for col in self.columns:
            if col.key == key:
                return col
        raise KeyError(key)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "sheet": self.sheet,
            "header_row": self.header_row,
            "help": self.help,
            "columns": [c.as_json() for c in self.columns],
        }
