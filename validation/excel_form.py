"""Rewrites an openpyxl-saved workbook into the form Excel and WPS save: one shared string table.

openpyxl stores every text cell as an inline string (`t="inlineStr"`) and writes every non-ASCII
character as a numeric character reference (`&#30331;`). Excel, WPS and LibreOffice instead keep
each distinct text once in xl/sharedStrings.xml, refer to it by index (`t="s"`), and write UTF-8.
Filers send what Excel saved, so the workbooks we hand out (the template, test and benchmark
workbooks) should look the same: calamine reads the Excel form about twice as fast, because it
decodes each distinct text once instead of unescaping every character of every cell.

Only openpyxl's plain inline strings are rewritten (rich text keeps its inline form, which is
equally valid), and the cell values a reader sees do not change: tests compare both forms cell
by cell. A workbook that already has a shared string table is returned unchanged.
"""

from __future__ import annotations

import io
import re
import zipfile

_WORKSHEET_PART = re.compile(r"^xl/worksheets/[^/]+\.xml$")
_INLINE_CELL = re.compile(
    rb'<c((?:\s+[\w:]+="[^"]*")*?)\s+t="inlineStr"((?:\s+[\w:]+="[^"]*")*)\s*'
    rb"(?:/>|>\s*(?:<is>\s*<t(\s+xml:space=\"preserve\")?\s*(?:/>|>([^<]*)</t>)\s*</is>\s*)?</c>)"
)
"""A cell holding one plain inline string (or none); its other attributes are kept in order."""
_CHAR_REF = re.compile(rb"&#(x[0-9A-Fa-f]{1,6}|[0-9]{1,7});")
_KEPT_AS_REF = frozenset("&<>\"'")
"""Characters that must stay escaped in XML text and attribute values."""

SHARED_STRINGS_PART = "xl/sharedStrings.xml"
_SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_SHARED_STRINGS_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
_SST_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">'
)
_REL_ID = re.compile(rb'\sId="([^"]*)"')


def _literal(match: re.Match[bytes]) -> bytes:
    """A character reference as the UTF-8 character itself, except where XML needs the reference."""
    number = match.group(1)
    code = int(number[1:], 16) if number[:1] == b"x" else int(number)
    if code < 0x20 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF or chr(code) in _KEPT_AS_REF:
        return match.group(0)
    return chr(code).encode("utf-8")


def literal_utf8(xml: bytes) -> bytes:
    """The same XML with numeric character references written as UTF-8, as Excel writes it."""
    return _CHAR_REF.sub(_literal, xml) if b"&#" in xml else xml


class _StringTable:
    """Collects distinct texts in first-seen order, as Excel numbers them."""

    def __init__(self) -> None:
        self.index: dict[tuple[bytes, bool], int] = {}
        self.uses = 0

    def cell(self, match: re.Match[bytes]) -> bytes:
        before, after, preserve, text = match.groups()
        attributes = before + after
        if text is None:  # an empty inline string is an empty cell: Excel writes no type for it
            return b"<c%s/>" % attributes
        key = (text, preserve is not None)
        number = self.index.setdefault(key, len(self.index))
        self.uses += 1
        return b'<c%s t="s"%s><v>%d</v></c>' % (before, after, number)

    def part(self) -> bytes:
        items = [
            b'<si><t xml:space="preserve">%s</t></si>' % text if preserve else b"<si><t>%s</t></si>" % text
            for text, preserve in self.index
        ]
        return _SST_HEAD % (self.uses, len(self.index)) + b"".join(items) + b"</sst>"


def _add_content_type(types: bytes) -> bytes:
    override = f'<Override PartName="/{SHARED_STRINGS_PART}" ContentType="{_SHARED_STRINGS_TYPE}"/>'
    return types.replace(b"</Types>", override.encode() + b"</Types>", 1)


def _add_relationship(rels: bytes) -> bytes:
    taken = set(_REL_ID.findall(rels))
    number = 1
    while b"rId%d" % number in taken:
        number += 1
    rel = f'<Relationship Type="{_SHARED_STRINGS_REL}" Target="sharedStrings.xml" Id="rId{number}"/>'
    return rels.replace(b"</Relationships>", rel.encode() + b"</Relationships>", 1)


def excel_form(data: bytes) -> bytes:
    """The workbook `data` (as openpyxl saved it) with a shared string table and UTF-8 text.

    Member order, names, timestamps and compression are kept; xl/sharedStrings.xml is added after
    the worksheets, with its content type and workbook relationship.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        names = source.namelist()
        if SHARED_STRINGS_PART in names or "xl/_rels/workbook.xml.rels" not in names:
            return data
        infos = source.infolist()
        parts = {info.filename: source.read(info) for info in infos}
    last_sheet = max((i for i, info in enumerate(infos) if _WORKSHEET_PART.match(info.filename)), default=-1)
    if last_sheet < 0:
        return data
    table = _StringTable()
    for name, content in parts.items():
        rewritten = literal_utf8(content) if name.endswith(".xml") else content
        if _WORKSHEET_PART.match(name):
            rewritten = _INLINE_CELL.sub(table.cell, rewritten)
        parts[name] = rewritten
    parts["[Content_Types].xml"] = _add_content_type(parts["[Content_Types].xml"])
    parts["xl/_rels/workbook.xml.rels"] = _add_relationship(parts["xl/_rels/workbook.xml.rels"])
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for position, info in enumerate(infos):
            target.writestr(info, parts[info.filename], compress_type=zipfile.ZIP_DEFLATED)
            if position == last_sheet:
                strings = zipfile.ZipInfo(SHARED_STRINGS_PART, info.date_time)
                target.writestr(strings, table.part(), compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
