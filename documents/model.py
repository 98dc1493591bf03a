"""What a printed document shows, as plain values: built by the issuer, read by the renderers.

The renderers take this shape and nothing else, so they can be exercised without a
ledger or a workflow; the issuer fills it from the approved filing, with every time a
person reads already turned into the supervisor's zone.

The verification page (served by the portal) is `<web.public_url>/verify`, and one
document's is `/verify/<registration number>?c=<check code>`: that URL is the QR code. The
check code is the approval's ledger seq and the prefix of the content hash, `55-117c123ffcd0`;
the page prints it next to the registration number, so a reader can type both instead.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from documents.labels import period_label

QR_SCHEME = "CQVERIFY"  # what documents issued before the verification page encoded; still parsed
CHECK_HASH_CHARS = 12
VERIFY_PATH = "/verify"


@dataclass(frozen=True)
class ReviewEntry:
    """One level's decision, as printed in the review history.

    `reviewer` is what the page shows for the person: the name their reply was signed with,
    or their role; never a mail address. `decided_at` is already in the supervisor's zone.
    """

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
    cannot: it is only known once the signed PDF, and so its hash, exists). Dates are in the
    zone `zone_label` names; `public_url` is where the verification page is served.
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
    public_url: str = ""
    zone_label: str = "北京时间"

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
    def check_code(self) -> str:
        return check_code(self.approval_seq, self.content_hash)

    @property
    def verification_code(self) -> str:
        """The PDF's subject line: the number and the check code, as every page prints them."""
        return f"登记编号 {self.cert_no}　核验码 {self.check_code}"

    @property
    def verify_page(self) -> str:
        return self.public_url.rstrip("/") + VERIFY_PATH

    @property
    def qr_payload(self) -> str:
        return verification_url(self.public_url, self.cert_no, self.check_code)

    @property
    def period_label(self) -> str:
        """数据时点 or 经济行为日期, for the value in `period`."""
        return period_label(self.registration)

    @property
    def enterprise_name(self) -> str:
        return str(self.registration.get("ent_name") or self.unit_name)


def check_code(approval_seq: int | str, content_hash: str) -> str:
    """`55-117c123ffcd0`: what the page prints as 核验码 and the QR code's `c`."""
    return f"{approval_seq}-{str(content_hash)[:CHECK_HASH_CHARS].lower()}"


def verification_url(public_url: str, cert_no: str, code: str) -> str:
    """`<public_url>/verify/<number>?c=<code>`, the address the QR code encodes."""
    return f"{public_url.rstrip('/')}{VERIFY_PATH}/{quote(cert_no, safe='')}?c={quote(code, safe='')}"


_CHECK_CODE = re.compile(r"#?\s*(\d+)\s*[-·.\s]\s*([0-9a-fA-F]{12,64})\s*$")


def normalize_check_code(text: str) -> str | None:
    """The check code in the form `check_code` makes, from what a person may type or a QR code holds.

    Accepted: `55-117c123ffcd0`, `#55 · 117c123ffcd0` and a whole printed line
    `DJB-CQ2026-000003-2 · #55 · 117c123ffcd0` (documents issued before the check code had its
    own label printed it so); full-width digits and letters are folded. None when it is none of these.
    """
    folded = "".join(chr(ord(c) - 0xFEE0) if "！" <= c <= "～" else c for c in text.strip())
    match = _CHECK_CODE.search(folded.replace("\u3000", " "))
    if match is None:
        return None
    return check_code(int(match[1]), match[2])


def parse_verification_url(url: str) -> tuple[str, str] | None:
    """(registration number, check code) from a URL the QR code holds; None when it is not one."""
    parts = urlsplit(url.strip())
    head, _, number = parts.path.rstrip("/").rpartition("/")
    if not head.endswith(VERIFY_PATH) or not number:
        return None
    code = normalize_check_code((parse_qs(parts.query).get("c") or [""])[0])
    return (number, code) if code is not None else None


def parse_qr_payload(text: str) -> dict[str, str]:
    """The fields of the QR code documents printed before the verification page; empty when not one."""
    scheme, _, rest = text.partition(":")
    if scheme != QR_SCHEME:
        return {}
    return dict(p.split("=", 1) for p in rest.split(";")[1:] if "=" in p)
