"""Ledger-aware rules: checks that need the unit tree and the history of approvals.

They run after validation's own rules (intake passes them as `extra_rules`, and `submit`
runs them again under the workflow's lock so that the tree cannot change in between).
Each yields findings with a stable code (listed in docs/findings.md) and never raises.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from validation.codes import is_valid_org_code
from validation.findings import ERROR, Finding, where
from validation.model import Registration, diff_registrations
from validation.spec import BACKFILL, BACKFILL_FORMS, REGISTRATION_FIELDS
from workflow.accounts import normalize_username
from workflow.units import Unit, UnitsView, level_name
from workflow.who import expected_filer

# Fields that describe this filing rather than the enterprise (the 登记信息 sheet, the contact person,
# the remarks): left out of backfill comparisons.
NOT_COMPARED = frozenset(
    {*(spec.key for spec in REGISTRATION_FIELDS), "contact_name", "contact_phone", "contact_email", "remarks"}
)
UNCHANGED, CHANGED, NEVER = "已办无变化", "已办有变化", "未办"


def subject_code(filer: str, registration: Registration | None) -> str:
    """The unit a registration is about: its organization code, else (overseas, no code) the filer."""
    if registration is not None and registration.org_code:
        return normalize_username(registration.org_code)
    if registration is not None and registration.uscc and len(normalize_username(registration.uscc)) == 18:
        return normalize_username(registration.uscc)[8:17]
    return filer


def period_of(registration: Registration | None) -> str:
    """The registration period (时期): 数据时点 for a backfill, else 经济行为日期; ISO date or ""."""
    if registration is None:
        return ""
    moment = registration.as_of_date if registration.reg_situation == BACKFILL else registration.act_date
    moment = moment or registration.as_of_date or registration.act_date
    return moment.isoformat() if moment is not None else ""


def _finding(registration: Registration, code: str, key: str, value: str, message: str) -> Finding:
    sheet, cell = registration.cell_of(key)
    return Finding(code, ERROR, sheet, cell, key, value, f"{where(sheet, cell)}：{message}")


LastApproved = Callable[[str], Registration | None]
OpenFiling = Callable[[str, str], str | None]


def tree_findings(units: UnitsView, filer: str, registration: Registration) -> Iterator[Finding]:
    """The unit is known, the filer may file it, and 企业级次 / 上级单位 match the tree."""
    code = subject_code(filer, registration)
    unit = units.get(code)
    if unit is None and registration.org_code and not is_valid_org_code(code) and not registration.overseas:
        return  # validation already reports the malformed code; "unknown unit" would only repeat it
    if unit is None:
        yield _finding(
            registration,
            "unit-unknown",
            "org_code",
            code,
            f"单位 {code} 不在单位名录中，请联系市国资委添加该单位后再填报。",
        )
        return
    should, why = expected_filer(units, unit, registration.main_investor_code)
    if should.code != filer:
        filing_unit = units.get(filer)
        who = filing_unit.label if filing_unit is not None else filer
        yield _finding(
            registration,
            "filer-not-allowed",
            "filer_org_code",
            filer,
            f"{unit.label}的产权登记应由{should.label}填报（依据：{why}）；本次填报单位{who}无权填报。",
        )
    parent = units.get(unit.parent) if unit.parent else None
    if parent is not None:
        expected_level = level_name(parent.level + 1)
        if registration.ent_level and registration.ent_level != expected_level:
            yield _finding(
                registration,
                "ent-level-mismatch",
                "ent_level",
                registration.ent_level,
                f"企业级次应为“{expected_level}”：上级单位{parent.label}为"
                f"{'市国资委' if parent.is_root else '“' + level_name(parent.level) + '”'}。",
            )
        given = normalize_username(registration.parent_org_code or "")
        if parent.is_root:
            if given and given != parent.code:
                yield _finding(
                    registration,
                    "parent-code-mismatch",
                    "parent_org_code",
                    given,
                    f"{unit.label}是一级企业，上级单位组织机构代码应不填（或填 {parent.code}）。",
                )
        elif given != parent.code:
            yield _finding(
                registration,
                "parent-code-mismatch",
                "parent_org_code",
                given,
                f"上级单位组织机构代码应为 {parent.code}（{parent.name}），与单位名录不符。",
            )


def backfill_findings(registration: Registration, previous: Registration | None) -> Iterator[Finding]:
    """已办无变化 / 已办有变化 / 未办 checked against the unit's last approved registration.

    A form that is none of the three is validation's `invalid-choice` already; comparing it with
    the history would only add a misleading follow-on (“请选择未办”).
    """
    if registration.reg_situation != BACKFILL or registration.backfill_form not in BACKFILL_FORMS:
        return
    form = registration.backfill_form
    if form == NEVER:
        if previous is not None:
            yield _finding(
                registration,
                "backfill-has-history",
                "backfill_form",
                form,
                f"产权登记形式为“未办”，但该单位已有审核通过的产权登记（{previous.ent_name or ''}）；"
                "请选择“已办无变化”或“已办有变化”。",
            )
        return
    if previous is None:
        yield _finding(
            registration,
            "backfill-no-history",
            "backfill_form",
            form,
            f"产权登记形式为“{form}”，但系统中没有该单位审核通过的产权登记；请选择“未办”。",
        )
        return
    changes = diff_registrations(previous, registration, ignore=NOT_COMPARED)
    if form == UNCHANGED and changes:
        listed = "；".join(f"{c.label}：原为“{c.old}”，现为“{c.new}”" for c in changes[:20])
        more = f"等 {len(changes)} 处" if len(changes) > 20 else ""
        yield _finding(
            registration,
            "backfill-unchanged-differs",
            "backfill_form",
            form,
            f"产权登记形式为“已办无变化”，但与上次审核通过的登记不一致：{listed}{more}。"
            "请改选“已办有变化”，或按原登记内容填写。",
        )
    elif form == CHANGED and not changes:
        yield _finding(
            registration,
            "backfill-changed-no-change",
            "backfill_form",
            form,
            "产权登记形式为“已办有变化”，但与上次审核通过的登记逐项相同；请改选“已办无变化”。",
        )


def changes_against(registration: Registration, previous: Registration | None) -> list[str]:
    """Human lines of what changed against the last approved registration (for mails and the CLI)."""
    if previous is None:
        return []
    return [f"{c.label}：{c.old} → {c.new}" for c in diff_registrations(previous, registration, ignore=NOT_COMPARED)]


def open_filing_findings(registration: Registration, unit: Unit | None, open_filing: str | None) -> Iterator[Finding]:
    if open_filing is None or unit is None:
        return
    yield _finding(
        registration,
        "filing-in-review",
        "org_code",
        unit.code,
        f"{unit.label}本时期已有申报 {open_filing} 正在审核中；请等待审核结束，或请管理员撤回后再报。",
    )


def merge_findings(first: Sequence[Finding], more: Sequence[Finding]) -> list[Finding]:
    seen = {(f.code, f.sheet, f.cell, f.field) for f in first}
    return list(first) + [f for f in more if (f.code, f.sheet, f.cell, f.field) not in seen]


def findings_key(findings: list[Finding]) -> tuple[tuple[str, ...], ...]:
    return tuple((f.code, f.severity, f.sheet, f.cell, f.field, f.value, f.message) for f in findings)


def finding_json(finding: Finding) -> dict[str, str]:
    return {k: str(v) for k, v in finding.as_json().items()}


def no_reviewer_finding(unit: str) -> Finding:
    return Finding(
        "no-reviewer",
        "error",
        "",
        "",
        "org_code",
        unit,
        f"单位 {unit} 没有上级审核单位（市国资委本身不填报产权登记）。",
    )
