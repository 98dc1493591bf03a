"""Zip container guards: the central directory, local headers and inflation under a running cap.

A workbook and a bundle are both zips whose directory is written by the sender, so nothing here
trusts a declared size: the directory is checked first (count, encryption, methods, sizes,
ratios), and whenever the compressed bytes could hide more than the total cap every member is
inflated again chunk by chunk with the cap enforced as it goes. The plain single-disk directory
of a normal workbook is parsed directly (zipfile's parser is the slow part) and remembered for
the reader, which asks about the same bytes object moments later.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from typing import NamedTuple

from validation.findings import human_size
from validation.limits import (
    DEFLATE_MAX_RATIO,
    KEEP_INFLATED_BYTES,
    MAX_INFLATED_TOTAL,
    MAX_MEMBERS,
    MAX_RATIO,
    RATIO_FLOOR,
    WORKBOOK,
    BundleError,
    ContainerKind,
    plain_member,
)

LOCAL_SIG = b"PK\x03\x04"
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")
CHUNK = 64 * 1024
REMEMBER_BYTES = 4 * 1024 * 1024
"""Largest bytes object whose directory (and, in safety.py, whose passing the guards) is remembered."""

Describe = Callable[[str], str]
"""Member name -> how a message names it (a worksheet by its sheet name, see safety.py)."""


class Entry(NamedTuple):
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
    def of(cls, info: zipfile.ZipInfo) -> Entry:
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


def fast_entries(data: bytes) -> list[Entry] | None:
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
    entries: list[Entry] = []
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
        entries.append(Entry(filename, flags, method, csize, usize, offset, crc))
        pos += _CENTRAL.size + nlen + xlen + clen
    return entries if pos == eocd else None


_LAST_DIRECTORIES: deque[tuple[bytes, list[Entry] | None]] = deque(maxlen=2)
"""The central directories parsed last, with the bytes objects they came from: the reader asks
member_checksums about the object _inspect_xlsx has just parsed. bytes cannot change, so identity is enough."""


def _remembered_entries(data: bytes) -> list[Entry] | None:
    """fast_entries, remembered for the last small workbooks so that a check parses the directory once."""
    for seen, entries in tuple(_LAST_DIRECTORIES):  # a snapshot: other threads may append meanwhile
        if seen is data:
            return entries
    entries = fast_entries(data)
    if type(data) is bytes and len(data) <= REMEMBER_BYTES:
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


def directory_entries(data: bytes, kind: ContainerKind, name: str) -> list[Entry]:
    fast = _remembered_entries(data)
    if fast is not None:
        return fast
    with open_zip(data, kind, name) as zf:
        return [Entry.of(info) for info in zf.infolist()]


def open_zip(data: bytes, kind: ContainerKind, name: str) -> zipfile.ZipFile:
    where = kind.where(name)
    if len(data) < 22:
        raise BundleError(
            f"{kind.prefix}-truncated",
            f"{where}只有 {len(data)} 字节，文件不完整（可能传输中断），请重新导出后再报送。",
        )
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        if data[:4] == LOCAL_SIG:
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


def data_offset(data: bytes, info: Entry, kind: ContainerKind, name: str) -> int:
    """Where the member's compressed bytes start, checking the local header agrees with the directory."""
    offset = info.header_offset
    try:
        sig, _ver, _flags, method, _t, _d, _crc, _csize, _usize, nlen, xlen = _LOCAL_HEADER.unpack_from(data, offset)
    except struct.error as exc:
        raise truncated_error(kind, name, info.filename) from exc
    if sig != LOCAL_SIG or method != info.compress_type:
        raise truncated_error(kind, name, info.filename)
    start: int = offset + _LOCAL_HEADER.size + nlen + xlen  # unpack_from's fields are typed Any
    if start + info.compress_size > len(data):
        raise truncated_error(kind, name, info.filename)
    return start


def truncated_error(kind: ContainerKind, name: str, member: str) -> BundleError:
    where = kind.where(name)
    return BundleError(
        f"{kind.prefix}-truncated",
        f"{where}已损坏：其中的“{member}”不完整（可能传输中断），请重新保存后再报送。",
        detail=f"member {member!r} local header or data out of range",
    )


def check_directory(
    infos: list[Entry], kind: ContainerKind, name: str, describe: Describe = plain_member
) -> list[Entry]:
    """Refuse from the central directory alone: count, encryption, methods, declared sizes and ratios."""
    where = kind.where(name)
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
        _check_sizes(
            kind,
            where,
            info.filename,
            inflated=info.file_size,
            compressed=info.compress_size,
            total=total,
            describe=describe,
        )
    return infos


def _check_sizes(
    kind: ContainerKind,
    where: str,
    member: str,
    *,
    inflated: int,
    compressed: int,
    total: int,
    describe: Describe = plain_member,
) -> None:
    """Refuses past a cap; `describe` names the member only when a message needs it (it may read)."""
    if total > MAX_INFLATED_TOTAL:
        raise BundleError(
            f"{kind.prefix}-too-large",
            f"{where}解压后超过 {human_size(MAX_INFLATED_TOTAL)}（疑似压缩炸弹），已拒收。",
            detail=f"inflated total >= {total} at member {member!r}",
        )
    if inflated > RATIO_FLOOR and inflated > MAX_RATIO * max(compressed, 1):
        raise BundleError(
            f"{kind.prefix}-compression-ratio",
            f"{where}中的{describe(member)}压缩比异常（解压后 {human_size(inflated)}，"
            f"压缩后只有 {human_size(compressed)}，超过 {MAX_RATIO}:1，疑似压缩炸弹），已拒收。",
            detail=f"member {member!r} ratio {inflated}/{compressed}",
        )


def verify_inflation(
    data: bytes, infos: list[Entry], kind: ContainerKind, name: str, describe: Describe = plain_member
) -> dict[str, bytes]:
    """Inflate with a running cap wherever a lying size header could hide a bomb.

    Deflate cannot expand more than ~1033:1, so when all compressed bytes together could not pass
    the total cap even at that ratio nothing is inflated: a small workbook costs nothing here.
    The ratio rule is a heuristic on declared sizes; the total cap is what bounds memory.
    Returns the verified content of XML parts (up to KEEP_INFLATED_BYTES together) by member
    name, so that the worksheet scan does not inflate a big sheet a second time.
    """
    where = kind.where(name)
    deflated = [i for i in infos if i.compress_type == zipfile.ZIP_DEFLATED]
    worst_case = sum(i.compress_size for i in deflated) * DEFLATE_MAX_RATIO
    kept: dict[str, bytes] = {}
    if worst_case <= MAX_INFLATED_TOTAL:
        return kept
    total = sum(i.file_size for i in infos if i.compress_type == zipfile.ZIP_STORED)
    budget = KEEP_INFLATED_BYTES
    for info in deflated:
        keep = info.file_size <= budget and info.filename.lower().endswith(".xml")
        produced, content = _inflate_capped(data, info, kind, name, before=total, keep=keep, describe=describe)
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


def read_prefix(data: bytes, info: Entry, kind: ContainerKind, name: str, limit: int) -> tuple[bytes, bool]:
    """The first `limit` inflated bytes of a member, read straight from the buffer (no ZipExtFile),
    and whether they are the whole member.

    Deflate rarely needs more than limit + a few bytes of input for `limit` bytes of output; when
    it does, fewer bytes come back without the end flag and the caller asks for more.
    """
    start = data_offset(data, info, kind, name)
    take = min(info.compress_size, limit + 64)
    raw = data[start : start + take]
    if info.compress_type == zipfile.ZIP_STORED:
        return raw[:limit], info.compress_size <= limit
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, limit)
    except zlib.error as exc:
        raise truncated_error(kind, name, info.filename) from exc
    return out, inflater.eof


def _inflate_capped(
    data: bytes,
    info: Entry,
    kind: ContainerKind,
    name: str,
    *,
    before: int,
    keep: bool = False,
    describe: Describe = plain_member,
) -> tuple[int, bytes | None]:
    """Inflate one member chunk by chunk, refusing as soon as a cap is passed.

    Returns its real size and, with `keep`, its content (the caller bounds how much it keeps).
    """
    where = kind.where(name)
    start = data_offset(data, info, kind, name)
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
                    pending = raw[pos : pos + CHUNK]
                    pos += CHUNK
                else:
                    raise truncated_error(kind, name, info.filename)
                piece = inflater.decompress(pending, CHUNK)
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
                    describe=describe,
                )
        except zlib.error as exc:
            raise truncated_error(kind, name, info.filename) from exc
        finally:
            raw.release()
    return produced, b"".join(pieces) if keep else None


def inflate_chunks(
    data: bytes, info: Entry, kind: ContainerKind, name: str, inflated: bytes | None = None
) -> Iterator[bytes]:
    """The member inflated piece by piece (at most 1 MB at a time), never more than its declared size.

    `inflated` is the member's content when verify_inflation already produced (and checked) it:
    it is cut into the same pieces instead of being inflated again.
    """
    if inflated is not None:
        for pos in range(0, len(inflated), CHUNK * 16):
            yield inflated[pos : pos + CHUNK * 16]
        return
    start = data_offset(data, info, kind, name)
    raw = memoryview(data)[start : start + info.compress_size]
    try:
        if info.compress_type == zipfile.ZIP_STORED:
            for pos in range(0, len(raw), CHUNK * 16):
                yield bytes(raw[pos : pos + CHUNK * 16])
            return
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        budget = info.file_size
        pending: bytes | memoryview = raw
        while budget > 0 and not inflater.eof and len(pending):
            out = inflater.decompress(pending, min(budget, CHUNK * 16))
            budget -= len(out)
            pending = inflater.unconsumed_tail
            if out:
                yield out
            elif not pending:
                break
    except zlib.error as exc:
        raise truncated_error(kind, name, info.filename) from exc
    finally:
        raw.release()
