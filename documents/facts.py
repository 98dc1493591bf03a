"""From an approved filing to what its document prints: times a person reads, and reviewers as people.

The ledger keeps UTC; a reader of the paper lives in the supervisor's zone (setting
`service.timezone`), so every date and time is turned into it, and the page says which zone
that is. A reviewer is known to the ledger by mail address, which an official would not sign
under: the page shows the name the reviewer's reply was signed with (its From display name),
or their role when the reply had none.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo

from documents.foreign_kinds import REVIEW_DECIDED, decided_reply
from documents.model import ReviewEntry
from ledger import Ledger, LedgerError
from ledger.localtime import zone_info

log = logging.getLogger(__name__)

REVIEWER_ROLE = "指定审核人"  # the unit's registered reviewer: only their address can decide a step
MAX_NAME_CHARS = 40


def zone_of(name: str) -> ZoneInfo:
    """The configured zone (raises ledger.localtime.UnknownZoneError, whose message names the setting)."""
    return zone_info(name)


def local(moment: datetime | str, zone: ZoneInfo) -> datetime:
    """A ledger time (aware datetime or ISO string; naive means UTC) in `zone`."""
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone)


def display_name(mail: bytes) -> str:
    """The From display name of a reply, if it is a name (not an address); else ""."""
    try:
        headers = BytesParser(policy=policy.default).parsebytes(mail, headersonly=True)
        name, _address = parseaddr(str(headers.get("From", "")))  # the policy decodes =?utf-8?…?= words
    except (ValueError, TypeError, LookupError, IndexError):
        return ""
    name = " ".join(name.split())
    if not name or "@" in name or "=?" in name or len(name) > MAX_NAME_CHARS:
        return ""
    return name


class ReplyUnreadable(Exception):
    """A deciding reply's kept mail cannot be read: the document would name its reviewer by a guess."""

    def __init__(self, filing_id: str, seq: int, blob: str) -> None:
        super().__init__(f"reply mail {blob} of event {seq} ({filing_id}) is unreadable")
        self.filing_id = filing_id
        self.seq = seq
        self.blob = blob


def reviewer_names(ledger: Ledger, filing_id: str, round_: int) -> dict[int, str]:
    """Level -> the name the deciding reply of that level was signed with, for one round. A reply whose
    kept mail cannot be read raises `ReplyUnreadable`: the signed table shows what the ledger holds, or
    the document is not issued (a role printed in place of a lost name would be signed as fact)."""
    names: dict[int, str] = {}
    for event in ledger.events(subject=filing_id, kind=REVIEW_DECIDED):
        p = decided_reply(event.body)
        if p is None or p.round != round_ or not p.mail_blob:
            continue
        try:
            mail = ledger.blobs.get(p.mail_blob)
        except (LedgerError, OSError) as exc:
            raise ReplyUnreadable(filing_id, event.seq, p.mail_blob) from exc
        name = display_name(mail)
        if name:
            names[p.level] = name
    return names


def review_entries(view: Any, units: Any, ledger: Ledger, zone: ZoneInfo) -> tuple[ReviewEntry, ...]:
    """The current round's decisions as the review table prints them."""
    names = reviewer_names(ledger, view.filing_id, view.round)
    entries = []
    for decision in view.decisions:
        if decision.round != view.round:
            continue
        reviewing = units.get(decision.unit)
        entries.append(
            ReviewEntry(
                level=decision.level,
                unit_code=decision.unit,
                unit_name=reviewing.name if reviewing is not None else decision.unit,
                reviewer=names.get(decision.level, REVIEWER_ROLE),
                decision=decision.decision,
                opinion=decision.opinion,
                decided_at=local(decision.at, zone).strftime("%Y-%m-%d %H:%M"),
            )
        )
    return tuple(entries)
