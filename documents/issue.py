"""Issuing documents: from an approved filing to a signed PDF in the blob store and a ledger event.

Used by the outbox when a `filing.approved` arrives (`on_approved`/`issue_for_filing`, idempotent per
filing and round) and by `chanquan print` (`print_document`, which always records a new
issuance linked to the first by `reissue_of`). The page's verification code uses the
seq of the approval event, not of the issuance event: that one only exists once the
signed bytes, and so their hash, exist (see docs/documents.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from documents.events import DocumentIssued
from documents.facts import ReplyUnreadable, local, review_entries, zone_of
from documents.fonts import DEFAULT_FALLBACK_FONT_FILES, DEFAULT_FONT_FILE
from documents.keys import IdentityFiles, SigningIdentityError
from documents.labels import GENERIC_PERIOD_LABEL, period_label
from documents.model import DocumentData, check_code
from documents.rendering import render
from documents.signing import DocumentSigner, SignRequest, load_trust_roots
from documents.templates import CERTIFICATE, FORM, TemplateCatalog
from documents.verify import IssuanceRecord, VerificationReport, verify_document
from ledger import Ledger, StoredEvent
from ledger.localtime import zone_label
from ledger.merkle import verify_inclusion
from ledger.note import load_verifier, open_note
from ledger.proofs import prove

log = logging.getLogger(__name__)

ISSUER_ACTOR = "chanquan"
APPROVED_STATES = frozenset({"approved", "issued"})


class PrintRefused(Exception):
    """A document cannot be issued; `message_zh` tells the user why and what to do."""

    def __init__(self, message_zh: str, *, unit: str = "", period: str = "", filing_id: str = "") -> None:
        super().__init__(message_zh)
        self.message_zh = message_zh
        self.unit = unit
        self.period = period
        self.filing_id = filing_id


class WorkflowViews(Protocol):
    """What the issuer reads from the workflow (workflow.Workflow satisfies it)."""

    units: Any

    def filing(self, filing_id: str) -> Any: ...

    def filings(self, state: str | None = None, unit: str | None = None) -> Any: ...

    def approved_registrations(self, search: str | None = None) -> Any: ...

    def last_approved_data(self, unit: str, period: str | None = None) -> dict[str, Any] | None: ...

    def approval(self, filing_id: str, round_no: int) -> StoredEvent | None:
        """The `filing.approved` event of that round (workflow declares the kind; the layout keeps
        documents/ from importing it, so workflow finds it)."""
        ...


@dataclass(frozen=True)
class IssuedDocument:
    event: StoredEvent
    pdf: bytes

    @property
    def body(self) -> DocumentIssued:
        return self.event.body_as(DocumentIssued)

    @property
    def payload(self) -> dict[str, Any]:
        """The recorded payload as a dict, as `chanquan ledger log` shows it."""
        return self.event.payload


def doc_type_for_level(level: int) -> str:
    """登记证 for first-level enterprises, 登记表 for every unit below them."""
    return CERTIFICATE if level == 1 else FORM


class DocumentIssuer:
    """Renders, signs, stores and records documents for one ledger."""

    def __init__(
        self,
        ledger: Ledger,
        workflow: WorkflowViews,
        identity: IdentityFiles,
        *,
        authority: str,
        templates: TemplateCatalog | None = None,
        default_template: str = "标准",
        font_file: str = DEFAULT_FONT_FILE,
        fallback_font_files: Sequence[str] = DEFAULT_FALLBACK_FONT_FILES,
        timestamp_url: str = "",
        location: str = "",
        ledger_pub: Path | None = None,
        public_url: str = "",
        timezone: str = "Asia/Shanghai",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        closers: Iterable[Callable[[], None]] = (),
    ) -> None:
        self.ledger = ledger
        self.workflow = workflow
        self.identity = identity
        self.authority = authority
        self.templates = templates or TemplateCatalog()
        self.default_template = default_template
        self.font_file = font_file
        self.fallback_font_files = tuple(fallback_font_files)
        self.timestamp_url = timestamp_url
        self.location = location or authority
        self.ledger_pub = ledger_pub
        self.public_url = public_url  # the portal's base address: the QR code leads to its verification page
        self.zone = zone_of(timezone)  # the supervisor's: every date and time a reader sees is in it
        self.zone_name = timezone
        self._clock = clock
        self._closers = list(closers)
        self._signer: DocumentSigner | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        for close in reversed(self._closers):
            close()
        self._closers.clear()

    def __enter__(self) -> DocumentIssuer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def signer(self) -> DocumentSigner:
        """Loaded on first use and kept: parsing the key and drawing the stamp happen once."""
        if self._signer is None:
            self._signer = DocumentSigner(
                self.identity,
                self.authority,
                timestamp_url=self.timestamp_url,
                font_file=self.font_file,
                fallback_font_files=self.fallback_font_files,
            )
        return self._signer

    # ---------------------------------------------------------------- finding what to print

    def _approval(self, filing_id: str, round_: int) -> StoredEvent:
        event = self.workflow.approval(filing_id, round_)
        if event is not None:
            return event
        raise PrintRefused(
            f"登记 {filing_id} 第 {round_} 轮尚未经市国资委审核通过，不能出具登记表或登记证。", filing_id=filing_id
        )

    def issuances(self, filing_id: str, round_: int | None = None) -> list[StoredEvent]:
        return [
            e
            for e in self.ledger.events(subject=filing_id, kind=DocumentIssued.kind)
            if round_ is None or e.body_as(DocumentIssued).round == round_
        ]

    def build_data(self, filing_id: str, doc_type: str | None = None) -> DocumentData:
        """The printed facts of an approved filing, from workflow's views and the approval event."""
        view = self.workflow.filing(filing_id)
        if view is None:
            raise PrintRefused(f"没有编号为 {filing_id} 的登记。", filing_id=filing_id)
        if view.state not in APPROVED_STATES:
            raise PrintRefused(
                f"登记 {view.filing_id} 尚未经市国资委审核通过（当前状态：{view.state_zh}），不能打印。",
                unit=view.unit,
                period=view.period,
                filing_id=view.filing_id,
            )
        unit = self.workflow.units.get(view.unit)
        level = unit.level if unit is not None else 2
        expected = doc_type_for_level(level)
        if doc_type is not None and doc_type != expected:
            raise PrintRefused(_wrong_type_message(doc_type, view.unit, level), unit=view.unit, filing_id=filing_id)
        approval = self._approval(view.filing_id, view.round)
        registration = view.registration_data or {}
        prefix = "DJZ" if expected == CERTIFICATE else "DJB"
        try:
            reviews = review_entries(view, self.workflow.units, self.ledger, self.zone)
        except ReplyUnreadable as exc:
            raise PrintRefused(
                f"登记 {view.filing_id} 的审核回复邮件（账本第 {exc.seq} 号事件保存的邮件）无法读取，"
                "审核记录无法按账本如实列出，暂不出具。"
                "请运行 chanquan ledger verify 检查，并从备份恢复 blobs 目录后重试。",
                unit=view.unit,
                period=view.period,
                filing_id=view.filing_id,
            ) from exc
        return DocumentData(
            doc_type=expected,
            registration=registration,
            filing_id=view.filing_id,
            round=view.round,
            unit_code=view.unit,
            unit_name=unit.name if unit is not None else str(registration.get("ent_name", view.unit)),
            period=view.period,
            cert_no=f"{prefix}-{view.filing_id}-{view.round}",
            approval_seq=approval.seq,
            approved_on=local(approval.ts, self.zone).date().isoformat(),
            issued_on=local(self._clock(), self.zone).date().isoformat(),
            authority=self.authority,
            reviews=reviews,
            public_url=self.public_url,
            zone_label=zone_label(self.zone_name),
        )

    def find_approved(self, unit_code: str, period: str) -> str:
        """The filing id of the unit's approved registration for `period`, or a refusal saying why not."""
        code = unit_code.strip().upper()
        unit = self.workflow.units.get(code)
        if unit is None:
            raise PrintRefused(f"没有代码为 {code} 的单位。", unit=code, period=period)
        approved = [r for r in self.workflow.approved_registrations() if r.unit == code and r.period == period]
        if approved:
            return str(approved[-1].filing_id)
        pending = [f for f in self.workflow.filings(unit=code) if f.unit == code and f.period == period]
        if pending:
            latest = pending[-1]
            view = self.workflow.filing(latest.filing_id)
            kind = period_label(view.registration_data if view is not None else None)
            raise PrintRefused(
                f"{unit.name}（{code}）{kind} {period} 的登记 {latest.filing_id} 尚未经市国资委审核通过"
                f"（当前状态：{latest.state_zh}），审核通过后才能打印。",
                unit=code,
                period=period,
                filing_id=latest.filing_id,
            )
        periods = sorted({r.period for r in self.workflow.approved_registrations() if r.unit == code})
        named = "、".join(self.labelled_period(code, p) for p in periods)
        hint = f"已审核通过的时期：{named}。" if periods else "该单位还没有审核通过的登记。"
        kinds = "补录历史数据按数据时点，其他登记按经济行为日期"
        raise PrintRefused(
            f"{unit.name}（{code}）没有时期为 {period} 的登记（{kinds}）。{hint}",
            unit=code,
            period=period,
        )

    def labelled_period(self, unit: str, period: str) -> str:
        """`2025-11-03（经济行为日期）`: an approved period named by what it is in that registration."""
        return f"{period}（{period_label(self.workflow.last_approved_data(unit, period))}）"

    # ---------------------------------------------------------------- issuing

    def _issue(self, data: DocumentData, template_name: str, reissue_of: int | None, actor: str) -> IssuedDocument:
        template = self.templates.get(data.doc_type, template_name)
        rendered = render(data, template, self.font_file, self.fallback_font_files)
        reason = f"{data.doc_type} {data.cert_no}"
        pdf = self.signer.sign(SignRequest(rendered.pdf, rendered.seal_page, rendered.seal_box, reason, self.location))
        # issued with visible placeholders rather than refused (docs/documents.md), but never silently
        missing = sorted(set(rendered.missing_chars) | set(self.signer.stamp_missing_chars), key=_code_point)
        digest = self.ledger.blobs.put(pdf)
        body = DocumentIssued(
            filing_id=data.filing_id,
            round=data.round,
            unit=data.unit_code,
            period=data.period,
            doc_type=data.doc_type,
            template=template.name,
            cert_no=data.cert_no,
            pdf_blob=digest,
            sha256=digest,
            reissue_of=reissue_of,
            approval_seq=data.approval_seq,
            content_hash=data.content_hash,
            pages=rendered.page_count,
            missing_chars=missing,
        )
        event = self.ledger.append(body, actor=actor, subject=data.filing_id)
        if missing:
            log.warning(
                "pdf.missing_chars",
                extra={"filing_id": data.filing_id, "seq": event.seq, "missing_chars": ",".join(missing)},
            )
        log.info(
            "pdf.issued",
            extra={"filing_id": data.filing_id, "seq": event.seq, "doc_type": data.doc_type, "reissue_of": reissue_of},
        )
        return IssuedDocument(event, pdf)

    def issue_for_filing(self, filing_id: str, *, template: str | None = None) -> StoredEvent:
        """The document of an approved filing; returns the existing issuance for its round if there is one."""
        with self._lock:
            view = self.workflow.filing(filing_id)
            if view is not None:
                existing = self.issuances(view.filing_id, view.round)
                if existing:
                    return existing[0]
            data = self.build_data(filing_id)
            return self._issue(data, template or self.default_template, None, ISSUER_ACTOR).event

    def on_approved(self, filing_id: str) -> StoredEvent:
        """The outbox's hook for `filing.approved` (its `pdf_issuer`), called with the approved filing's id."""
        return self.issue_for_filing(filing_id)

    def print_document(
        self,
        unit_code: str,
        period: str,
        *,
        template: str | None = None,
        doc_type: str | None = None,
        actor: str = ISSUER_ACTOR,
    ) -> IssuedDocument:
        """A fresh signed copy for `chanquan print`, recorded as a (re)issuance of the filing's document."""
        filing_id = self.find_approved(unit_code, period)
        with self._lock:
            data = self.build_data(filing_id, doc_type)
            self.templates.get(data.doc_type, template or self.default_template)  # refuse before signing
            first = self.issuances(data.filing_id, data.round)
            reissue_of = first[0].seq if first else None
            return self._issue(data, template or self.default_template, reissue_of, actor)

    def pdf_of(self, event: StoredEvent) -> bytes:
        return self.ledger.blobs.get(event.body_as(DocumentIssued).pdf_blob)

    # ---------------------------------------------------------------- verification

    def _period_label_of(self, filing_id: str) -> str:
        view = self.workflow.filing(filing_id)
        return period_label(view.registration_data) if view is not None else GENERIC_PERIOD_LABEL

    def find_issuance(self, sha256: str) -> IssuanceRecord | None:
        """The `document.issued` event recording exactly these bytes, with its inclusion proof."""
        for event in self.ledger.events(kind=DocumentIssued.kind):
            if event.body_as(DocumentIssued).sha256 == sha256:
                return self.issuance_record(event)
        return None

    def issuance_record(self, event: StoredEvent) -> IssuanceRecord:
        """A `document.issued` event as the verification shows it, with its inclusion proof checked."""
        p = event.body_as(DocumentIssued)
        printed = check_code(p.approval_seq, p.content_hash)  # the 核验码 the page prints beside the number
        unit = self.workflow.units.get(p.unit)
        base = IssuanceRecord(
            seq=event.seq,
            ts=event.ts.isoformat(timespec="seconds"),
            filing_id=p.filing_id,
            unit=p.unit,
            doc_type=p.doc_type,
            cert_no=p.cert_no,
            reissue_of=p.reissue_of,
            verification_code=printed,
            unit_name=unit.name if unit is not None else "",
            period=p.period,
            period_label=self._period_label_of(p.filing_id),
            round=p.round,
            missing_chars=tuple(p.missing_chars),
        )
        proven = prove(self.ledger, event, verifier_key=self._verifier_line())
        if proven is None:
            return replace(base, proof_reason_zh="账本没有签名密钥，无法给出已签名检查点（请先运行 chanquan init）。")
        checkpoint, path, proof = proven.checkpoint, proven.path, proven.to_json()
        if not verify_inclusion(event.leaf_hash, event.leaf_index, checkpoint.size, path, checkpoint.root):
            return replace(base, proof=proof, proof_reason_zh="签发记录的包含证明与检查点的根哈希不符：账本已被篡改。")
        if self.ledger_pub is not None and self.ledger_pub.exists():
            try:
                note = open_note(checkpoint.note, load_verifier(self.ledger_pub))
            except Exception as exc:
                return replace(base, proof=proof, proof_reason_zh=f"检查点签名无效：{exc}")
            if note.root != checkpoint.root or note.size != checkpoint.size:
                return replace(base, proof=proof, proof_reason_zh="检查点签名内容与账本根哈希不符。")
        return replace(base, proof=proof, proof_ok=True)

    def _verifier_line(self) -> str | None:
        if self.ledger_pub is None or not self.ledger_pub.exists():
            return None
        return self.ledger_pub.read_text(encoding="utf-8").strip()

    def verify(
        self, pdf: bytes, *, expect_unit: str | None = None, expect_number: str | None = None
    ) -> VerificationReport:
        """The three checks of `verify_document`, plus the unit and number the checker expects, if given."""
        roots = [path for path in self.identity.trust_roots if path.exists()]
        if not roots:
            missing = self.identity.trust_roots[0] if self.identity.trust_roots else self.identity.pkcs12
            message = f"找不到签章 CA 证书 {missing}，无法核验签名（请先运行 chanquan init）。"
            raise SigningIdentityError(missing, message)
        return verify_document(
            pdf,
            load_trust_roots(tuple(roots)),
            self.find_issuance,
            expect_unit=expect_unit,
            expect_number=expect_number,
        )


def _wrong_type_message(doc_type: str, unit: str, level: int) -> str:
    if doc_type == CERTIFICATE:
        return f"单位 {unit} 是第 {level} 级企业：产权登记证只出具给一级企业，该单位应打印产权登记表。"
    return f"单位 {unit} 是一级企业：一级企业出具产权登记证，不出具产权登记表。"


def _code_point(label: str) -> int:
    """`U+2EBF0` -> 0x2EBF0, for ordering the labels by code point."""
    return int(label[2:], 16)
