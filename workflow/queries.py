"""Read APIs over the projections: filings, the review queue, approved registrations, history."""

from __future__ import annotations

import json
from typing import Any

from ledger import Ledger
from validation.model import Registration
from workflow.machine import ReviewDecision
from workflow.projections import load_filing
from workflow.units import UnitsView
from workflow.views import ApprovedRegistration, FilingSummary, FilingView, HistoryEntry, QueueEntry

_KIND_ZH = {
    "filing.received": "收到申报",
    "filing.invalid": "校验未通过",
    "review.requested": "提交审核",
    "review.decided": "审核决定",
    "review.refused": "拒绝受理的审核回复",
    "review.unclear": "无法识别的审核回复",
    "filing.returned": "退回填报单位",
    "filing.approved": "市国资委审核通过",
    "filing.withdrawn": "撤回",
    "document.issued": "出具登记表/登记证",
}


class Queries:
    def __init__(self, ledger: Ledger, units: UnitsView) -> None:
        self.ledger = ledger
        self.units = units

    def filing(self, filing_id: str) -> FilingView | None:
        with self.ledger.reader() as conn:
            state = load_filing(conn, filing_id.strip().upper())
        if state is None:
            return None
        return FilingView(
            filing_id=state.filing_id,
            unit=state.unit,
            filer=state.filer,
            round=state.round,
            state=state.status,
            period=state.period,
            channel=state.channel,
            reply_to=state.reply_to,
            level=state.level,
            review_unit=state.review_unit,
            reviewers=list(state.reviewers),
            registration_data=state.registration,
            workbook_blob=state.workbook_blob,
            received_at=state.received_at,
            updated_at=state.updated_at,
            decisions=list(state.decisions),
            documents=list(state.documents),
            history=self.review_history(state.filing_id),
        )

    def filings(self, state: str | None = None, unit: str | None = None) -> list[FilingSummary]:
        sql = (
            "SELECT f.filing_id, f.unit, coalesce(u.name, ''), f.filer, f.period, f.round, f.status, f.level,"
            " f.review_unit, f.updated_at FROM wf_filings f LEFT JOIN wf_units u ON u.code = f.unit"
        )
        conditions: list[str] = []
        params: list[Any] = []
        if state:
            conditions.append("f.status = ?")
            params.append(state)
        if unit:
            conditions.append("(f.unit = ? OR f.filer = ?)")
            params += [unit.strip().upper(), unit.strip().upper()]
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        sql += " ORDER BY f.filing_id"
        with self.ledger.reader() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [
            FilingSummary(
                filing_id=r[0],
                unit=r[1],
                unit_name=r[2],
                filer=r[3],
                period=r[4],
                round=int(r[5]),
                state=r[6],
                level=int(r[7]),
                review_unit=r[8],
                updated_at=r[9],
            )
            for r in rows
        ]

    def queue(self, unit: str) -> list[QueueEntry]:
        """What waits for the reviewers of `unit`, oldest first."""
        with self.ledger.reader() as conn:
            rows = conn.execute(
                "SELECT q.filing_id, q.round, q.level, q.unit, f.unit, coalesce(u.name, ''), f.period, q.reviewers,"
                " q.requested_at FROM wf_queue q JOIN wf_filings f ON f.filing_id = q.filing_id"
                " LEFT JOIN wf_units u ON u.code = f.unit WHERE q.unit = ? ORDER BY q.requested_seq",
                (unit.strip().upper(),),
            ).fetchall()
        return [
            QueueEntry(r[0], int(r[1]), int(r[2]), r[3], r[4], r[5], r[6], list(json.loads(r[7])), r[8]) for r in rows
        ]

    def all_queued(self) -> list[QueueEntry]:
        """Every waiting step (for reminders)."""
        with self.ledger.reader() as conn:
            units = [str(r[0]) for r in conn.execute("SELECT DISTINCT unit FROM wf_queue").fetchall()]
        return [entry for code in units for entry in self.queue(code)]

    def last_approved(self, unit: str, period: str | None = None) -> Registration | None:
        """The unit's registration approved for `period` (ISO date), or its latest approved one."""
        data = self.last_approved_data(unit, period)
        return None if data is None else Registration.from_canonical(data)

    def last_approved_data(self, unit: str, period: str | None = None) -> dict[str, Any] | None:
        sql = "SELECT registration FROM wf_registrations WHERE unit = ?"
        params: list[Any] = [unit.strip().upper()]
        if period:
            sql += " AND period = ?"
            params.append(period)
        sql += " ORDER BY period DESC, approved_seq DESC LIMIT 1"
        with self.ledger.reader() as conn:
            row = conn.execute(sql, params).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def approved_registrations(self, search: str | None = None) -> list[ApprovedRegistration]:
        """Approved registrations by unit and period; `search` matches unit or enterprise names."""
        sql = (
            "SELECT r.filing_id, r.unit, coalesce(u.name, r.ent_name), r.period, r.round, r.approved_at,"
            " coalesce(u.level, 0) FROM wf_registrations r LEFT JOIN wf_units u ON u.code = r.unit"
        )
        params: list[Any] = []
        if search and search.strip():
            sql += " WHERE u.name LIKE ? OR r.ent_name LIKE ? OR r.unit = ?"
            pattern = f"%{search.strip()}%"
            params += [pattern, pattern, search.strip().upper()]
        sql += " ORDER BY r.unit, r.period, r.approved_seq"
        with self.ledger.reader() as conn:
            rows = conn.execute(sql, params).fetchall()
        out = []
        for r in rows:
            first = self.units.first_level_of(r[1])
            out.append(
                ApprovedRegistration(r[0], r[1], r[2], r[3], int(r[4]), r[5], int(r[6]), first.code if first else "")
            )
        return out

    def account_facts(self, username: str) -> dict[str, Any] | None:
        """Public facts of an account from the `wf_accounts` projection (never a credential)."""
        with self.ledger.reader() as conn:
            row = conn.execute(
                "SELECT unit, created_at, must_change, password_changed_at, locked_at, locked_until, reset_at"
                " FROM wf_accounts WHERE username = ?",
                (username,),
            ).fetchone()
        if row is None:
            return None
        keys = ("unit", "created_at", "must_change", "password_changed_at", "locked_at", "locked_until", "reset_at")
        return dict(zip(keys, row, strict=True))

    def review_history(self, filing_id: str) -> list[HistoryEntry]:
        """Every event of the filing in order, with opinions, reviewers and times."""
        entries = []
        for event in self.ledger.events(subject=filing_id.strip().upper()):
            p = event.payload
            entries.append(
                HistoryEntry(
                    seq=event.seq,
                    at=event.ts.isoformat(timespec="seconds"),
                    kind=event.kind,
                    actor=event.actor,
                    round=int(p.get("round", 0) or 0),
                    level=int(p.get("level", 0) or 0),
                    unit=str(p.get("unit", p.get("by", "")) or ""),
                    decision=str(p.get("decision", "")),
                    opinion=str(p.get("opinion", "")),
                    text_zh=_describe(event.kind, p),
                )
            )
        return entries


def _describe(kind: str, p: dict[str, Any]) -> str:
    label = _KIND_ZH.get(kind, kind)
    if kind == "filing.received":
        return f"{label}（第 {p.get('round')} 轮，填报单位 {p.get('filer')}，渠道 {p.get('channel')}）"
    if kind == "filing.invalid":
        return f"{label}：{len(p.get('findings', []))} 项问题"
    if kind == "review.requested":
        who = "、".join(p.get("reviewers", [])) or "（该单位尚未设置审核人）"
        return f"{label}：第 {p.get('level')} 级审核单位 {p.get('unit')}，审核人 {who}"
    if kind == "review.decided":
        verdict = "通过" if p.get("decision") == ReviewDecision.APPROVE.value else "退回"
        return f"{label}：{p.get('reviewer')} {verdict}，意见：{p.get('opinion') or '（无）'}"
    if kind == "review.refused":
        return f"{label}：{p.get('sender')}，原因：{p.get('reason')}"
    if kind == "filing.returned":
        return f"{label}：由 {p.get('by')} 退回，意见：{p.get('opinion')}"
    if kind == "filing.withdrawn":
        return f"{label}：{p.get('reason') or ''}"
    if kind == "document.issued":
        return f"{label}：{p.get('doc_type', '')} {p.get('cert_no', '')}"
    return label
