"""报送申报: a workbook with its attachments, or one .zip, uploaded in the browser and filed through
intake's durable path (`IntakeService.submit_upload`, channel `web`) while the page waits.

The body is refused by its declared length before a byte is read, and counted while it streams
(a body without a length, or one longer than it said, is cut off at the same bound): an upload
larger than a mail may be (the SMTP limit) is never read whole. The form's token is checked
before anything reaches intake, so a forged or replayed form records nothing. Each rendering of
the form carries a fresh random form id, which intake uses to make a double click or a retried
POST the same submission.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncGenerator
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from intake.upload import SubmissionOutcome, Upload, UploadedFile, size_text
from portal.context import Portal, Viewer, portal_of
from portal.errors import csrf_refused, error_page
from portal.forms import form_text
from portal.pages import unit_names
from portal.security import tokens_equal
from validation.catalogue import ALLOWED_EXTENSIONS, MAX_ATTACHMENT_BYTES

# what a multipart body carries besides the files (boundaries, part headers, the three hidden fields)
FORM_OVERHEAD = 64 * 1024
MAX_FILES = 60  # a workbook and its attachments (the catalogue has a few dozen kinds at most)
STATUS_CODES = {"refused": 400, "rejected": 200, "invalid": 200, "accepted": 200, "pending": 202}


class UploadDoor(Protocol):
    """What the portal needs of intake (`IntakeService` has it)."""

    @property
    def max_upload_bytes(self) -> int: ...

    def submit_upload(self, upload: Upload) -> SubmissionOutcome: ...


class BodyTooLarge(Exception):
    """The request body went past the bound while it streamed; `received` is how much had arrived."""

    def __init__(self, received: int) -> None:
        super().__init__(f"request body over the bound after {received} bytes")
        self.received = received


def door_of(request: Request) -> UploadDoor | None:
    door: UploadDoor | None = getattr(request.app.state, "intake", None)
    return door


def body_limit(door: UploadDoor) -> int:
    """The largest request body read: the files' limit plus the form's own bytes."""
    return door.max_upload_bytes + FORM_OVERHEAD


def too_large_message(size: int, limit: int) -> str:
    return (
        f"本次上传约 {size_text(size)}，超过网页报送的上限 {size_text(limit)}（与邮件报送相同），未被接收。"
        "请压缩扫描件（每份资料不超过 2 MB）后重新提交；也可以分开报送，或通过本单位的投递目录报送。"
    )


async def bounded(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    """The body's chunks, until more than `limit` bytes would have been taken in."""
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise BodyTooLarge(received)
        yield chunk


def _submit_page(
    portal: Portal,
    viewer: Viewer,
    door: UploadDoor,
    *,
    error: str = "",
    outcome: SubmissionOutcome | None = None,
    names: list[str] | None = None,
    status: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "viewer": viewer,
        "client_id": secrets.token_urlsafe(24),  # a fresh form id per rendering: one submission per form
        "max_size": size_text(door.max_upload_bytes),
        "max_attachment": size_text(MAX_ATTACHMENT_BYTES),
        "extensions": "、".join(ext.upper() for ext in ALLOWED_EXTENSIONS),  # the catalogue's list, as the guide
        "accept": ",".join(f".{ext}" for ext in ALLOWED_EXTENSIONS),  # the file picker offers what the checks accept
        "error": error,
        "outcome": outcome,
        "file_names": names or [],
        "review_unit_name": "",
        "annotated_url": "",
    }
    if outcome is not None:
        if outcome.review_unit:
            context["review_unit_name"] = unit_names(portal, [outcome.review_unit]).get(outcome.review_unit, "")
        if outcome.annotated_blob and outcome.filing_id:
            context["annotated_url"] = f"/filings/{outcome.filing_id}/files/{outcome.annotated_blob}"
    return portal.pages.render("submit.html.j2", context, status=status)


async def submit_form(request: Request) -> Response:
    portal = portal_of(request)
    viewer = portal.viewer_or_redirect(request)
    if isinstance(viewer, Response):
        return viewer
    door = door_of(request)
    if door is None:
        return error_page(portal, 404, request)
    return _submit_page(portal, viewer, door)


async def submit(request: Request) -> Response:
    portal = portal_of(request)
    door = door_of(request)
    if door is None:
        return error_page(portal, 404, request)
    viewer = portal.viewer_or_redirect(request)
    if isinstance(viewer, Response):
        return viewer  # nothing of the body is read for a request without a live session
    limit = body_limit(door)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        error = too_large_message(int(declared), door.max_upload_bytes)
        return _submit_page(portal, viewer, door, error=error, status=413)
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "multipart/form-data":
        return _submit_page(portal, viewer, door, error="提交的表单无法识别，请在本页面选择文件后提交。", status=400)
    try:
        form = await MultiPartParser(
            request.headers, bounded(request, limit), max_files=MAX_FILES, max_fields=10, max_part_size=4096
        ).parse()
    except BodyTooLarge as exc:
        error = too_large_message(exc.received, door.max_upload_bytes)
        return _submit_page(portal, viewer, door, error=error, status=413)
    except MultiPartException:
        error = "提交的表单不完整或无法识别，请重新选择文件后提交。"
        return _submit_page(portal, viewer, door, error=error, status=400)
    try:
        if not tokens_equal(form_text(form, "csrf"), viewer.session.csrf):
            return csrf_refused(portal)
        files = [*(await _files(form, "bundle")), *(await _files(form, "attachments"))]
    finally:
        await form.close()
    upload = Upload(client_id=form_text(form, "client_id"), username=viewer.session.username, files=tuple(files))
    outcome = await run_in_threadpool(door.submit_upload, upload)
    status = 413 if outcome.code == "upload-too-large" else STATUS_CODES.get(outcome.status, 200)
    return _submit_page(portal, viewer, door, outcome=outcome, names=[f.name for f in files], status=status)


async def _files(form: FormData, field: str) -> list[UploadedFile]:
    """The field's files in the order the browser sent them; an empty file input sends an empty part, skipped."""
    found = []
    for value in form.getlist(field):
        if isinstance(value, UploadFile):
            data = await value.read()
            name = value.filename or ""
            if data or name:
                found.append(UploadedFile(name, data))
    return found


def routes() -> list[BaseRoute]:
    return [
        Route("/submit", submit_form, methods=["GET"], name="submit"),
        Route("/submit", submit, methods=["POST"], name="submit_post"),
    ]
