"""Workbook bytes -> Registration with cell provenance, plus the findings reading itself produced.

Cell values come from one python-calamine pass over the sheets that matter; defined names and
table ranges (which calamine does not expose) come from the workbook's own XML (layout.py), the
tables are read column by column (table_reader.py). openpyxl is never used here: it is several
times slower and this path runs for every filing. Everything calamine returns goes through
`convert` so that the rules see one shape of data: None for empty, str, Decimal, date, bool.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from python_calamine import CalamineWorkbook

from validation.convert import CONVERTERS, Converted
from validation.findings import ERROR, WARNING, Finding, where
from validation.layout import WorkbookLayout, split_a1, workbook_layout
from validation.model import CellRef, Registration
from validation.numbercells import calamine_choked, without_date_styles
from validation.parsing import CellValue, ParseProblem, clean_text, is_blank
from validation.safety import BundleError, inspect_xlsx
from validation.spec import FIELD_LIST, TABLES, TEMPLATE_SOURCE_HINT, VERSION_NAME, FieldType
from validation.table_reader import TableRead, TableReader


@dataclass
class ReadResult:
    registration: Registration
    findings: list[Finding]
    problem_cells: frozenset[CellRef] = frozenset()
    missing_tables: frozenset[str] = frozenset()
    layout: WorkbookLayout | None = field(default=None, repr=False)
    columns: dict[tuple[str, str], list[Any]] = field(default_factory=dict, repr=False)
    """(table, column key) -> the column's values in row order, exactly the values the rows hold;
    the rules start from these instead of taking them out of the rows again."""


class _Sheets:
    """Lazily loaded calamine grids, read once per sheet with a row cap."""

    def __init__(self, data: bytes, book: CalamineWorkbook, sheet_names: list[str], *, rewritten: bool) -> None:
        self.data = data
        self.book = book
        self.rewritten = rewritten  # read from without_date_styles(data) already
        self.available = set(sheet_names)
        self.grids: dict[str, list[list[CellValue]]] = {}

    def grid(self, sheet: str, nrows: int | None = None) -> list[list[CellValue]]:
        found = self.grids.get(sheet)
        if found is None:
            found = self._read(sheet, nrows) if sheet in self.available else []
            self.grids[sheet] = found
        return found

    def _read(self, sheet: str, nrows: int | None) -> list[list[CellValue]]:
        """One sheet's grid; once calamine chokes on a number, from the workbook without date styles."""
        try:
            return self.book.get_sheet_by_name(sheet).to_python(skip_empty_area=False, nrows=nrows)
        except BaseException as exc:  # a Rust panic is a BaseException; see validation/numbercells.py
            if not calamine_choked(exc):
                raise
            if self.rewritten:
                raise CellsUnreadable(sheet, f"{type(exc).__name__}: {exc}") from exc
        self.book.close()
        self.book = CalamineWorkbook.from_filelike(io.BytesIO(without_date_styles(self.data)))
        self.rewritten = True
        return self._read(sheet, nrows)

    def value(self, ref: CellRef) -> CellValue:
        grid = self.grid(ref.sheet)
        r, c = split_a1(ref.cell)
        if r < len(grid):
            row = grid[r]
            if c < len(row):
                return row[c]
        return ""

    def close(self) -> None:
        self.book.close()


class CellsUnreadable(Exception):
    """calamine could not convert a sheet's cells even without their date styles: the workbook is unreadable."""

    def __init__(self, sheet: str, reason: str) -> None:
        super().__init__(f"sheet {sheet!r} without date styles: {reason}")
        self.sheet = sheet
        self.reason = reason


class _Reader:
    def __init__(self, layout: WorkbookLayout, sheets: _Sheets) -> None:
        self.layout = layout
        self.sheets = sheets
        self.findings: list[Finding] = []
        self.problem_cells: set[CellRef] = set()

    def convert(self, ref: CellRef, key: str, label: str, ftype: FieldType, raw: CellValue) -> Converted:
        if is_blank(raw):
            return None
        value = CONVERTERS[ftype](raw)
        if value.__class__ is ParseProblem:
            self.problem(ref, key, label, value, raw)
            return None
        return value

    def problem(self, ref: CellRef, key: str, label: str, problem: ParseProblem, raw: CellValue) -> None:
        text = clean_text(raw)
        self.problem_cells.add(ref)
        self.findings.append(
            Finding(
                problem.code,
                ERROR,
                ref.sheet,
                ref.cell,
                key,
                text,
                f"{where(ref.sheet, ref.cell)}“{label}”应填写{problem.expected}，现为“{text}”。",
            )
        )

    def fields(self) -> tuple[dict[str, Any], dict[str, CellRef]]:
        values: dict[str, Any] = {}
        cells: dict[str, CellRef] = {}
        names = self.layout.names
        for spec in FIELD_LIST:
            ref = names.get(spec.key)
            if ref is None or ref.sheet not in self.sheets.available:
                ref = CellRef(spec.sheet, spec.cell)
                self.findings.append(
                    Finding(
                        "defined-name-missing",
                        WARNING,
                        spec.sheet,
                        spec.cell,
                        spec.key,
                        "",
                        f"工作簿缺少名称“{spec.key}”（{spec.label}），"
                        f"已按标准模板位置{where(spec.sheet, spec.cell)}读取；"
                        f"请使用标准模板填写。{TEMPLATE_SOURCE_HINT}。",
                    )
                )
            cells[spec.key] = ref
            values[spec.key] = self.convert(ref, spec.key, spec.label, spec.type, self.sheets.value(ref))
        return values, cells

    def template_version(self) -> str | None:
        ref = self.layout.names.get(VERSION_NAME)
        if ref is None:
            return None
        raw = self.sheets.value(ref)
        return None if is_blank(raw) else clean_text(raw)

    def tables(self) -> tuple[dict[str, TableRead | None], dict[tuple[str, str], list[Any]]]:
        """Each table's rows (None when missing) and the column values the rules start from."""
        reader = TableReader(self.layout, self.sheets.grid, self.findings, self.problem)
        return {spec.name: reader.read(spec) for spec in TABLES}, reader.columns


def _unreadable(name: str, what: str, exc: Exception) -> BundleError:
    where_ = f"“{name}”" if name else "登记表工作簿"
    return BundleError(
        "workbook-unreadable",
        f"{where_}{what}。请用 Excel 或 WPS 打开后另存为 .xlsx 再报送。",
        f"{type(exc).__name__}: {exc}",
    )


def read_workbook(data: bytes, *, name: str = "") -> ReadResult:
    """Reads a filed workbook; raises BundleError only when it cannot be read at all."""
    breaks_dates = inspect_xlsx(data, name=name)
    try:
        layout = workbook_layout(data)
        book = CalamineWorkbook.from_filelike(io.BytesIO(without_date_styles(data) if breaks_dates else data))
    except BundleError:
        raise
    except Exception as exc:  # calamine and the XML parser raise many types for a broken file
        raise _unreadable(name, "已损坏或不是标准的 .xlsx 工作簿，无法读取", exc) from exc
    sheets = _Sheets(data, book, layout.sheet_names, rewritten=breaks_dates)
    reader = _Reader(layout, sheets)
    try:
        values, cells = reader.fields()
        version = reader.template_version()
        tables, columns = reader.tables()
    except BundleError:
        raise
    except Exception as exc:
        raise _unreadable(name, "的内容无法读取", exc) from exc
    finally:
        sheets.close()
    investors, documents = tables["investors"], tables["documents"]
    registration = Registration.model_construct(
        template_version=version,
        **values,
        investors=investors.rows if investors else [],
        documents=documents.rows if documents else [],
        cells=cells,
        table_columns={k: v.letters for k, v in tables.items() if v},
        table_sheets={k: v.sheet for k, v in tables.items() if v},
    )
    missing = frozenset(k for k, v in tables.items() if v is None)
    return ReadResult(registration, reader.findings, frozenset(reader.problem_cells), missing, layout, columns)
