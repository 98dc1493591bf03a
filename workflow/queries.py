"""Read APIs over the projections: filings, the review queue, approved registrations, history."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from ledger import EventBody, Ledger, StoredEvent, UnknownKindError
from validation.model import Registration
from workflow.batch import CHANNEL_LABELS
from workflow.events import (
    FilingApproved,
    FilingInvalid,
    FilingReceived,
    FilingReturned,
    FilingWithdrawn,
    ReviewDecided,
    ReviewRefused,
    ReviewRequested,
)
from workflow.foreign_kinds import DOCUMENT_ISSUED, REVIEW_UNCLEAR, body_of, issued_document
from workflow.machine import ReviewDecision
from workflow.projections import load_filing
from workflow.units import UnitsView
from workflow.views import (
    ApprovedRegistration,
    FilingFile,
    FilingSummary,
    FilingView,
    HistoryEntry,
    PreviousApproval,
    QueueEntry,
    ReturnedEntry,
    ReviewedEntry,
)

_KIND_ZH = {
    FilingReceived.kind: "收到申报",
    FilingInvalid.kind: "校验未通过",
    ReviewRequested.kind: "提交审核",
    ReviewDecided.kind: "审核决定",
    ReviewRefused.kind: "拒绝受理的审核回复",
    REVIEW_UNCLEAR: "无法识别的审核回复",
    FilingReturned.kind: "退回填报单位",
    FilingApproved.kind: "市国资委审核通过",
    FilingWithdrawn.kind: "撤回",
    DOCUMENT_ISSUED: "出具登记表/登记证",
}


# a unit's waiting steps (wf_queue carries the filing's unit and period: no filing state is read)
_QUEUE = (
    "SELECT q.filing_id, q.round, q.level, q.unit, q.filing_unit, coalesce(u.name, ''), q.period, q.reviewers,"
    " q.requested_at FROM wf_queue q LEFT JOIN wf_units u ON u.code = q.filing_unit WHERE q.unit = ?"
)


class Queries:
    def __init__(self, ledger: Ledger, units: UnitsView) -> None:
        self.ledger = ledger
        self.units = units

    def filing(self, filing_id: str) -> FilingView | None:
        with self.ledger.reader() as conn:
            state = load_filing(conn, filing_id.strip().upper())
        if state is None:
            return None
        history, files, findings = self._record(state.filing_id, state.round)
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
            history=history,
            files=files,
            findings=findings,
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
            rows = conn.execute(_QUEUE + " ORDER BY q.requested_seq", (unit.strip().upper(),)).fetchall()
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

    def approval(self, filing_id: str, round_no: int) -> StoredEvent | None:
        """The `filing.approved` event of that round of the filing, if it was approved (what a document
        prints its verification code and date from)."""
        for event in self.ledger.events(subject=filing_id, kind=FilingApproved.kind):
            if event.body_as(FilingApproved).round == round_no:
                return event
        return None

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
        events = [(event, _body(event)) for event in self.ledger.events(subject=filing_id.strip().upper())]
        names = self.unit_names(code for _event, body in events for code in _units_named(body))
        return [_history_entry(event, body, names) for event, body in events]

    def _record(self, filing_id: str, current_round: int) -> tuple[list[HistoryEntry], list[FilingFile], list[Any]]:
        """History, files and the current round's findings from one read of the filing's events."""
        events = [(event, _body(event)) for event in self.ledger.events(subject=filing_id)]
        names = self.unit_names(code for _event, body in events for code in _units_named(body))
        history: list[HistoryEntry] = []
        files: list[FilingFile] = []
        findings: list[Any] = []
        for event, body in events:
            history.append(_history_entry(event, body, names))
            files.extend(_files_of(event, body))
            if isinstance(body, FilingReceived):
                findings = []
            elif isinstance(body, FilingInvalid) and body.round == current_round:
                findings = list(body.findings)
        return history, files, findings

    # -- the portal's lists (each one indexed query over the projections) -------------------

    def queue_page(self, unit: str, limit: int = 100) -> tuple[int, list[QueueEntry]]:
        """How many steps wait for `unit`'s reviewers, and the oldest `limit` of them."""
        code = unit.strip().upper()
        with self.ledger.reader() as conn:
            (total,) = conn.execute("SELECT count(*) FROM wf_queue WHERE unit = ?", (code,)).fetchone()
            rows = conn.execute(_QUEUE + " ORDER BY q.requested_seq LIMIT ?", (code, limit)).fetchall()
        entries = [QueueEntry(r[0], int(r[1]), int(r[2]), r[3], r[4], r[5], r[6], _addresses(r[7]), r[8]) for r in rows]
        return int(total), entries

    def filings_of(self, unit: str, limit: int = 100) -> tuple[int, list[FilingSummary]]:
        """Filings `unit` filed or that were filed for it: how many, and the `limit` last updated."""
        code = unit.strip().upper()
        with self.ledger.reader() as conn:  # (`unit = ? OR filer = ?`: both indexes, no temporary union)
            (total,) = conn.execute(
                "SELECT count(*) FROM wf_filings WHERE unit = ? OR filer = ?", (code, code)
            ).fetchone()
            rows = conn.execute(
                "SELECT f.filing_id, f.unit, coalesce(u.name, ''), f.filer, f.period, f.round, f.status, f.level,"
                " f.review_unit, f.updated_at FROM wf_filings f LEFT JOIN wf_units u ON u.code = f.unit"
                " WHERE f.unit = ? OR f.filer = ? ORDER BY f.updated_at DESC, f.filing_id DESC LIMIT ?",
                (code, code, limit),
            ).fetchall()
        summaries = [FilingSummary(r[0], r[1], r[2], r[3], r[4], int(r[5]), r[6], int(r[7]), r[8], r[9]) for r in rows]
        return int(total), summaries

    def returned_for(self, unit: str, limit: int = 100) -> list[ReturnedEntry]:
        """`unit`'s filings (filed by or for it) that stand returned, with the returning decision's opinion."""
        code = unit.strip().upper()
        with self.ledger.reader() as conn:
            rows = conn.execute(
                "SELECT f.filing_id, f.unit, coalesce(u.name, ''), f.period, f.round, coalesce(r.unit, ''),"
                " coalesce(ru.name, ''), coalesce(r.opinion, ''), coalesce(r.decided_at, f.updated_at)"
                " FROM wf_filings f LEFT JOIN wf_units u ON u.code = f.unit"
                " LEFT JOIN wf_reviews r ON r.seq = (SELECT max(seq) FROM wf_reviews WHERE filing_id = f.filing_id)"
                " LEFT JOIN wf_units ru ON ru.code = r.unit"
                " WHERE (f.unit = ? OR f.filer = ?) AND f.status = 'returned'"
                " ORDER BY f.updated_at DESC, f.filing_id DESC LIMIT ?",
                (code, code, limit),
            ).fetchall()
        return [ReturnedEntry(r[0], r[1], r[2], r[3], int(r[4]), r[5], r[6], r[7], r[8]) for r in rows]

    def reviewed_by(self, unit: str, limit: int = 20) -> list[ReviewedEntry]:
        """The last decisions `unit`'s reviewers took, newest first, with each filing's state now."""
        with self.ledger.reader() as conn:
            rows = conn.execute(
                "SELECT r.filing_id, f.unit, coalesce(u.name, ''), f.period, r.round, r.level, r.decision, r.opinion,"
                " r.decided_at, f.status FROM wf_reviews r JOIN wf_filings f ON f.filing_id = r.filing_id"
                " LEFT JOIN wf_units u ON u.code = f.unit WHERE r.unit = ? ORDER BY r.seq DESC LIMIT ?",
                (unit.strip().upper(), limit),
            ).fetchall()
        return [ReviewedEntry(r[0], r[1], r[2], r[3], int(r[4]), int(r[5]), r[6], r[7], r[8], r[9]) for r in rows]

    def has_reviewed(self, unit: str, filing_id: str) -> bool:
        """Whether `unit`'s reviewers ever decided a step of the filing."""
        with self.ledger.reader() as conn:
            row = conn.execute(
                "SELECT 1 FROM wf_reviews WHERE filing_id = ? AND unit = ? LIMIT 1",
                (filing_id.strip().upper(), unit.strip().upper()),
            ).fetchone()
        return row is not None

    def group_status_counts(self) -> dict[str, dict[str, int]]:
        """Filings by state in each first-level enterprise's tree (itself included), counted by the unit
        filed for; a first-level enterprise with no filing maps to an empty dict. Read from the counts
        the filings projection keeps (`wf_group_counts`), not by walking the tree."""
        with self.ledger.reader() as conn:
            firsts = [str(r[0]) for r in conn.execute("SELECT code FROM wf_units WHERE level = 1")]
            rows = conn.execute("SELECT grp, status, filings FROM wf_group_counts").fetchall()
        counts: dict[str, dict[str, int]] = {code: {} for code in firsts}
        for group, status, count in rows:
            counts.setdefault(str(group), {})[str(status)] = int(count)
        return counts

    def subtree_status_counts(self, first_level: str) -> dict[str, int]:
        """Filings by state over the units below a first-level enterprise (itself excluded), counted by
        the unit filed for: its group's kept counts less its own filings. ValueError for any other unit
        (only first-level trees are counted ahead)."""
        code = first_level.strip().upper()
        with self.ledger.reader() as conn:
            level = conn.execute("SELECT level FROM wf_units WHERE code = ?", (code,)).fetchone()
            if level is None or int(level[0]) != 1:
                raise ValueError(f"{code} is not a first-level enterprise")
            counts = dict(conn.execute("SELECT status, filings FROM wf_group_counts WHERE grp = ?", (code,)))
            own = conn.execute("SELECT status, count(*) FROM wf_filings WHERE unit = ? GROUP BY status", (code,))
            for status, count in own:
                counts[status] = counts.get(status, 0) - count
        return {str(status): int(count) for status, count in counts.items() if count}

    def previous_approved(self, unit: str, filing_id: str) -> PreviousApproval | None:
        """The registration a filing is compared with: the unit's latest approved one other than this
        filing (approved before it, when it was approved itself), named by its filing and approval."""
        code, fid = unit.strip().upper(), filing_id.strip().upper()
        with self.ledger.reader() as conn:
            own = conn.execute("SELECT approved_seq FROM wf_registrations WHERE filing_id = ?", (fid,)).fetchone()
            row = conn.execute(
                "SELECT filing_id, approved_seq, registration FROM wf_registrations"
                " WHERE unit = ? AND filing_id != ? AND approved_seq < ?"
                " ORDER BY period DESC, approved_seq DESC LIMIT 1",
                (code, fid, own[0] if own else 2**62),
            ).fetchone()
        return None if row is None else PreviousApproval(str(row[0]), int(row[1]), str(row[2]))

    def unit_names(self, codes: Iterable[str]) -> dict[str, str]:
        """The names of those units, in one read; a code no unit has is left out."""
        wanted = sorted({code for code in codes if code})
        if not wanted:
            return {}
        marks = ", ".join("?" * len(wanted))
        with self.ledger.reader() as conn:
            rows = conn.execute(f"SELECT code, name FROM wf_units WHERE code IN ({marks})", wanted).fetchall()
        return {str(code): str(name) for code, name in rows}


@lru_cache(maxsize=4096)
def _address_tuple(text: str) -> tuple[str, ...]:
    return tuple(json.loads(text))


def _addresses(text: str) -> list[str]:
    """A stored JSON list of reviewer addresses (the same few lists recur on every row of a queue)."""
    return list(_address_tuple(text))


def _body(event: StoredEvent) -> EventBody | None:
    """The typed body (a payload view for a foreign kind, `body_of`); None for a kind this code no longer
    declares (an old ledger stays listable)."""
    try:
        return body_of(event)
    except UnknownKindError:
        return None


def _history_entry(event: StoredEvent, body: EventBody | None, names: Mapping[str, str]) -> HistoryEntry:
    """One line of a filing's history: round, level, unit, decision and opinion where the kind has them."""
    round_no = level = 0
    unit = decision = opinion = ""
    match body:
        case FilingReceived() | FilingApproved():
            round_no, unit = body.round, body.unit
        case FilingInvalid():
            round_no = body.round
        case ReviewRequested():
            round_no, level, unit = body.round, body.level, body.unit
        case ReviewDecided():
            round_no, level, unit, decision, opinion = body.round, body.level, body.unit, body.decision, body.opinion
        case FilingReturned():
            round_no, level, unit, opinion = body.round, body.level, body.by, body.opinion
        case FilingWithdrawn():
            round_no, unit = body.round, body.by
        case ReviewRefused():
            decision = body.decision  # what the refused reply asked for
        case EventBody():
            issued = issued_document(body)
            if issued is not None:
                round_no, unit = issued.round, issued.unit
    return HistoryEntry(
        seq=event.seq,
        at=event.ts.isoformat(timespec="seconds"),
        kind=event.kind,
        actor=event.actor,
        round=round_no,
        level=level,
        unit=unit,
        decision=decision,
        opinion=opinion,
        text_zh=_describe(event.kind, body, names),
    )


def _files_of(event: StoredEvent, body: EventBody | None) -> list[FilingFile]:
    """The files one event of a filing names (a reviewer's reply mail is not one of the filing's files)."""
    at = event.ts.isoformat(timespec="seconds")
    if isinstance(body, FilingReceived):
        round_no = body.round
        label = f"登记表工作簿（第 {round_no} 轮）"
        out = [FilingFile("workbook", body.workbook_blob, round_no, at, label, 0, body.workbook_name)]
        names = body.attachment_names
        for number, blob in enumerate(body.attachment_blobs, start=1):
            name = names[number - 1] if number <= len(names) else ""
            label = f"附件 {number}（第 {round_no} 轮）"
            out.append(FilingFile("attachment", blob, round_no, at, label, number, name))
        return out
    if isinstance(body, FilingInvalid) and body.annotated_blob:
        label = f"校验批注工作簿（第 {body.round} 轮）"
        return [FilingFile("annotated", body.annotated_blob, body.round, at, label)]
    issued = None if body is None else issued_document(body)
    if issued is not None and issued.pdf_blob:
        label = f"{issued.doc_type} {issued.cert_no}".strip() or "登记文书"
        return [FilingFile("document", issued.pdf_blob, issued.round, at, label)]
    return []


def _units_named(body: EventBody | None) -> tuple[str, ...]:
    """The unit codes an event's history line shows (a portal decision's reviewer is its unit's account)."""
    match body:
        case FilingReceived():
            return (body.filer,)
        case ReviewRequested():
            return (body.unit,)
        case ReviewDecided() if body.channel == "web":
            return (body.reviewer,)
        case ReviewRefused() if body.channel == "web":
            return (body.sender,)
        case FilingReturned():
            return (body.by,)
    return ()


def _named(code: str, names: Mapping[str, str]) -> str:
    """A unit as the history shows it: “name（code）”, or the code alone when no unit has it."""
    name = names.get(code, "")
    return f"{name}（{code}）" if name else code


def _describe(kind: str, body: EventBody | None, names: Mapping[str, str]) -> str:
    label = _KIND_ZH.get(kind, kind)
    match body:
        case FilingReceived():
            channel = CHANNEL_LABELS.get(body.channel, body.channel)
            return f"{label}（第 {body.round} 轮，填报单位 {_named(body.filer, names)}，渠道 {channel}）"
        case FilingInvalid():
            return f"{label}：{len(body.findings)} 项问题"
        case ReviewRequested():
            who = "、".join(body.reviewers) or "（该单位尚未设置审核人）"
            return f"{label}：第 {body.level} 级审核单位 {_named(body.unit, names)}，审核人 {who}"
        case ReviewDecided():
            verdict = "通过" if body.decision == ReviewDecision.APPROVE.value else "退回"
            return f"{label}：{_named(body.reviewer, names)} {verdict}，意见：{body.opinion or '（无）'}"
        case ReviewRefused():
            return f"{label}：{_named(body.sender, names)}，原因：{body.reason}"
        case FilingReturned():
            return f"{label}：由 {_named(body.by, names)} 退回，意见：{body.opinion}"
        case FilingWithdrawn():
            return f"{label}：{body.reason or ''}"
        case EventBody():
            issued = issued_document(body)
            if issued is not None:
                return f"{label}：{issued.doc_type} {issued.cert_no}"
    return label
