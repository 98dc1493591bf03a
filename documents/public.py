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
from typing import Protocol

from documents.events import DocumentIssued
from documents.model import check_code, normalize_check_code
from documents.verify import IssuanceRecord
from ledger import Ledger, StoredEvent

ISSUED = DocumentIssued.kind


class IssuanceFinder(Protocol):
    """What this module needs of the issuer (documents.DocumentIssuer has it)."""

    ledger: Ledger

    def issuance_record(self, event: StoredEvent) -> IssuanceRecord: ...


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


def url_code(issued: DocumentIssued) -> str:
    """The check code (`c`) of an issuance's verification URL, as the page and the QR code print it."""
    return check_code(issued.approval_seq, issued.content_hash)


def code_matches(issued: DocumentIssued, code: str) -> bool:
    """Whether `code` is this issuance's check code, in any form `normalize_check_code` reads (the QR
    URL's `55-117c123ffcd0`, or the line printed on older documents)."""
    normalized = normalize_check_code(code)
    if normalized is None or not issued.content_hash:
        return False
    return secrets.compare_digest(normalized, url_code(issued))


def _issuances(ledger: Ledger) -> list[tuple[StoredEvent, DocumentIssued]]:
    """Every issuance once per request: the page's lookups and the superseding search share it."""
    return [(event, event.body_as(DocumentIssued)) for event in ledger.events(kind=ISSUED)]


def find_by_number(issuer: IssuanceFinder, number: str, code: str) -> PublicRecord | None:
    """The document with this number and code; None when there is none, whichever part is wrong."""
    wanted = number.strip().upper()
    if not wanted or len(wanted) > 80 or len(code) > 200:
        return None
    issuances = _issuances(issuer.ledger)
    matching = [(e, b) for e, b in issuances if b.cert_no.upper() == wanted and code_matches(b, code)]
    if not matching:
        return None
    # reprints carry the same number and facts: the page speaks of the first issuance
    first = next(((e, b) for e, b in matching if not b.reissue_of), matching[0])
    return _public(issuer, first, issuances, len(matching) - 1)


def public_record(issuer: IssuanceFinder, record: IssuanceRecord) -> PublicRecord:
    """The public facts of an issuance found by its file's hash (an uploaded PDF)."""
    issuances = _issuances(issuer.ledger)
    same = [(e, b) for e, b in issuances if b.cert_no == record.cert_no and _same_issue(b, record)]
    first = next(((e, b) for e, b in same if not b.reissue_of), None)
    found = first or next((e, b) for e, b in issuances if e.seq == record.seq)
    return _public(issuer, found, issuances, max(0, len(same) - 1), record if first is None else None)


def _same_issue(issued: DocumentIssued, record: IssuanceRecord) -> bool:
    return issued.filing_id == record.filing_id and issued.round == record.round


def _public(
    issuer: IssuanceFinder,
    issuance: tuple[StoredEvent, DocumentIssued],
    issuances: list[tuple[StoredEvent, DocumentIssued]],
    reprints: int,
    record: IssuanceRecord | None = None,
) -> PublicRecord:
    event, issued = issuance
    return PublicRecord(
        record=record or issuer.issuance_record(event),  # the event in hand: no second scan by hash
        issued_at=event.ts.isoformat(timespec="seconds"),
        reprints=reprints,
        superseded_by=superseding(issuance, issuances),
        code=url_code(issued),
    )


def superseding(
    issuance: tuple[StoredEvent, DocumentIssued], issuances: list[tuple[StoredEvent, DocumentIssued]]
) -> Superseding | None:
    """The newest later registration of the same unit, of the same or a later period (a reprint of
    the same filing round is the same document, not a later one)."""
    event, p = issuance
    later = [
        (e, q)
        for e, q in issuances
        if e.seq > event.seq
        and not q.reissue_of
        and q.unit == p.unit
        and (q.filing_id, q.round) != (p.filing_id, p.round)
        and q.period >= p.period
    ]
    if not later:
        return None
    newest, q = later[-1]
    return Superseding(
        cert_no=q.cert_no,
        doc_type=q.doc_type,
        filing_id=q.filing_id,
        period=q.period,
        issued_at=newest.ts.isoformat(timespec="seconds"),
    )
