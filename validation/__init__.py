"""The workbook standard: field spec, template, reader, rules, findings, error workbook.

Imports nothing of ours. See docs/architecture.md ("validation/") and docs/workbook.md.
"""

from validation.annotate import annotate_workbook
from validation.bundle import Bundle, BundleError, load_bundle
from validation.check import CheckResult, check_bundle, check_workbook_bytes, run_rules
from validation.codes import is_valid_org_code, is_valid_uscc, normalize_org_code
from validation.findings import ERROR, WARNING, Finding, Severity
from validation.model import CellRef, DocumentEntry, FieldChange, Investor, Registration, diff_registrations
from validation.reader import ReadResult, read_workbook
from validation.rules import DEFAULT_RULES, Rule, RuleContext, RuleOptions, set_default_options
from validation.spec import FIELD_SPEC, TABLE_SPEC, TEMPLATE_VERSION, spec_as_json
from validation.template import fill_workbook, template_bytes, write_template

__all__ = [
    "DEFAULT_RULES",
    "ERROR",
    "FIELD_SPEC",
    "TABLE_SPEC",
    "TEMPLATE_VERSION",
    "WARNING",
    "Bundle",
    "BundleError",
    "CellRef",
    "CheckResult",
    "DocumentEntry",
    "FieldChange",
    "Finding",
    "Investor",
    "ReadResult",
    "Registration",
    "Rule",
    "RuleContext",
    "RuleOptions",
    "Severity",
    "annotate_workbook",
    "check_bundle",
    "check_workbook_bytes",
    "diff_registrations",
    "fill_workbook",
    "is_valid_org_code",
    "is_valid_uscc",
    "load_bundle",
    "normalize_org_code",
    "read_workbook",
    "run_rules",
    "set_default_options",
    "spec_as_json",
    "template_bytes",
    "write_template",
]
