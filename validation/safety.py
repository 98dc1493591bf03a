"""Defences against hostile or broken files, run before anything parses them.

A workbook reaches calamine (Rust) and openpyxl, neither of which we want to trust with a zip
bomb, an XML entity bomb, an encrypted container or a sheet whose cell addresses make calamine
allocate a dense grid of billions of cells (which aborts the whole process, no exception). The
checks read the zip central directory, the local headers, the first bytes of every XML part and
the worksheets themselves (one regex search each on a normal sheet), so that they cost a fraction
of a millisecond on a normal workbook and a bounded amount of memory on a hostile one. Sizes are
taken from the central directory before anything is inflated and enforced again while streaming
whenever the directory alone could not rule out a bomb, because its fields are written by the
attacker (calamine and zipfile also stop at the declared size).

The module is longer than most on purpose: every container defence lives here, in the order the
checks run, so that one review sees all of them. `BundleError` lives here too so that bundle.py
can import the checks without a cycle.
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import threading
import zipfile
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

MAX_INFLATED_TOTAL = 50 * 1024 * 1024
"""Largest total inflated size of a workbook or of a bundle zip."""

MAX_RATIO = 100
"""Largest inflated:compressed ratio of one member (above RATIO_FLOOR bytes)."""

RATIO_FLOOR = 1024 * 1024
"""Members inflating to less than this are not ratio-checked: tiny repetitive parts compress well."""

MAX_MEMBERS = 2000
"""Most entries a workbook or bundle zip may hold."""

MAX_SHEET_ROWS = 100_000
"""A worksheet whose <dimension> or cells reach beyond this row is refused (the reader also caps rows)."""

MAX_SHEET_CELLS = 2_000_000
"""Largest rows x columns grid a worksheet may span: calamine allocates it densely (~32 bytes a cell)."""

MAX_SHARED_STRINGS = 200_000
"""Most shared strings a workbook may hold; a 10,000-investor filing needs a few tens of thousands."""

STRINGS_SCAN_BYTES = 1024 * 1024
"""Shared-strings parts above this declared size have their strings counted."""

MAX_PROLOG_BYTES = 64 * 1024
"""How far into an XML part the root element must start; the DOCTYPE can only live before it."""

DEFLATE_MAX_RATIO = 1033
"""Upper bound of deflate's expansion: a member cannot inflate beyond this many times its size."""

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")
_LOCAL_SIG = b"PK\x03\x04"
_CHUNK = 64 * 1024
_BINARY_SUFFIXES = (".png", ".jpeg", ".jpg", ".gif", ".emf", ".wmf", ".tif", ".tiff", ".bmp")
"""Media parts no XML parser reads; every other member gets its prolog checked."""
_MACRO_PARTS = re.compile(r"(^|/)(vbaproject\.bin|vbadata\.xml)$|^xl/(macrosheets|dialogsheets|activex)/", re.I)
_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=\"([A-Z]*)(\d*)(?::([A-Z]*)(\d*))?\"")
_ROOT_START = re.compile(rb"<[A-Za-z_]")
_UTF16_STARTS = frozenset((b"\xff\xfe", b"\xfe\xff", b"<\x00", b"\x00<"))
_PROLOG = re.compile(rb"(?:\xef\xbb\xbf)?(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.S)


class BundleError(Exception):
    """A bundle or workbook that cannot be read at all (exit 2), with a Chinese message for the filer.

    `code` is stable kebab-case (documented in docs/findings.md), `message` says what is wrong
    and where in Chinese, `detail` carries technical context for logs (never shown as the reason).
    """

    def __init__(self, code: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"BundleError(code={self.code!r}, message={self.message!r}, detail={self.detail!r})"


@dataclass(frozen=True)
class _Kind:
    """Wording and code prefix for the container being inspected: a workbook or a bundle zip."""

    prefix: str
    label: str


WORKBOOK = _Kind("workbook", "登记表工作簿")
BUNDLE = _Kind("bundle", "报送压缩包")


def _human_mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


def sniff_container(data: bytes) -> str:
    """'zip', 'ole' or 'other', from the magic bytes alone."""
    head = data[:8]
    if head.startswith(_ZIP_MAGICS):
        return "zip"
    if head == _OLE_MAGIC:
        return "ole"
    return "other"


class _Entry(NamedTuple):
    """What the checks need of one central-directory record."""

    filename: str
    flag_bits: int
    compress_type: int
    compress_size: int
    file_size: int
    header_offset: int
    crc: int = 0

    def is_dir(self) -> bool:
        return self.filename.endswith("/")

    @classmethod
    def of(cls, info: zipfile.ZipInfo) -> _Entry:
        return cls(
            info.filename,
            info.flag_bits,
            info.compress_type,
            info.compress_size,
            info.file_size,
            info.header_offset,
            info.CRC,
        )


_EOCD = struct.Struct("<4s4H2IH")
_CENTRAL = struct.Struct("<4s6H3I5H2I")


def _fast_entries(data: bytes) -> list[_Entry] | None:
    """The central directory of a plain single-disk zip, parsed directly (zipfile's parser is the slow part).

    Returns None for anything unusual (zip64, prepended data, several disks, more than MAX_MEMBERS
    entries, inconsistent records) so that zipfile's own parser decides.
    """
    eocd = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if eocd < 0 or eocd + _EOCD.size > len(data):
        return None
    _sig, disk, cd_disk, on_disk, total, cd_size, cd_offset, _comment = _EOCD.unpack_from(data, eocd)
    if disk or cd_disk or on_disk != total or total > MAX_MEMBERS or cd_offset + cd_size != eocd:
        return None
    entries: list[_Entry] = []
    pos = cd_offset
    for _ in range(total):
        if pos + _CENTRAL.size > eocd:
            return None
        (sig, _cv, _ev, flags, method, _t, _d, crc, csize, usize, nlen, xlen, clen, _disk, _ia, _ea, offset) = (
            _CENTRAL.unpack_from(data, pos)
        )
        if sig != b"PK\x01\x02" or 0xFFFFFFFF in (csize, usize, offset):
            return None
        raw = data[pos + _CENTRAL.size : pos + _CENTRAL.size + nlen]
        filename = raw.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        entries.append(_Entry(filename, flags, method, csize, usize, offset, crc))
        pos += _CENTRAL.size + nlen + xlen + clen
    return entries if pos == eocd else None


_LAST_DIRECTORIES: deque[tuple[bytes, list[_Entry] | None]] = deque(maxlen=2)
"""The central directories parsed last, with the bytes objects they came from: the reader asks
member_checksums about the object _inspect_xlsx has just parsed. bytes cannot change, so identity is enough."""


def _remembered_entries(data: bytes) -> list[_Entry] | None:
    """_fast_entries, remembered for the last small workbooks so that a check parses the directory once."""
    for seen, entries in tuple(_LAST_DIRECTORIES):  # a snapshot: other threads may append meanwhile
        if seen is data:
            return entries
    entries = _fast_entries(data)
    if type(data) is bytes and len(data) <= _REMEMBER_BYTES:
        _LAST_DIRECTORIES.append((data, entries))
    return entries


def member_checksums(data: bytes) -> list[tuple[str, int, int]] | None:
    """(name, CRC-32, size) of every member from a plain zip's central directory, None for an unusual zip.

    Lets the reader recognise the template's parts without building a ZipFile for every filing.
    """
    entries = _remembered_entries(data)
    if entries is None:
        return None
    return [(entry.filename, entry.crc, entry.file_size) for entry in entries]


def _entries(data: bytes, kind: _Kind, name: str) -> list[_Entry]:
    fast = _remembered_entries(data)
    if fast is not None:
        return fast
    with _open_zip(data, kind, name) as zf:
        return [_Entry.of(info) for info in zf.infolist()]


def _open_zip(data: bytes, kind: _Kind, name: str) -> zipfile.ZipFile:
    where = f"“{name}”" if name else kind.label
    if len(data) < 22:
        raise BundleError(
            f"{kind.prefix}-truncated",
            f"{where}只有 {len(data)} 字节，文件不完整（可能传输中断），请重新导出后再报送。",
        )
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        if data[:4] == _LOCAL_SIG:
            raise BundleError(
                f"{kind.prefix}-truncated",
                f"{where}不完整或已损坏（找不到压缩目录，可能传输中断），请重新保存后再报送。",
                detail=str(exc),
            ) from exc
        raise BundleError(
            f"{kind.prefix}-not-zip",
            f"{where}不是有效的 {'.xlsx 工作簿' if kind is WORKBOOK else '.zip 压缩包'}，无法读取。",
            detail=str(exc),
        ) from exc
    except (OSError, ValueError, EOFError, struct.error) as exc:
        raise BundleError(
            f"{kind.prefix}-truncated",
            f"{where}已损坏，无法读取压缩目录，请重新保存后再报送。",
            detail=repr(exc),
        ) from exc


def _data_offset(data: bytes, info: _Entry, kind: _Kind, name: str) -> int:
    """Where the member's compressed bytes start, checking the local header agrees with the directory."""
    offset = info.header_offset
    try:
        sig, _ver, _flags, method, _t, _d, _crc, _csize, _usize, nlen, xlen = _LOCAL_HEADER.unpack_from(data, offset)
    except struct.error as exc:
        raise _truncated(kind, name, info.filename) from exc
    if sig != _LOCAL_SIG or method != info.compress_type:
        raise _truncated(kind, name, info.filename)
    start = offset + _LOCAL_HEADER.size + nlen + xlen
    if start + info.compress_size > len(data):
        raise _truncated(kind, name, info.filename)
    return start


def _truncated(kind: _Kind, name: str, member: str) -> BundleError:
    where = f"“{name}”" if name else kind.label
    return BundleError(
        f"{kind.prefix}-truncated",
        f"{where}已损坏：其中的“{member}”不完整（可能传输中断），请重新保存后再报送。",
        detail=f"member {member!r} local header or data out of range",
    )


def _check_directory(infos: list[_Entry], kind: _Kind, name: str) -> list[_Entry]:
    """Refuse from the central directory alone: count, encryption, methods, declared sizes and ratios."""
    where = f"“{name}”" if name else kind.label
    if len(infos) > MAX_MEMBERS:
        raise BundleError(
            f"{kind.prefix}-too-many-files",
            f"{where}包含 {len(infos)} 个文件，超过上限 {MAX_MEMBERS}，已拒收。",
        )
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise BundleError(
                f"{kind.prefix}-encrypted",
                f"{where}设置了密码（“{info.filename}”已加密），请取消密码后再报送。",
            )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise BundleError(
                f"{kind.prefix}-compression",
                f"{where}中的“{info.filename}”使用了不支持的压缩方式（{info.compress_type}），"
                "请用常规 ZIP（deflate）方式重新压缩。",
            )
        total += info.file_size
        _check_sizes(kind, where, info.filename, inflated=info.file_size, compressed=info.compress_size, total=total)
    return infos


def _check_sizes(kind: _Kind, where: str, member: str, *, inflated: int, compressed: int, total: int) -> None:
    if total > MAX_INFLATED_TOTAL:
        raise BundleError(
            f"{kind.prefix}-too-large",
            f"{where}解压后超过 {_human_mb(MAX_INFLATED_TOTAL)}（疑似压缩炸弹），已拒收。",
            detail=f"inflated total >= {total} at member {member!r}",
        )
    if inflated > RATIO_FLOOR and inflated > MAX_RATIO * max(compressed, 1):
        raise BundleError(
            f"{kind.prefix}-compression-ratio",
            f"{where}中的“{member}”压缩比异常（{inflated} 字节压缩成 {compressed} 字节，超过 {MAX_RATIO}:1，"
            "疑似压缩炸弹），已拒收。",
            detail=f"member {member!r} ratio {inflated}/{compressed}",
        )


KEEP_INFLATED_BYTES = 8 * 1024 * 1024
"""Most inflated XML that _verify_inflation hands on to the worksheet checks instead of inflating it twice."""


def _verify_inflation(data: bytes, infos: list[_Entry], kind: _Kind, name: str) -> dict[str, bytes]:
    """Inflate with a running cap wherever a lying size header could hide a bomb.

    Deflate cannot expand more than ~1033:1, so when all compressed bytes together could not pass
    the total cap even at that ratio nothing is inflated: a small workbook costs nothing here.
    The ratio rule is a heuristic on declared sizes; the total cap is what bounds memory.
    Returns the verified content of XML parts (up to KEEP_INFLATED_BYTES together) by member
    name, so that the worksheet scan does not inflate a big sheet a second time.
    """
    where = f"“{name}”" if name else kind.label
    deflated = [i for i in infos if i.compress_type == zipfile.ZIP_DEFLATED]
    worst_case = sum(i.compress_size for i in deflated) * DEFLATE_MAX_RATIO
    kept: dict[str, bytes] = {}
    if worst_case <= MAX_INFLATED_TOTAL:
        return kept
    total = sum(i.file_size for i in infos if i.compress_type == zipfile.ZIP_STORED)
    budget = KEEP_INFLATED_BYTES
    for info in deflated:
        keep = info.file_size <= budget and info.filename.lower().endswith(".xml")
        produced, content = _inflate_capped(data, info, kind, name, before=total, keep=keep)
        total += produced
        if produced != info.file_size:
            raise BundleError(
                f"{kind.prefix}-size-mismatch",
                f"{where}中的“{info.filename}”实际大小与压缩目录记录不符（文件被篡改或损坏），已拒收。",
                detail=f"declared {info.file_size}, inflated {produced}",
            )
        if content is not None:
            kept[info.filename] = content
            budget -= produced
    return kept


def _read_prefix(data: bytes, info: _Entry, kind: _Kind, name: str, limit: int) -> tuple[bytes, bool]:
    """The first `limit` inflated bytes of a member, read straight from the buffer (no ZipExtFile),
    and whether they are the whole member.

    Deflate rarely needs more than limit + a few bytes of input for `limit` bytes of output; when
    it does, fewer bytes come back without the end flag and the caller asks for more.
    """
    start = _data_offset(data, info, kind, name)
    take = min(info.compress_size, limit + 64)
    raw = data[start : start + take]
    if info.compress_type == zipfile.ZIP_STORED:
        return raw[:limit], info.compress_size <= limit
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, limit)
    except zlib.error as exc:
        raise _truncated(kind, name, info.filename) from exc
    return out, inflater.eof


def _inflate_capped(
    data: bytes, info: _Entry, kind: _Kind, name: str, *, before: int, keep: bool = False
) -> tuple[int, bytes | None]:
    """Inflate one member chunk by chunk, refusing as soon as a cap is passed.

    Returns its real size and, with `keep`, its content (the caller bounds how much it keeps).
    """
    where = f"“{name}”" if name else kind.label
    start = _data_offset(data, info, kind, name)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    produced = 0
    pieces: list[bytes] = []
    pos = 0
    with memoryview(data) as whole:
        raw = whole[start : start + info.compress_size]
        try:
            while not inflater.eof:
                if inflater.unconsumed_tail:
                    pending: bytes | memoryview = inflater.unconsumed_tail
                elif pos < len(raw):
                    pending = raw[pos : pos + _CHUNK]
                    pos += _CHUNK
                else:
                    raise _truncated(kind, name, info.filename)
                piece = inflater.decompress(pending, _CHUNK)
                produced += len(piece)
                if keep:
                    if produced > info.file_size:  # the header lied: it ends as a size mismatch, keep nothing
                        keep = False
                        pieces.clear()
                    else:
                        pieces.append(piece)
                _check_sizes(
                    kind,
                    where,
                    info.filename,
                    inflated=produced,
                    compressed=info.compress_size,
                    total=before + produced,
                )
        except zlib.error as exc:
            raise _truncated(kind, name, info.filename) from exc
        finally:
            raw.release()
    return produced, b"".join(pieces) if keep else None


def _check_xml_prolog(data: bytes, info: _Entry, kind: _Kind, name: str, *, limit: int = 512) -> bytes:
    """Refuse a DOCTYPE/ENTITY declaration, which XML only allows in the prolog, before the root element.

    Every member is looked at, not only *.xml, because relationships may point a parser at any
    part name. Returns the bytes read so that callers can look at the first elements.
    """
    while True:
        head, complete = _read_prefix(data, info, kind, name, limit)
        if _prolog_decided(head, complete, info, kind, name):
            return head
        if limit >= MAX_PROLOG_BYTES:
            raise _prolog_too_long(info, kind, name)
        limit = min(limit * 8, MAX_PROLOG_BYTES)


def _prolog_decided(head: bytes, complete: bool, info: _Entry, kind: _Kind, name: str) -> bool:
    """False while the prolog may go on past `head`; raises on a DOCTYPE or a UTF-16 part."""
    where = f"“{name}”" if name else kind.label
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


def _prolog_too_long(info: _Entry, kind: _Kind, name: str) -> BundleError:
    where = f"“{name}”" if name else kind.label
    return BundleError(
        f"{kind.prefix}-xml-entities",
        f"{where}中的“{info.filename}”开头的 XML 声明过长，无法安全读取，已拒收。",
        detail=f"no root element in the first {MAX_PROLOG_BYTES} bytes of {info.filename!r}",
    )


def _check_dimension(head: bytes, kind: _Kind, name: str, member: str) -> None:
    match = _DIMENSION.search(head)
    if not match:
        return
    rows = [int(g) for g in (match.group(2), match.group(4)) if g]
    if rows and max(rows) > MAX_SHEET_ROWS:
        where = f"“{name}”" if name else kind.label
        raise BundleError(
            f"{kind.prefix}-too-many-rows",
            f"{where}的工作表“{member}”的已用区域达 {max(rows)} 行，超过上限 {MAX_SHEET_ROWS} 行。"
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


def _check_sheet_extent(data: bytes, info: _Entry, kind: _Kind, name: str, inflated: bytes | None = None) -> None:
    """Refuse a worksheet whose prolog has a DOCTYPE, or whose cell grid would be too large.

    Fast path: every row and cell carries a plain address in its first attribute (as Excel, WPS,
    LibreOffice and openpyxl write them) within Z9999, which bounds the grid at 26 x 9,999 with a
    single regex search. Anything else is walked tag by tag in bounded chunks.
    """
    tail = b""
    unusual = False
    for index, chunk in enumerate(_inflate_chunks(data, info, kind, name, inflated)):
        if index == 0:  # the prolog and <dimension> come first: no separate read for them
            head = chunk[:MAX_PROLOG_BYTES]
            if not _prolog_decided(head, len(chunk) < MAX_PROLOG_BYTES, info, kind, name):
                raise _prolog_too_long(info, kind, name)
            _check_dimension(head[:4096], kind, name, info.filename)
        buf = tail + chunk
        if _UNUSUAL_CELL.search(buf) or _PREFIXED_CELL.search(buf):
            unusual = True
            break
        tail = buf[buf.rfind(b"<") :]  # a tag cut at the chunk's end is searched again whole
        if len(tail) > _CHUNK:
            unusual = True
            break
    if not unusual:
        return
    extent = _Extent()
    pending = b""
    for chunk in _inflate_chunks(data, info, kind, name, inflated):
        pending += chunk
        pending = pending[extent.feed(pending) :]
        if extent.too_big():
            break
        if len(pending) > _CHUNK * 16:
            raise _extent_error(kind, name, info.filename, "一个超长的标签")
    else:
        extent.feed(pending)
    if extent.bad_address:
        where = f"“{name}”" if name else kind.label
        raise BundleError(
            f"{kind.prefix}-cell-address",
            f"{where}的工作表“{info.filename}”中有无效的单元格地址“{extent.bad_address.decode('latin-1')}”，"
            "文件可能被篡改。请用 Excel 或 WPS 重新另存为 .xlsx。",
            detail=f"cell address {extent.bad_address!r}",
        )
    if extent.too_big():
        raise _extent_error(kind, name, info.filename, f"{extent.max_row} 行 × {extent.max_col} 列")


def _inflate_chunks(
    data: bytes, info: _Entry, kind: _Kind, name: str, inflated: bytes | None = None
) -> Iterator[bytes]:
    """The member inflated piece by piece (at most 1 MB at a time), never more than its declared size.

    `inflated` is the member's content when _verify_inflation already produced (and checked) it:
    it is cut into the same pieces instead of being inflated again.
    """
    if inflated is not None:
        for pos in range(0, len(inflated), _CHUNK * 16):
            yield inflated[pos : pos + _CHUNK * 16]
        return
    start = _data_offset(data, info, kind, name)
    raw = memoryview(data)[start : start + info.compress_size]
    try:
        if info.compress_type == zipfile.ZIP_STORED:
            for pos in range(0, len(raw), _CHUNK * 16):
                yield bytes(raw[pos : pos + _CHUNK * 16])
            return
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        budget = info.file_size
        pending: bytes | memoryview = raw
        while budget > 0 and not inflater.eof and len(pending):
            out = inflater.decompress(pending, min(budget, _CHUNK * 16))
            budget -= len(out)
            pending = inflater.unconsumed_tail
            if out:
                yield out
            elif not pending:
                break
    except zlib.error as exc:
        raise _truncated(kind, name, info.filename) from exc
    finally:
        raw.release()


def _extent_error(kind: _Kind, name: str, member: str, size: str) -> BundleError:
    where = f"“{name}”" if name else kind.label
    return BundleError(
        f"{kind.prefix}-too-many-rows",
        f"{where}的工作表“{member}”的已用区域达 {size}，超过上限（{MAX_SHEET_ROWS} 行、{MAX_SHEET_CELLS} 个单元格）。"
        "请删除多余的行和列（选中后“删除”）再保存报送。",
        detail=f"sheet extent {size} in {member!r}",
    )


def _refuse_ole(data: bytes, name: str) -> BundleError:
    """An OLE compound file: an encrypted OOXML workbook, a legacy .xls, or a WPS .et."""
    where = f"“{name}”" if name else WORKBOOK.label
    lower = name.lower()
    if "EncryptionInfo".encode("utf-16-le") in data or "EncryptedPackage".encode("utf-16-le") in data:
        return BundleError(
            "workbook-encrypted",
            f"{where}设置了打开密码（已加密），无法审核。请在 Excel 中“文件 → 信息 → 保护工作簿 → 用密码进行加密”"
            "清除密码后重新报送。",
        )
    if lower.endswith(".et"):
        return BundleError(
            "workbook-wps-et",
            f"{where}是 WPS 表格 .et 格式，无法审核。请在 WPS 中“另存为 → Excel 工作簿 (*.xlsx)”后重新报送。",
        )
    return BundleError(
        "workbook-legacy-xls",
        f"{where}是旧版 Excel 97-2003 (.xls) 格式，无法审核。请使用标准登记表模板，"
        "或在 Excel 中“另存为 → Excel 工作簿 (*.xlsx)”后重新报送。",
    )


def inspect_zip(data: bytes, *, name: str = "") -> zipfile.ZipFile:
    """Check a bundle zip's container before any member is read; returns the opened ZipFile.

    Members are later read through zipfile, which itself stops at the (already capped) declared
    size and fails the CRC when a header lied, so only the directory needs checking here.
    """
    if sniff_container(data) != "zip":
        where = f"“{name}”" if name else BUNDLE.label
        raise BundleError("bundle-not-zip", f"{where}不是有效的 .zip 压缩包，无法读取。")
    zf = _open_zip(data, BUNDLE, name)
    try:
        _check_directory([_Entry.of(info) for info in zf.infolist()], BUNDLE, name)
    except BaseException:
        zf.close()
        raise
    return zf


_RECENTLY_PASSED: deque[bytes] = deque(maxlen=4)
"""The last workbooks that passed, by identity: load_bundle and the reader both guard the same bytes
object, and bytes cannot change, so the second look is free. Holding them keeps their ids unique;
only small ones are held, so that a long-running service keeps at most a few MB alive."""
_REMEMBER_BYTES = 4 * 1024 * 1024
_RECENTLY_PASSED_LOCK = threading.Lock()  # checks run in threads too (intake with check_processes=0)


def inspect_xlsx(data: bytes, *, name: str = "") -> None:
    """Refuse a workbook that is not a plain, macro-free, bounded .xlsx; return quietly otherwise."""
    with _RECENTLY_PASSED_LOCK:
        if any(seen is data for seen in _RECENTLY_PASSED):
            return
    _inspect_xlsx(data, name)
    if type(data) is bytes and len(data) <= _REMEMBER_BYTES:  # a bytearray could change after the look
        with _RECENTLY_PASSED_LOCK:
            _RECENTLY_PASSED.append(data)


def _inspect_xlsx(data: bytes, name: str) -> None:
    kind = sniff_container(data)
    where = f"“{name}”" if name else WORKBOOK.label
    if kind == "ole":
        raise _refuse_ole(data, name)
    if kind != "zip":
        if not data:
            raise BundleError("workbook-truncated", f"{where}是空文件（0 字节），请重新导出后再报送。")
        raise BundleError(
            "workbook-not-zip",
            f"{where}不是 Excel .xlsx 工作簿（文件内容不是 xlsx 格式），请使用标准登记表模板填写后报送。",
        )
    infos = _check_directory(_entries(data, WORKBOOK, name), WORKBOOK, name)
    by_name = {i.filename.lower(): i for i in infos}
    if "[content_types].xml" not in by_name or "xl/workbook.xml" not in by_name:
        if "word/document.xml" in by_name or "ppt/presentation.xml" in by_name:
            what = "Word 文档" if "word/document.xml" in by_name else "PowerPoint 演示文稿"
            raise BundleError("workbook-not-xlsx", f"{where}是{what}，不是 Excel 工作簿，请使用标准登记表模板。")
        raise BundleError(
            "workbook-not-xlsx",
            f"{where}是压缩文件但不是 Excel 工作簿（缺少 xl/workbook.xml），请使用标准登记表模板。",
        )
    for info in infos:
        if _MACRO_PARTS.search(info.filename):
            raise _macro_error(where, info.filename)
    inflated = _verify_inflation(data, infos, WORKBOOK, name)
    _check_main_part(data, by_name.get("_rels/.rels"), name)
    sheets, strings = _workbook_parts(data, by_name.get("xl/_rels/workbook.xml.rels"), name)
    for info in infos:
        lower = info.filename.lower()
        if info.is_dir() or lower.endswith(_BINARY_SUFFIXES):
            continue
        if lower == "[content_types].xml":
            head = _check_xml_prolog(data, info, WORKBOOK, name, limit=min(info.file_size, 256 * 1024) or 512)
            if b"macroEnabled" in head:
                raise _macro_error(where, info.filename)
        elif lower in sheets or (lower.startswith("xl/worksheets/") and lower.endswith(".xml")):
            _check_sheet_extent(data, info, WORKBOOK, name, inflated.get(info.filename))
        else:
            _check_xml_prolog(data, info, WORKBOOK, name)
            if lower in strings:
                _check_shared_strings(data, info, WORKBOOK, name)


_RELATIONSHIP = re.compile(rb"<(?:[\w.-]+:)?Relationship\s([^>]*)>")
_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*["']([^"']*)["']""")


def _workbook_parts(data: bytes, rels: _Entry | None, name: str) -> tuple[set[str], set[str]]:
    """Lower-cased names of the worksheet and shared-strings parts the workbook's relationships point at.

    calamine follows these relationships, so a sheet stored under any name must be checked too.
    """
    sheets: set[str] = set()
    strings: set[str] = {"xl/sharedstrings.xml"}
    if rels is None:
        return sheets, strings
    text, _ = _read_prefix(data, rels, WORKBOOK, name, min(max(rels.file_size, 0), 1024 * 1024))
    for match in _RELATIONSHIP.finditer(text):
        attrs = {k.lower(): v for k, v in _ATTR.findall(match.group(1))}
        kind = attrs.get(b"type", b"").rsplit(b"/", 1)[-1]
        if kind not in (b"worksheet", b"sharedStrings"):
            continue
        target = attrs.get(b"target", b"").decode("utf-8", "replace").replace("\\", "/")
        part = posixpath.normpath(target.lstrip("/") if target.startswith("/") else "xl/" + target).lower()
        (sheets if kind == b"worksheet" else strings).add(part)
    return sheets, strings


def _check_main_part(data: bytes, rels: _Entry | None, name: str) -> None:
    """The package's main part must be xl/workbook.xml: the part every check above looked at and calamine reads."""
    if rels is None:
        return
    text, _ = _read_prefix(data, rels, WORKBOOK, name, min(max(rels.file_size, 0), 256 * 1024))
    for match in _RELATIONSHIP.finditer(text):
        attrs = {k.lower(): v for k, v in _ATTR.findall(match.group(1))}
        if not attrs.get(b"type", b"").endswith(b"/officeDocument"):
            continue
        target = attrs.get(b"target", b"").decode("utf-8", "replace").replace("\\", "/")
        if posixpath.normpath(target.lstrip("/")).lower() != "xl/workbook.xml":
            where = f"“{name}”" if name else WORKBOOK.label
            raise BundleError(
                "workbook-not-xlsx",
                f"{where}的主文档指向“{target[:80]}”而不是 xl/workbook.xml，不是标准的 Excel 工作簿结构，已拒收。"
                "请用 Excel 或 WPS 重新另存为 .xlsx。",
                detail=f"officeDocument target {target!r}",
            )


def _check_shared_strings(data: bytes, info: _Entry, kind: _Kind, name: str) -> None:
    """Refuse millions of shared strings: calamine loads every one of them before reading any cell.

    A part under STRINGS_SCAN_BYTES cannot hold more than ~80,000 strings, so only larger ones are counted.
    """
    if info.file_size <= STRINGS_SCAN_BYTES:
        return
    count = 0
    tail = b""
    for chunk in _inflate_chunks(data, info, kind, name):
        buf = tail + chunk
        count += buf.count(b"<si") + buf.count(b":si") - tail.count(b"<si") - tail.count(b":si")
        tail = buf[-2:]
        if count > MAX_SHARED_STRINGS:
            where = f"“{name}”" if name else kind.label
            raise BundleError(
                f"{kind.prefix}-too-many-strings",
                f"{where}中的“{info.filename}”有超过 {MAX_SHARED_STRINGS} 个不同的文本，远超登记表所需，已拒收。"
                "请只填写标准登记表的内容后重新保存报送。",
                detail=f"more than {count} shared strings",
            )


def _macro_error(where: str, member: str) -> BundleError:
    return BundleError(
        "workbook-macros",
        f"{where}含有宏或 ActiveX 控件（“{member}”），出于安全原因不予接收。"
        "请使用标准登记表模板，另存为不含宏的 .xlsx 后重新报送。",
        detail=f"macro part {member!r}",
    )
