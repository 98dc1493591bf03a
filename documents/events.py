"""The ledger event that records an issued document (see docs/documents.md).

The PDF itself is in the blob store (`pdf_blob`), its SHA-256 in `sha256` (the same
value: the blob store is content-addressed, both are kept so that a reader of the
payload need not know that). `verify-pdf` finds a document by this hash.
"""

from __future__ import annotations

from pydantic import Field

from ledger import EventBody, event_kind


@event_kind("document.issued")
class DocumentIssued(EventBody):
    """A signed 产权登记表 or 产权登记证 was produced for an approved filing.

    `reissue_of` is the seq of the first issuance for the same filing and round (None for
    that first one); `approval_seq` and `content_hash` are what the page prints in its
    verification code, so the record ties the paper to the approval it rests on.
    `missing_chars` lists (`U+XXXX`) the characters no embedded font has, which the page
    shows as `〓U+XXXX〓` placeholders; empty for nearly every document, and absent from
    events recorded before it existed (read as empty).
    """

    filing_id: str
    round: int
    unit: str
    period: str
    doc_type: str  # 登记表 | 登记证
    template: str
    cert_no: str
    pdf_blob: str
    sha256: str
    reissue_of: int | None = None
    approval_seq: int
    content_hash: str
    pages: int
    missing_chars: list[str] = Field(default_factory=list)
