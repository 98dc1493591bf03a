"""The rules, as one explicit ordered tuple; later layers append their own via `extra_rules`."""

from __future__ import annotations

from validation.rules.base import (
    Rule,
    RuleContext,
    RuleOptions,
    field_finding,
    header_ref,
    row_finding,
    set_default_options,
)
from validation.rules.codes import check_investor_codes, check_unit_codes
from validation.rules.documents import check_listed_files, check_required_documents
from validation.rules.investors import check_investor_rows, check_investor_sums, check_state_relation
from validation.rules.registration import check_backfill_facts, check_backfill_fields, check_situation
from validation.rules.required import check_required_columns, check_required_fields
from validation.rules.values import check_dates, check_enumerations, check_formats, check_numbers
from validation.rules.version import VERSION_CODES, check_template_version

DEFAULT_RULES: tuple[Rule, ...] = (
    check_template_version,
    check_required_fields,
    check_required_columns,
    check_enumerations,
    check_situation,
    check_backfill_fields,
    check_unit_codes,
    check_investor_codes,
    check_numbers,
    check_formats,
    check_dates,
    check_backfill_facts,
    check_investor_sums,
    check_investor_rows,
    check_state_relation,
    check_required_documents,
    check_listed_files,
)

__all__ = [
    "DEFAULT_RULES",
    "VERSION_CODES",
    "Rule",
    "RuleContext",
    "RuleOptions",
    "field_finding",
    "header_ref",
    "row_finding",
    "set_default_options",
]
