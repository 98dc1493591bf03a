"""Defences against hostile or broken files, run before anything parses them.

A workbook reaches calamine (Rust) and openpyxl, neither of which we want to trust with a zip
bomb, an XML entity bomb, an encrypted container or a sheet whose cell addresses make calamine
allocate a dense grid of billions of cells (which aborts the whole process, no exception). The
checks read the zip central directory, the local headers, the first bytes of every XML part and
the worksheets themselves (one regex search each on a normal sheet), so that they cost a fraction
of a millisecond on a normal workbook and a bounded amount of memory on a hostile one.

This module is the entry point and the container-level guards (what the file is, macros, the
package's main part, which parts are worksheets); the zip guards live in validation/zipguard.py,
the XML guards in validation/xmlguard.py, the limits and `BundleError` in validation/limits.py.
The names other modules and tests use are re-exported here.
"""

from __future__ import annotations

import posixpath
import re
import threading
import zipfile
from collections import deque
from xml.sax.saxutils import unescape

from validation.limits import (
    BUNDLE,
    DEFLATE_MAX_RATIO,
    KEEP_INFLATED_BYTES,
    MAX_INFLATED_TOTAL,
    MAX_MEMBERS,
    MAX_PROLOG_BYTES,
    MAX_RATIO,
    MAX_SHARED_STRINGS,
    MAX_SHEET_CELLS,
    MAX_SHEET_ROWS,
    RATIO_FLOOR,
    STRINGS_SCAN_BYTES,
    WORKBOOK,
    BundleError,
    plain_member,
)
from validation.xmlguard import check_shared_strings, check_sheet_extent, check_xml_prolog
from validation.zipguard import (
    REMEMBER_BYTES,
    Entry,
    check_directory,
    directory_entries,
    member_checksums,
    open_zip,
    read_prefix,
    verify_inflation,
)

__all__ = [
    "DEFLATE_MAX_RATIO",
    "KEEP_INFLATED_BYTES",
    "MAX_INFLATED_TOTAL",
    "MAX_MEMBERS",
    "MAX_PROLOG_BYTES",
    "MAX_RATIO",
    "MAX_SHARED_STRINGS",
    "MAX_SHEET_CELLS",
    "MAX_SHEET_ROWS",
    "RATIO_FLOOR",
    "STRINGS_SCAN_BYTES",
    "BundleError",
    "inspect_xlsx",
    "inspect_zip",
    "member_checksums",
    "sniff_container",
]

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_BINARY_SUFFIXES = (".png", ".jpeg", ".jpg", ".gif", ".emf", ".wmf", ".tif", ".tiff", ".bmp")
"""Media parts no XML parser reads; every other member gets its prolog checked."""
_MACRO_PARTS = re.compile(r"(^|/)(vbaproject\.bin|vbadata\.xml)$|^xl/(macrosheets|dialogsheets|activex)/", re.I)


def sniff_container(data: bytes) -> str:
    """'zip', 'ole' or 'other', from the magic bytes alone."""
    head = data[:8]
    if head.startswith(_ZIP_MAGICS):
        return "zip"
    if head == _OLE_MAGIC:
        return "ole"
    return "other"


def _refuse_ole(data: bytes, name: str) -> BundleError:
    """An OLE compound file: an encrypted OOXML workbook, a legacy .xls, or a WPS .et."""
    where = WORKBOOK.where(name)
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
        where = BUNDLE.where(name)
        raise BundleError("bundle-not-zip", f"{where}不是有效的 .zip 压缩包，无法读取。")
    zf = open_zip(data, BUNDLE, name)
    try:
        check_directory([Entry.of(info) for info in zf.infolist()], BUNDLE, name)
    except BaseException:
        zf.close()
        raise
    return zf


_RECENTLY_PASSED: deque[tuple[bytes, bool]] = deque(maxlen=4)
"""The last workbooks that passed, by identity: load_bundle and the reader both guard the same bytes
object, and bytes cannot change, so the second look is free. Holding them keeps their ids unique;
only small ones are held, so that a long-running service keeps at most a few MB alive."""
_RECENTLY_PASSED_LOCK = threading.Lock()  # checks run in threads too (intake with check_processes=0)


def inspect_xlsx(data: bytes, *, name: str = "") -> bool:
    """Refuse a workbook that is not a plain, macro-free, bounded .xlsx. Returns whether a worksheet
    stores a number far below zero that calamine's date conversion would panic on (see
    xmlguard._DATE_BREAKER): the sheets are scanned here anyway, so the reader need not look again."""
    with _RECENTLY_PASSED_LOCK:
        for seen, breaks_dates in _RECENTLY_PASSED:
            if seen is data:
                return breaks_dates
    breaks_dates = _inspect_xlsx(data, name)
    if type(data) is bytes and len(data) <= REMEMBER_BYTES:  # a bytearray could change after the look
        with _RECENTLY_PASSED_LOCK:
            _RECENTLY_PASSED.append((data, breaks_dates))
    return breaks_dates


def _inspect_xlsx(data: bytes, name: str) -> bool:
    kind = sniff_container(data)
    where = WORKBOOK.where(name)
    if kind != "zip":
        raise _not_a_zip(data, kind, name)
    describe = _SheetNames(data, name)
    infos = check_directory(directory_entries(data, WORKBOOK, name), WORKBOOK, name, describe)
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
    inflated = verify_inflation(data, infos, WORKBOOK, name, describe)
    _check_main_part(data, by_name.get("_rels/.rels"), name)
    sheets, strings = _workbook_parts(data, by_name.get("xl/_rels/workbook.xml.rels"), name)
    breaks_dates = False
    for info in infos:
        lower = info.filename.lower()
        if info.is_dir() or lower.endswith(_BINARY_SUFFIXES):
            continue
        if lower == "[content_types].xml":
            head = check_xml_prolog(data, info, WORKBOOK, name, limit=min(info.file_size, 256 * 1024) or 512)
            if b"macroEnabled" in head:
                raise _macro_error(where, info.filename)
        elif lower in sheets or (lower.startswith("xl/worksheets/") and lower.endswith(".xml")):
            breaks_dates |= check_sheet_extent(data, info, WORKBOOK, name, inflated.get(info.filename), describe)
        else:
            check_xml_prolog(data, info, WORKBOOK, name)
            if lower in strings:
                check_shared_strings(data, info, WORKBOOK, name)
    return breaks_dates


def _not_a_zip(data: bytes, kind: str, name: str) -> BundleError:
    """Why a workbook that is no zip container is refused: an old .xls (or encrypted) file, an empty one, or other."""
    if kind == "ole":
        return _refuse_ole(data, name)
    if not data:
        return BundleError("workbook-truncated", f"{WORKBOOK.where(name)}是空文件（0 字节），请重新导出后再报送。")
    return BundleError(
        "workbook-not-zip",
        f"{WORKBOOK.where(name)}不是 Excel .xlsx 工作簿（文件内容不是 xlsx 格式），请使用标准登记表模板填写后报送。",
    )


_RELATIONSHIP = re.compile(rb"<(?:[\w.-]+:)?Relationship\s([^>]*)>")
_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*["']([^"']*)["']""")


def _relationships(data: bytes, rels: Entry, name: str, limit: int) -> list[dict[bytes, bytes]]:
    """The attributes (lower-cased names) of each <Relationship> in the first `limit` bytes of a rels part."""
    text, _ = read_prefix(data, rels, WORKBOOK, name, min(max(rels.file_size, 0), limit))
    return [{k.lower(): v for k, v in _ATTR.findall(match.group(1))} for match in _RELATIONSHIP.finditer(text)]


def _workbook_target(attrs: dict[bytes, bytes]) -> str:
    """The lower-cased part a workbook relationship points at (targets are relative to xl/)."""
    target = attrs.get(b"target", b"").decode("utf-8", "replace").replace("\\", "/")
    return posixpath.normpath(target.lstrip("/") if target.startswith("/") else "xl/" + target).lower()


def _workbook_parts(data: bytes, rels: Entry | None, name: str) -> tuple[set[str], set[str]]:
    """Lower-cased names of the worksheet and shared-strings parts the workbook's relationships point at.

    calamine follows these relationships, so a sheet stored under any name must be checked too.
    """
    sheets: set[str] = set()
    strings: set[str] = {"xl/sharedstrings.xml"}
    if rels is None:
        return sheets, strings
    for attrs in _relationships(data, rels, name, 1024 * 1024):
        kind = attrs.get(b"type", b"").rsplit(b"/", 1)[-1]
        if kind in (b"worksheet", b"sharedStrings"):
            (sheets if kind == b"worksheet" else strings).add(_workbook_target(attrs))
    return sheets, strings


_SHEET = re.compile(rb"<(?:[\w.-]+:)?sheet\s([^>]*?)/?>")


class _SheetNames:
    """Worksheet part -> how a message names it: 工作表“基本信息”, as the filer knows it by its tab.

    Only read when a message needs it (a refusal), so a normal check pays nothing. The names come
    from xl/workbook.xml and its relationships, read as a bounded prefix with regexes, because no
    XML parser may touch the file before it passed; a part they do not name is named as itself.
    """

    def __init__(self, data: bytes, name: str) -> None:
        self.data = data
        self.name = name
        self.names: dict[str, str] | None = None

    def __call__(self, member: str) -> str:
        if self.names is None:
            try:
                self.names = self._read()
            except BundleError:  # a broken workbook part: name the member as itself
                self.names = {}
        sheet = self.names.get(member.lower())
        return f"工作表“{sheet}”" if sheet else plain_member(member)

    def _read(self) -> dict[str, str]:
        by_name = {i.filename.lower(): i for i in directory_entries(self.data, WORKBOOK, self.name)}
        rels, book = by_name.get("xl/_rels/workbook.xml.rels"), by_name.get("xl/workbook.xml")
        if rels is None or book is None:
            return {}
        parts = {
            attrs.get(b"id", b""): _workbook_target(attrs)
            for attrs in _relationships(self.data, rels, self.name, 1024 * 1024)
            if attrs.get(b"type", b"").endswith(b"/worksheet")
        }
        text, _ = read_prefix(self.data, book, WORKBOOK, self.name, min(max(book.file_size, 0), 1024 * 1024))
        names: dict[str, str] = {}
        for match in _SHEET.finditer(text):
            attrs = {k.lower(): v for k, v in _ATTR.findall(match.group(1))}
            rel_id = next((v for k, v in attrs.items() if k.endswith(b":id")), b"")
            sheet = attrs.get(b"name", b"")
            if rel_id in parts and sheet:
                names[parts[rel_id]] = unescape(sheet.decode("utf-8", "replace"), {"&quot;": '"', "&apos;": "'"})
        return names


def _check_main_part(data: bytes, rels: Entry | None, name: str) -> None:
    """The package's main part must be xl/workbook.xml: the part every check above looked at and calamine reads."""
    if rels is None:
        return
    for attrs in _relationships(data, rels, name, 256 * 1024):
        if not attrs.get(b"type", b"").endswith(b"/officeDocument"):
            continue
        target = attrs.get(b"target", b"").decode("utf-8", "replace").replace("\\", "/")
        if posixpath.normpath(target.lstrip("/")).lower() != "xl/workbook.xml":
            where = WORKBOOK.where(name)
            raise BundleError(
                "workbook-not-xlsx",
                f"{where}的主文档指向“{target[:80]}”而不是 xl/workbook.xml，不是标准的 Excel 工作簿结构，已拒收。"
                "请用 Excel 或 WPS 重新另存为 .xlsx。",
                detail=f"officeDocument target {target!r}",
            )


def _macro_error(where: str, member: str) -> BundleError:
    return BundleError(
        "workbook-macros",
        f"{where}含有宏或 ActiveX 控件（“{member}”），出于安全原因不予接收。"
        "请使用标准登记表模板，另存为不含宏的 .xlsx 后重新报送。",
        detail=f"macro part {member!r}",
    )
