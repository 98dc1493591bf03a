"""What a printed document shows, as plain values: built by the issuer, read by the renderers.

The renderers take this shape and nothing else, so they can be exercised without a
ledger or a workflow; the issuer fills it from the approved filing.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

QR_SCHEME = "CQVERIFY"


@dataclass(frozen=True)
class ReviewEntry:
    """One level's decision, as printed in the review history."""

    level: int
    unit_code: str
    unit_name: str
    reviewer: str
    decision: str
    opinion: str
    decided_at: str


@dataclass(frozen=True)
class DocumentData:
    """Everything one 登记表 or 登记证 prints.

    `approval_seq` is the ledger seq of the `filing.approved` event: it exists before the
    document does, so it can be printed on the page (the seq of the issuance event itself
    cannot: it is only known once the signed PDF, and so its hash, exists).
    """

    doc_type: str
    registration: Mapping[str, Any]
    filing_id: str
    round: int
    unit_code: str
    unit_name: str
    period: str
    cert_no: str
    approval_seq: int
    approved_on: str
    issued_on: str
    authority: str
    reviews: tuple[ReviewEntry, ...] = field(default_factory=tuple)

    @functools.cached_property
    def content_hash(self) -> str:
        """SHA-256 over the printed facts, canonical JSON; its prefix is printed and put in the QR code."""
        facts = {
            "doc_type": self.doc_type,
            "filing_id": self.filing_id,
            "round": self.round,
            "cert_no": self.cert_no,
            "approval_seq": self.approval_seq,
            "period": self.period,
            "registration": self.registration,
            "reviews": [r.__dict__ for r in self.reviews],
        }
        blob = json.dumps(facts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    @property
    def verification_code(self) -> str:
        """Printed on every page: certificate number, approval seq, content-hash prefix."""
        return f"{self.cert_no} · #{self.approval_seq} · {self.content_hash[:12]}"

    @property
    def qr_payload(self) -> str:
        return f"{QR_SCHEME}:1;no={self.cert_no};seq={self.approval_seq};h={self.content_hash[:16]}"

    @property
    def enterprise_name(self) -> str:
        return str(self.registration.get("ent_name") or self.unit_name)


def parse_qr_payload(text: str) -> dict[str, str]:
    """The inverse of `DocumentData.qr_payload`; empty when the text is not one of ours."""
    scheme, _, rest = text.partition(":")
    if scheme != QR_SCHEME:
        return {}
    return dict(p.split("=", 1) for p in rest.split(";")[1:] if "=" in p)
