"""Workbook bytes -> Registration with cell provenance, plus the findings reading itself produced.

Cell values come from one python-calamine pass over the sheets that matter; defined names and
table ranges (which calamine does not expose) come from the workbook's own XML, parsed with
defusedxml. openpyxl is never used here: it is several times slower and this path runs for every
filing. Everything calamine returns goes through `parsing` so that the rules see one shape of
data: None for empty, str, Decimal, date, bool.
"""

from __future__ import annotations

import io
import posixpath
import re
import threading
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from itertools import compress
from typing import Any, NamedTuple
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from python_calamine import CalamineWorkbook

from validation.codes import fold_width
from validation.findings import ERROR, WARNING, Finding, where
from validation.model import CellRef, DocumentEntry, Investor, Registration, row_builder
from validation.parsing import (
    CellValue,
    ParseProblem,
    choice_key,
    clean_text,
    is_blank,
    parse_bool,
    parse_choice,
    parse_code,
    parse_date,
    parse_decimal,
)
from validation.safety import BundleError, inspect_xlsx, member_checksums
from validation.spec import (
    DOCUMENTS,
    FIELD_LIST,
    INVESTORS,
    MAX_TABLE_ROWS,
    TABLES,
    TEMPLATE_SOURCE_HINT,
    VERSION_NAME,
    ColumnSpec,
    FieldType,
    TableSpec,
)

NS_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
NS_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
NS_PKG = "{http://schemas.openxmlformats.org/package/2006/relationships}"
TABLE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/table"
_A1 = re.compile(r"^\$?([A-Z]{1,3})\$?(\d{1,7})$")
_REF = re.compile(r"^(?:'((?:[^']|'')+)'|([^'!]+))!(\$?[A-Z]{1,3}\$?\d{1,7})(?::\$?[A-Z]{1,3}\$?\d{1,7})?$")


@lru_cache(maxsize=4096)
def split_a1(a1: str) -> tuple[int, int]:
    """'B10' -> (row index 9, column index 1), zero-based."""
    match = _A1.match(a1.upper())
    if not match:
        raise ValueError(f"not an A1 cell address: {a1!r}")
    return int(match[2]) - 1, column_index(match[1])


@lru_cache(maxsize=256)
def column_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1


@lru_cache(maxsize=256)
def column_letter(index: int) -> str:
    n = index + 1
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


@dataclass(frozen=True, slots=True)
class TableLocation:
    name: str
    sheet: str
    first_col: int
    header_row: int  # zero-based
    last_row: int  # zero-based, per the table's ref
    columns: tuple[str, ...]
    totals_rows: int = 0


@dataclass
class WorkbookLayout:
    """What the XML says: defined names (-> sheet, A1) and tables; names pointing nowhere are kept as None."""

    sheet_names: list[str]
    names: dict[str, CellRef | None]
    tables: dict[str, TableLocation]


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


def _resolve_target(base_dir: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(base_dir, target))


def _rels(zf: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type, target part path) for one part; empty when it has no rels."""
    directory, filename = posixpath.split(part)
    rels_path = posixpath.join(directory, "_rels", filename + ".rels")
    try:
        raw = zf.read(rels_path)
    except KeyError:
        return {}
    root = SafeET.fromstring(raw)
    out: dict[str, tuple[str, str]] = {}
    for rel in root.iter(f"{NS_PKG}Relationship"):
        if rel.get("TargetMode") == "External":
            continue
        out[rel.get("Id", "")] = (rel.get("Type", ""), _resolve_target(directory, rel.get("Target", "")))
    return out


def _parse_name_ref(text: str) -> CellRef | None:
    match = _REF.match(text.strip())
    if not match:
        return None
    sheet = (match[1] or "").replace("''", "'") if match[1] is not None else (match[2] or "").strip()
    cell = match[3].replace("$", "")
    return CellRef(sheet, cell)


_LAYOUT_PARTS = re.compile(
    r"^xl/(workbook\.xml|_rels/workbook\.xml\.rels|worksheets/_rels/[^/]+\.rels|tables/[^/]+\.xml)$"
)
_layout_cache: dict[tuple[tuple[str, int, int], ...], WorkbookLayout] = {}
_LAYOUT_CACHE_SIZE = 64
_layout_lock = threading.Lock()


def cached_layout(zf: zipfile.ZipFile) -> WorkbookLayout:
    """read_layout, memoized on the CRC and size of the parts it reads.

    Nearly every filing is the same template with the same names and tables, and parsing that
    XML is the single most expensive step of a read; the zip directory's CRCs identify the parts
    without inflating them. Layouts are never mutated, so sharing them is safe.
    """
    key = _layout_key([(info.filename, info.CRC, info.file_size) for info in zf.infolist()])
    return _layout_cache.get(key) or _remember_layout(key, read_layout(zf))


def _layout_key(members: list[tuple[str, int, int]]) -> tuple[tuple[str, int, int], ...]:
    return tuple(member for member in members if _LAYOUT_PARTS.match(member[0]))


def _remember_layout(key: tuple[tuple[str, int, int], ...], layout: WorkbookLayout) -> WorkbookLayout:
    with _layout_lock:  # intake checks filings from several threads
        if len(_layout_cache) >= _LAYOUT_CACHE_SIZE:
            _layout_cache.pop(next(iter(_layout_cache)))
        _layout_cache[key] = layout
    return layout


def _workbook_layout(data: bytes) -> WorkbookLayout:
    """cached_layout of a workbook, reading the key from the central directory without a ZipFile when it can."""
    members = member_checksums(data)
    if members is not None:
        found = _layout_cache.get(_layout_key(members))
        if found is not None:
            return found
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return cached_layout(zf)


def read_layout(zf: zipfile.ZipFile) -> WorkbookLayout:
    """Sheets, defined names and tables from workbook.xml, its rels, and each sheet's table parts."""
    workbook_part = "xl/workbook.xml"
    root: Element = SafeET.fromstring(zf.read(workbook_part))
    rels = _rels(zf, workbook_part)
    sheet_parts: dict[str, str] = {}
    sheet_names: list[str] = []
    for sheet in root.iter(f"{NS_MAIN}sheet"):
        name = sheet.get("name", "")
        sheet_names.append(name)
        rel = rels.get(sheet.get(f"{NS_REL}id", ""))
        if rel:
            sheet_parts[name] = rel[1]
    names: dict[str, CellRef | None] = {}
    for dn in root.iter(f"{NS_MAIN}definedName"):
        name = dn.get("name", "")
        if name.startswith("_xlnm.") or dn.get("localSheetId") is not None:
            continue
        names[name] = _parse_name_ref(dn.text or "")
    tables: dict[str, TableLocation] = {}
    for sheet_name, part in sheet_parts.items():
        for rel_type, target in _rels(zf, part).values():
            if rel_type != TABLE_REL:
                continue
            try:
                table = SafeET.fromstring(zf.read(target))
            except KeyError:
                continue
            name = table.get("displayName") or table.get("name") or ""
            ref = table.get("ref", "")
            first, _, last = ref.partition(":")
            try:
                header_row, first_col = split_a1(first)
                last_row, _ = split_a1(last or first)
            except ValueError:
                continue
            columns = tuple(c.get("name", "") for c in table.iter(f"{NS_MAIN}tableColumn"))
            try:
                totals = max(0, int(table.get("totalsRowCount") or 0))
            except ValueError:
                totals = 0
            tables[name] = TableLocation(name, sheet_name, first_col, header_row, last_row, columns, totals)
    return WorkbookLayout(sheet_names, names, tables)


_ALLOWED_LISTS: tuple[tuple[str, ...], ...] = (
    *(f.allowed for f in FIELD_LIST),
    *(c.allowed for t in TABLES for c in t.columns),
)
_CHOICES: dict[str, str] = {choice_key(v): v for allowed in _ALLOWED_LISTS for v in allowed}
"""Every allowed value by its folded form, so 国有独资(全资)企业 typed with ASCII brackets is accepted."""


# --- value conversion per field type ---------------------------------------------------------

Converted = Any


def _text(value: CellValue) -> Converted:
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
    "text": _text,
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


class _Sheets:
    """Lazily loaded calamine grids, read once per sheet with a row cap."""

    def __init__(self, book: CalamineWorkbook, sheet_names: list[str]) -> None:
        self.book = book
        self.available = set(sheet_names)
        self.grids: dict[str, list[list[CellValue]]] = {}

    def grid(self, sheet: str, nrows: int | None = None) -> list[list[CellValue]]:
        found = self.grids.get(sheet)
        if found is None:
            if sheet not in self.available:
                found = []
            else:
                found = self.book.get_sheet_by_name(sheet).to_python(skip_empty_area=False, nrows=nrows)
            self.grids[sheet] = found
        return found

    def value(self, ref: CellRef) -> CellValue:
        grid = self.grid(ref.sheet)
        r, c = split_a1(ref.cell)
        if r < len(grid):
            row = grid[r]
            if c < len(row):
                return row[c]
        return ""


class _Reader:
    def __init__(self, layout: WorkbookLayout, sheets: _Sheets) -> None:
        self.layout = layout
        self.sheets = sheets
        self.findings: list[Finding] = []
        self.problem_cells: set[CellRef] = set()
        self.columns: dict[tuple[str, str], list[Any]] = {}

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

    def table(self, spec: TableSpec) -> tuple[list[Any], dict[str, str], str] | None:
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
        header_keys = _HEADER_KEYS[spec.name]
        positions: dict[str, int] = {}
        for offset, header in enumerate(loc.columns):
            key = header_keys.get(_label_key(header))
            if key is not None and key not in positions:
                positions[key] = loc.first_col + offset
        letters = {key: column_letter(index) for key, index in positions.items()}
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
        grid = self.sheets.grid(loc.sheet, nrows=loc.header_row + 2 + MAX_TABLE_ROWS)
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
        present = [col for col in spec.columns if col.key in positions]
        lines = grid[first : min(last, len(grid))]
        widths = set(map(len, lines))
        cells_by_column = list(zip(*lines, strict=True)) if len(widths) == 1 else None  # calamine's grid is rectangular
        columns = {
            col.key: self._column(
                lines, cells_by_column, col, positions[col.key], _Place(loc.sheet, letters[col.key], first, spec.name)
            )
            for col in present
        }
        if not columns:
            return [], letters, loc.sheet
        flag_columns = [flags for _, flags in columns.values()]
        if any(flags is None for flags in flag_columns):  # a column filled in every row: no row is empty
            filled_rows = [True] * len(lines)
        else:
            filled_rows = list(map(any, zip(*flag_columns, strict=True)))
        blank = [None] * len(lines)
        value_columns = [columns[key][0] if key in columns else blank for key in _ROW_MODELS[spec.name][1]]
        numbers: Iterable[int] = range(first + 1, first + 1 + len(lines))
        if not all(filled_rows):  # rows left empty inside the table are skipped
            numbers = compress(numbers, filled_rows)
            value_columns = [list(compress(values, filled_rows)) for values in value_columns]
        rows = list(map(row_builder(_ROW_MODELS[spec.name][0]), numbers, *value_columns))
        for key, values in zip(_ROW_MODELS[spec.name][1], value_columns, strict=True):
            self.columns[spec.name, key] = values if values is not blank else [None] * len(rows)
        return rows, letters, loc.sheet

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
        if convert is _text and kinds <= {str}:  # names, notes: unique text, nothing to parse
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
                    self.problem(ref, f"{place.table}.{col.key}", col.label, value, raws[offset])
                    values[offset] = None
        return values, filled


def read_workbook(data: bytes, *, name: str = "") -> ReadResult:
    """Reads a filed workbook; raises BundleError only when it cannot be read at all."""
    inspect_xlsx(data, name=name)
    try:
        layout = _workbook_layout(data)
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except BundleError:
        raise
    except Exception as exc:  # calamine and the XML parser raise many types for a broken file
        where_ = f"“{name}”" if name else "登记表工作簿"
        raise BundleError(
            "workbook-unreadable",
            f"{where_}已损坏或不是标准的 .xlsx 工作簿，无法读取。请用 Excel 或 WPS 打开后另存为 .xlsx 再报送。",
            f"{type(exc).__name__}: {exc}",
        ) from exc
    reader = _Reader(layout, _Sheets(book, layout.sheet_names))
    try:
        values, cells = reader.fields()
        version = reader.template_version()
        tables: dict[str, Any] = {}
        missing: set[str] = set()
        for spec in TABLES:
            got = reader.table(spec)
            if got is None:
                missing.add(spec.name)
            tables[spec.name] = got
    except BundleError:
        raise
    except Exception as exc:
        where_ = f"“{name}”" if name else "登记表工作簿"
        raise BundleError(
            "workbook-unreadable",
            f"{where_}的内容无法读取。请用 Excel 或 WPS 打开后另存为 .xlsx 再报送。",
            f"{type(exc).__name__}: {exc}",
        ) from exc
    finally:
        book.close()
    investors_got = tables["investors"]
    documents_got = tables["documents"]
    registration = Registration.model_construct(
        template_version=version,
        **values,
        investors=investors_got[0] if investors_got else [],
        documents=documents_got[0] if documents_got else [],
        cells=cells,
        table_columns={k: v[1] for k, v in tables.items() if v},
        table_sheets={k: v[2] for k, v in tables.items() if v},
    )
    return ReadResult(
        registration, reader.findings, frozenset(reader.problem_cells), frozenset(missing), layout, reader.columns
    )
