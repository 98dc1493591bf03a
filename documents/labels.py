"""Chinese labels of the registration fields, in the order the form prints them.

The keys are validation's field keys (docs/fields.md); when validation's FIELD_SPEC
carries a label for a key, that label wins, so the form and the workbook say the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REGISTRATION_FIELDS: tuple[tuple[str, str], ...] = (
    ("reg_type", "登记类型"),
    ("reg_situation", "登记情形"),
    ("backfill_form", "产权登记形式"),
    ("as_of_date", "数据时点"),
    ("is_biz_registered", "是否已办工商"),
    ("act_date", "经济行为日期"),
    ("approval_ref", "批准文号"),
    ("filer_org_code", "填报单位组织机构代码"),
)

BASIC_FIELDS: tuple[tuple[str, str], ...] = (
    ("ent_name", "企业名称"),
    ("uscc", "统一社会信用代码"),
    ("org_code", "组织机构代码"),
    ("established_on", "成立日期"),
    ("ent_level", "企业级次"),
    ("state_relation", "与国家出资企业关系"),
    ("org_form", "组织形式"),
    ("reg_capital", "注册资本（万元）"),
    ("currency", "币种"),
    ("region_code", "注册地区划代码"),
    ("industry", "所属行业"),
    ("op_status", "经营状态"),
    ("is_overseas", "是否境外企业"),
    ("is_listed", "是否上市公司"),
    ("legal_rep", "法定代表人"),
    ("parent_org_code", "上级企业组织机构代码"),
    ("main_investor_code", "主要出资人代码"),
    ("contact_name", "联系人"),
    ("contact_phone", "联系电话"),
    ("contact_email", "联系邮箱"),
    ("address", "注册地址"),
    ("business_scope", "经营范围"),
    ("remarks", "备注"),
)

WIDE_FIELDS = frozenset({"address", "business_scope", "remarks", "ent_name"})

INVESTOR_COLUMNS: tuple[tuple[str, str], ...] = (
    ("investor_name", "出资人名称"),
    ("investor_code", "出资人代码"),
    ("investor_category", "出资人类别"),
    ("subscribed", "认缴（万元）"),
    ("paid_in", "实缴（万元）"),
    ("share_pct", "股权比例（%）"),
)

DOCUMENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("doc_kind", "资料名称"),
    ("required", "是否必需"),
    ("file_name", "文件名"),
    ("note", "备注"),
)


def _spec_labels() -> dict[str, str]:
    """Labels from validation's field spec, if it offers them (it is optional for rendering)."""
    try:
        from validation import FIELD_SPEC
    except ImportError:
        return {}
    labels: dict[str, str] = {}
    items: Any = FIELD_SPEC
    if isinstance(items, Mapping):
        items = items.values()
    try:
        for spec in items:
            key = getattr(spec, "key", None)
            label = getattr(spec, "label", None)
            if isinstance(key, str) and isinstance(label, str) and label:
                labels[key] = label
    except TypeError:
        return {}
    return labels


def label_for(key: str, fallback: str) -> str:
    return _LABELS.get(key, fallback)


_LABELS: dict[str, str] = _spec_labels()


def display(value: Any) -> str:
    """How one canonical value is printed: booleans as 是/否, empty as a dash."""
    if value is None or value == "":
        return "—"
    if value is True:
        return "是"
    if value is False:
        return "否"
    return str(value)
