"""Event -> notices: what each ledger event means for whom (docs/architecture.md, "Event kinds").

This module has the shared context and the notices to filers and accounts; the review
mails are in review_notices.py, the table of builders in builders.py. Each builder returns the notices to
send and the files to drop, computed only from the event, earlier ledger events and
the unit directory, so that running it again after a crash yields the same result.

A 回执 file is named after the event it answers (`receipt_file_stem`: filing or item id,
round, ledger seq, label), so every notice has a file of its own and a re-run finds the
same name rather than a second copy or another notice's file.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from documents.events import DocumentIssued
from documents.labels import document_label, period_label
from ledger.events import StoredEvent
from outbox.compose import Attachment, MailSpec
from outbox.foreign_kinds import INTAKE_RECEIVED, confirmation_request, received_item, rejected_item
from outbox.ports import Directory, LedgerPort, UnitInfo
from validation.findings import human_size  # sizes as everything else the service writes
from workflow.batch import CHANNEL_LABELS
from workflow.config import RECEIPTS_FOLDER
from workflow.events import (
    AccountPasswordChanged,
    CredentialsMailRequested,
    FilingApproved,
    FilingInvalid,
    FilingReceived,
)

log = logging.getLogger(__name__)

AUTO_SENDER_MARKERS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply", "bounce")


@dataclass(frozen=True)
class Notice:
    """One message (sent when it has recipients) and/or one 回执 entry (written when `receipt_dir` is set)."""

    spec: MailSpec
    receipt_dir: Path | None = None
    receipt_stem: str = ""  # the 回执 files' name without suffix: receipt_file_stem of the answered event

    def file_stem(self) -> str:
        """The stem, or one still unique per event and purpose for a notice built without it."""
        return self.receipt_stem or f"{self.spec.filing_id or 'notice'}_{self.spec.key}_{self.spec.purpose}"


@dataclass
class NoticeContext:
    """What builders share: the ledger, the unit directory and deployment facts."""

    ledger: LedgerPort
    directory: Directory
    mail_domain: str
    dropbox_dir: Path | None
    attach_limit_bytes: int
    supervisor_code: str = ""
    _filings: dict[str, tuple[int, FilingReceived]] = field(default_factory=dict)

    def saw(self, ev: StoredEvent) -> None:
        """Called by the dispatcher for every event in order, so that the cache below always holds the
        newest filing.received dispatched so far: a later round's answers must not be built from an
        earlier round's filing.received (its names, its mail, its round number)."""
        if ev.kind == FilingReceived.kind:
            received = ev.body_as(FilingReceived)
            self._filings[received.filing_id] = (ev.seq, received)

    def filing(self, filing_id: str, before_seq: int | None = None) -> tuple[int, FilingReceived] | None:
        """The latest filing.received of a filing (its round, unit, channel, registration, blobs)."""
        cached = self._filings.get(filing_id)
        if cached is not None and (before_seq is None or cached[0] < before_seq):
            return cached
        found: tuple[int, FilingReceived] | None = None
        for ev in self.ledger.events(after_seq=0, kind=FilingReceived.kind, subject=filing_id):
            if before_seq is not None and ev.seq >= before_seq:
                break
            found = (ev.seq, ev.body_as(FilingReceived))
        if found is not None:
            self._filings[filing_id] = found
        return found

    def received_for(self, ev: StoredEvent, filing_id: str) -> FilingReceived | None:
        """The filing.received behind an event about a filing, as it stood when that event was written.

        Every filing event follows its filing.received, so a miss means a damaged ledger: the
        builder sends nothing and the miss is logged rather than failing the whole dispatch.
        """
        found = self.filing(filing_id, ev.seq)
        if found is None:
            log.warning("outbox.filing_unknown", extra={"filing_id": filing_id, "seq": ev.seq})
            return None
        return found[1]

    def last_approval(self, unit: str, before_seq: int) -> tuple[StoredEvent, FilingReceived] | None:
        """The unit's last `filing.approved` before `before_seq` and the filing.received it approved.

        What a review request compares the new filing with (deterministic on re-run).
        """
        last: StoredEvent | None = None
        for ev in self.ledger.events(after_seq=0, kind=FilingApproved.kind):
            if ev.seq >= before_seq:
                break
            if ev.body_as(FilingApproved).unit == unit:
                last = ev
        if last is None:
            return None
        received = self.filing(last.body_as(FilingApproved).filing_id, before_seq)
        return (last, received[1]) if received else None

    def unit(self, code: str) -> UnitInfo | None:
        return self.directory.unit(code) if code else None

    def unit_name(self, code: str) -> str:
        unit = self.unit(code)
        return unit.name if unit else code

    def receipt_dir(self, channel: str, filer: str) -> Path | None:
        if channel != "dropbox" or self.dropbox_dir is None or not filer:
            return None
        return self.dropbox_dir / filer / RECEIPTS_FOLDER

    def item_message_id(self, item_id: str, before_seq: int) -> str:
        """The Message-ID of an inbound mail item (its intake.received), so that an answer threads under it."""
        for ev in self.ledger.events(after_seq=0, kind=INTAKE_RECEIVED, subject=item_id):
            if ev.seq < before_seq:
                return received_item(ev.body).message_id
        return ""

    def blob_size(self, digest: str) -> int:
        try:
            return self.ledger.blobs.path(digest).stat().st_size
        except OSError:
            return 0


def event_key(ev: StoredEvent) -> str:
    return str(ev.seq)


def _filer_recipients(ctx: NoticeContext, received: FilingReceived) -> list[str]:
    """Mail filers answer the address they filed from; drop-folder filers the unit's filer contacts."""
    reply_to = received.reply_to
    if "@" in reply_to and ":" not in reply_to:
        return [reply_to]
    unit = ctx.unit(received.filer or received.unit)
    return list(unit.filer_emails) if unit else []


def filing_base(ctx: NoticeContext, received: FilingReceived) -> dict[str, Any]:
    unit_code = received.unit
    return {
        "unit_code": unit_code,
        "unit_name": ctx.unit_name(unit_code),
        "period": received.period or "—",
        "period_label": period_label(received.registration),  # 数据时点 of a backfill, else 经济行为日期
        "round": received.round,
    }


def _base_name(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def _document_names(received: FilingReceived) -> list[str]:
    blobs = received.attachment_blobs
    recorded = received.attachment_names
    if len(recorded) == len(blobs):
        return [_base_name(name) for name in recorded]
    registration = received.registration or {}
    # workflow stores attachments sorted by file name; the catalogue names the same files
    names = sorted(
        str(d["file_name"]).rsplit("/", 1)[-1] for d in registration.get("documents", []) if d.get("file_name")
    )
    if len(names) == len(blobs):
        return names
    return [f"附件{n}" for n in range(1, len(blobs) + 1)]


def filing_files(ctx: NoticeContext, received: FilingReceived) -> list[tuple[str, str]]:
    """(display name, blob) of everything a filing carried: the workbook, then attachments."""
    filing_id = received.filing_id
    out = [(f"{filing_id}_登记表.xlsx", received.workbook_blob)] if received.workbook_blob else []
    out.extend(zip(_document_names(received), received.attachment_blobs, strict=False))
    return out


def sent_names(received: FilingReceived) -> dict[str, str]:
    """The filer's own names for what they sent (context of every answer that must say which bundle).

    Filings recorded before the names were kept give empty strings; the templates then leave
    the line out.
    """
    return {"original_name": received.original_name, "workbook_name": received.workbook_name}


def receipt_file_stem(ident: str, seq: int, label: str, round_no: int | None = None) -> str:
    """`CQ2026-000001_r2_00000123_受理回执`: unique per notice, the same on every re-run.

    The ledger seq makes it unique (a filing resubmitted within the same second, rounds of
    one filing, any number of bundles of one unit); id, round and label keep it readable and
    make a folder listing sort by filing, round and then time.
    """
    round_part = f"_r{round_no}" if round_no else ""
    return f"{ident}{round_part}_{seq:08d}_{label}"


def filer_notice(
    ctx: NoticeContext,
    ev: StoredEvent,
    received: FilingReceived,
    purpose: str,
    label: str,
    *,
    context: dict[str, Any],
    round_no: int,
    attachments: Sequence[Attachment] = (),
    answers_filing: bool = False,
) -> Notice:
    """A notice to the filer, mailed with the template its purpose names (error-report: error_report)
    and filed in 回执 under `label`; `answers_filing` (the receipt, the error report) threads the mail
    under the filer's own message, when they mailed the filing. `round_no` is the answered event's."""
    spec = MailSpec(
        purpose=purpose,
        template=purpose.replace("-", "_"),
        to=_filer_recipients(ctx, received),
        key=event_key(ev),
        date=ev.ts,
        context=context,
        filing_id=received.filing_id,
        attachments=list(attachments),
        in_reply_to=received.message_id if answers_filing else "",
    )
    stem = receipt_file_stem(received.filing_id, ev.seq, label, round_no or received.round or 1)
    return Notice(spec, ctx.receipt_dir(received.channel, received.filer), stem)


def fails_validation(ctx: NoticeContext, ev: StoredEvent, received: FilingReceived) -> bool:
    """Whether this filing.received is followed by the same round's filing.invalid.

    Workflow appends both in one transaction, so when the dispatcher sees the first the
    second is already in the ledger: the answer is the same on every run, before or after
    a crash. Rounds only grow, so the search stops at the first later round.
    """
    for later in ctx.ledger.events(after_seq=ev.seq, kind=FilingInvalid.kind, subject=received.filing_id):
        invalid = later.body_as(FilingInvalid)
        if invalid.round == received.round:
            return True
        if invalid.round > received.round:
            return False
    return False


# -- builders, one per event kind -----------------------------------------------------------------


def _received_files(ctx: NoticeContext, received: FilingReceived) -> list[dict[str, Any]]:
    """What arrived, under the filer's own names where they were recorded."""
    names = received.attachment_names
    files = filing_files(ctx, received)
    if received.workbook_name and files:
        files[0] = (received.workbook_name, files[0][1])
    if len(names) == len(received.attachment_blobs):
        files[len(files) - len(names) :] = zip(names, received.attachment_blobs, strict=True)
    out = []
    for name, blob in files:
        size = human_size(ctx.blob_size(blob))
        out.append({"name": name, "size": size, "row": [name, size]})
    return out


def _arrival(ctx: NoticeContext, ev: StoredEvent, received: FilingReceived) -> dict[str, Any]:
    """What every answer to an arrival names: the filing, the filer's own names, when and by which door."""
    return {
        **filing_base(ctx, received),
        **sent_names(received),
        "received_at": ev.ts,
        "channel_label": CHANNEL_LABELS.get(received.channel, "—"),
    }


def on_filing_received(ctx: NoticeContext, ev: StoredEvent) -> list[Notice]:
    """The 受理回执, for a filing that passed validation: one that failed gets the error report alone."""
    p = ev.body_as(FilingReceived)
    if fails_validation(ctx, ev, p):
        return []
    registration = p.registration or {}
    context = {
        **_arrival(ctx, ev, p),
        "registration_kind": registration.get("reg_type") or "—",
        "files": _received_files(ctx, p),
    }
    return [filer_notice(ctx, ev, p, "receipt", "受理回执", context=context, round_no=p.round, answers_filing=True)]


def _finding_rows(findings: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for n, f in enumerate(findings, 1):
        where = "!".join(x for x in (f.get("sheet") or "", f.get("cell") or "") if x) or "登记表"
        rows.append({"where": where, "message": f.get("message", ""), "row": [n, where, f.get("message", "")]})
    return rows


def on_filing_invalid(ctx: NoticeContext, ev: StoredEvent) -> list[Notice]:
    p = ev.body_as(FilingInvalid)
    received = ctx.received_for(ev, p.filing_id)
    if received is None:
        return []
    errors = [f for f in p.findings if f.get("severity", "error") == "error"]
    warnings = [f for f in p.findings if f.get("severity") == "warning"]
    attachments = []
    annotated_name = ""
    if p.annotated_blob:
        annotated_name = f"{p.filing_id}_错误标注.xlsx"
        attachments.append(Attachment(annotated_name, ctx.ledger.blobs.get(p.annotated_blob)))
    context = {
        **_arrival(ctx, ev, received),  # filing.invalid is recorded in the same transaction as filing.received
        "errors": _finding_rows(errors),
        "warnings": _finding_rows(warnings),
        "annotated_name": annotated_name,
    }
    notice = filer_notice(
        ctx,
        ev,
        received,
        "error-report",
        "校验错误",
        context=context,
        round_no=p.round,
        attachments=attachments,
        answers_filing=True,
    )
    return [notice]


def on_intake_rejected(ctx: NoticeContext, ev: StoredEvent) -> list[Notice]:
    p = rejected_item(ev.body)
    to = [p.reply_to] if p.reply_to else []
    if not to and p.filer:
        unit = ctx.unit(p.filer)
        to = list(unit.filer_emails) if unit else []
    context = {
        "received_at": ev.ts,
        "channel_label": CHANNEL_LABELS.get(p.channel, "—"),
        "original_name": p.original_name,
        "code": p.code,
        "message": p.message,
    }
    spec = MailSpec(
        purpose="intake-rejected",
        template="intake_rejected",
        to=to,
        key=event_key(ev),
        date=ev.ts,
        context=context,
        in_reply_to=ctx.item_message_id(p.item_id, ev.seq) if p.reply_to else "",
    )
    receipt = ctx.receipt_dir(p.channel, p.filer)
    return [Notice(spec, receipt, receipt_file_stem(p.item_id, ev.seq, "无法受理"))]


def on_document_issued(ctx: NoticeContext, ev: StoredEvent) -> list[Notice]:
    p = ev.body_as(DocumentIssued)
    if not p.filing_id or p.reissue_of:
        return []  # prints and reissues are handed out by whoever asked for them
    received = ctx.received_for(ev, p.filing_id)
    if received is None:
        return []
    label = document_label(p.doc_type)
    pdf_name = f"{p.filing_id}_{label}.pdf"
    context = {
        **filing_base(ctx, received),
        "doc_label": label,
        "cert_no": p.cert_no or "—",
        "issued_at": ev.ts,
        "pdf_name": pdf_name,
        "sha256": p.sha256,
    }
    if p.period:
        context["period"] = p.period
    pdf = Attachment(pdf_name, ctx.ledger.blobs.get(p.pdf_blob), "application/pdf")
    return [
        filer_notice(ctx, ev, received, "approved", "核准通知", context=context, round_no=p.round, attachments=[pdf])
    ]


def on_credentials(ctx: NoticeContext, ev: StoredEvent) -> list[Notice]:
    p = ev.body_as(CredentialsMailRequested)
    first = ctx.unit(p.first_level)
    to = list(p.recipients or (first.filer_emails if first else []))
    context = {
        "unit_name": ctx.unit_name(p.unit),
        "first_level_name": first.name if first else p.first_level,
        "username": p.username,
    }
    return [
        Notice(
            MailSpec(
                purpose="credentials", template="credentials", to=to, key=event_key(ev), date=ev.ts, context=context
            )
        )
    ]


def on_password_changed(ctx: NoticeContext, ev: StoredEvent) -> list[Notice]:
    username = ev.body_as(AccountPasswordChanged).username
    unit = ctx.directory.unit_by_username(username)
    to = list(unit.filer_emails) if unit else []
    context = {"username": username, "unit_name": unit.name if unit else username, "changed_at": ev.ts}
    return [
        Notice(
            MailSpec(
                purpose="password-changed",
                template="password_changed",
                to=to,
                key=event_key(ev),
                date=ev.ts,
                context=context,
            )
        )
    ]


def is_automatic_sender(address: str, mail_domain: str) -> bool:
    """Never answer robots or ourselves: an answer to an auto-reply is how mail loops start."""
    lowered = address.lower()
    return not lowered or lowered.endswith("@" + mail_domain.lower()) or any(m in lowered for m in AUTO_SENDER_MARKERS)


def on_confirmation_requested(ctx: NoticeContext, ev: StoredEvent) -> list[Notice]:
    """A filing mailed from a unit's contact address is filed only once that address confirms it."""
    p = confirmation_request(ev.body)
    if is_automatic_sender(p.sender, ctx.mail_domain):
        return []
    context = {
        "unit_name": ctx.unit_name(p.filer),
        "unit_code": p.filer,
        "received_at": ev.ts,
        "original_subject": p.original_subject,
        "confirm_address": p.confirm_address,
    }
    spec = MailSpec(
        purpose="confirm-filing",
        template="confirm_filing",
        to=[p.sender],
        key=event_key(ev),
        date=ev.ts,
        context=context,
        reply_to=p.confirm_address,
    )
    return [Notice(spec)]
