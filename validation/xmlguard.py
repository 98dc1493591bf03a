"""XML guards: what an XML part may hold before a parser or calamine is allowed near it.

A DOCTYPE (entity bomb) can only live in a part's prolog, so every part is read only up to its
root element. Worksheets are also measured: calamine allocates a sheet's grid densely from its
first to its last cell address, so two cells at A1 and XFD1048576 in a 20 KB file would ask for
half a terabyte and abort the process. A normal sheet is cleared by one regex search; any other
is walked tag by tag following calamine's own addressing. Shared strings are counted when their
part is big, because calamine loads every one of them before reading any cell.
"""

from __future__ import annotations

import re

from validation.limits import (
    MAX_PROLOG_BYTES,
    MAX_SHARED_STRINGS,
    MAX_SHEET_CELLS,
    MAX_SHEET_ROWS,
    STRINGS_SCAN_BYTES,
    BundleError,
    ContainerKind,
    plain_member,
)
from validation.zipguard import CHUNK, Describe, Entry, inflate_chunks, read_prefix

_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]*)(\d*)(?::([A-Z]*)(\d*))?\"")
_ROOT_START = re.compile(rb"<[A-Za-z_]")
_UTF16_STARTS = frozenset((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<"))
_PROLOG = re.compile(rb"(?:\xef\xbb\xbf)?(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.S)


def check_xml_prolog(data: bytes, info: Entry, kind: ContainerKind, name: str, *, limit: int = 512) -> bytes:
    """Refuse a DOCTYPE/ENTITY declaration, which XML only allows in the prolog, before the root element.

    Every member is looked at, not only *.xml, because relationships may point a parser at any
    part name. Returns the bytes read so that callers can look at the first elements.
    """
    while True:
        head, complete = read_prefix(data, info, kind, name, limit)
        if prolog_decided(head, complete, info, kind, name):
            return head
        if limit >= MAX_PROLOG_BYTES:
            raise prolog_too_long(info, kind, name)
        limit = min(limit * 8, MAX_PROLOG_BYTES)


def prolog_decided(head: bytes, complete: bool, info: Entry, kind: ContainerKind, name: str) -> bool:
    """False while the prolog may go on past `head`; raises on a DOCTYPE or a UTF-16 part."""
    where = kind.where(name)
    if head[:2] in _UTF16_STARTS:
        raise BundleError(
            f"{kind.prefix}-xml-entities",
            f"{where}中的“{info.filename}”使用了 UTF-16 编码的 XML，正常的 Excel 文件不会这样保存，已拒收。"
            "请用 Excel 或 WPS 重新另存为 .xlsx。",
            detail=f"UTF-16 XML in {info.filename!r}",
        )
    rest = head[_PROLOG.match(head).end() :]  # type: ignore[union-attr]
    if rest.startswith(b"<!") and not rest.startswith(b"<!--"):
        raise BundleError(
            f"{kind.prefix}-xml-entities",
            f"{where}中的“{info.filename}”含有 DOCTYPE/ENTITY 声明（可用于 XML 实体炸弹），"
            "正常的 Excel 文件不会有，已拒收。请用 Excel 或 WPS 重新另存为 .xlsx。",
            detail=f"DOCTYPE in {info.filename!r}",
        )
    return not rest.startswith(b"<") or _ROOT_START.match(rest) is not None or complete


def prolog_too_long(info: Entry, kind: ContainerKind, name: str) -> BundleError:
    where = kind.where(name)
    return BundleError(
        f"{kind.prefix}-xml-entities",
        f"{where}中的“{info.filename}”开头的 XML 声明过长，无法安全读取，已拒收。",
        detail=f"no root element in the first {MAX_PROLOG_BYTES} bytes of {info.filename!r}",
    )


def _check_dimension(head: bytes, kind: ContainerKind, name: str, member: str, describe: Describe) -> None:
    match = _DIMENSION.search(head)
    if not match:
        return
    rows = [int(g) for g in (match.group(2), match.group(4)) if g]
    if rows and max(rows) > MAX_SHEET_ROWS:
        where = kind.where(name)
        raise BundleError(
            f"{kind.prefix}-too-many-rows",
            f"{where}的{describe(member)}的已用区域达 {max(rows)} 行，超过上限 {MAX_SHEET_ROWS} 行。"
            "请删除多余的空行（选中多余行后“删除行”）再保存报送。",
            detail=f"dimension {match.group(0)!r}",
        )


class _Extent:
    """How far calamine's dense cell grid for one worksheet would reach, following its addressing.

    calamine allocates rows x columns cells from the first to the last address it meets, so two
    cells at A1 and XFD1048576 in a 20 KB file ask for half a terabyte and abort the process.
    Rows and cells without an `r` attribute continue from the previous one, as calamine does.
    """

    _TAG = re.compile(rb"<(?:[\w.-]+:)?(row|c)(?=[\s>/])([^>]*)>")
    _REF = re.compile(rb"""\sr\s*=\s*["']([^"']*)["']""")
    _ADDRESS = re.compile(rb"\$?([A-Za-z]{0,3})\$?0*(\d{0,7})")

    def __init__(self) -> None:
        self.row = 0
        self.col = 0
        self.max_row = 0
        self.max_col = 0
        self.bad_address = b""

    def feed(self, text: bytes) -> int:
        """Consume complete tags; returns how many bytes were used (the rest waits for more input)."""
        used = 0
        for match in self._TAG.finditer(text):
            used = match.end()
            ref = self._REF.search(match.group(2))
            address = self._ADDRESS.fullmatch(ref.group(1)) if ref else None
            if ref and address is None:
                self.bad_address = ref.group(1)[:40]
                break
            letters, digits = (address.group(1), address.group(2)) if address else (b"", b"")
            if match.group(1) == b"row":
                self.row = int(digits) if digits else self.row + 1
                self.col = 0
                continue
            self.col = _column_number(letters) if letters else self.col + 1
            if digits:
                self.row = int(digits)
            self.max_row = max(self.max_row, self.row)
            self.max_col = max(self.max_col, self.col)
            if self.too_big():
                break
        tail_start = text.rfind(b"<", used)
        return used if tail_start < 0 else max(used, tail_start)

    def too_big(self) -> bool:
        return bool(self.bad_address) or self.max_row > MAX_SHEET_ROWS or self.max_row * self.max_col > MAX_SHEET_CELLS


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters.upper():
        number = number * 26 + ch - 64
    return number


_UNUSUAL_CELL = re.compile(rb'<(?:c(?! r="[A-Z][1-9]\d{0,3}")|row(?! r="[1-9]\d{0,3}"))[\s/>]')
"""A cell or row that is not addressed as `r="A1"`..`r="Z9999"` in its first attribute."""
_PREFIXED_CELL = re.compile(rb":(?:c|row)[\s/>]")
"""A cell or row with a namespace prefix, which calamine reads by its local name all the same."""
_DATE_BREAKER = re.compile(rb"v>\s*-\s*(?:\d{11}|\d*\.?\d*[eE]\+?\d\d|[iI][nN][fF])")
"""A stored number so far below zero (under -1e11, as chrono counts days in i64 milliseconds) that
calamine's date arithmetic panics on it if its cell is date-styled; the panic prints a Rust backtrace
on stderr before Python can catch it, so the reader takes such numbers out of date styles first
(validation/numbercells.py). It starts with a literal (`v>`, the end of `<v>` or `<x:v>`) so that
the search skips ahead instead of trying at every `<`: 1 % of a check rather than 10 %."""


def check_sheet_extent(  # noqa: PLR0917 - (data, info, kind, name) locate the member, as in every guard
    data: bytes,
    info: Entry,
    kind: ContainerKind,
    name: str,
    inflated: bytes | None = None,
    describe: Describe = plain_member,
) -> bool:
    """Refuse a worksheet whose prolog has a DOCTYPE, or whose cell grid would be too large. True when
    it stores a number no date conversion survives (`_DATE_BREAKER`), found in the same pass.

    Fast path: every row and cell carries a plain address in its first attribute (as Excel, WPS,
    LibreOffice and openpyxl write them) within Z9999, which bounds the grid at 26 x 9,999 with a
    single regex search. Anything else is walked tag by tag in bounded chunks.
    """
    tail = b""
    unusual = breaks_dates = False
    for index, chunk in enumerate(inflate_chunks(data, info, kind, name, inflated)):
        if index == 0:  # the prolog and <dimension> come first: no separate read for them
            head = chunk[:MAX_PROLOG_BYTES]
            if not prolog_decided(head, len(chunk) < MAX_PROLOG_BYTES, info, kind, name):
                raise prolog_too_long(info, kind, name)
            _check_dimension(head[:4096], kind, name, info.filename, describe)
        buf = tail + chunk
        breaks_dates = breaks_dates or _DATE_BREAKER.search(buf) is not None
        if _UNUSUAL_CELL.search(buf) or _PREFIXED_CELL.search(buf):
            unusual = True
            break
        tail = buf[buf.rfind(b"<") :]  # a tag cut at the chunk's end is searched again whole
        if len(tail) > CHUNK:
            unusual = True
            break
    if not unusual:
        return breaks_dates
    extent = _Extent()
    pending = b""
    for chunk in inflate_chunks(data, info, kind, name, inflated):
        pending += chunk
        breaks_dates = breaks_dates or _DATE_BREAKER.search(pending) is not None
        pending = pending[extent.feed(pending) :]
        if extent.too_big():
            break
        if len(pending) > CHUNK * 16:
            raise _extent_error(kind, name, describe(info.filename), "一个超长的标签")
    else:
        extent.feed(pending)
    if extent.bad_address:
        where = kind.where(name)
        raise BundleError(
            f"{kind.prefix}-cell-address",
            f"{where}的{describe(info.filename)}中有无效的单元格地址“{extent.bad_address.decode('latin-1')}”，"
            "文件可能被篡改。请用 Excel 或 WPS 重新另存为 .xlsx。",
            detail=f"cell address {extent.bad_address!r}",
        )
    if extent.too_big():
        raise _extent_error(kind, name, describe(info.filename), f"{extent.max_row} 行 × {extent.max_col} 列")
    return breaks_dates


def _extent_error(kind: ContainerKind, name: str, sheet: str, size: str) -> BundleError:
    """`sheet` is the worksheet as messages name it (see Describe)."""
    where = kind.where(name)
    return BundleError(
        f"{kind.prefix}-too-many-rows",
        f"{where}的{sheet}的已用区域达 {size}，超过上限（{MAX_SHEET_ROWS} 行、{MAX_SHEET_CELLS} 个单元格）。"
        "请删除多余的行和列（选中后“删除”）再保存报送。",
        detail=f"sheet extent {size} in {sheet}",
    )


def check_shared_strings(data: bytes, info: Entry, kind: ContainerKind, name: str) -> None:
    """Refuse millions of shared strings: calamine loads every one of them before reading any cell.

    A part under STRINGS_SCAN_BYTES cannot hold more than ~80,000 strings, so only larger ones are counted.
    """
    if info.file_size <= STRINGS_SCAN_BYTES:
        return
    count = 0
    tail = b""
    for chunk in inflate_chunks(data, info, kind, name):
        buf = tail + chunk
        count += buf.count(b"<si") + buf.count(b":si") - tail.count(b"<si") - tail.count(b":si")
        tail = buf[-2:]
        if count > MAX_SHARED_STRINGS:
            where = kind.where(name)
            raise BundleError(
                f"{kind.prefix}-too-many-strings",
                f"{where}中有超过 {MAX_SHARED_STRINGS} 个不同的文本，远超登记表所需，已拒收。"
                "请只填写标准登记表的内容后重新保存报送。",
                detail=f"more than {count} shared strings",
            )
