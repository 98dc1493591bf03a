"""The workbook standard: one declarative description of every field and table.

Everything else (template writer, reader, rules, docs, `chanquan template --spec`) is
derived from this module so that the form, its checks and its documentation cannot drift
apart. Keys come from the regulation (SASAC Order No. 29) and the published form
instructions; they are also the Excel defined names of the input cells (contract 1).
"""

from __future__ import annotations

from typing import Any

from validation.catalogue import (
    ALL_SITUATIONS,
    ALLOWED_EXTENSIONS,
    BACKFILL,
    BACKFILL_FORMS,
    BOOL_VALUES,
    CODELESS_INVESTOR_CATEGORIES,
    CURRENCIES,
    DOC_APPLICATION,
    DOC_KINDS,
    ENT_LEVELS,
    FIRST_LEVEL,
    INDUSTRIES,
    INVESTOR_CATEGORIES,
    MAX_ATTACHMENT_BYTES,
    OP_STATUSES,
    ORG_FORMS,
    REG_CANCEL,
    REG_CHANGE,
    REG_OCCUPY,
    REG_SITUATIONS,
    REG_TYPES,
    REQUIRED_DOCS,
    STATE_ABSOLUTE,
    STATE_ACTUAL,
    STATE_INVESTOR_CATEGORIES,
    STATE_MINORITY,
    STATE_RELATIONS,
    STATE_WHOLLY,
    doc_required_label,
    required_doc_kinds,
)
from validation.requirements import (
    ALWAYS,
    DOMESTIC,
    OPTIONAL,
    ColumnSpec,
    FieldSpec,
    FieldType,
    Requirement,
    TableSpec,
)

__all__ = [
    "ALLOWED_EXTENSIONS",
    "ALL_SITUATIONS",
    "ALWAYS",
    "BACKFILL",
    "BACKFILL_FORMS",
    "BASIC_FIELDS",
    "BOOL_VALUES",
    "CODELESS_INVESTOR_CATEGORIES",
    "CURRENCIES",
    "DOCUMENTS",
    "DOC_APPLICATION",
    "DOC_KINDS",
    "DOMESTIC",
    "ENT_LEVELS",
    "FIELD_LIST",
    "FIELD_SPEC",
    "FIRST_LEVEL",
    "INDUSTRIES",
    "INVESTORS",
    "INVESTOR_CATEGORIES",
    "MAX_ATTACHMENT_BYTES",
    "MAX_TABLE_ROWS",
    "OPTIONAL",
    "OP_STATUSES",
    "ORG_FORMS",
    "REGISTRATION_FIELDS",
    "REG_CANCEL",
    "REG_CHANGE",
    "REG_OCCUPY",
    "REG_SITUATIONS",
    "REG_TYPES",
    "REQUIRED_DOCS",
    "SHEET_BASIC",
    "SHEET_DOCUMENTS",
    "SHEET_GUIDE",
    "SHEET_INVESTORS",
    "SHEET_ORDER",
    "SHEET_REGISTRATION",
    "STATE_ABSOLUTE",
    "STATE_ACTUAL",
    "STATE_INVESTOR_CATEGORIES",
    "STATE_MINORITY",
    "STATE_RELATIONS",
    "STATE_WHOLLY",
    "SUPPORTED_TEMPLATE_VERSIONS",
    "TABLES",
    "TABLE_SPEC",
    "TEMPLATE_SOURCE_HINT",
    "TEMPLATE_TABLE_ROWS",
    "TEMPLATE_VERSION",
    "VERSION_CELL",
    "VERSION_NAME",
    "VERSION_SHEET",
    "ColumnSpec",
    "FieldSpec",
    "FieldType",
    "Requirement",
    "TableSpec",
    "doc_required_label",
    "required_doc_kinds",
    "spec_as_json",
]
"""The field declarations are this module's own; the catalogue and the declaration types are
re-exported so that `from validation.spec import ...` keeps giving every name of the standard."""

TEMPLATE_VERSION = "2026.1"
"""Version written into every template (defined name `template_version`)."""

SUPPORTED_TEMPLATE_VERSIONS: frozenset[str] = frozenset({TEMPLATE_VERSION})

# Filers cannot run the CLI: say in words where the standard workbook is (the portal's 首页 link).
TEMPLATE_SOURCE_HINT = (
    "当前版本的标准登记工作簿可登录产权登记门户网站，在首页点击“下载填报模板”获取，也可向上级单位或市国资委索取"
)

SHEET_GUIDE = "填表说明"
SHEET_REGISTRATION = "登记信息"
SHEET_BASIC = "基本信息"
SHEET_INVESTORS = "出资人情况"
SHEET_DOCUMENTS = "合规性资料目录"
SHEET_ORDER: tuple[str, ...] = (SHEET_GUIDE, SHEET_REGISTRATION, SHEET_BASIC, SHEET_INVESTORS, SHEET_DOCUMENTS)

VERSION_NAME = "template_version"
VERSION_SHEET = SHEET_REGISTRATION
VERSION_CELL = "E1"


def _reg(row: int) -> str:
    return f"B{row}"


REGISTRATION_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec(
        "reg_type",
        "登记类型",
        SHEET_REGISTRATION,
        _reg(3),
        "enum",
        ALWAYS,
        "占有产权登记：取得产权时；变动产权登记：名称、资本、出资人等变动时；注销产权登记：不再占有产权时。",
        REG_TYPES,
    ),
    FieldSpec(
        "reg_situation",
        "登记情形",
        SHEET_REGISTRATION,
        _reg(4),
        "enum",
        ALWAYS,
        "须与登记类型相符；补录历史数据只用于占有产权登记。",
        ALL_SITUATIONS,
    ),
    FieldSpec(
        "backfill_form",
        "产权登记形式",
        SHEET_REGISTRATION,
        _reg(5),
        "enum",
        Requirement(backfill_only=True),
        "仅补录历史数据时填写：以前已办登记且无变化、已办且有变化，或从未办理。",
        BACKFILL_FORMS,
    ),
    FieldSpec(
        "as_of_date",
        "数据时点",
        SHEET_REGISTRATION,
        _reg(6),
        "date",
        Requirement(backfill_only=True),
        "仅补录历史数据时填写，例如 2012-06-30。",
    ),
    FieldSpec(
        "is_biz_registered",
        "是否已办工商",
        SHEET_REGISTRATION,
        _reg(7),
        "bool",
        Requirement(reg_types=(REG_OCCUPY,)),
        "占有产权登记时填写是否已办理工商登记。",
        BOOL_VALUES,
    ),
    FieldSpec(
        "act_date",
        "经济行为日期",
        SHEET_REGISTRATION,
        _reg(8),
        "date",
        Requirement(not_backfill=True),
        "引起本次登记的经济行为（设立、投资、变动、注销）发生日期，不得早于成立日期，不得晚于今天。",
    ),
    FieldSpec(
        "approval_ref",
        "批准文号",
        SHEET_REGISTRATION,
        _reg(9),
        "text",
        Requirement(reg_types=(REG_CHANGE, REG_CANCEL)),
        "经济行为批准文件的文号，例如 X国资产权〔2026〕12号。",
    ),
    FieldSpec(
        "filer_org_code",
        "填报单位组织机构代码",
        SHEET_REGISTRATION,
        _reg(10),
        "org_code",
        ALWAYS,
        "实际填报本表的单位的9位组织机构代码（可带连字符）；参股企业由出资企业填报时填出资企业的代码。",
    ),
)


def _basic(row: int) -> str:
    return f"B{row}"


BASIC_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("ent_name", "企业名称", SHEET_BASIC, _basic(3), "text", ALWAYS, "与营业执照一致的企业全称。"),
    FieldSpec(
        "uscc",
        "统一社会信用代码",
        SHEET_BASIC,
        _basic(4),
        "uscc",
        DOMESTIC,
        "18位统一社会信用代码（GB 32100），第9至17位即组织机构代码。",
    ),
    FieldSpec(
        "org_code",
        "组织机构代码",
        SHEET_BASIC,
        _basic(5),
        "org_code",
        DOMESTIC,
        "9位组织机构代码（GB 11714），须与统一社会信用代码第9至17位一致。",
    ),
    FieldSpec("established_on", "成立日期", SHEET_BASIC, _basic(6), "date", ALWAYS, "营业执照上的成立日期。"),
    FieldSpec("ent_level", "企业级次", SHEET_BASIC, _basic(7), "enum", ALWAYS, "国家出资企业为一级。", ENT_LEVELS),
    FieldSpec(
        "state_relation",
        "与国家出资企业关系",
        SHEET_BASIC,
        _basic(8),
        "enum",
        ALWAYS,
        "国有全资：国有持股100%；国有绝对控股：50%以上不足100%；国有实际控制：不超过50%但为第一大股东且实际控制；"
        "国有参股：不超过50%且不控制。",
        STATE_RELATIONS,
    ),
    FieldSpec("org_form", "组织形式", SHEET_BASIC, _basic(9), "enum", ALWAYS, "按营业执照选择。", ORG_FORMS),
    FieldSpec(
        "reg_capital",
        "注册资本（万元）",
        SHEET_BASIC,
        _basic(10),
        "amount",
        ALWAYS,
        "单位万元，最多4位小数；须等于出资人认缴额之和。",
    ),
    FieldSpec("currency", "币种", SHEET_BASIC, _basic(11), "enum", ALWAYS, "注册资本的币种。", CURRENCIES),
    FieldSpec(
        "region_code",
        "注册地行政区划代码",
        SHEET_BASIC,
        _basic(12),
        "region",
        DOMESTIC,
        "6位行政区划代码，例如 500000。",
    ),
    FieldSpec("address", "注册地址", SHEET_BASIC, _basic(13), "text", ALWAYS, "营业执照上的住所。"),
    FieldSpec(
        "industry", "所属行业", SHEET_BASIC, _basic(14), "enum", ALWAYS, "按国民经济行业分类门类选择。", INDUSTRIES
    ),
    FieldSpec("op_status", "经营状态", SHEET_BASIC, _basic(15), "enum", ALWAYS, "填报时的经营状态。", OP_STATUSES),
    FieldSpec(
        "is_overseas", "是否境外企业", SHEET_BASIC, _basic(16), "bool", ALWAYS, "境外企业免填代码类字段。", BOOL_VALUES
    ),
    FieldSpec(
        "is_listed",
        "是否上市公司",
        SHEET_BASIC,
        _basic(17),
        "bool",
        ALWAYS,
        "本企业股票是否公开上市交易。",
        BOOL_VALUES,
    ),
    FieldSpec("legal_rep", "法定代表人", SHEET_BASIC, _basic(18), "text", ALWAYS, "法定代表人（负责人）姓名。"),
    FieldSpec("business_scope", "经营范围", SHEET_BASIC, _basic(19), "text", OPTIONAL, "按营业执照填写，可简写。"),
    FieldSpec(
        "parent_org_code",
        "上级单位组织机构代码",
        SHEET_BASIC,
        _basic(20),
        "org_code",
        Requirement(always=True, exempt_first_level=True),
        "直接上级（审核）单位的组织机构代码；一级企业不填。",
    ),
    FieldSpec(
        "main_investor_code",
        "主要出资人组织机构代码",
        SHEET_BASIC,
        _basic(21),
        "org_code",
        OPTIONAL,
        "持股最多的境内出资人的组织机构代码。",
    ),
    FieldSpec("contact_name", "联系人", SHEET_BASIC, _basic(22), "text", ALWAYS, "负责本次填报的联系人姓名。"),
    FieldSpec("contact_phone", "联系电话", SHEET_BASIC, _basic(23), "phone", ALWAYS, "手机或带区号的固定电话。"),
    FieldSpec("contact_email", "联系邮箱", SHEET_BASIC, _basic(24), "email", ALWAYS, "审核结果将发送到此邮箱。"),
    FieldSpec("remarks", "备注", SHEET_BASIC, _basic(25), "text", OPTIONAL, "需要说明的其他情况。"),
)

FIELD_LIST: tuple[FieldSpec, ...] = REGISTRATION_FIELDS + BASIC_FIELDS

INVESTORS = TableSpec(
    name="investors",
    label="出资人情况",
    sheet=SHEET_INVESTORS,
    header_row=3,
    help="每个出资人一行；认缴额之和须等于注册资本，股权比例之和须为100%。",
    columns=(
        ColumnSpec("investor_name", "出资人名称", "A", "text", ALWAYS, "出资人全称，不得重复。"),
        ColumnSpec(
            "investor_code",
            "出资人代码",
            "B",
            "text",
            OPTIONAL,
            "境内单位填9位组织机构代码或18位统一社会信用代码；境外企业、自然人可不填。",
        ),
        ColumnSpec(
            "investor_category", "出资人类别", "C", "enum", ALWAYS, "国有类别计入国有持股比例。", INVESTOR_CATEGORIES
        ),
        ColumnSpec("subscribed", "认缴出资额（万元）", "D", "amount", ALWAYS, "单位万元，最多4位小数。"),
        ColumnSpec("paid_in", "实缴出资额（万元）", "E", "amount", ALWAYS, "不得大于认缴额。"),
        ColumnSpec("share_pct", "股权比例（%）", "F", "percent", ALWAYS, "最多2位小数，应约等于认缴额/注册资本。"),
    ),
)

DOCUMENTS = TableSpec(
    name="documents",
    label="合规性资料目录",
    sheet=SHEET_DOCUMENTS,
    header_row=3,
    help="每份资料一行，文件名须与随表提交的附件文件名一致；格式 RAR/ZIP/PDF/WORD/JPG/PNG/TIFF，每个不超过 2 MB。",
    columns=(
        ColumnSpec("doc_kind", "资料类型", "A", "enum", ALWAYS, "业务办理申请文件任何登记都必需。", DOC_KINDS),
        ColumnSpec("required", "是否必需", "B", "text", OPTIONAL, "模板预填，说明哪些登记类型需要此资料。"),
        ColumnSpec("file_name", "文件名", "C", "text", OPTIONAL, "附件文件名（含扩展名），例如 申请文件.pdf。"),
        ColumnSpec("note", "说明", "D", "text", OPTIONAL, "补充说明。"),
    ),
)

TABLES: tuple[TableSpec, ...] = (INVESTORS, DOCUMENTS)

FIELD_SPEC: dict[str, FieldSpec] = {f.key: f for f in FIELD_LIST}
"""Every single-cell field by key, in form order."""

TABLE_SPEC: dict[str, TableSpec] = {t.name: t for t in TABLES}

MAX_TABLE_ROWS = 10_000
"""Rows read per table at most, so that a sheet with a million-row used range cannot eat memory; also
the rows the template's drop-downs and running totals cover (every row a table can hold)."""

TEMPLATE_TABLE_ROWS = {"investors": 20, "documents": len(DOC_KINDS) + 6}
"""Body rows the blank template's tables span (fill_workbook extends them as needed)."""


def spec_as_json() -> dict[str, Any]:
    """The contract-1 JSON printed by `chanquan template --spec`."""
    return {
        "template_version": TEMPLATE_VERSION,
        "template_version_name": VERSION_NAME,
        "sheets": list(SHEET_ORDER),
        "fields": [f.as_json() for f in FIELD_LIST],
        "tables": [t.as_json() for t in TABLES],
        "documents_required": {k: list(v) for k, v in REQUIRED_DOCS.items()},
        "attachment_extensions": list(ALLOWED_EXTENSIONS),
        "attachment_max_bytes": MAX_ATTACHMENT_BYTES,
    }
