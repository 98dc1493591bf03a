"""Runs reading and the ordered rules over a bundle or a lone workbook (contract 2)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from validation.findings import ERROR, Finding
from validation.model import Registration
from validation.reader import read_workbook
from validation.rules import DEFAULT_RULES, VERSION_CODES, Rule, RuleContext
from validation.rules.base import RuleOptions, default_options

if TYPE_CHECKING:
    from validation.bundle import Bundle

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckResult:
    registration: Registration | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No error-severity finding: warnings do not block a filing."""
        return not any(f.severity == ERROR for f in self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity != ERROR]

    def as_json(self) -> dict[str, object]:
        return {"ok": self.ok, "findings": [f.as_json() for f in self.findings]}


def run_rules(ctx: RuleContext, rules: Iterable[Rule]) -> list[Finding]:
    """Runs rules in order. A workbook of an unknown template version is refused before the rest.

    A rule that raises is a bug in that rule; the filing gets one `rule-failed` error rather than
    a crash, and the log says which rule. Each rule's errors are noted in `ctx` before the next
    rule runs, so that a later rule can leave out what only follows from them.
    """
    findings: list[Finding] = []
    for rule in rules:
        try:
            produced = list(rule(ctx))
        except Exception:
            name = getattr(rule, "__name__", repr(rule))
            log.exception("validation.rule_failed", extra={"rule": name})
            produced = [
                Finding("rule-failed", ERROR, "", "", name, "", f"审核规则“{name}”运行出错，请联系管理员（已记录）。")
            ]
        findings.extend(produced)
        ctx.note(produced)
        if any(f.code in VERSION_CODES for f in produced):
            break
    return findings


def check_workbook_bytes(
    data: bytes,
    attachments: Mapping[str, bytes] | None = None,
    *,
    name: str = "",
    extra_rules: Iterable[Rule] = (),
    today: dt.date | None = None,
    bundle: Bundle | None = None,
    original_names: Mapping[str, str] | None = None,
    options: RuleOptions | None = None,
) -> CheckResult:
    """Reads and checks one workbook; raises BundleError only when it cannot be read at all.

    `attachments` None means none were supplied to compare with (file presence is not checked,
    and one `attachments-not-checked` warning says so); an empty mapping means the filing has no
    attachments. `options` None uses the process-wide default (set_default_options).
    """
    read = read_workbook(data, name=name)
    ctx = RuleContext(
        registration=read.registration,
        bundle=bundle,
        attachments=attachments,
        original_names=original_names or {},
        problem_cells=read.problem_cells,
        missing_tables=read.missing_tables,
        today=today or dt.date.today(),
        options=options or default_options(),
    )
    ctx.seed_columns(read.columns)
    ctx.note(read.findings)
    findings = read.findings + run_rules(ctx, (*DEFAULT_RULES, *extra_rules))
    log.debug(
        "validation.checked",
        extra={
            "workbook": name,
            "investors": len(read.registration.investors),
            "findings": len(findings),
            "errors": sum(f.severity == ERROR for f in findings),
        },
    )
    return CheckResult(read.registration, findings)


def check_bundle(
    bundle: Bundle,
    extra_rules: Iterable[Rule] = (),
    *,
    today: dt.date | None = None,
    options: RuleOptions | None = None,
    check_attachments: bool = True,
) -> CheckResult:
    """Checks a loaded bundle: its workbook and the attachments it came with.

    `check_attachments=False` checks the workbook alone (`chanquan check` on a lone workbook): the
    files it lists are not looked for, and one warning says so. A filing always checks them.
    """
    return check_workbook_bytes(
        bundle.workbook_bytes,
        bundle.attachments if check_attachments else None,
        name=bundle.workbook_name,
        extra_rules=extra_rules,
        today=today,
        bundle=bundle,
        original_names=bundle.original_names,
        options=options,
    )
