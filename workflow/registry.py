"""Changes to the unit tree: add, import, move, contacts, designation, overseas user names.

Every change is a `unit.*` event; the `wf_units` projection is what `UnitsView` reads. A
change is validated against the tree as it stands, under the workflow's lock, and all
events of one command (an import of a thousand rows included) go in one `append_many`,
so nothing is ever half-applied.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from ledger import Ledger
from ledger.events import EventBody
from workflow.accounts import AccountStore, normalize_username
from workflow.events import (
    AccountCreated,
    CredentialsMailRequested,
    DesignationApplied,
    DesignationApproved,
    DesignationRejected,
    UnitAdded,
    UnitContactsSet,
    UnitMoved,
)
from workflow.unitimport import ImportSummary, UnitRow
from workflow.units import (
    DESIGNATED,
    DESIGNATION_MODES,
    MODE_ZH,
    Designation,
    PendingDesignation,
    Reader,
    Unit,
    UnitError,
    UnitsView,
    normalize_holding,
    normalize_unit_code,
)

log = logging.getLogger(__name__)

EventSpec = tuple[EventBody, str, str]
ADMIN = "admin"


class UnitRegistry(UnitsView):
    """The unit tree: reads from the projection, changes through ledger events."""

    def __init__(
        self,
        ledger: Ledger,
        accounts: AccountStore,
        *,
        root_code: str,
        root_name: str,
        lock: threading.RLock,
        on_contacts_changed: Callable[[Unit, Unit], list[EventSpec]] | None = None,
        on_moved: Callable[[Unit, Unit, list[str]], list[EventSpec]] | None = None,
    ) -> None:
        reader: Reader = ledger.reader
        super().__init__(reader, root_code)
        self._ledger = ledger
        self._accounts = accounts
        self.root_name = root_name
        self._lock = lock
        self._on_contacts_changed = on_contacts_changed
        self._on_moved = on_moved

    # -- helpers --------------------------------------------------------------------------

    def _append(self, specs: Sequence[EventSpec]) -> None:
        if specs:
            self._ledger.append_many(list(specs))

    def ensure_root(self) -> Unit:
        """The supervising body at the root; recorded once, on first use of a data directory."""
        with self._lock:
            root = self.get(self.root_code)
            if root is None:
                self._append(
                    [
                        (
                            self._added_event(Unit(code=self.root_code, name=self.root_name, level=0, parent="")),
                            ADMIN,
                            self.root_code,
                        )
                    ]
                )
                root = self.get(self.root_code)
            assert root is not None
            return root

    @staticmethod
    def _added_event(unit: Unit) -> UnitAdded:
        return UnitAdded(
            code=unit.code,
            name=unit.name,
            parent=unit.parent,
            level=unit.level,
            overseas=unit.overseas,
            holding=unit.holding,
            filer_emails=list(unit.filer_emails),
            reviewer_emails=list(unit.reviewer_emails),
            username=unit.code,
        )

    def _parent_for(self, parent_code: str, planned: dict[str, Unit] | None = None) -> Unit:
        code = normalize_username(parent_code) or self.root_code
        parent = (planned or {}).get(code) or self.get(code)
        if parent is None:
            raise UnitError(f"上级单位 {code} 不存在，请先添加上级单位。")
        return parent

    # -- add ------------------------------------------------------------------------------

    def add(
        self,
        code: str,
        name: str,
        *,
        parent: str = "",
        holding: str = "国有全资",
        filer_emails: Sequence[str] = (),
        reviewer_emails: Sequence[str] = (),
        actor: str = ADMIN,
    ) -> Unit:
        """A domestic unit with its account (user name = code, initial password = code, must change)."""
        self.ensure_root()
        normalized, problem = normalize_unit_code(code)
        if problem:
            raise UnitError(problem)
        held = normalize_holding(holding)
        if held is None:
            raise UnitError(f"持股类型“{holding}”无效，应为国有全资、国有绝对控股、国有实际控制或国有参股。")
        if not name.strip():
            raise UnitError("单位名称不能为空。")
        with self._lock:
            if self.get(normalized) is not None:
                raise UnitError(f"单位 {normalized} 已存在。")
            up = self._parent_for(parent)
            event = self._added_event(
                Unit(
                    code=normalized,
                    name=name.strip(),
                    level=up.level + 1,
                    parent=up.code,
                    holding=held,
                    filer_emails=[e.lower() for e in filer_emails],
                    reviewer_emails=[e.lower() for e in reviewer_emails],
                )
            )
            self._append(
                [(event, actor, normalized), (AccountCreated(username=normalized, unit=normalized), actor, normalized)]
            )
            self._accounts.create(normalized)
        log.info(UnitAdded.kind, extra={"unit": normalized})
        unit = self.get(normalized)
        assert unit is not None
        return unit

    def add_overseas(
        self,
        name: str,
        *,
        parent: str,
        holding: str = "国有全资",
        filer_emails: Sequence[str] = (),
        reviewer_emails: Sequence[str] = (),
        actor: str = ADMIN,
    ) -> Unit:
        """An overseas unit: assigned user name, account, and a request to mail it to the first-level."""
        self.ensure_root()
        held = normalize_holding(holding)
        if held is None:
            raise UnitError(f"持股类型“{holding}”无效。")
        if not name.strip():
            raise UnitError("单位名称不能为空。")
        with self._lock:
            up = self._parent_for(parent)
            if up.is_root:
                raise UnitError("境外单位须挂在一级企业或其下属单位之下（请用 --parent 指定上级单位）。")
            first_level = up if up.level == 1 else self.first_level_of(up.code)
            assert first_level is not None
            draft = Unit(
                code="",
                name=name.strip(),
                level=up.level + 1,
                parent=up.code,
                holding=held,
                filer_emails=list(filer_emails),
                reviewer_emails=list(reviewer_emails),
            )
            specs = self._overseas_events(draft, up, first_level, actor, set())
            self._append(specs)
            username = str(specs[0][2])
            self._accounts.create(username)
        unit = self.get(username)
        assert unit is not None
        return unit

    def _overseas_events(
        self, draft: Unit, up: Unit, first_level: Unit, actor: str, taken: set[str]
    ) -> list[EventSpec]:
        """Events adding one overseas unit under `up`; `taken` holds names assigned earlier in the same command.

        A draft that already carries a user name (imported from a system that assigned it) keeps it.
        """
        if draft.code:
            username = draft.code
        else:
            username = self.next_overseas_username(first_level)
            prefix = username[:-4]
            serial = int(username[-4:])
            for name_taken in taken:
                if name_taken.startswith(prefix) and name_taken[len(prefix) :].isdigit():
                    serial = max(serial, int(name_taken[len(prefix) :]) + 1)
            username = f"{prefix}{serial:04d}"
        taken.add(username)
        unit = Unit(
            **{
                **draft.__dict__,
                "code": username,
                "username": username,
                "parent": up.code,
                "level": up.level + 1,
                "overseas": True,
            }
        )
        request = CredentialsMailRequested(
            unit=username, username=username, first_level=first_level.code, recipients=list(first_level.filer_emails)
        )
        return [
            (self._added_event(unit), actor, username),
            (AccountCreated(username=username, unit=username), actor, username),
            (request, actor, username),
        ]

    # -- change ---------------------------------------------------------------------------

    def set_contacts(
        self,
        code: str,
        *,
        filer_emails: Sequence[str] | None = None,
        reviewer_emails: Sequence[str] | None = None,
        actor: str = ADMIN,
    ) -> Unit:
        with self._lock:
            unit = self._must_get(code)
            after = Unit(
                **{
                    **unit.__dict__,
                    "filer_emails": unit.filer_emails if filer_emails is None else [e.lower() for e in filer_emails],
                    "reviewer_emails": unit.reviewer_emails
                    if reviewer_emails is None
                    else [e.lower() for e in reviewer_emails],
                }
            )
            self._append(self._contacts_events(unit, after, actor))
        return self._must_get(code)

    def _contacts_events(self, before: Unit, after: Unit, actor: str) -> list[EventSpec]:
        event = UnitContactsSet(
            code=before.code, filer_emails=after.filer_emails, reviewer_emails=after.reviewer_emails
        )
        specs: list[EventSpec] = [(event, actor, before.code)]
        if self._on_contacts_changed is not None:
            specs += self._on_contacts_changed(before, after)
        return specs

    def move(self, code: str, new_parent: str, *, actor: str = ADMIN) -> Unit:
        with self._lock:
            unit = self._must_get(code)
            if unit.is_root:
                raise UnitError("国资委（根节点）不能移动。")
            up = self._parent_for(new_parent)
            if up.code == unit.code or any(a.code == unit.code for a in self.ancestors(up.code)):
                raise UnitError(f"不能把单位 {unit.code} 移到它自己或它的下级单位 {up.code} 之下。")
            if up.code == unit.parent:
                return unit
            self._append(self._move_events(unit, up, actor))
        return self._must_get(code)

    def _move_events(self, unit: Unit, up: Unit, actor: str) -> list[EventSpec]:
        event = UnitMoved(code=unit.code, old_parent=unit.parent, new_parent=up.code, new_level=up.level + 1)
        specs: list[EventSpec] = [(event, actor, unit.code)]
        if self._on_moved is not None:
            specs += self._on_moved(unit, up, [u.code for u in self.subtree(unit.code)])
        return specs

    def apply_designation(
        self, first_level: str, mode: str, *, unit: str = "", reason: str, actor: str = ADMIN
    ) -> Designation:
        """Record a first-level enterprise's application to SASAC (`designation.applied`); who files is unchanged."""
        with self._lock:
            top = self._first_level(first_level)
            if mode not in DESIGNATION_MODES:
                raise UnitError(
                    f"填报方式“{mode}”无效，应为 holder（产权持有单位填报）、designated（指定单位填报）"
                    "或 self（恢复各单位自行填报）。"
                )
            if not reason.strip():
                raise UnitError("请写明申请理由（--reason）。")
            code = normalize_username(unit)
            if mode == DESIGNATED:
                if not code:
                    raise UnitError("指定单位填报须给出指定的填报单位（--unit 单位代码）。")
                designated = self._must_get(code)
                if self.first_level_of(designated.code) != top:
                    raise UnitError(f"指定的填报单位{designated.label}须属于一级企业{top.label}的下属范围。")
            elif code:
                raise UnitError(f"{MODE_ZH[mode]}不指定填报单位，请去掉 --unit。")
            current = self.designation(top.code)
            if current.pending is not None:
                raise UnitError(
                    f"一级企业{top.label}已有一份待批准的申请（{current.pending.mode_zh}，{current.pending.at}），"
                    "请先由市国资委批准或驳回。"
                )
            if (current.mode, current.unit) == (mode, code):
                raise UnitError(f"一级企业{top.label}现行的填报方式已是{MODE_ZH[mode]}，无需申请。")
            event = DesignationApplied(first_level=top.code, mode=mode, unit=code, reason=reason.strip(), by=actor)
            self._append([(event, actor, top.code)])
        return self.designation(top.code)

    def approve_designation(self, first_level: str, *, reference: str, actor: str = ADMIN) -> Designation:
        """SASAC approves the pending application (`designation.approved`): from now on it decides who files."""
        with self._lock:
            top = self._first_level(first_level)
            pending = self._pending(top, "批准")
            if not reference.strip():
                raise UnitError("请填写市国资委的批准文号（--reference）。")
            if pending.mode == DESIGNATED:
                designated = self.get(pending.unit)
                if designated is None or self.first_level_of(designated.code) != top:
                    raise UnitError(
                        f"申请指定的填报单位 {pending.unit} 已不在一级企业{top.label}的下属范围内，不能批准；"
                        "请驳回后重新申请。"
                    )
            event = DesignationApproved(
                first_level=top.code,
                mode=pending.mode,
                unit=pending.unit,
                reference=reference.strip(),
                by=actor,
                application_seq=pending.seq,
            )
            self._append([(event, actor, top.code)])
        return self.designation(top.code)

    def reject_designation(self, first_level: str, *, opinion: str, actor: str = ADMIN) -> Designation:
        """SASAC rejects the pending application (`designation.rejected`); who files stays as it was."""
        with self._lock:
            top = self._first_level(first_level)
            pending = self._pending(top, "驳回")
            if not opinion.strip():
                raise UnitError("驳回须写明意见（--opinion）。")
            event = DesignationRejected(
                first_level=top.code, opinion=opinion.strip(), by=actor, application_seq=pending.seq
            )
            self._append([(event, actor, top.code)])
        return self.designation(top.code)

    def _first_level(self, code: str) -> Unit:
        top = self._must_get(code)
        if top.level != 1:
            raise UnitError(f"{top.label}不是一级企业，只有一级企业可以申请改变下属单位的填报方式。")
        return top

    def _pending(self, top: Unit, action: str) -> PendingDesignation:
        pending = self.designation(top.code).pending
        if pending is None:
            raise UnitError(f"一级企业{top.label}没有待批准的填报方式申请，无可{action}。")
        return pending

    def _must_get(self, code: str) -> Unit:
        unit = self.get(normalize_username(code))
        if unit is None:
            raise UnitError(f"单位 {normalize_username(code)} 不存在。")
        return unit

    # -- import ---------------------------------------------------------------------------

    def import_rows(self, rows: Sequence[UnitRow], *, actor: str = ADMIN) -> ImportSummary:
        """Apply a whole import file, or nothing: per-row problems raise `UnitImportError`."""
        from workflow.unitimport import ImportPlanner

        self.ensure_root()
        with self._lock:
            summary, specs = ImportPlanner(self, actor).plan(rows)
            self._append(specs)
            self._accounts.create_many([body.username for body, _, _ in specs if isinstance(body, AccountCreated)])
        summary.events = len(specs)
        log.info("units.imported", extra={"added": len(summary.added), "changed": len(summary.changed)})
        return summary
