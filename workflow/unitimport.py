"""Planning a units import: every row checked, parents resolved in any order, all or nothing.

The planner only computes events; `UnitRegistry.import_rows` appends them in one
`append_many` under the workflow's lock, so a file with one bad row records nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from workflow.accounts import normalize_username
from workflow.events import AccountCreated, UnitUpdated
from workflow.units import Unit, UnitError, level_name, normalize_holding, normalize_unit_code, split_emails

if TYPE_CHECKING:
    from workflow.registry import EventSpec, UnitRegistry


class UnitImportError(UnitError):
    """An import was refused as a whole; `problems` lists each bad row."""

    def __init__(self, problems: list[tuple[int, str]]) -> None:
        super().__init__(f"导入失败，共 {len(problems)} 处错误，未导入任何单位。")
        self.problems = problems


@dataclass
class UnitRow:
    """One row of a units import file, as text."""

    row: int
    code: str
    name: str
    parent_code: str
    level: str = ""
    overseas: str = ""
    holding: str = ""
    filer_emails: str = ""
    reviewer_emails: str = ""


@dataclass(frozen=True)
class _Draft:
    row: UnitRow
    unit: Unit  # parent holds the normalized parent code; level is filled in once the parent is known


@dataclass
class ImportSummary:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    events: int = 0


@dataclass
class _ImportPlan:
    actor: str
    summary: ImportSummary = field(default_factory=ImportSummary)
    specs: list[EventSpec] = field(default_factory=list)
    planned: dict[str, Unit] = field(default_factory=dict)  # the tree as it will be, for rows whose parent comes later
    taken: set[str] = field(default_factory=set)  # overseas user names assigned in this import
    problems: list[tuple[int, str]] = field(default_factory=list)


_TRUE = {"是", "y", "yes", "true", "1", "√", "境外"}
_FALSE = {"", "否", "n", "no", "false", "0", "境内"}


class ImportPlanner:
    def __init__(self, registry: UnitRegistry, actor: str) -> None:
        self.registry = registry
        self.actor = actor

    def plan(self, rows: Sequence[UnitRow]) -> tuple[ImportSummary, list[EventSpec]]:
        """Events for the whole file, or `UnitImportError` listing every bad row."""
        plan = _ImportPlan(actor=self.actor)
        self._resolve(self._drafts(rows, plan), plan)
        if plan.problems:
            raise UnitImportError(sorted(plan.problems))
        return plan.summary, plan.specs

    def _drafts(self, rows: Sequence[UnitRow], plan: _ImportPlan) -> list[_Draft]:
        """Every row that reads as a unit, once per code; the others go to `plan.problems`."""
        drafts: list[_Draft] = []
        seen: dict[str, int] = {}
        for row in rows:
            draft_or_problem = self._parse_row(row)
            if isinstance(draft_or_problem, str):
                plan.problems.append((row.row, draft_or_problem))
                continue
            if draft_or_problem is None:
                continue
            code = draft_or_problem.unit.code
            if code and code in seen:
                plan.problems.append((row.row, f"单位 {code} 与第 {seen[code]} 行重复"))
                continue
            if code:
                seen[code] = row.row
            drafts.append(draft_or_problem)
        return drafts

    def _resolve(self, drafts: list[_Draft], plan: _ImportPlan) -> None:
        """Plan the drafts in dependency order: a row waits until its parent is known (rows come in any order)."""
        pending = [d for d in drafts if d.unit.code != self.registry.root_code]
        for draft in drafts:
            if draft.unit.code == self.registry.root_code:
                self._plan_root(draft, plan)
        while pending:
            still = []
            for draft in pending:
                parent = plan.planned.get(draft.unit.parent) or self.registry.get(draft.unit.parent)
                if parent is None:
                    still.append(draft)
                    continue
                problem = self._plan_row(draft, parent, plan)
                if problem:
                    plan.problems.append((draft.row.row, problem))
            if len(still) == len(pending):
                for draft in still:
                    plan.problems.append(
                        (draft.row.row, f"上级单位 {draft.unit.parent} 不存在（文件中和系统中都没有）")
                    )
                break
            pending = still

    def _parse_row(self, row: UnitRow) -> _Draft | str | None:
        """The row as a draft unit, or a problem (Chinese)."""
        overseas_text = row.overseas.strip().lower()
        if overseas_text not in _TRUE | _FALSE:
            return f"“是否境外”值“{row.overseas}”无效，应填 是 或 否"
        overseas = overseas_text in _TRUE
        code = normalize_username(row.code)
        if code == self.registry.root_code:
            return self._parse_root_row(row)
        if not (overseas and (not code or code.startswith("JW"))):
            code, problem = normalize_unit_code(row.code)
            if problem:
                return problem
        if not row.name.strip():
            return "单位名称不能为空"
        holding = normalize_holding(row.holding)
        if holding is None:
            return f"持股类型“{row.holding}”无效，应为国有全资、国有绝对控股、国有实际控制或国有参股"
        filers, bad_f = split_emails(row.filer_emails)
        reviewers, bad_r = split_emails(row.reviewer_emails)
        if bad_f or bad_r:
            return f"邮箱地址无效：{'、'.join(bad_f + bad_r)}"
        unit = Unit(
            code=code,
            name=row.name.strip(),
            level=0,
            parent=normalize_username(row.parent_code) or self.registry.root_code,
            overseas=overseas,
            holding=holding,
            filer_emails=filers,
            reviewer_emails=reviewers,
            username=code,
        )
        return _Draft(row, unit)

    def _parse_root_row(self, row: UnitRow) -> _Draft | str | None:
        """The supervisor's own row: only its addresses are taken (its code and name are configured)."""
        filers, bad_f = split_emails(row.filer_emails)
        reviewers, bad_r = split_emails(row.reviewer_emails)
        if bad_f or bad_r:
            return f"邮箱地址无效：{'、'.join(bad_f + bad_r)}"
        root = self.registry.get(self.registry.root_code)
        if root is None:
            return None
        return _Draft(row, Unit(**{**root.__dict__, "filer_emails": filers, "reviewer_emails": reviewers}))

    def _plan_root(self, draft: _Draft, plan: _ImportPlan) -> None:
        root = self.registry.get(self.registry.root_code)
        assert root is not None
        new = draft.unit
        if (root.filer_emails, root.reviewer_emails) != (new.filer_emails, new.reviewer_emails):
            plan.specs.extend(self.registry._contacts_events(root, new, plan.actor))
            plan.summary.changed.append(root.code)
        else:
            plan.summary.unchanged.append(root.code)
        plan.planned[root.code] = new

    def _plan_row(self, draft: _Draft, parent: Unit, plan: _ImportPlan) -> str | None:
        row, unit = draft.row, draft.unit
        level = parent.level + 1
        if row.level.strip() and row.level.strip() not in (str(level), level_name(level)):
            return (
                f"级次“{row.level}”与上级单位不符：上级 {parent.code} 为第 {parent.level} 级，本单位应为第 {level} 级"
            )
        unit = Unit(**{**unit.__dict__, "level": level})
        existing = self.registry.get(unit.code) if unit.code else self._find_overseas(unit.name, parent.code)
        if existing is None:
            if unit.overseas:
                first_code = self._first_level_code(parent, plan.planned)
                first_level = plan.planned.get(first_code) or self.registry.get(first_code)
                if parent.is_root or first_level is None:
                    return "境外单位须挂在一级企业或其下属单位之下"
                new_specs = self.registry._overseas_events(unit, parent, first_level, plan.actor, plan.taken)
                unit = Unit(**{**unit.__dict__, "code": str(new_specs[0][2]), "username": str(new_specs[0][2])})
            else:
                new_specs = [
                    (self.registry._added_event(unit), plan.actor, unit.code),
                    (AccountCreated(username=unit.code, unit=unit.code), plan.actor, unit.code),
                ]
            plan.specs.extend(new_specs)
            plan.summary.added.append(unit.code)
            plan.planned[unit.code] = unit
            return None
        changed = False
        code = existing.code
        if (existing.name, existing.holding, existing.overseas) != (unit.name, unit.holding, unit.overseas):
            body = UnitUpdated(code=code, name=unit.name, holding=unit.holding, overseas=unit.overseas)
            plan.specs.append((body, plan.actor, code))
            changed = True
        if existing.parent != parent.code:
            plan.specs.extend(self.registry._move_events(existing, parent, plan.actor))
            changed = True
        if (existing.filer_emails, existing.reviewer_emails) != (unit.filer_emails, unit.reviewer_emails):
            after = Unit(
                **{**existing.__dict__, "filer_emails": unit.filer_emails, "reviewer_emails": unit.reviewer_emails}
            )
            plan.specs.extend(self.registry._contacts_events(existing, after, plan.actor))
            changed = True
        (plan.summary.changed if changed else plan.summary.unchanged).append(code)
        plan.planned[code] = Unit(**{**unit.__dict__, "code": code, "username": existing.username})
        return None

    def _first_level_code(self, unit: Unit, planned: dict[str, Unit]) -> str:
        current: Unit | None = unit
        while current is not None and current.level > 1:
            current = planned.get(current.parent) or self.registry.get(current.parent)
        return current.code if current is not None else ""

    def _find_overseas(self, name: str, parent: str) -> Unit | None:
        for child in self.registry.children(parent):
            if child.overseas and child.name == name:
                return child
        return None
