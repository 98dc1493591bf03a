"""Checks a PDF we issued: the signature, the exact bytes, and the ledger record's proof.

Three independent answers, each with its own Chinese reason when it fails:
1. the PAdES signature validates against our CA and covers the whole file (an
   incremental update after signing leaves the signature intact but uncovered);
2. the file's SHA-256 is the one a `document.issued` event recorded (a re-saved copy
   that still looks the same fails here);
3. that event is included in the tree of the newest signed checkpoint.

A genuine document can still be the wrong one: whoever checks a paper handed in for unit
A passes `expect_unit` / `expect_number`, and a genuine document of unit B fails.
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from documents.labels import GENERIC_PERIOD_LABEL
from validation.codes import normalize_org_code

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignatureCheck:
    ok: bool
    reason_zh: str
    signer: str = ""
    signed_at: str = ""


@dataclass(frozen=True)
class IssuanceRecord:
    """What the ledger says about one issued document (filled by the issuer)."""

    seq: int
    ts: str
    filing_id: str
    unit: str
    doc_type: str
    cert_no: str
    reissue_of: int | None
    verification_code: str = ""  # the check code (核验码) the page prints beside the registration number
    proof: dict[str, Any] = field(default_factory=dict)
    proof_ok: bool = False
    proof_reason_zh: str = ""
    unit_name: str = ""
    period: str = ""
    round: int = 0
    period_label: str = GENERIC_PERIOD_LABEL  # 数据时点 or 经济行为日期: what `period` is in that registration
    missing_chars: tuple[str, ...] = ()


@dataclass(frozen=True)
class VerificationReport:
    sha256: str
    signature: SignatureCheck
    issuance: IssuanceRecord | None
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_signature(pdf: bytes, trust_roots: list[Any]) -> SignatureCheck:
    """Validates the one embedded signature with pyHanko against `trust_roots` only."""
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:
        return SignatureCheck(False, f"文件无法解析为 PDF（已损坏或被改动）：{exc}")
    if not signatures:
        return SignatureCheck(False, "文件中没有电子签名。")
    if len(signatures) > 1:
        return SignatureCheck(False, f"文件中有 {len(signatures)} 个签名，本系统签发的文件只有一个。")
    context = ValidationContext(trust_roots=trust_roots, allow_fetching=False)
    try:
        status = validate_pdf_signature(signatures[0], context)
    except Exception as exc:
        return SignatureCheck(False, f"签名无法验证（文件已被改动）：{exc}")
    signer = str(status.signing_cert.subject.human_friendly) if status.signing_cert is not None else ""
    signed_at = status.signer_reported_dt.isoformat() if status.signer_reported_dt else ""
    if not status.intact:
        return SignatureCheck(False, "签名不完整：签名后文件内容被改动。", signer, signed_at)
    if not status.valid:
        return SignatureCheck(False, "签名值无效。", signer, signed_at)
    if not status.trusted:
        return SignatureCheck(False, "签名证书不是由本系统的 CA 签发，不受信任。", signer, signed_at)
    if status.coverage is None or status.coverage.name != "ENTIRE_FILE":
        return SignatureCheck(False, "签名之后文件被追加修改（增量更新），签名只覆盖了原始部分。", signer, signed_at)
    return SignatureCheck(True, "签名有效，由本系统 CA 签发的证书签署，覆盖整个文件。", signer, signed_at)


def expectation_problems(
    issuance: IssuanceRecord, expect_unit: str | None = None, expect_number: str | None = None
) -> list[str]:
    """Why a genuine document is not the one the checker expected (unit code, registration number)."""
    problems = []
    who = f"{issuance.unit_name}（{issuance.unit}）" if issuance.unit_name else issuance.unit
    if expect_unit is not None and normalize_org_code(expect_unit) != normalize_org_code(issuance.unit):
        problems.append(f"这份文件是单位 {who}的，不是所要核验的单位 {expect_unit.strip()} 的。")
    if expect_number is not None and expect_number.strip().upper() != issuance.cert_no.upper():
        problems.append(f"这份文件的登记编号是 {issuance.cert_no}，不是所要核验的编号 {expect_number.strip()}。")
    return problems


def verify_document(
    pdf: bytes,
    trust_roots: list[Any],
    find_issuance: Callable[[str], IssuanceRecord | None],
    *,
    expect_unit: str | None = None,
    expect_number: str | None = None,
) -> VerificationReport:
    """Runs the three checks; `problems` lists every failure in Chinese (empty: the document is genuine).

    With `expect_unit` / `expect_number`, a document recorded for another unit or under
    another number fails as well.
    """
    digest = hashlib.sha256(pdf).hexdigest()
    signature = check_signature(pdf, trust_roots)
    problems: list[str] = []
    if not signature.ok:
        problems.append(signature.reason_zh)
    issuance = find_issuance(digest)
    if issuance is None:
        problems.append(
            "账本中没有这份文件的签发记录：文件与签发时的原件不是逐字节相同（被改动或另存过），或并非本系统签发。"
        )
    else:
        if not issuance.proof_ok:
            problems.append(issuance.proof_reason_zh or "签发记录不在最新的已签名检查点中。")
        problems += expectation_problems(issuance, expect_unit, expect_number)
    log.info("pdf.verified", extra={"sha256": digest, "ok": not problems})
    return VerificationReport(digest, signature, issuance, problems)
