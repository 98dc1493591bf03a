"""What the documents call things: field labels, the period's name, which rows and documents apply.

Labels are validation's (docs/fields.md), so the form and the workbook say the same words.
The period of a registration is its 数据时点 for a backfill and its 经济行为日期 for every other
registration (workflow/rules.py `period_of` picks it the same way); every document, listing and
mail names it by what it is rather than by one word for both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from documents.templates import CERTIFICATE
from validation.spec import BACKFILL, FIELD_SPEC, REGISTRATION_FIELDS, TABLE_SPEC, required_doc_kinds

REGISTRATION_KEYS: tuple[str, ...] = tuple(spec.key for spec in REGISTRATION_FIELDS)
"""The 登记信息 sheet's fields, in its order: what describes the filing rather than the enterprise."""

BASIC_KEYS: tuple[str, ...] = (
    "ent_name",
    "uscc",
    "org_code",
    "established_on",
    "ent_level",
    "state_relation",
    "org_form",
    "reg_capital",
    "currency",
    "region_code",
    "industry",
    "op_status",
    "is_overseas",
    "is_listed",
    "legal_rep",
    "parent_org_code",
    "main_investor_code",
    "contact_name",
    "contact_phone",
    "contact_email",
    "address",
    "business_scope",
    "remarks",
)

WIDE_FIELDS = frozenset({"address", "business_scope", "remarks", "ent_name"})

INVESTOR_KEYS: tuple[str, ...] = (
    "investor_name",
    "investor_code",
    "investor_category",
    "subscribed",
    "paid_in",
    "share_pct",
)
DOCUMENT_KEYS: tuple[str, ...] = ("doc_kind", "required", "file_name", "note")

AS_OF_DATE, ACT_DATE = "as_of_date", "act_date"
PERIOD_LABELS = {AS_OF_DATE: "数据时点", ACT_DATE: "经济行为日期"}
GENERIC_PERIOD_LABEL = "登记时期"


def label(key: str) -> str:
    return FIELD_SPEC[key].label


def column_label(table: str, key: str) -> str:
    return next(c.label for c in TABLE_SPEC[table].columns if c.key == key)


def period_field(registration: Mapping[str, Any] | None) -> str | None:
    """The field the registration's period comes from: as `period_of` chooses, including its fallback."""
    if not registration:
        return None
    backfill = registration.get("reg_situation") == BACKFILL
    for key in (AS_OF_DATE, ACT_DATE) if backfill else (ACT_DATE, AS_OF_DATE):
        if registration.get(key):
            return key
    return None


def period_label(registration: Mapping[str, Any] | None) -> str:
    """数据时点 or 经济行为日期 — what this registration's period is (登记时期 when it has neither)."""
    key = period_field(registration)
    return PERIOD_LABELS[key] if key is not None else GENERIC_PERIOD_LABEL


def document_label(doc_type: str) -> str:
    """What a document of `doc_type` (登记表 or 登记证) is called in listings, file names and mails."""
    return "产权登记证" if doc_type == CERTIFICATE else "产权登记表"


def applies(key: str, registration: Mapping[str, Any]) -> bool:
    """Whether a field belongs on this registration's form: filled, or asked of its type and situation.

    A 变动 form has no 数据时点 and a backfill no 经济行为日期; printing them as "—" next to the
    field that holds the period reads as if the period were missing.
    """
    if registration.get(key) not in (None, ""):
        return True
    requirement = FIELD_SPEC[key].requirement
    backfill = registration.get("reg_situation") == BACKFILL
    if requirement.backfill_only:
        return backfill
    if requirement.not_backfill and backfill:
        return False
    if requirement.reg_types:
        return registration.get("reg_type") in requirement.reg_types
    return True


def field_rows(registration: Mapping[str, Any], keys: Sequence[str]) -> list[tuple[str, str, bool]]:
    """(label, printed value, takes a whole row) for the fields of `keys` that apply."""
    return [
        (label(key), display(registration.get(key)), key in WIDE_FIELDS) for key in keys if applies(key, registration)
    ]


def required_marks(registration: Mapping[str, Any]) -> dict[str, str]:
    """是否必需 per document kind, from the catalogue's rules for this registration's type and situation."""
    needed = set(required_doc_kinds(registration.get("reg_type"), registration.get("reg_situation")))
    kinds = {str(d.get("doc_kind") or "") for d in registration.get("documents") or []}
    return {kind: "是" if kind in needed else "否" for kind in kinds}


def display(value: Any) -> str:
    """How one canonical value is printed: booleans as 是/否, empty as a dash."""
    if value is None or value == "":
        return "—"
    if value is True:
        return "是"
    if value is False:
        return "否"
    return str(value)
