"""Turn what a filer sent (a .zip, a lone .xlsx, or a folder) into one workbook plus attachments.

Everything a filer sends is hostile until proven otherwise: the container checks of
`validation.safety` run before any member is read, names are decoded the way Windows Chinese
zip tools wrote them (GBK without the UTF-8 flag) and sanitized for storage, and anything that
cannot be read ends as a `BundleError` with a Chinese message, never as a traceback.
"""

from __future__ import annotations

import io
import logging
import os
import re
import struct
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

from validation.findings import human_size
from validation.safety import (
    MAX_INFLATED_TOTAL,
    MAX_MEMBERS,
    BundleError,
    inspect_xlsx,
    inspect_zip,
    sniff_container,
)

__all__ = ["Bundle", "BundleError", "load_bundle", "sanitize_name"]

log = logging.getLogger(__name__)

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xltx", ".xltm", ".xls", ".et", ".ett")
"""Names that are meant as the registration workbook; all but .xlsx are refused by inspect_xlsx with a reason."""

MAX_SOURCE_BYTES = MAX_INFLATED_TOTAL + 4 * 1024 * 1024
"""Largest file read at all: a zip never holds much more than it inflates to, so anything bigger is padding."""

_IGNORED_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini"})
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.I)
_FORBIDDEN_CHARS = re.compile(r'[<>:"|?*\\/]')
_MAX_NAME_BYTES = 200
_UNICODE_PATH_EXTRA = 0x7075


@dataclass(frozen=True)
class Bundle:
    """One filing as received: the workbook bytes and the attachments, keyed by sanitized name."""

    workbook_name: str
    workbook_bytes: bytes = field(repr=False)
    attachments: dict[str, bytes] = field(default_factory=dict, repr=False)
    original_names: dict[str, str] = field(default_factory=dict)
    source: str = ""
    lone_workbook: bool = False
    """A workbook given by itself (not a zip, not a folder, no attachments folder): `chanquan check`
    then checks the workbook alone unless asked to require its files. A filing never does."""

    @property
    def attachment_names(self) -> list[str]:
        return sorted(self.attachments)


def sanitize_name(name: str) -> str:
    """A file name safe to store anywhere: last path component only, no control or reserved characters.

    Used for zip members, folder files and mail attachment names alike, so that the compliance
    catalogue can be matched against one spelling.
    """
    text = unicodedata.normalize("NFC", name.replace("\\", "/"))
    text = text.rstrip("/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co"))
    text = _FORBIDDEN_CHARS.sub("_", text).strip().rstrip(". ").strip()
    if text in ("", ".", ".."):
        text = "unnamed"
    if _WINDOWS_RESERVED.match(text):
        text = "_" + text
    if len(text.encode("utf-8")) > _MAX_NAME_BYTES:
        stem, dot, ext = text.rpartition(".")
        if not dot or len(ext) > 10:
            stem, ext = text, ""
        budget = _MAX_NAME_BYTES - len(ext.encode("utf-8")) - 1
        stem = stem.encode("utf-8")[:budget].decode("utf-8", "ignore")
        text = f"{stem}.{ext}" if ext else stem
    return text


def _is_unsafe_path(name: str) -> bool:
    """A member name that would escape the folder it is extracted into."""
    text = name.replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        return True
    return any(part == ".." for part in text.split("/"))


def _decode_member_name(info: zipfile.ZipInfo) -> str:
    """The name as the filer saw it: UTF-8 flag, Info-ZIP unicode path, else UTF-8, GBK, CP437."""
    if info.flag_bits & 0x800:
        return info.filename
    unicode_path = _unicode_path_extra(info)
    if unicode_path is not None:
        return unicode_path
    try:
        raw = info.filename.encode("cp437")
    except UnicodeEncodeError:
        return info.filename
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return info.filename


def _unicode_path_extra(info: zipfile.ZipInfo) -> str | None:
    """Info-ZIP Unicode Path Extra Field (0x7075), valid only while its CRC matches the raw name."""
    extra = info.extra
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + size]
        pos += 4 + size
        if tag != _UNICODE_PATH_EXTRA or len(body) < 5 or body[0] != 1:
            continue
        (crc,) = struct.unpack_from("<I", body, 1)
        try:
            raw = info.filename.encode("cp437")
            if zlib.crc32(raw) != crc:
                return None
            return body[5:].decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return None
    return None


def _is_ignored(original: str) -> bool:
    """Operating-system litter that is never part of a filing."""
    parts = original.replace("\\", "/").split("/")
    base = parts[-1]
    return "__MACOSX" in parts or base.lower() in _IGNORED_NAMES or base.startswith(("~$", "._", ".~"))


def _is_workbook_name(name: str) -> bool:
    return name.lower().endswith(WORKBOOK_SUFFIXES)


def _looks_like_xlsx_package(data: bytes) -> bool:
    """A zip that is itself an OOXML package rather than a bundle of files."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = {n.lower() for n in zf.namelist()}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error):
        return False
    return "[content_types].xml" in names


def _assemble(files: list[tuple[str, bytes]], source: str) -> Bundle:
    """Pick the one workbook and key the attachments by sanitized name; `files` holds (original, bytes)."""
    workbooks = [(orig, data) for orig, data in files if _is_workbook_name(orig)]
    if not workbooks:
        raise BundleError(
            "bundle-no-workbook",
            f"{source}中没有找到登记表工作簿（.xlsx）。请把填好的标准登记表和附件放在一起报送。",
        )
    if len(workbooks) > 1:
        listed = "、".join(f"“{orig}”" for orig, _ in workbooks)
        raise BundleError(
            "bundle-several-workbooks",
            f"{source}中有 {len(workbooks)} 个工作簿（{listed}），一次报送只能包含一个登记表工作簿。"
            "如需附送其他表格，请转成 PDF 后作为附件。",
        )
    workbook_original, workbook_bytes = workbooks[0]
    workbook_name = sanitize_name(workbook_original)
    inspect_xlsx(workbook_bytes, name=workbook_name)
    attachments: dict[str, bytes] = {}
    originals: dict[str, str] = {workbook_name: workbook_original}
    for original, data in files:
        if original == workbook_original:
            continue
        safe = sanitize_name(original)
        if safe in attachments or safe == workbook_name:
            raise BundleError(
                "bundle-duplicate-name",
                f"{source}中有两个同名文件“{safe}”（“{originals[safe]}”和“{original}”），请改名后重新报送。",
            )
        attachments[safe] = data
        originals[safe] = original
    return Bundle(
        workbook_name=workbook_name,
        workbook_bytes=workbook_bytes,
        attachments=attachments,
        original_names=originals,
        source=source,
    )


def _refuse_nested_bundle(inner: bytes, member: str, source: str) -> None:
    """A zip inside the bundle that itself holds a workbook is a bundle inside a bundle."""
    try:
        with zipfile.ZipFile(io.BytesIO(inner)) as zf:
            names = [_decode_member_name(i) for i in zf.infolist()[: MAX_MEMBERS + 1]]
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error):
        return
    inner_bundle = [n for n in names if _is_workbook_name(n) or n.lower().endswith(".zip")]
    if inner_bundle:
        raise BundleError(
            "bundle-nested-zip",
            f"{source}里又套了一个压缩包“{member}”，其中还有“{inner_bundle[0]}”。"
            "请把登记表和附件直接放在一个压缩包里报送（若是合规性资料，请把其中的表格转成 PDF）。",
            detail=f"nested {member!r} holds {inner_bundle[:5]!r}",
        )


def _files_from_zip(data: bytes, display: str, source: str) -> list[tuple[str, bytes]]:
    with inspect_zip(data, name=display) as zf:
        files: list[tuple[str, bytes]] = []
        for info in zf.infolist():
            original = _decode_member_name(info)
            if _is_unsafe_path(original):
                raise BundleError(
                    "bundle-unsafe-name",
                    f"{source}中的文件名“{original}”含有“..”或绝对路径（可能用于覆盖服务器文件），已拒收。"
                    "请只用普通文件名重新压缩。",
                    detail=f"member {info.filename!r}",
                )
            if info.is_dir() or _is_ignored(original):
                continue
            try:
                content = zf.read(info)
            except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError) as exc:
                raise BundleError(
                    "bundle-truncated",
                    f"{source}中的“{original}”已损坏，无法解压（可能传输中断），请重新压缩后再报送。",
                    detail=repr(exc),
                ) from exc
            if original.lower().endswith(".zip") and sniff_container(content) == "zip":
                _refuse_nested_bundle(content, original, source)
            files.append((original, content))
    return files


def _files_from_folder(folder: Path, source: str) -> list[tuple[str, bytes]]:
    entries: list[tuple[str, Path]] = []
    total = 0
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames.sort()
        for filename in sorted(filenames):
            path = Path(dirpath) / filename
            relative = path.relative_to(folder).as_posix()
            if _is_ignored(relative):
                continue
            if path.is_symlink() or not path.is_file():
                raise BundleError(
                    "bundle-unsafe-name",
                    f"{source}中的“{relative}”是链接或特殊文件，不予接收，请放入普通文件。",
                )
            entries.append((relative, path))
            total += path.stat().st_size
            if len(entries) > MAX_MEMBERS or total > MAX_INFLATED_TOTAL:
                raise BundleError(
                    "bundle-too-large",
                    f"{source}中的文件过多或过大（超过 {MAX_MEMBERS} 个或 {human_size(MAX_INFLATED_TOTAL)}），已拒收。",
                )
    files = []
    for relative, path in entries:
        content = _read_file(path, source)
        if relative.lower().endswith(".zip") and sniff_container(content) == "zip":
            _refuse_nested_bundle(content, relative, source)
        files.append((relative, content))
    return files


def _read_file(path: Path, source: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise BundleError(
                "bundle-too-large",
                f"{source}有 {human_size(size, limit=MAX_SOURCE_BYTES)}，"
                f"超过上限 {human_size(MAX_SOURCE_BYTES)}，已拒收。",
            )
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise BundleError("bundle-not-found", f"找不到文件“{path}”。", detail=str(exc)) from exc
    except OSError as exc:
        raise BundleError("bundle-unreadable", f"无法读取“{path}”：{exc.strerror or exc}。", detail=repr(exc)) from exc


def load_bundle(
    source: Path | bytes,
    *,
    name: str | None = None,
    attachments_dir: Path | None = None,
) -> Bundle:
    """Read a bundle (.zip, lone .xlsx, or folder) into a Bundle, or raise BundleError saying why not.

    `name` is the received file name when `source` is bytes (it words the messages and, for a lone
    workbook, names it); `attachments_dir` adds a folder of attachments to a lone workbook.
    """
    if isinstance(source, Path):
        if source.is_dir():
            label = f"文件夹“{source.name}”"
            files = _files_from_folder(source, label)
            bundle = _assemble(files, label)
            return _with_extra_attachments(bundle, attachments_dir)
        if not source.exists():
            raise BundleError("bundle-not-found", f"找不到“{source}”，请检查路径。")
        data = _read_file(source, f"“{source.name}”")
        name = name or source.name
    else:
        data = source
    display = name or "报送文件"
    lower = display.lower()
    container = sniff_container(data)
    if _is_workbook_name(lower) or container == "ole" or (container == "zip" and _looks_like_xlsx_package(data)):
        workbook_name = sanitize_name(display) if _is_workbook_name(lower) else "登记表.xlsx"
        bundle = _assemble([(display if _is_workbook_name(lower) else workbook_name, data)], f"“{display}”")
        return _with_extra_attachments(replace(bundle, lone_workbook=True), attachments_dir)
    if container != "zip":
        if not data:
            raise BundleError("bundle-truncated", f"“{display}”是空文件（0 字节），请重新报送。")
        raise BundleError(
            "bundle-not-zip",
            f"“{display}”既不是 .xlsx 工作簿也不是 .zip 压缩包，无法读取。"
            "请报送登记表工作簿，或把工作簿和附件打包成 .zip。",
        )
    label = f"压缩包“{display}”"
    bundle = _assemble(_files_from_zip(data, display, label), label)
    log.debug("bundle.loaded", extra={"source": label, "attachments": len(bundle.attachments)})
    return _with_extra_attachments(bundle, attachments_dir)


def _with_extra_attachments(bundle: Bundle, attachments_dir: Path | None) -> Bundle:
    if attachments_dir is None:
        return bundle
    if not attachments_dir.is_dir():
        raise BundleError("bundle-not-found", f"附件文件夹“{attachments_dir}”不存在。")
    label = f"附件文件夹“{attachments_dir.name}”"
    attachments = dict(bundle.attachments)
    originals = dict(bundle.original_names)
    for original, data in _files_from_folder(attachments_dir, label):
        if _is_workbook_name(original) and sanitize_name(original) == bundle.workbook_name:
            continue
        safe = sanitize_name(original)
        if safe in attachments:
            raise BundleError(
                "bundle-duplicate-name",
                f"{label}中的“{original}”与已有附件“{originals[safe]}”同名，请改名后重新报送。",
            )
        attachments[safe] = data
        originals[safe] = original
    return Bundle(
        workbook_name=bundle.workbook_name,
        workbook_bytes=bundle.workbook_bytes,
        attachments=attachments,
        original_names=originals,
        source=f"{bundle.source} + {label}",
    )
