"""Web uploads: what the portal hands to intake, how it is kept raw, and what it gets back.

A submission in the browser is an inbound item of channel `web` (DESIGN.md, "The flow"):
its files are kept as one raw blob and recorded as `intake.received` before anything else,
then prepared, checked and submitted exactly as a mail's attachments are. The raw blob is an
*upload envelope*: a stored (uncompressed) zip holding each file as the browser sent it,
in order, under `NNN-<name as sent>`, with fixed times, so that the same upload always
makes the same bytes and a resumed item is read back exactly as it came.

The item id is derived from the account and the form's one-time id (`client_id`), so a
double click or a retried POST names the same item and never makes a second filing.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from intake.mime import MailAttachment
from validation.findings import Finding, human_size

# How the files of an upload are named for people (the bundle's `source`), like 邮件附件 for mail.
UPLOAD_SOURCE = "网页上传的文件"
ITEM_PREFIX = "WB"
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
_ENTRY_TIME = (2000, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class UploadedFile:
    name: str  # as the browser sent it (shown, escaped; never used as a path)
    data: bytes


@dataclass(frozen=True)
class Upload:
    """One submission from the portal's 报送 form, by an authenticated account.

    `files` is one bundle (a .zip, or a lone workbook) or a workbook with its attachments.
    `client_id` is the form's one-time id (16-128 of A-Z a-z 0-9 _ -): the same id again is
    the same submission.
    """

    client_id: str
    username: str
    files: tuple[UploadedFile, ...]

    @property
    def size(self) -> int:
        return sum(len(f.data) for f in self.files)


SubmissionStatus = Literal["accepted", "invalid", "rejected", "refused", "pending"]


@dataclass(frozen=True)
class SubmissionOutcome:
    """What became of a web submission, for the page that answers it.

    - accepted: filed and in review: `filing_id`, `round`, `review_unit` (asked first), warnings in `findings`;
    - invalid: filed, but the checks found errors: `findings`, `annotated_blob` (the marked-up workbook);
    - rejected: the files are no bundle (unreadable, hostile): `code` and `message_zh`, as mail and drop folder;
    - refused: not taken at all (too large, no files, unknown account, a form id reused): `code`, `message_zh`;
    - pending: received and kept, not processed yet (it will be, also after a restart): `message_zh`.
    `duplicate` is set when the same form was submitted before: the first outcome comes back.
    """

    status: SubmissionStatus
    item_id: str = ""
    filing_id: str = ""
    round: int = 0
    review_unit: str = ""
    findings: tuple[Finding, ...] = ()
    annotated_blob: str = ""
    code: str = ""
    message_zh: str = ""
    duplicate: bool = False

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"


def refused(code: str, message_zh: str) -> SubmissionOutcome:
    return SubmissionOutcome("refused", code=code, message_zh=message_zh)


size_text = human_size  # the portal's name for it: one way of writing sizes everywhere (validation.findings)


def upload_refusal(upload: Upload, max_bytes: int) -> SubmissionOutcome | None:
    """Why an upload is not taken at all (nothing is recorded for it), or None."""
    if not CLIENT_ID.match(upload.client_id):
        return refused("upload-bad-id", "提交无效（缺少表单编号或编号无法识别），请重新打开报送页面后再提交。")
    if not upload.files or not any(f.data for f in upload.files):
        return refused(
            "upload-empty",
            "没有收到文件。请选择填好的登记表工作簿（.xlsx）及合规性资料扫描件，或一个 .zip 压缩包，然后再提交。",
        )
    if upload.size > max_bytes:
        return refused(
            "upload-too-large",
            f"上传的文件合计 {human_size(upload.size, limit=max_bytes)}，超过上限 {human_size(max_bytes)}。"
            "请压缩扫描件（每份资料不超过 2 MB）后重新提交。",
        )
    return None


def upload_item_id(username: str, client_id: str) -> str:
    """The item id of a form's submission: the same account and form id always give the same id."""
    digest = hashlib.sha256(f"web\x1f{username}\x1f{client_id}".encode()).hexdigest()
    return f"{ITEM_PREFIX}{digest[:30]}"


def upload_label(files: Sequence[UploadedFile]) -> str:
    """The files' names as one line for people (the item's original name), like a mail's attachments."""
    shown = ("".join(ch for ch in f.name if ch.isprintable()).strip() for f in files)
    return "、".join(name for name in shown if name)


def pack_upload(files: Sequence[UploadedFile]) -> bytes:
    """The upload envelope: the files verbatim, in order, with their names as sent (deterministic)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for index, upload in enumerate(files):
            name = "".join(ch for ch in upload.name if ch != "\x00")  # zip names end at a NUL
            archive.writestr(zipfile.ZipInfo(f"{index:03d}-{name}", date_time=_ENTRY_TIME), upload.data)
    return buffer.getvalue()


def unpack_upload(raw: bytes) -> list[MailAttachment]:
    """The files of an upload envelope, in order, as mail attachments (read as a mail's would be)."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        return [
            MailAttachment(original_name=info.filename[4:], content_type="", data=archive.read(info))
            for info in archive.infolist()
        ]
