"""Builders of hostile and broken files for the bundle and safety tests, made from bytes in the test run."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import openpyxl

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_FREE, _END, _FATSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD


def plain_workbook(rows: int = 3) -> bytes:
    """A small, ordinary .xlsx written by openpyxl (not the standard template)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "基本信息"
    for r in range(1, rows + 1):
        ws.cell(r, 1, f"行{r}")
        ws.cell(r, 2, r * 1.5)
    buf = io.BytesIO()
    wb.save(buf)
    wb.close()
    return buf.getvalue()


def rebuild_zip(
    data: bytes,
    *,
    replace: dict[str, bytes] | None = None,
    add: dict[str, bytes] | None = None,
    drop: set[str] | None = None,
) -> bytes:
    """A copy of a zip with some members replaced, added or dropped (deflated, like Excel writes)."""
    replace = replace or {}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if drop and info.filename in drop:
                continue
            dst.writestr(info.filename, replace.get(info.filename, src.read(info)))
        for name, content in (add or {}).items():
            dst.writestr(name, content)
    return out.getvalue()


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return out.getvalue()


def zip_with_raw_names(members: list[tuple[bytes, bytes]]) -> bytes:
    """A zip whose member names are written as given bytes without the UTF-8 flag (as old Windows tools do).

    zipfile insists on encoding names itself, so each member is written under an ASCII placeholder
    of the same byte length and the placeholder is then swapped for the raw bytes.
    """
    out = io.BytesIO()
    placeholders = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for index, (raw_name, content) in enumerate(members):
            stem = f"P{index:03d}".encode()
            placeholder = (stem + b"_" * len(raw_name))[: len(raw_name)]
            assert len(raw_name) >= len(stem)
            zf.writestr(placeholder.decode("ascii"), content)
            placeholders.append((placeholder, raw_name))
    data = out.getvalue()
    for placeholder, raw_name in placeholders:
        assert data.count(placeholder) == 2
        data = data.replace(placeholder, raw_name)
    return data


def compound_file(stream_names: list[str]) -> bytes:
    """A minimal but well-formed OLE compound file (CFB v3) with empty streams of the given names.

    Enough structure for any reader to list the streams: header, one FAT sector, one directory sector.
    """
    entries = [("Root Entry", 5)] + [(n, 2) for n in stream_names]
    assert len(entries) <= 4
    header = bytearray(512)
    header[0:8] = OLE_MAGIC
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<I", header, 44, 1)  # number of FAT sectors
    struct.pack_into("<I", header, 48, 1)  # first directory sector
    struct.pack_into("<I", header, 56, 4096)  # mini stream cutoff
    struct.pack_into("<IIII", header, 60, _END, 0, _END, 0)  # mini FAT, DIFAT
    struct.pack_into("<I", header, 76, 0)  # DIFAT[0] = FAT in sector 0
    for i in range(1, 109):
        struct.pack_into("<I", header, 76 + 4 * i, _FREE)
    fat = bytearray(struct.pack("<128I", *([_FATSECT, _END] + [_FREE] * 126)))
    directory = bytearray(512)
    for index, (entry_name, kind) in enumerate(entries):
        base = index * 128
        encoded = entry_name.encode("utf-16-le") + b"\0\0"
        directory[base : base + len(encoded)] = encoded
        struct.pack_into("<HBB", directory, base + 64, len(encoded), kind, 1)
        left = _FREE
        right = index + 1 if 1 <= index < len(entries) - 1 else _FREE
        child = 1 if index == 0 and len(entries) > 1 else _FREE
        struct.pack_into("<III", directory, base + 68, left, right, child)
        struct.pack_into("<II", directory, base + 116, _END, 0)
    for index in range(len(entries), 4):
        struct.pack_into("<III", directory, index * 128 + 68, _FREE, _FREE, _FREE)
    return bytes(header + fat + directory)


def encrypted_workbook() -> bytes:
    """What Excel writes for a password-protected .xlsx: an OLE file with EncryptionInfo/EncryptedPackage."""
    return compound_file(["EncryptionInfo", "EncryptedPackage"])


def legacy_xls() -> bytes:
    return compound_file(["Workbook", "\x05SummaryInformation"])


def macro_workbook() -> bytes:
    base = plain_workbook()
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        types = zf.read("[Content_Types].xml")
    types = types.replace(
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    )
    return rebuild_zip(base, replace={"[Content_Types].xml": types}, add={"xl/vbaProject.bin": compound_file(["VBA"])})


def billion_laughs(levels: int = 10) -> bytes:
    """The classic entity bomb: 10 levels of tenfold expansion, ~3 GB once expanded."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<!DOCTYPE sst [", ' <!ENTITY lol0 "lol">']
    for level in range(1, levels):
        lines.append(f' <!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">')
    lines.append("]>")
    lines.append(
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1">'
        f"<si><t>&lol{levels - 1};</t></si></sst>"
    )
    return "\n".join(lines).encode()


def entity_bomb_workbook() -> bytes:
    base = plain_workbook()
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        workbook_xml = zf.read("xl/workbook.xml")
    bomb_head = billion_laughs().split(b"<sst")[0].replace(b"DOCTYPE sst", b"DOCTYPE workbook")
    body = workbook_xml.split(b"?>", 1)[1] if workbook_xml.startswith(b"<?xml") else workbook_xml
    return rebuild_zip(base, replace={"xl/workbook.xml": bomb_head + body.replace(b"</sheets>", b"</sheets>")})


def _deflate_stream(pattern: bytes, size: int) -> bytes:
    """Raw deflate of `size` bytes repeating `pattern`, built chunk by chunk in bounded memory."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    chunk = (pattern * (1024 * 1024 // len(pattern) + 1))[: 1024 * 1024]
    parts = []
    remaining = size
    while remaining > 0:
        piece = chunk[: min(remaining, len(chunk))]
        parts.append(compressor.compress(piece))
        remaining -= len(piece)
    parts.append(compressor.flush())
    return b"".join(parts)


def _crc_of_repeated(pattern: bytes, size: int) -> int:
    chunk = (pattern * (1024 * 1024 // len(pattern) + 1))[: 1024 * 1024]
    crc = 0
    remaining = size
    while remaining > 0:
        piece = chunk[: min(remaining, len(chunk))]
        crc = zlib.crc32(piece, crc)
        remaining -= len(piece)
    return crc


def zip_with_raw_member(
    base: bytes, name: str, deflated: bytes, *, crc: int, declared_size: int, drop: set[str] | None = None
) -> bytes:
    """Append a member given as raw deflate bytes, with whatever inflated size the caller declares."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(base)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if drop and info.filename in drop:
                continue
            dst.writestr(info.filename, src.read(info))
        entries = dst.infolist()
        offset = dst.fp.tell() if dst.fp else 0
        encoded = name.encode()
        local = struct.pack(
            "<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0x21, crc, len(deflated), declared_size, len(encoded), 0
        )
        assert dst.fp is not None
        dst.fp.write(local + encoded + deflated)
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.header_offset = offset
        info.CRC = crc
        info.compress_size = len(deflated)
        info.file_size = declared_size
        info.flag_bits = 0
        info.create_version = info.extract_version = 20
        entries.append(info)
        dst.filelist = entries
        dst.NameToInfo[name] = info
        dst.start_dir = dst.fp.tell()
    return out.getvalue()


def zip_bomb_workbook(inflated: int = 60 * 1024 * 1024, *, lie: bool = False) -> bytes:
    """A workbook whose worksheet inflates to `inflated` bytes of blanks; with `lie`, headers claim 1 KB."""
    deflated = _deflate_stream(b" ", inflated)
    crc = _crc_of_repeated(b" ", inflated)
    return zip_with_raw_member(
        plain_workbook(),
        "xl/worksheets/sheet1.xml",
        deflated,
        crc=crc,
        declared_size=1024 if lie else inflated,
        drop={"xl/worksheets/sheet1.xml"},
    )


def high_ratio_workbook() -> bytes:
    """A 2 MB worksheet of blanks: under the total cap, but over 100:1."""
    base = plain_workbook()
    return rebuild_zip(base, replace={"xl/worksheets/sheet1.xml": b" " * (2 * 1024 * 1024)})


def million_row_workbook() -> bytes:
    """A worksheet whose used range claims 1,048,576 rows (Excel's maximum)."""
    base = plain_workbook()
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml")
    head, _, _ = sheet.partition(b"<dimension")
    rows = b"".join(b'<row r="%d"/>' % r for r in range(1, 1_048_577, 997)) + b'<row r="1048576"/>'
    body = head + b'<dimension ref="A1:B1048576"/><sheetData>' + rows + b"</sheetData></worksheet>"
    return rebuild_zip(base, replace={"xl/worksheets/sheet1.xml": body})


def large_hostile_workbook(total: int = 50 * 1024 * 1024) -> bytes:
    """A ~`total`-byte workbook on disk: an incompressible stored blob plus a bombed sheet (for the bench)."""
    import random

    rng = random.Random(7)
    blob = rng.randbytes(total - 5 * 1024 * 1024)
    base = plain_workbook()
    out = io.BytesIO(base)
    with zipfile.ZipFile(out, "a", zipfile.ZIP_STORED) as zf:
        zf.writestr("xl/media/image1.png", blob)
    return zip_with_raw_member(
        out.getvalue(),
        "xl/worksheets/sheet2.xml",
        _deflate_stream(b" ", 200 * 1024 * 1024),
        crc=_crc_of_repeated(b" ", 200 * 1024 * 1024),
        declared_size=2048,
    )


def workbook_with_sheet_data(sheet_data: bytes, *, dimension: bytes | None = None) -> bytes:
    """The plain workbook with its worksheet's <sheetData> replaced (and its <dimension> dropped or set)."""
    base = plain_workbook()
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml")
    head = sheet.split(b"<dimension")[0]
    tail = sheet.split(b"</sheetData>")[1]
    dim = b'<dimension ref="%s"/>' % dimension if dimension else b""
    return rebuild_zip(
        base, replace={"xl/worksheets/sheet1.xml": head + dim + b"<sheetData>" + sheet_data + b"</sheetData>" + tail}
    )


def far_cell_workbook() -> bytes:
    """Two cells, A1 and XFD1048576, and no <dimension>: 20 KB that would make calamine allocate 512 GB."""
    return workbook_with_sheet_data(
        b'<row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
    )


def shared_strings_workbook(count: int) -> bytes:
    """The plain workbook plus a shared-strings part holding `count` distinct strings."""
    base = plain_workbook()
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        types = zf.read("[Content_Types].xml")
        rels = zf.read("xl/_rels/workbook.xml.rels")
    sst = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        + b"".join(b"<si><t>%x</t></si>" % i for i in range(count))
        + b"</sst>"
    )
    types = types.replace(
        b"</Types>",
        b'<Override PartName="/xl/sharedStrings.xml" ContentType='
        b'"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>',
    )
    rels = rels.replace(
        b"</Relationships>",
        b'<Relationship Id="rIdS" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        b'sharedStrings" Target="sharedStrings.xml"/></Relationships>',
    )
    return rebuild_zip(
        base,
        replace={"[Content_Types].xml": types, "xl/_rels/workbook.xml.rels": rels},
        add={"xl/sharedStrings.xml": sst},
    )
