"""What every rule gets and the helpers that word its findings the same way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from operator import is_, itemgetter
from typing import TYPE_CHECKING, Any

from validation.findings import ERROR, Finding, Severity, display_value, where
from validation.model import CellRef, Registration
from validation.spec import FIELD_SPEC, TABLE_SPEC

if TYPE_CHECKING:
    from validation.bundle import Bundle


@dataclass(frozen=True)
class RuleContext:
    """Inputs of a rule. `attachments` is None when only a workbook was given (no bundle to compare)."""

    registration: Registration
    bundle: Bundle | None = None
    attachments: Mapping[str, bytes] | None = None
    original_names: Mapping[str, str] = field(default_factory=dict)
    problem_cells: frozenset[CellRef] = frozenset()
    missing_tables: frozenset[str] = frozenset()
    today: dt.date = field(default_factory=dt.date.today)
    extra: Mapping[str, Any] = field(default_factory=dict)
    _columns: dict[tuple[str, str], list[Any]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def unreadable(self, ref: CellRef) -> bool:
        """True when reading already reported this cell (so rules do not pile on a second finding)."""
        return ref in self.problem_cells

    def seed_columns(self, columns: Mapping[tuple[str, str], list[Any]]) -> None:
        """Hands over columns the reader already built (ReadResult.columns) for `column` to return.

        They must be exactly the values of this context's registration rows, in row order.
        """
        self._columns.update(columns)

    def column(self, table: str, key: str) -> list[Any]:
        """The values of one table column, top to bottom, shared by every rule that asks.

        Several rules look at the same investor columns; taking each out of 2,000 rows once is a
        noticeable part of a big table's check. Callers must not change the list.
        """
        found = self._columns.get((table, key))
        if found is None:
            rows = self._rows.get(table)
            if rows is None:
                entries = self.registration.investors if table == "investors" else self.registration.documents
                rows = self._rows[table] = list(map(vars, entries))
            found = self._columns[table, key] = list(map(itemgetter(key), rows))
        return found


Rule = Callable[[RuleContext], Iterable[Finding]]


def has_none(values: Iterable[object]) -> bool:
    """`None in values` by identity: `in` would call Decimal.__eq__, which is slow against None."""
    return any(map(is_, values, repeat(None)))


def field_finding(
    reg: Registration, key: str, code: str, problem: str, *, severity: Severity = ERROR, value: object = None
) -> Finding:
    """A finding on a single field; `problem` completes “<where>“<label>”…”."""
    ref = reg.cell_of(key)
    label = FIELD_SPEC[key].label
    shown = display_value(reg.value(key) if value is None else value)
    return Finding(code, severity, ref.sheet, ref.cell, key, shown, f"{where(ref.sheet, ref.cell)}“{label}”{problem}")


def row_finding(  # noqa: PLR0917 - (table, entry, key) locate the cell, (code, problem) say what is wrong
    reg: Registration,
    table: str,
    entry: Any,
    key: str,
    code: str,
    problem: str,
    *,
    severity: Severity = ERROR,
    value: object = None,
) -> Finding:
    """A finding on one cell of a table row; the message names the row too."""
    ref = reg.table_cell(table, entry, key)
    label = TABLE_SPEC[table].column(key).label
    shown = display_value(getattr(entry, key, None) if value is None else value)
    return Finding(
        code, severity, ref.sheet, ref.cell, f"{table}.{key}", shown, f"{where(ref.sheet, ref.cell)}“{label}”{problem}"
    )


def header_ref(reg: Registration, table: str, key: str) -> CellRef:
    """The header cell of a table column, where findings about the whole column are placed."""
    spec = TABLE_SPEC[table]
    sheet = reg.table_sheets.get(table, spec.sheet)
    column = reg.table_columns.get(table, {}).get(key) or spec.column(key).column
    return CellRef(sheet, f"{column}{spec.header_row}")
