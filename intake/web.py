"""The portal's door into intake: a web submission, recorded first, then filed while the browser waits.

The order is the other doors' (docs/intake.md): the upload envelope (intake.upload) is stored
as a blob and `intake.received` (channel `web`) recorded before anything else; then the item
runs through the very stages a mail or a dropped bundle runs through — in the worker processes
when there are some — and `intake.processed` closes it. Only the waiting differs: the caller
gets the outcome in the same call, so the item is not handed to the background worker. A crash
in between leaves it received and not processed, and the next start resumes it like any other.

The same form submitted twice (a double click, a retried POST) names the same item: the second
call waits for the first and gets its outcome back, and never makes a second filing.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from intake import state
from intake.events import IntakeRejected
from intake.item import InboundItem
from intake.processing import ItemContext, Processor
from intake.spool import Receiver
from intake.upload import (
    SubmissionOutcome,
    Upload,
    pack_upload,
    refused,
    upload_item_id,
    upload_label,
    upload_refusal,
)
from ledger import Ledger
from workflow import Workflow
from workflow.accounts import normalize_username
from workflow.views import SubmitOutcome

log = logging.getLogger(__name__)

PENDING_ZH = "已收到您提交的文件（编号 {item_id}），正在处理，请稍后在首页或“我的报送”中查看结果。"
CONFLICT_ZH = "此报送表单已提交过另一份文件。如需再次报送，请重新打开报送页面后提交。"
UNKNOWN_ACCOUNT_ZH = "账户 {username} 不是已登记单位的账户，不能报送。"


class _KeyedLocks:
    """One lock per key while someone holds or waits for it (two clicks of one form, not all uploads)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


class UploadDoor:
    """`IntakeService.submit_upload`: an authenticated unit account's upload becomes a filing."""

    def __init__(
        self,
        ledger: Ledger,
        workflow: Workflow,
        receiver: Receiver,
        processor: Processor,
        *,
        unit_code: Callable[[str], str | None],
        max_bytes: int,
    ) -> None:
        self.ledger = ledger
        self.workflow = workflow
        self.receiver = receiver
        self.processor = processor
        self.unit_code = unit_code
        self.max_bytes = max_bytes
        self._locks = _KeyedLocks()

    def submit(self, upload: Upload) -> SubmissionOutcome:
        """Record the upload, file it and say what became of it; the same form again gets the same answer."""
        refusal = upload_refusal(upload, self.max_bytes)
        if refusal is not None:
            return refusal
        username = normalize_username(upload.username)
        filer = self.unit_code(username)
        if filer is None:
            return refused("unknown-account", UNKNOWN_ACCOUNT_ZH.format(username=username))
        raw = pack_upload(upload.files)
        item = InboundItem(
            item_id=upload_item_id(username, upload.client_id),
            channel="web",
            purpose="filing",
            sender=username,
            filer=filer,
            reply_to="",  # the answer is the page; the portal shows the filing's later steps
            original_name=upload_label(upload.files),
            message_id="",
        )
        with self._locks.hold(item.item_id):
            with self.ledger.reader() as conn:
                earlier = state.get_item(conn, item.item_id)
            if earlier is not None and earlier.content_sha256 != hashlib.sha256(raw).hexdigest():
                log.warning("intake.upload_conflict", extra={"item_id": item.item_id})
                return refused("upload-conflict", CONFLICT_ZH)
            if earlier is None:
                self.receiver.record(item, raw, notify=False)
            ctx = self.processor.run_items([item.item_id]).get(item.item_id)
            return self._outcome(item.item_id, ctx, duplicate=earlier is not None)

    def _outcome(self, item_id: str, ctx: ItemContext | None, *, duplicate: bool) -> SubmissionOutcome:
        """From the run just made, or, when the item was closed before (or is running elsewhere), the ledger."""
        if ctx is not None and ctx.done:
            if ctx.submitted is not None:
                return _filed(item_id, ctx.submitted, duplicate=duplicate or ctx.submitted.duplicate)
            if ctx.prepared is not None and ctx.prepared.rejection is not None:
                rejection = ctx.prepared.rejection
                return SubmissionOutcome(
                    "rejected", item_id, code=rejection.code, message_zh=rejection.message, duplicate=duplicate
                )
        if ctx is None or not ctx.done:
            submitted = self.workflow.submitted_outcome(item_id)
            if submitted is not None:
                return _filed(item_id, submitted, duplicate=True)
            rejected = next(self.ledger.events(subject=item_id, kind=IntakeRejected.kind), None)
            if rejected is not None and isinstance(rejected.body, IntakeRejected):
                body = rejected.body
                return SubmissionOutcome("rejected", item_id, code=body.code, message_zh=body.message, duplicate=True)
        return SubmissionOutcome("pending", item_id, message_zh=PENDING_ZH.format(item_id=item_id), duplicate=duplicate)


def _filed(item_id: str, outcome: SubmitOutcome, *, duplicate: bool) -> SubmissionOutcome:
    return SubmissionOutcome(
        "accepted" if outcome.accepted else "invalid",
        item_id,
        filing_id=outcome.filing_id,
        round=outcome.round,
        review_unit=outcome.review_unit,
        findings=tuple(outcome.findings),
        annotated_blob=outcome.annotated_blob,
        duplicate=duplicate,
    )
