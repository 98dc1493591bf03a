"""Downloads: a filing's files by filing id and blob hash, and the unit's standard workbook.

A file is served only when the viewer may see the filing and one of the filing's own events
names that hash; the name it is saved under is made here from the filing id, never taken from
the request or from what a filer called the file. Nothing is ever looked up by path.
"""

from __future__ import annotations

import re
import zipfile
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from portal.context import portal_of
from portal.errors import not_found
from portal.filing_page import visible_filing
from validation.template import template_bytes
from workflow.views import FilingFile

_HASH = re.compile(r"[0-9a-f]{64}\Z")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_KIND_NAME = {"workbook": "登记表", "annotated": "校验批注", "document": "登记文书"}


def sniff(head: bytes, zip_members: list[str] | None = None) -> tuple[str, str]:
    """(extension, media type) from a file's first bytes (and a zip's member names)."""
    if head.startswith(b"%PDF"):
        return "pdf", "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        members = zip_members or []
        if any(name.startswith("xl/") for name in members):
            return "xlsx", XLSX
        if any(name.startswith("word/") for name in members):
            return "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        return "zip", "application/zip"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "doc", "application/msword"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpg", "image/jpeg"
    if head.startswith(b"Rar!"):
        return "rar", "application/vnd.rar"
    return "bin", "application/octet-stream"


def _zip_members(path: str) -> list[str]:
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()[:200]
    except (zipfile.BadZipFile, OSError):
        return []


def download_name(filing_id: str, file: FilingFile, extension: str) -> str:
    if file.kind == "attachment":
        base = f"附件{file.number}"
    elif file.kind == "document":
        base = _safe(file.label_zh) or _KIND_NAME["document"]
    else:
        base = _KIND_NAME.get(file.kind, "文件")
    return f"{filing_id}-第{file.round}轮-{base}.{extension}"


def _safe(text: str) -> str:
    """Only letters, digits, CJK and a few marks: a label from an event never becomes a path or a header trick."""
    return "".join(ch for ch in text if ch.isalnum() or ch in "-_（）()").strip()[:60]


async def filing_file(request: Request) -> Response:
    portal = portal_of(request)
    viewer = portal.viewer_or_redirect(request)
    if isinstance(viewer, Response):
        return viewer
    blob = str(request.path_params["blob"])
    view = visible_filing(portal, viewer, str(request.path_params["filing_id"]))
    if view is None or not _HASH.match(blob):
        return not_found(portal, request)
    file = next((f for f in view.files if f.blob == blob), None)
    blobs = portal.wf.ledger.blobs
    if file is None or not blobs.exists(blob):
        return not_found(portal, request)
    path = blobs.path(blob)
    with path.open("rb") as handle:
        head = handle.read(8)
    members = await run_in_threadpool(_zip_members, str(path)) if head.startswith(b"PK") else None
    extension, media_type = sniff(head, members)
    if file.kind in ("workbook", "annotated") and extension == "zip":
        extension, media_type = "xlsx", XLSX
    return FileResponse(path, media_type=media_type, filename=download_name(view.filing_id, file, extension))


async def template_workbook(request: Request) -> Response:
    """The standard workbook, prefilled from the unit's last approved registration as `chanquan template --unit`."""
    portal = portal_of(request)
    viewer = portal.viewer_or_redirect(request)
    if isinstance(viewer, Response):
        return viewer
    prefill = portal.wf.last_approved(viewer.unit.code)
    data = await run_in_threadpool(template_bytes, prefill)
    name = f"产权登记表-{viewer.unit.code}{'-预填' if prefill is not None else ''}.xlsx"
    response = Response(data, media_type=XLSX)
    response.headers["content-disposition"] = _attachment(name)
    return response


def _attachment(name: str) -> str:
    """Content-Disposition with an ASCII fallback name and the Chinese one (RFC 6266 / 5987)."""
    return f"attachment; filename=\"registration.xlsx\"; filename*=utf-8''{quote(name)}"
