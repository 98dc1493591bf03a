"""What anyone may learn about an issued document: found by the number and code printed on it,
whether a later registration replaced it, and the inclusion proof of its issuance record.

The public verification page (`/verify/<number>?c=<code>`, the URL in every document's QR code)
asks this module. A number alone finds nothing: the check code holds the approval's seq and a prefix of the
SHA-256 over the printed facts (documents.model.check_code), so whoever holds only a
registration number cannot learn whether it exists, and a wrong code reads exactly as an
unknown number.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Protocol

from documents.events import DocumentIssued
from documents.model import check_code, normalize_check_code, verification_url
from documents.verify import IssuanceRecord
from ledger import Ledger, StoredEvent

ISSUED = DocumentIssued.kind


class IssuanceFinder(Protocol):
    """What this module needs of the issuer (documents.DocumentIssuer has it)."""

    ledger: Ledger

    def find_issuance(self, sha256: str) -> IssuanceRecord | None: ...


@dataclass(frozen=True)
class Superseding:
    """The later registration that replaced a document: its number, period and first issuance."""

    cert_no: str
    doc_type: str
    filing_id: str
    period: str
    issued_at: str


@dataclass(frozen=True)
class PublicRecord:
    """One document as the verification page shows it: the first issuance of its number and code
    (with the inclusion proof checked against the newest signed checkpoint), how often it was
    printed again, and the registration that superseded it, if any."""

    record: IssuanceRecord
    issued_at: str  # the first issuance's time (ISO, UTC)
    reprints: int
    superseded_by: Superseding | None
    code: str  # the check code of the QR URL (documents.model.check_code)

    @property
    def number(self) -> str:
        return self.record.cert_no


def url_code(payload: dict[str, Any]) -> str:
    """The check code (`c`) of an issuance's verification URL, as the page and the QR code print it."""
    return check_code(str(payload.get("approval_seq", "")), str(payload.get("content_hash", "")))


def verify_path(cert_no: str, payload: dict[str, Any]) -> str:
    """`/verify/<number>?c=<code>`: the path of a document's public verification page."""
    return verification_url("", cert_no, url_code(payload))


def code_matches(payload: dict[str, Any], code: str) -> bool:
    """Whether `code` is this issuance's check code, in any form `normalize_check_code` reads (the QR
    URL's `55-117c123ffcd0`, or the line printed on older documents)."""
    normalized = normalize_check_code(code)
    if normalized is None or not payload.get("content_hash"):
        return False
    return secrets.compare_digest(normalized, url_code(payload))


def _issuances(ledger: Ledger) -> list[StoredEvent]:
    return list(ledger.events(kind=ISSUED))


def find_by_number(issuer: IssuanceFinder, number: str, code: str) -> PublicRecord | None:
    """The document with this number and code; None when there is none, whichever part is wrong."""
    wanted = number.strip().upper()
    if not wanted or len(wanted) > 80 or len(code) > 200:
        return None
    events = _issuances(issuer.ledger)
    matching = [
        e for e in events if str(e.payload.get("cert_no", "")).upper() == wanted and code_matches(e.payload, code)
    ]
    if not matching:
        return None
    # reprints carry the same number and facts: the page speaks of the first issuance
    first = next((e for e in matching if not e.payload.get("reissue_of")), matching[0])
    return _public(issuer, first, events, len(matching) - 1)


def public_record(issuer: IssuanceFinder, record: IssuanceRecord) -> PublicRecord:
    """The public facts of an issuance found by its file's hash (an uploaded PDF)."""
    events = _issuances(issuer.ledger)
    same = [e for e in events if e.payload.get("cert_no") == record.cert_no and _same_issue(e, record)]
    first = next((e for e in same if not e.payload.get("reissue_of")), None)
    event = first or next(e for e in events if e.seq == record.seq)
    return _public(issuer, event, events, max(0, len(same) - 1), record if first is None else None)


def _same_issue(event: StoredEvent, record: IssuanceRecord) -> bool:
    return event.payload.get("filing_id") == record.filing_id and int(event.payload.get("round", 0)) == record.round


def _public(
    issuer: IssuanceFinder,
    event: StoredEvent,
    events: list[StoredEvent],
    reprints: int,
    record: IssuanceRecord | None = None,
) -> PublicRecord:
    found = record or issuer.find_issuance(str(event.payload.get("sha256", "")))
    if found is None:  # the event was read a moment ago; only a ledger swapped underneath gets here
        raise LookupError(f"document.issued #{event.seq} vanished")
    return PublicRecord(
        record=found,
        issued_at=event.ts.isoformat(timespec="seconds"),
        reprints=reprints,
        superseded_by=superseding(event, events),
        code=url_code(event.payload),
    )


def superseding(event: StoredEvent, events: list[StoredEvent]) -> Superseding | None:
    """The newest later registration of the same unit, of the same or a later period (a reprint of
    the same filing round is the same document, not a later one)."""
    p = event.payload
    later = [
        e
        for e in events
        if e.seq > event.seq
        and not e.payload.get("reissue_of")
        and e.payload.get("unit") == p.get("unit")
        and (e.payload.get("filing_id"), e.payload.get("round")) != (p.get("filing_id"), p.get("round"))
        and str(e.payload.get("period", "")) >= str(p.get("period", ""))
    ]
    if not later:
        return None
    newest = later[-1]
    q = newest.payload
    return Superseding(
        cert_no=str(q.get("cert_no", "")),
        doc_type=str(q.get("doc_type", "")),
        filing_id=str(q.get("filing_id", "")),
        period=str(q.get("period", "")),
        issued_at=newest.ts.isoformat(timespec="seconds"),
    )
