"""Compliance catalogue: required kinds have files, files exist, are of the stated type and size."""

from __future__ import annotations

import io
import unicodedata
import zipfile
from collections.abc import Iterator, Mapping
from typing import Any

from validation.findings import ERROR, WARNING, Finding, human_size, where
from validation.rules.base import RuleContext, header_ref, row_finding
from validation.spec import (
    ALLOWED_EXTENSIONS,
    DOCUMENTS,
    MAX_ATTACHMENT_BYTES,
    required_doc_kinds,
)

_MAGIC: dict[str, tuple[bytes, ...]] = {
    "pdf": (b"%PDF-",),
    "zip": (b"PK\x03\x04", b"PK\x05\x06"),
    "docx": (b"PK\x03\x04",),
    "rar": (b"Rar!\x1a\x07",),
    "doc": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    "jpg": (b"\xff\xd8\xff",),
    "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",),
    "tif": (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),  # classic and BigTIFF, either byte order
    "tiff": (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"),
}
_EXECUTABLE = (b"MZ", b"\x7fELF", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"#!")


def _norm(name: str) -> str:
    return unicodedata.normalize("NFC", name.strip()).casefold()


def extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def content_matches(ext: str, data: bytes) -> bool:
    """True when the bytes are really of the kind the extension claims (magic bytes, docx structure)."""
    head = data[:1024]
    if ext == "pdf":
        return b"%PDF-" in head
    if not any(data.startswith(m) for m in _MAGIC.get(ext, ())):
        return False
    if ext == "docx":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                return any(n.startswith("word/") for n in zf.namelist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return False
    return True


def is_executable(data: bytes) -> bool:
    return data.startswith(_EXECUTABLE)


class _Files:
    """Bundle attachments findable by the name a filer wrote: sanitized, original, or case-insensitive."""

    def __init__(self, attachments: Mapping[str, bytes], originals: Mapping[str, str]) -> None:
        self.by_norm: dict[str, str] = {}
        for safe in attachments:
            self.by_norm.setdefault(_norm(safe), safe)
        for safe, original in originals.items():
            if safe in attachments:
                self.by_norm.setdefault(_norm(original), safe)
                self.by_norm.setdefault(_norm(original.replace("\\", "/").rsplit("/", 1)[-1]), safe)

    def find(self, listed: str) -> str | None:
        return self.by_norm.get(_norm(listed)) or self.by_norm.get(_norm(listed.replace("\\", "/").rsplit("/", 1)[-1]))


def check_required_documents(ctx: RuleContext) -> Iterator[Finding]:
    reg = ctx.registration
    if DOCUMENTS.name in ctx.missing_tables:
        return
    for kind in required_doc_kinds(reg.reg_type, reg.reg_situation):
        rows = [d for d in reg.documents if d.doc_kind == kind]
        if any(d.file_name for d in rows):
            continue
        if rows:
            yield row_finding(
                reg,
                DOCUMENTS.name,
                rows[0],
                "file_name",
                "document-required-missing",
                f"为空：“{kind}”是本次登记的必需资料，请提供文件并填写文件名。",
                value="",
            )
        else:
            ref = header_ref(reg, DOCUMENTS.name, "doc_kind")
            yield Finding(
                "document-required-missing",
                ERROR,
                ref.sheet,
                ref.cell,
                "documents.doc_kind",
                kind,
                f"{where(ref.sheet, ref.cell)}缺少必需资料“{kind}”，请增加一行并填写文件名。",
            )


_EXTENSIONS_TEXT = "/".join(e.upper() for e in ALLOWED_EXTENSIONS)


def check_listed_files(ctx: RuleContext) -> Iterator[Finding]:
    """Each listed file once, of an accepted type, attached, within the size limit and really of its type.

    A listed file of a refused type gets that one finding: its attachment counts as listed, so it
    is not also reported as unlisted. Without attachments to compare (a workbook checked alone)
    one warning says that the files were not checked.
    """
    reg = ctx.registration
    files = _Files(ctx.attachments, ctx.original_names) if ctx.attachments is not None else None
    seen: dict[str, int | None] = {}
    used: set[str] = set()
    for doc in reg.documents:
        name = doc.file_name
        if not name:
            continue
        key = _norm(name)
        if key in seen:
            yield row_finding(
                reg,
                DOCUMENTS.name,
                doc,
                "file_name",
                "document-listed-twice",
                f"“{name}”已在第 {seen[key]} 行列出，同一文件只列一次。",
            )
            continue
        seen[key] = doc.row
        found = files.find(name) if files is not None else None
        if found is not None:
            used.add(found)
        ext = extension(name)
        if ext not in ALLOWED_EXTENSIONS:
            yield row_finding(
                reg,
                DOCUMENTS.name,
                doc,
                "file_name",
                "document-extension",
                f"“{name}”的格式不允许，只接受 {_EXTENSIONS_TEXT} 文件。",
            )
        elif files is not None:
            yield from _file_findings(ctx, doc, name, found)
    if ctx.attachments is None:
        yield _not_checked(ctx)
        return
    yield from _unlisted(ctx, used)


def _file_findings(ctx: RuleContext, doc: Any, name: str, found: str | None) -> Iterator[Finding]:
    """The listed file `name` (stored as `found`, None when it was not sent): present, small enough, genuine."""
    reg = ctx.registration
    if found is None:
        yield row_finding(
            reg,
            DOCUMENTS.name,
            doc,
            "file_name",
            "document-file-missing",
            f"列出的“{name}”不在报送的附件中，请一并报送或更正文件名。",
        )
        return
    data = (ctx.attachments or {})[found]
    if len(data) > MAX_ATTACHMENT_BYTES:
        yield row_finding(
            reg,
            DOCUMENTS.name,
            doc,
            "file_name",
            "document-too-large",
            f"“{name}”有 {human_size(len(data), limit=MAX_ATTACHMENT_BYTES)}，"
            f"超过 {human_size(MAX_ATTACHMENT_BYTES)} 上限，请压缩后重新报送。",
        )
    ext = extension(name)
    if not content_matches(ext, data):
        what = "是可执行程序，出于安全原因拒收" if is_executable(data) else f"的内容不是 {ext.upper()} 文件"
        yield row_finding(
            reg,
            DOCUMENTS.name,
            doc,
            "file_name",
            "document-content-mismatch",
            f"“{name}”{what}，请提供真实的扫描件。",
        )


def _unlisted(ctx: RuleContext, used: set[str]) -> Iterator[Finding]:
    ref = header_ref(ctx.registration, DOCUMENTS.name, "file_name")
    for safe in sorted(ctx.attachments or {}):
        if safe not in used:
            original = ctx.original_names.get(safe, safe)
            yield Finding(
                "document-unlisted",
                WARNING,
                ref.sheet,
                ref.cell,
                "documents.file_name",
                original,
                f"附件“{original}”没有在“{ref.sheet}”中列出（{ref.cell} 所在列），请在目录中补列或不再报送。",
            )


def _not_checked(ctx: RuleContext) -> Finding:
    ref = header_ref(ctx.registration, DOCUMENTS.name, "file_name")
    return Finding(
        "attachments-not-checked",
        WARNING,
        ref.sheet,
        ref.cell,
        "documents.file_name",
        "",
        f"{where(ref.sheet, ref.cell)}：只审核了工作簿，没有附件可比对，目录中列出的文件是否齐全、格式和大小均未检查。"
        "正式报送时请把工作簿和全部附件一起报送，届时会检查附件。",
    )
