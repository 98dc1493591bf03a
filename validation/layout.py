"""Where things are in a workbook: defined names, Excel tables and A1 addresses (cell provenance).

calamine reads cell values but exposes neither defined names nor table ranges, so these come
from the workbook's own XML, parsed with defusedxml after the container guards passed. Nearly
every filing is the same template, so the parsed layout is remembered by the CRCs of the parts it
came from.
"""

from __future__ import annotations

import io
import posixpath
import re
import threading
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET

from validation.model import CellRef
from validation.zipguard import member_checksums

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


def workbook_layout(data: bytes) -> WorkbookLayout:
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
