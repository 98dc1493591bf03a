"""What every rule gets and the helpers that word its findings the same way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import repeat
from operator import is_, itemgetter
from typing import TYPE_CHECKING, Any

from validation.catalogue import BACKFILL_CUTOFF
from validation.findings import ERROR, WARNING, Finding, Severity, display_value, where
from validation.model import CellRef, Registration
from validation.spec import FIELD_SPEC, TABLE_SPEC

if TYPE_CHECKING:
    from validation.bundle import Bundle


@dataclass(frozen=True)
class RuleOptions:
    """What the operator may set about the rules (settings `validation.*` in chanquan/config.py).

    Validation never reads the configuration: the application passes these in (check_bundle's
    `options`), or sets the process-wide default with `set_default_options` for callers that do not.
    """

    backfill_cutoff: dt.date = BACKFILL_CUTOFF
    """The 数据时点 every 补录历史数据 filing must have."""
    backfill_cutoff_severity: Severity = WARNING
    """How a backfill with another 数据时点 is reported: a warning, or an error that blocks it."""


_default_options = RuleOptions()

AGREEMENT_CODES = frozenset(
    {
        "investors-subscribed-sum",
        "investors-share-sum",
        "investor-share-mismatch",
        "investor-paid-in-exceeds",
        "state-relation-mismatch",
        "org-code-uscc-mismatch",
        "act-date-before-established",
    }
)
"""Findings that two values disagree. Either may be the wrong one, so neither counts as reported
wrong (RuleContext.reported): the other comparisons of those values still run."""


def set_default_options(options: RuleOptions) -> None:
    """The options of every check in this process that is not given its own (e.g. intake's workers)."""
    global _default_options
    _default_options = options


def default_options() -> RuleOptions:
    return _default_options


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
    options: RuleOptions = field(default_factory=default_options)
    _columns: dict[tuple[str, str], list[Any]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _reported_fields: set[str] = field(default_factory=set, init=False, repr=False, compare=False)
    _reported_cells: set[CellRef] = field(default_factory=set, init=False, repr=False, compare=False)
    _reported_codes: set[str] = field(default_factory=set, init=False, repr=False, compare=False)

    def unreadable(self, ref: CellRef) -> bool:
        """True when reading already reported this cell (so rules do not pile on a second finding)."""
        return ref in self.problem_cells

    def note(self, findings: Iterable[Finding]) -> None:
        """Remembers which errors were reported, so that later rules can leave out their follow-ons.

        run_rules calls this after every rule (and for the reader's findings before the first).
        A disagreement (AGREEMENT_CODES) does not mark its field: it does not say which value is wrong.
        """
        for finding in findings:
            if finding.severity != ERROR:
                continue
            self._reported_codes.add(finding.code)
            if finding.code not in AGREEMENT_CODES:
                self._reported_fields.add(finding.field)
                self._reported_cells.add(CellRef(finding.sheet, finding.cell))

    def reported(self, *fields: str) -> bool:
        """True when a value of one of these fields (a key, or table.column for any cell of a column)
        was already reported wrong: a finding that would only follow from it is left out."""
        return any(key in self._reported_fields for key in fields)

    def found(self, code: str) -> bool:
        """True when an error with this code was already reported."""
        return code in self._reported_codes

    def reported_at(self, ref: CellRef) -> bool:
        """True when an error was already reported on this very cell (reading or an earlier rule)."""
        return ref in self.problem_cells or ref in self._reported_cells

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
