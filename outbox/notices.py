"""Event -> notices: what each ledger event means for whom (docs/architecture.md, "Event kinds").

This module has the shared context and the notices to filers and accounts; the review
mails are in review_notices.py, the table of builders in builders.py. Each builder returns the notices to
send and the files to drop, computed only from the event, earlier ledger events and
the unit directory, so that running it again after a crash yields the same result.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger.events import StoredEvent
from outbox.compose import CHINA, Attachment, MailSpec
from outbox.ports import Directory, LedgerPort, UnitInfo

log = logging.getLogger(__name__)

CHANNEL_LABELS = {"dropbox": "上传目录", "smtp": "电子邮件"}
AUTO_SENDER_MARKERS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "do-not-reply", "bounce")


@dataclass(frozen=True)
class Notice:
    """One message (sent when it has recipients) and/or one 回执 entry (written when `receipt_dir` is set)."""

    spec: MailSpec
    receipt_dir: Path | None = None
    receipt_label: str = ""
    receipt_ident: str = ""  # names the 回执 files; the filing id when empty


@dataclass
class NoticeContext:
    """What builders share: the ledger, the unit directory and deployment facts."""

    ledger: LedgerPort
    directory: Directory
    mail_domain: str
    dropbox_dir: Path | None
    attach_limit_bytes: int
    supervisor_code: str = ""
    _filings: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)

    def filing(self, filing_id: str, before_seq: int | None = None) -> tuple[int, dict[str, Any]] | None:
        """The latest filing.received of a filing (its round, unit, channel, registration, blobs)."""
        cached = self._filings.get(filing_id)
        if cached is not None and (before_seq is None or cached[0] < before_seq):
            return cached
        found: tuple[int, dict[str, Any]] | None = None
        for ev in self.ledger.events(after_seq=0, kind="filing.received", subject=filing_id):
            if before_seq is not None and ev.seq >= before_seq:
                break
            found = (ev.seq, ev.payload)
        if found is not None:
            self._filings[filing_id] = found
        return found

    def received_for(self, ev: StoredEvent) -> dict[str, Any] | None:
        """The filing.received behind an event about a filing, as it stood when that event was written.

        Every filing event follows its filing.received, so a miss means a damaged ledger: the
        builder sends nothing and the miss is logged rather than failing the whole dispatch.
        """
        filing_id = ev.payload["filing_id"]
        found = self.filing(filing_id, ev.seq)
        if found is None:
            log.warning("outbox.filing_unknown", extra={"filing_id": filing_id, "seq": ev.seq})
            return None
        return found[1]

    def last_approved_registration(self, unit: str, before_seq: int) -> dict[str, Any] | None:
        """The registration of the unit's last approval before `before_seq` (deterministic on re-run)."""
        last: str | None = None
        for ev in self.ledger.events(after_seq=0, kind="filing.approved"):
            if ev.seq >= before_seq:
                break
            if ev.payload.get("unit") == unit:
                last = ev.payload["filing_id"]
        if last is None:
            return None
        received = self.filing(last, before_seq)
        return received[1].get("registration") if received else None

    def unit(self, code: str) -> UnitInfo | None:
        return self.directory.unit(code) if code else None

    def unit_name(self, code: str) -> str:
        unit = self.unit(code)
        return unit.name if unit else code

    def receipt_dir(self, channel: str, filer: str) -> Path | None:
        if channel != "dropbox" or self.dropbox_dir is None or not filer:
            return None
        return self.dropbox_dir / filer / "回执"

    def blob_size(self, digest: str) -> int:
        try:
            return self.ledger.blobs.path(digest).stat().st_size
        except OSError:
            return 0


def human_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} B"


def event_key(ev: StoredEvent) -> str:
    return str(ev.seq)


def _filer_recipients(ctx: NoticeContext, received: dict[str, Any]) -> list[str]:
    """Mail filers answer the address they filed from; drop-folder filers the unit's filer contacts."""
    reply_to = str(received.get("reply_to") or "")
    if "@" in reply_to and ":" not in reply_to:
        return [reply_to]
    unit = ctx.unit(received.get("filer") or received.get("unit", ""))
    return list(unit.filer_emails) if unit else []


def filing_base(ctx: NoticeContext, received: dict[str, Any]) -> dict[str, Any]:
    unit_code = received.get("unit", "")
    return {
        "unit_code": unit_code,
        "unit_name": ctx.unit_name(unit_code),
        "period": received.get("period") or "—",
        "round": received.get("round", 1),
    }


def _document_names(received: dict[str, Any]) -> list[str]:
    blobs = received.get("attachment_blobs", [])
    registration = received.get("registration") or {}
    # workflow stores attachments sorted by file name; the catalogue names the same files
    names = sorted(
        str(d["file_name"]).rsplit("/", 1)[-1] for d in registration.get("documents", []) if d.get("file_name")
    )
    if len(names) == len(blobs):
        return names
    return [f"附件{n}" for n in range(1, len(blobs) + 1)]


def filing_files(ctx: NoticeContext, received: dict[str, Any]) -> list[tuple[str, str]]:
    """(display name, blob) of everything a filing carried: the workbook, then attachments."""
    filing_id = received["filing_id"]
    out = [(f"{filing_id}_登记表.xlsx", received["workbook_blob"])] if received.get("workbook_blob") else []
    out.extend(zip(_document_names(received), received.get("attachment_blobs", []), strict=False))
    return out


def filer_notice(
    ctx: NoticeContext,
    ev: StoredEvent,
    received: dict[str, Any],
    *,
    purpose: str,
    template: str,
    context: dict[str, Any],
    label: str,
    attachments: Sequence[Attachment] = (),
) -> Notice:
    spec = MailSpec(
        purpose=purpose,
        template=template,
        to=_filer_recipients(ctx, received),
        key=event_key(ev),
        date=ev.ts,
        context=context,
        filing_id=received["filing_id"],
        attachments=list(attachments),
    )
    return Notice(spec, ctx.receipt_dir(received.get("channel", ""), received.get("filer", "")), label)


# -- builders, one per event kind -----------------------------------------------------------------


def on_filing_received(ctx: NoticeContext, ev: StoredEvent) -> list[Notice]:
    p = ev.payload
    files = []
    for name, blob in filing_files(ctx, p):
        size = human_size(ctx.blob_size(blob))
        files.append({"name": name, "size": size, "row": [name, size]})
    registration = p.get("registration") or {}
    context = {
        **filing_base(ctx, p),
        "received_at": ev.ts,
        "channel_label": CHANNEL_LABELS.get(p["channel"], "—"),
        "registration_kind": registration.get("reg_type") or "—",
        "files": files,
    }
    return [filer_notice(ctx, ev, p, purpose="receipt", template="receipt", context=context, label="受理回执")]


def _finding_rows(findings: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for n, f in enumerate(findings, 1):
        where = "!".join(x for x in (f.get("sheet") or "", f.get("cell") or "") if x) or "登记表"
        rows.append({"where": where, "message": f.get("message", ""), "row": [n, where, f.get("message", "")]})
    return rows


def on_filing_invalid(ctx: NoticeContext, ev: StoredEvent) -> list[Notice]:
    p = ev.payload
    received = ctx.received_for(ev)
    if received is None:
        return []
    errors = [f for f in p["findings"] if f.get("severity", "error") == "error"]
    warnings = [f for f in p["findings"] if f.get("severity") == "warning"]
    attachments = []
    annotated_name = ""
    if p.get("annotated_blob"):
        annotated_name = f"{p['filing_id']}_错误标注.xlsx"
        attachments.append(Attachment(annotated_name, ctx.ledger.blobs.get(p["annotated_blob"])))
    context = {
        **filing_base(ctx, received),
        "errors": _finding_rows(errors),
        "warnings": _finding_rows(warnings),
        "annotated_name": annotated_name,
    }
    return [
        filer_notice(
            ctx,
            ev,
            received,
            purpose="error-report",
            template="error_report",
            context=context,
            label="校验错误",
            attachments=attachments,
        )
    ]


def on_intake_rejected(ctx: NoticeContext, ev: StoredEvent) -> list[Notice]:
    p = ev.payload
    to = [p["reply_to"]] if p.get("reply_to") else []
    if not to and p.get("filer"):
        unit = ctx.unit(p["filer"])
        to = list(unit.filer_emails) if unit else []
    context = {
        "received_at": ev.ts,
        "channel_label": CHANNEL_LABELS.get(p.get("channel", ""), "—"),
        "original_name": p.get("original_name", ""),
        "code": p["code"],
        "message": p["message"],
    }
    spec = MailSpec(
        purpose="intake-rejected", template="intake_rejected", to=to, key=event_key(ev), date=ev.ts, context=context
    )
    receipt = ctx.receipt_dir(p.get("channel", ""), p.get("filer", ""))
    return [Notice(spec, receipt, "无法受理", receipt_ident=p["item_id"])]


def doc_label(doc_type: str) -> str:
    return "产权登记证" if ("证" in doc_type or "cert" in doc_type.lower()) else "产权登记表"


def on_document_issued(ctx: NoticeContext, ev: StoredEvent) -> list[Notice]:
    p = ev.payload
    if not p.get("filing_id") or p.get("reissue_of"):
        return []  # prints and reissues are handed out by whoever asked for them
    received = ctx.received_for(ev)
    if received is None:
        return []
    label = doc_label(str(p.get("doc_type", "")))
    pdf_name = f"{p['filing_id']}_{label}.pdf"
    context = {
        **filing_base(ctx, received),
        "doc_label": label,
        "cert_no": p.get("cert_no") or "—",
        "issued_at": ev.ts,
        "pdf_name": pdf_name,
        "sha256": p.get("sha256", ""),
    }
    if p.get("period"):
        context["period"] = p["period"]
    pdf = Attachment(pdf_name, ctx.ledger.blobs.get(p["pdf_blob"]), "application/pdf")
    return [
        filer_notice(
            ctx,
            ev,
            received,
            purpose="approved",
            template="approved",
            context=context,
            label="核准通知",
            attachments=[pdf],
        )
    ]


def on_credentials(ctx: NoticeContext, ev: StoredEvent) -> list[Notice]:
    p = ev.payload
    first = ctx.unit(p["first_level"])
    to = list(p.get("recipients") or (first.filer_emails if first else []))
    context = {
        "unit_name": ctx.unit_name(p["unit"]),
        "first_level_name": first.name if first else p["first_level"],
        "username": p["username"],
    }
    return [
        Notice(
            MailSpec(
                purpose="credentials", template="credentials", to=to, key=event_key(ev), date=ev.ts, context=context
            )
        )
    ]


def on_password_changed(ctx: NoticeContext, ev: StoredEvent) -> list[Notice]:
    username = ev.payload["username"]
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
    p = ev.payload
    if is_automatic_sender(p["sender"], ctx.mail_domain):
        return []
    context = {
        "unit_name": ctx.unit_name(p["filer"]),
        "unit_code": p["filer"],
        "received_at": ev.ts,
        "original_subject": p.get("original_subject", ""),
        "confirm_address": p["confirm_address"],
    }
    spec = MailSpec(
        purpose="confirm-filing",
        template="confirm_filing",
        to=[p["sender"]],
        key=event_key(ev),
        date=ev.ts,
        context=context,
        reply_to=p["confirm_address"],
    )
    return [Notice(spec)]


def receipt_file_stem(ident: str, when: datetime, label: str) -> str:
    return f"{ident}_{when.astimezone(CHINA):%Y%m%d-%H%M%S}_{label}"
