"""The Excel tables `investors` and `documents`: their columns found by header, their rows read.

Tables are read column by column rather than row by row: the per-cell work then stays inside
C-level maps, which is what makes 2,000 investor rows fit the time budget (docs/performance.md).
Rows typed just below a table count (Excel does not grow a table on a protected sheet), unless
the table has a totals row, which closes it; empty rows inside a table are skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import compress
from typing import Any, NamedTuple

from validation.codes import fold_width
from validation.convert import CONVERTERS, convert_text
from validation.findings import ERROR, Finding
from validation.layout import TableLocation, WorkbookLayout, column_letter
from validation.model import CellRef, DocumentEntry, Investor, row_builder
from validation.parsing import CellValue, ParseProblem, is_blank
from validation.spec import DOCUMENTS, INVESTORS, MAX_TABLE_ROWS, TABLES, TEMPLATE_SOURCE_HINT, ColumnSpec, TableSpec


def _label_key(text: str) -> str:
    return "".join(fold_width(text).split()).replace("(", "（").replace(")", "）")


_HEADER_KEYS: dict[str, dict[str, str]] = {
    t.name: {**{_label_key(c.label): c.key for c in t.columns}, **{c.key: c.key for c in t.columns}} for t in TABLES
}


_ROW_MODELS: dict[str, tuple[type[Investor] | type[DocumentEntry], tuple[str, ...]]] = {
    name: (model, tuple(model.model_fields)[1:])
    for name, model in ((INVESTORS.name, Investor), (DOCUMENTS.name, DocumentEntry))
}
"""Each table's row model and its column keys in the order row_builder takes them (after `row`)."""


def _is_filled(raw: CellValue) -> bool:
    return raw != "" and (raw.__class__ is not str or bool(raw.strip()))


class _Place(NamedTuple):
    """Where a table column sits: sheet, column letter, zero-based first body row, table name."""

    sheet: str
    letter: str
    first: int
    table: str


class TableRead(NamedTuple):
    """A table's rows (Investor or DocumentEntry), each column key's sheet letter, and its sheet."""

    rows: list[Any]
    letters: dict[str, str]
    sheet: str


Grid = Callable[[str, int | None], list[list[CellValue]]]
"""Sheet name, most rows -> calamine's grid of that sheet."""
Report = Callable[[CellRef, str, str, ParseProblem, CellValue], None]
"""How a cell that cannot be read is reported: (cell, field key, label, problem, raw value)."""


class TableReader:
    """Reads the tables of one workbook; findings go to `findings`, unreadable cells to `report`."""

    def __init__(self, layout: WorkbookLayout, grid: Grid, findings: list[Finding], report: Report) -> None:
        self.layout = layout
        self.grid = grid
        self.findings = findings
        self.report = report
        self.columns: dict[tuple[str, str], list[Any]] = {}
        """(table, column key) -> the column's values in row order, exactly the values the rows hold."""

    def read(self, spec: TableSpec) -> TableRead | None:
        """The table's rows, or None (and a `table-missing` finding) when the workbook has no such table."""
        loc = self.layout.tables.get(spec.name)
        if loc is None:
            self.findings.append(
                Finding(
                    "table-missing",
                    ERROR,
                    spec.sheet,
                    "",
                    spec.name,
                    "",
                    f"“{spec.sheet}”工作表缺少名为“{spec.name}”的表格（{spec.label}），无法读取。{TEMPLATE_SOURCE_HINT}。",
                )
            )
            return None
        positions = self._positions(spec, loc)
        letters = {key: column_letter(index) for key, index in positions.items()}
        lines, first = self._body(spec, loc)
        widths = set(map(len, lines))
        cells_by_column = list(zip(*lines, strict=True)) if len(widths) == 1 else None  # calamine's grid is rectangular
        columns = {
            col.key: self._column(
                lines, cells_by_column, col, positions[col.key], _Place(loc.sheet, letters[col.key], first, spec.name)
            )
            for col in spec.columns
            if col.key in positions
        }
        if not columns:
            return TableRead([], letters, loc.sheet)
        return TableRead(self._rows(spec, columns, first, len(lines)), letters, loc.sheet)

    def _positions(self, spec: TableSpec, loc: TableLocation) -> dict[str, int]:
        """Column key -> zero-based sheet column, matched by header label or key; missing ones reported."""
        header_keys = _HEADER_KEYS[spec.name]
        positions: dict[str, int] = {}
        for offset, header in enumerate(loc.columns):
            key = header_keys.get(_label_key(header))
            if key is not None and key not in positions:
                positions[key] = loc.first_col + offset
        for col in spec.columns:
            if col.key not in positions:
                self.findings.append(
                    Finding(
                        "table-column-missing",
                        ERROR,
                        loc.sheet,
                        f"{column_letter(loc.first_col)}{loc.header_row + 1}",
                        f"{spec.name}.{col.key}",
                        "",
                        f"“{loc.sheet}”工作表的表格“{spec.name}”缺少“{col.label}”列。{TEMPLATE_SOURCE_HINT}。",
                    )
                )
        return positions

    def _body(self, spec: TableSpec, loc: TableLocation) -> tuple[list[list[CellValue]], int]:
        """The grid lines of the table body (zero-based first row too), at most MAX_TABLE_ROWS of them."""
        grid = self.grid(loc.sheet, loc.header_row + 2 + MAX_TABLE_ROWS)
        first = loc.header_row + 1
        if loc.totals_rows:  # Excel's 汇总行 closes the table: nothing below it belongs to the table
            last = min(loc.last_row + 1 - loc.totals_rows, first + MAX_TABLE_ROWS)
        else:  # rows typed just below a table (Excel does not grow tables on protected sheets) count
            last = min(max(loc.last_row + 1, len(grid)), first + MAX_TABLE_ROWS)
        if len(grid) > first + MAX_TABLE_ROWS and any(not is_blank(v) for v in grid[first + MAX_TABLE_ROWS]):
            self.findings.append(
                Finding(
                    "table-too-many-rows",
                    ERROR,
                    loc.sheet,
                    f"A{first + MAX_TABLE_ROWS + 1}",
                    spec.name,
                    "",
                    f"“{loc.sheet}”工作表的表格“{spec.name}”超过 {MAX_TABLE_ROWS} 行，只读取了前 {MAX_TABLE_ROWS} 行。",
                )
            )
        return grid[first : min(last, len(grid))], first

    def _rows(
        self, spec: TableSpec, columns: dict[str, tuple[list[Any], list[bool] | None]], first: int, count: int
    ) -> list[Any]:
        """Row models from converted columns; rows empty in every column are left out."""
        flag_columns = [flags for _, flags in columns.values()]
        if any(flags is None for flags in flag_columns):  # a column filled in every row: no row is empty
            filled_rows = [True] * count
        else:
            filled_rows = list(map(any, zip(*flag_columns, strict=True)))
        blank: list[Any] = [None] * count
        model, keys = _ROW_MODELS[spec.name]
        value_columns = [columns[key][0] if key in columns else blank for key in keys]
        numbers: Iterable[int] = range(first + 1, first + 1 + count)
        if not all(filled_rows):  # rows left empty inside the table are skipped
            numbers = compress(numbers, filled_rows)
            value_columns = [list(compress(values, filled_rows)) for values in value_columns]
        rows = list(map(row_builder(model), numbers, *value_columns))
        for key, values in zip(keys, value_columns, strict=True):
            self.columns[spec.name, key] = values if values is not blank else [None] * len(rows)
        return rows

    def _column(
        self,
        lines: list[list[CellValue]],
        cells_by_column: list[tuple[CellValue, ...]] | None,
        col: ColumnSpec,
        index: int,
        place: _Place,
    ) -> tuple[list[Any], list[bool] | None]:
        """One table column converted top to bottom, with a flag per row saying the cell was not blank
        (None when no cell of the column is blank, the common case, which needs no flags).

        Working column by column keeps the per-cell work inside C-level maps, which is what makes
        2,000 rows fit the time budget. Columns repeat values (amounts, categories), so each
        distinct text or float is converted once; a column holding bools, ints or dates converts
        cell by cell, because True == 1 == 1.0 would share a dict entry.
        """
        convert = CONVERTERS[col.type]
        raws: Sequence[CellValue]
        if cells_by_column is not None and index < len(cells_by_column):
            raws = cells_by_column[index]
        else:
            raws = [line[index] if index < len(line) else "" for line in lines]
        kinds = set(map(type, raws))
        if convert is convert_text and kinds <= {str}:  # names, notes: unique text, nothing to parse
            stripped = list(map(str.strip, raws))  # type: ignore[arg-type]
            return [text or None for text in stripped], None if all(stripped) else list(map(bool, stripped))
        filled: list[bool] | None
        values: list[Any]
        if kinds <= {str, float}:  # no bool or int, which would share dict keys with equal floats
            fulls = {raw: _is_filled(raw) for raw in dict.fromkeys(raws)}
            converted = {raw: convert(raw) if full else None for raw, full in fulls.items()}
            values = list(map(converted.__getitem__, raws))
            filled = None if all(fulls.values()) else list(map(fulls.__getitem__, raws))
        else:
            filled = list(map(_is_filled, raws))
            values = [convert(raw) if full else None for raw, full in zip(raws, filled, strict=True)]
        if ParseProblem in set(map(type, values)):
            for offset, value in enumerate(values):
                if value.__class__ is ParseProblem:
                    ref = CellRef(place.sheet, f"{place.letter}{place.first + offset + 1}")
                    self.report(ref, f"{place.table}.{col.key}", col.label, value, raws[offset])
                    values[offset] = None
        return values, filled
