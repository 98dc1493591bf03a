"""The bytes of the samples: scanned-looking attachments, workbooks filled as an outside tool fills
them, and bundles of both, all deterministic (fixed zip times and workbook properties, seeded filler)."""

from __future__ import annotations

import base64
import io
import random
import re
import zipfile
from collections.abc import Mapping

from validation.template import fill_workbook, template_bytes

FIXED_TIME = (2026, 1, 5, 9, 0, 0)
FIXED_ISO = "2026-01-05T09:00:00Z"

_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hn"
    "Pk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2Nj"
    "Y2P/wAARCAAIAAgDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQID"
    "AAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlq"
    "c3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3"
    "+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEI"
    "FEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImK"
    "kpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDH"
    "ooorhPqD/9k="
)
"""An 8x8 JPEG (a red square), standing in for a scanned page."""


def pdf_bytes(title: str, *, padding: int = 0) -> bytes:
    """A minimal valid one-page PDF with a correct xref; `padding` adds a compressible content stream."""
    rng = random.Random(title)
    lines = [
        f"{rng.randint(0, 595)} {rng.randint(0, 842)} m {rng.randint(0, 595)} {rng.randint(0, 842)} l S"
        for _ in range(64)
    ]
    stream = "BT /F1 12 Tf 72 720 Td (scan) Tj ET\n"
    while len(stream) < padding:
        stream += rng.choice(lines) + "\n"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}endstream",
    ]
    out = "%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out.encode("latin-1")))
        out += f"{number} 0 obj\n{body}\nendobj\n"
    xref = len(out.encode("latin-1"))
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n"
    out += "".join(f"{off:010d} 00000 n \n" for off in offsets)
    title_hex = "FEFF" + title.encode("utf-16-be").hex().upper()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info << /Title <{title_hex}> >> >>\n"
    out += f"startxref\n{xref}\n%%EOF\n"
    return out.encode("latin-1")


def zip_of(members: Mapping[str, bytes]) -> bytes:
    """A zip of `members`, each with the fixed time, deflated."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, FIXED_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


FAKE_EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 44
    + b"\x80\x00\x00\x00"
    + b"This program cannot be run in DOS mode.\r\r\n$"
    + b"\x00" * 64
    + b"PE\x00\x00"
)
"""The start of a Windows executable, renamed to .pdf in one sample."""

# --- workbooks and bundles ---------------------------------------------------------------------


def normalize_xlsx(data: bytes) -> bytes:
    """Same workbook with fixed timestamps, so that rebuilding gives identical bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" + FIXED_ISO.encode(), content)
            dst.writestr(zipfile.ZipInfo(info.filename, FIXED_TIME), content, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


_TEMPLATE: bytes | None = None


def blank_template() -> bytes:
    global _TEMPLATE
    if _TEMPLATE is None:
        _TEMPLATE = template_bytes()
    return _TEMPLATE


def documents(files: Mapping[str, str]) -> list[dict[str, object]]:
    """Catalogue rows: kind -> file name ('' leaves the file name empty)."""
    return [{"doc_kind": kind, "file_name": name} for kind, name in files.items()]


OCCUPY_FILES = {
    "业务办理申请文件": "业务办理申请文件.pdf",
    "经济行为批准文件": "批复文件.pdf",
    "企业章程": "公司章程.pdf",
    "营业执照副本": "营业执照副本.jpg",
    "验资报告或出资证明": "出资证明.zip",
}
CHANGE_FILES = {
    "业务办理申请文件": "业务办理申请文件.pdf",
    "经济行为批准文件": "增资批复.pdf",
    "企业章程": "章程修正案.pdf",
    "营业执照副本": "营业执照副本.jpg",
}
BACKFILL_FILES = {
    "业务办理申请文件": "业务办理申请文件.pdf",
    "企业章程": "公司章程.pdf",
    "营业执照副本": "营业执照副本.jpg",
}


def attachment_bytes(file_name: str) -> bytes:
    if file_name.endswith(".jpg"):
        return _JPEG
    if file_name.endswith(".zip"):
        return zip_of({"出资证明-第1页.jpg": _JPEG, "出资证明-第2页.pdf": pdf_bytes("chuzi-2")})
    return pdf_bytes(file_name)


def bundle_files(
    workbook_name: str, workbook: bytes, files: Mapping[str, str], overrides: Mapping[str, bytes] | None = None
) -> dict[str, bytes]:
    out = {workbook_name: workbook}
    for file_name in files.values():
        if file_name:
            out[file_name] = (overrides or {}).get(file_name, attachment_bytes(file_name))
    return out


def workbook(
    registration: Mapping[str, object],
    basic: Mapping[str, object],
    investors: list[dict[str, object]],
    files: Mapping[str, str],
) -> bytes:
    values = {**registration, **basic}
    return normalize_xlsx(fill_workbook(blank_template(), values, investors, documents(files)))
