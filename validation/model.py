"""The registration as data: pydantic models whose values know the cell they came from.

Provenance (sheet and cell of each value, row of each table entry) is kept beside the data
and left out of `to_canonical()`, so that the ledger records what was filed, and diffs compare
content rather than where a filer happened to type it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Any, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from validation.findings import display_value
from validation.spec import DOCUMENTS, FIELD_SPEC, INVESTORS, TABLE_SPEC


class CellRef(NamedTuple):
    sheet: str
    cell: str


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    row: int | None = Field(default=None, description="sheet row the entry was read from (1-based)")


class Investor(_Row):
    investor_name: str | None = None
    investor_code: str | None = None
    investor_category: str | None = None
    subscribed: Decimal | None = None
    paid_in: Decimal | None = None
    share_pct: Decimal | None = None


class DocumentEntry(_Row):
    doc_kind: str | None = None
    required: str | None = None
    file_name: str | None = None
    note: str | None = None


RowT = TypeVar("RowT", bound=BaseModel)


_SLOTS = vars(BaseModel)
_new_object = object.__new__
_set_dict = _SLOTS["__dict__"].__set__
_set_fields_set = _SLOTS["__pydantic_fields_set__"].__set__
_set_extra = _SLOTS["__pydantic_extra__"].__set__
_set_private = _SLOTS["__pydantic_private__"].__set__


def row_builder(cls: type[RowT]) -> Callable[..., RowT]:
    """A function (value of each field, in cls.model_fields order) -> an already-validated row.

    The reader has converted every value itself, and model_construct costs several times more
    per row, which is most of the budget for a 2,000-row table. So the row is built without
    pydantic's per-field loop: BaseModel's slot descriptors are called directly (object.__setattr__
    looks each of them up again), a dict display builds the row's __dict__ (twice as fast as
    dict(zip(keys, values))), and the rows of one builder share one fields-set. That set names
    every field, so pydantic's only change to it (adding the name of an assigned field) never
    alters it, and copies of a model get their own. Each call gives a new set, so rows of
    different reads share nothing.
    """
    return _builder_factory(cls)(set(cls.model_fields))


@cache
def _builder_factory(cls: type[BaseModel]) -> Callable[[set[str]], Callable[..., Any]]:
    """Generates row_builder's code once per model, as dataclasses and namedtuple generate theirs:
    a dict display with fixed keys is what makes building a row fast."""
    fields = tuple(cls.model_fields)
    params = ", ".join(f"v{i}" for i in range(len(fields)))
    items = ", ".join(f"{name!r}: v{i}" for i, name in enumerate(fields))
    source = (
        "def make(fields_set):\n"
        f"    def build({params}):\n"
        "        obj = new(cls)\n"
        f"        set_dict(obj, {{{items}}})\n"
        "        set_fields_set(obj, fields_set)\n"
        "        set_extra(obj, None)\n"
        "        set_private(obj, None)\n"
        "        return obj\n"
        "    return build\n"
    )
    namespace: dict[str, Any] = {
        "new": _new_object,
        "cls": cls,
        "set_dict": _set_dict,
        "set_fields_set": _set_fields_set,
        "set_extra": _set_extra,
        "set_private": _set_private,
    }
    exec(source, namespace)  # the source is built from the model's own field names only
    make: Callable[[set[str]], Callable[..., Any]] = namespace["make"]
    return make


INVESTOR_KEYS: tuple[str, ...] = tuple(c.key for c in INVESTORS.columns)
DOCUMENT_KEYS: tuple[str, ...] = tuple(c.key for c in DOCUMENTS.columns)


class Registration(BaseModel):
    """One filed workbook. Field names are the spec keys (and the workbook's defined names)."""

    model_config = ConfigDict(extra="forbid")

    template_version: str | None = None
    # 登记信息
    reg_type: str | None = None
    reg_situation: str | None = None
    backfill_form: str | None = None
    as_of_date: dt.date | None = None
    is_biz_registered: bool | None = None
    act_date: dt.date | None = None
    approval_ref: str | None = None
    filer_org_code: str | None = None
    # 基本信息
    ent_name: str | None = None
    uscc: str | None = None
    org_code: str | None = None
    established_on: dt.date | None = None
    ent_level: str | None = None
    state_relation: str | None = None
    org_form: str | None = None
    reg_capital: Decimal | None = None
    currency: str | None = None
    region_code: str | None = None
    address: str | None = None
    industry: str | None = None
    op_status: str | None = None
    is_overseas: bool | None = None
    is_listed: bool | None = None
    legal_rep: str | None = None
    business_scope: str | None = None
    parent_org_code: str | None = None
    main_investor_code: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    contact_email: str | None = None
    remarks: str | None = None
    # tables
    investors: list[Investor] = Field(default_factory=list)
    documents: list[DocumentEntry] = Field(default_factory=list)
    # provenance, not data
    cells: dict[str, CellRef] = Field(default_factory=dict, exclude=True)
    table_columns: dict[str, dict[str, str]] = Field(default_factory=dict, exclude=True)
    table_sheets: dict[str, str] = Field(default_factory=dict, exclude=True)

    def value(self, key: str) -> Any:
        return getattr(self, key)

    def cell_of(self, key: str) -> CellRef:
        """Where a single field was read from (its defined name's target), else the template's cell."""
        found = self.cells.get(key)
        if found is not None:
            return found
        spec = FIELD_SPEC[key]
        return CellRef(spec.sheet, spec.cell)

    def table_cell(self, table: str, entry: _Row, key: str) -> CellRef:
        """The cell of column `key` in the row of `entry` (an Investor or a DocumentEntry)."""
        spec = TABLE_SPEC[table]
        sheet = self.table_sheets.get(table, spec.sheet)
        column = self.table_columns.get(table, {}).get(key) or spec.column(key).column
        row = entry.row if entry.row is not None else spec.header_row + 1
        return CellRef(sheet, f"{column}{row}")

    @property
    def overseas(self) -> bool:
        return self.is_overseas is True

    def to_canonical(self) -> dict[str, Any]:
        """JSON-safe data: Decimal as string, date as ISO string, provenance left out."""
        out: dict[str, Any] = {"template_version": self.template_version}
        for key in FIELD_SPEC:
            out[key] = _canonical_value(getattr(self, key))
        out["investors"] = [{k: _canonical_value(getattr(i, k)) for k in INVESTOR_KEYS} for i in self.investors]
        out["documents"] = [{k: _canonical_value(getattr(d, k)) for k in DOCUMENT_KEYS} for d in self.documents]
        return out

    @classmethod
    def from_canonical(cls, data: dict[str, Any]) -> Registration:
        """The inverse of to_canonical (pydantic parses ISO dates and decimal strings back)."""
        provenance = {"cells", "table_columns", "table_sheets"}
        known = {k: v for k, v in data.items() if k in cls.model_fields and k not in provenance}
        return cls.model_validate(known)


def _canonical_value(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")  # 600.0 and 600 are the same amount
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class FieldChange(NamedTuple):
    """One difference between two registrations, with display strings for mails and reports."""

    key: str
    label: str
    old: str
    new: str


def diff_registrations(
    old: Registration, new: Registration, *, ignore: frozenset[str] = frozenset()
) -> list[FieldChange]:
    """Field-by-field changes, investors matched by name; documents are attachments, not data."""
    changes: list[FieldChange] = []
    for key, spec in FIELD_SPEC.items():
        if key in ignore:
            continue
        a, b = getattr(old, key), getattr(new, key)
        if a != b:
            changes.append(FieldChange(key, spec.label, display_value(a), display_value(b)))
    if "investors" in ignore:
        return changes
    old_by_name = {i.investor_name or f"#{n}": i for n, i in enumerate(old.investors)}
    new_by_name = {i.investor_name or f"#{n}": i for n, i in enumerate(new.investors)}
    for name, inv in new_by_name.items():
        before = old_by_name.get(name)
        if before is None:
            changes.append(FieldChange(f"investors[{name}]", f"出资人“{name}”", "", "新增"))
            continue
        for col in INVESTORS.columns[1:]:
            a, b = getattr(before, col.key), getattr(inv, col.key)
            if a != b:
                changes.append(
                    FieldChange(
                        f"investors[{name}].{col.key}",
                        f"出资人“{name}” {col.label}",
                        display_value(a),
                        display_value(b),
                    )
                )
    for name in old_by_name:
        if name not in new_by_name:
            changes.append(FieldChange(f"investors[{name}]", f"出资人“{name}”", "原有", "删除"))
    return changes
