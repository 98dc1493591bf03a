"""Notices of the review itself: the request to each reviewer, the decisions, the answers to replies
that were unclear or refused.

The review request is the one mail a person must act on, so it carries everything
needed to decide without logging in anywhere: a summary, what changed since the
unit's last approved registration, the files, and the reply address with its token.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from documents.labels import period_field, period_label
from ledger.events import StoredEvent
from outbox.compose import Attachment, MailSpec
from outbox.foreign_kinds import unclear_reply
from outbox.notices import (
    Notice,
    NoticeContext,
    event_key,
    filer_notice,
    filing_base,
    filing_files,
    is_automatic_sender,
    sent_names,
)
from validation.findings import human_size
from workflow.events import FilingReceived, FilingReturned, ReviewDecided, ReviewRefused, ReviewRequested

log = logging.getLogger(__name__)

SUMMARY_FIELDS = (
    "ent_name",
    "uscc",
    "org_code",
    "reg_type",
    "reg_situation",
    "period",  # 数据时点 or 经济行为日期, whichever the period of this registration is
    "reg_capital",
    "currency",
    "state_relation",
    "legal_rep",
    "contact_name",
    "contact_phone",
)
STEP_RE = re.compile(r"-r(?P<round>\d+)-l(?P<level>\d+)$", re.IGNORECASE)


def _review_files(ctx: NoticeContext, received: FilingReceived) -> tuple[list[Attachment], list[dict[str, Any]]]:
    files = filing_files(ctx, received)
    total = sum(ctx.blob_size(blob) for _, blob in files)
    attach = total <= ctx.attach_limit_bytes
    attachments = [Attachment(name, ctx.ledger.blobs.get(blob)) for name, blob in files] if attach else []
    listed = []
    for name, blob in files:
        size = human_size(ctx.blob_size(blob))
        state = "已附上" if attach else "未附上"
        listed.append({"name": name, "size": size, "attached": attach, "row": [name, size, state]})
    return attachments, listed


def _summary(registration: dict[str, Any]) -> list[tuple[str, str]]:
    from validation.spec import FIELD_SPEC  # validation pulls in openpyxl: only load it when needed

    rows = []
    for key in SUMMARY_FIELDS:
        if key == "period":
            source = period_field(registration)
            if source is not None:
                rows.append((period_label(registration), str(registration[source])))
            continue
        value = registration.get(key)
        if value not in (None, ""):
            spec = FIELD_SPEC.get(key)
            rows.append((spec.label if spec else key, str(value)))
    investors = registration.get("investors") or []
    if investors:
        rows.append(("出资人", "、".join(str(i.get("investor_name") or "—") for i in investors)))
    return rows


def _changes(
    ctx: NoticeContext, unit: str, registration: dict[str, Any], before_seq: int
) -> tuple[dict[str, Any] | None, list[Any]]:
    """What changed in the enterprise since its last approved registration, and which registration that was.

    The 登记信息 sheet (登记类型, 登记情形, 产权登记形式, 数据时点, 经济行为日期, 批准文号, 填报单位) describes
    each filing rather than the enterprise, and differs from any earlier filing by its nature: it is
    not compared.
    """
    from validation.model import Registration, diff_registrations
    from validation.spec import REGISTRATION_FIELDS

    found = ctx.last_approval(unit, before_seq)
    previous = found[1].registration if found else None
    if found is None or not previous or not registration:
        return None, []
    approval, received = found
    compared = {
        "filing_id": received.filing_id,
        "period": received.period or "—",
        "period_label": period_label(previous),
        "approved_at": approval.ts,
    }
    filing_keys = frozenset(spec.key for spec in REGISTRATION_FIELDS)
    old, new = Registration.from_canonical(previous), Registration.from_canonical(registration)
    diff = diff_registrations(old, new, ignore=filing_keys)
    return compared, [
        {
            "label": c.label,
            "old": c.old or "（空）",
            "new": c.new or "（空）",
            "row": [c.label, c.old or "（空）", c.new or "（空）"],
        }
        for c in diff
    ]


def review_address(ctx: NoticeContext, filing_id: str, round_no: int, level: int, email: str) -> str:
    token = ctx.directory.review_token(filing_id, round_no, level, email)
    return f"review+{token}@{ctx.mail_domain}"


def on_review_requested(ctx: NoticeContext, ev: StoredEvent) -> list[Notice]:
    p = ev.body_as(ReviewRequested)
    received = ctx.received_for(ev, p.filing_id)
    if received is None:
        return []
    registration = received.registration or {}
    attachments, listed = _review_files(ctx, received)
    previous, changes = _changes(ctx, received.unit, registration, ev.seq)
    base = {
        **filing_base(ctx, received),
        **sent_names(received),
        "reviewer_unit_name": ctx.unit_name(p.unit),
        "summary": _summary(registration),
        "has_previous": previous is not None,
        "previous": previous or {},
        "changes": changes,
        "files": listed,
        "attach_limit": human_size(ctx.attach_limit_bytes),
    }
    notices = []
    for email in p.reviewers:
        reply = review_address(ctx, p.filing_id, p.round, p.level, email)
        spec = MailSpec(
            purpose="review-request",
            template="review_request",
            to=[email],
            key=event_key(ev),
            date=ev.ts,
            context={**base, "reply_address": reply},
            filing_id=p.filing_id,
            reply_to=reply,
            attachments=attachments,
        )
        notices.append(Notice(spec))
    return notices


def on_review_decided(ctx: NoticeContext, ev: StoredEvent) -> list[Notice]:
    """Only an approval that sends the filing on gets a notice here; 退回 is told by filing.returned."""
    p = ev.body_as(ReviewDecided)
    if p.decision != "通过":
        return []
    reviewer_unit = ctx.unit(p.unit)
    if reviewer_unit is None or not reviewer_unit.parent or reviewer_unit.level <= 0:
        return []  # the supervisor's approval is told by the issued document
    received = ctx.received_for(ev, p.filing_id)
    if received is None:
        return []
    context = {
        **filing_base(ctx, received),
        "decided_at": ev.ts,
        "reviewer_unit_name": reviewer_unit.name,
        "next_unit_name": ctx.unit_name(reviewer_unit.parent),
        "opinion": p.opinion,
    }
    return [filer_notice(ctx, ev, received, "level-approved", "审核通过", context=context, round_no=p.round)]


def on_filing_returned(ctx: NoticeContext, ev: StoredEvent) -> list[Notice]:
    p = ev.body_as(FilingReturned)
    received = ctx.received_for(ev, p.filing_id)
    if received is None:
        return []
    context = {
        **filing_base(ctx, received),
        "decided_at": ev.ts,
        "reviewer_unit_name": ctx.unit_name(p.by),
        "opinion": p.opinion or "（未填写）",
    }
    return [filer_notice(ctx, ev, received, "returned", "退回通知", context=context, round_no=p.round)]


def _filing_unit(ctx: NoticeContext, filing_id: str) -> dict[str, str]:
    """The unit a filing is about, by name and code, for a mail that would otherwise give the filing id alone."""
    found = ctx.filing(filing_id)
    code = found[1].unit if found is not None else ""
    return {"unit_name": ctx.unit_name(code) if code else "", "unit_code": code}


# Why the first line decided nothing, as the reviewer reads it: a contradictory line must be told
# apart from an empty one, or the reviewer sends the same words again.
UNCLEAR_WHY = {
    "": "第一行没有可识别的审核结论",
    "no-decision": "第一行没有可识别的审核结论",
    "both-decisions": "第一行同时含有“通过”和“退回”两种结论，无法判断您的决定",
    "negated": "第一行的结论前后有否定词（如“不同意”“不予通过”），无法判断是通过还是退回",
    "question": "第一行是一个问句，不是审核结论",
}


def on_review_unclear(ctx: NoticeContext, ev: StoredEvent) -> list[Notice]:
    p = unclear_reply(ev.body)
    sender = p.sender
    if is_automatic_sender(sender, ctx.mail_domain):
        log.info("outbox.unclear_not_answered", extra={"filing_id": p.filing_id, "sender": sender})
        return []
    # The answer carries the sender's own reply address again, so a second try can simply answer it.
    reply = ""
    step = STEP_RE.search(p.step)
    if step is not None:
        reply = review_address(ctx, p.filing_id, int(step["round"]), int(step["level"]), sender)
    # Keyed by (filing, sender), not by event: however many unclear replies arrive, one answer leaves.
    spec = MailSpec(
        purpose="reply-unclear",
        template="reply_unclear",
        to=[sender],
        key=f"unclear.{p.filing_id}",
        date=ev.ts,
        context={
            "reply_address": reply,
            "why": UNCLEAR_WHY.get(p.reason, UNCLEAR_WHY[""]),
            **_filing_unit(ctx, p.filing_id),
        },
        reply_to=reply,
        filing_id=p.filing_id,
        in_reply_to=p.message_id,
    )
    return [Notice(spec)]


def _known_reviewer(ctx: NoticeContext, address: str, filing_id: str, before_seq: int) -> bool:
    """A reviewer of some unit now, or an address this filing's review was sent to (removed since).

    Nobody else is answered: a refusal answer to any From address would make the service a relay
    for whoever forges one.
    """
    if ctx.directory.is_reviewer(address):
        return True
    if not filing_id:
        return False
    for ev in ctx.ledger.events(after_seq=0, kind=ReviewRequested.kind, subject=filing_id):
        if ev.seq >= before_seq:
            break
        if address in (r.lower() for r in ev.body_as(ReviewRequested).reviewers):
            return True
    return False


def _masked(address: str) -> str:
    """Enough of an address to recognise one's own mailbox, not enough to harvest it."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else ""


def on_review_refused(ctx: NoticeContext, ev: StoredEvent) -> list[Notice]:
    """Every refused reply is answered once, in Chinese, with why and what to do — to known reviewers only."""
    p = ev.body_as(ReviewRefused)
    if p.channel == "web":
        # a refusal in the portal: its page showed the reason, and `sender` is an account, not a mailbox
        log.info("outbox.refusal_not_answered", extra={"filing_id": p.filing_id, "code": p.code, "channel": "web"})
        return []
    sender = p.sender.lower()
    filing_id = p.filing_id
    if is_automatic_sender(sender, ctx.mail_domain) or not _known_reviewer(ctx, sender, filing_id, ev.seq):
        log.info("outbox.refusal_not_answered", extra={"filing_id": filing_id, "code": p.code})
        return []
    code = p.code
    step = STEP_RE.search(p.token)
    reply = ""
    if code == "missing-opinion" and step is not None:
        # The sender is the step's reviewer (the token matched): answering this mail decides again.
        reply = review_address(ctx, filing_id, int(step["round"]), int(step["level"]), sender)
    known = ctx.filing(filing_id, ev.seq) if filing_id and code != "unknown-filing" else None
    context = {
        "code": code,
        "reason": p.reason,
        "sender": sender,
        "decision": p.decision,
        "unit_name": ctx.unit_name(known[1].unit) if known else "",
        "step_label": f"第 {step['round']} 轮第 {step['level']} 级审核" if step is not None else "",
        "addressed_hint": _masked(p.addressed_to),
        "decided_by": p.decided_by,
        "decided_at": p.decided_at,
        "decided": p.decided,
        "received_at": ev.ts,
        "reply_address": reply,
    }
    spec = MailSpec(
        purpose="review-refused",
        template="review_refused",
        to=[sender],
        key=event_key(ev),  # one answer per refusal event
        date=ev.ts,
        context=context,
        reply_to=reply,
        filing_id=filing_id if known else "",
        in_reply_to=p.message_id,
    )
    return [Notice(spec)]
