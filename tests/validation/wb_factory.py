"""A valid filing to start from, and ways to spoil it, filled the way an outside tool fills a workbook.

Every test workbook goes through `validation.fill_workbook` (by defined name and table column), so
the tests exercise contract 1 exactly as an outside tool would.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from validation import check_workbook_bytes, fill_workbook, template_bytes
from validation.check import CheckResult
from validation.codes import make_org_code, make_uscc

TODAY = dt.date(2026, 11, 27)
ORG = make_org_code("MA5U0001")
USCC = make_uscc("91500000", ORG)
PARENT = make_org_code("20000001")
PRIVATE_ORG = make_org_code("30000001")
PRIVATE_USCC = make_uscc("91500000", PRIVATE_ORG)

OCCUPY_DOCS = ("业务办理申请文件", "经济行为批准文件", "企业章程", "营业执照副本", "验资报告或出资证明")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

_TEMPLATE: list[bytes] = []


def blank_template() -> bytes:
    """The blank template, written once per test process."""
    if not _TEMPLATE:
        _TEMPLATE.append(template_bytes())
    return _TEMPLATE[0]


def good_values() -> dict[str, Any]:
    return {
        "reg_type": "占有产权登记",
        "reg_situation": "投资设立",
        "is_biz_registered": True,
        "act_date": dt.date(2020, 5, 1),
        "approval_ref": "渝国资产权〔2020〕12号",
        "filer_org_code": ORG,
        "ent_name": "重庆测试实业有限公司",
        "uscc": USCC,
        "org_code": ORG,
        "established_on": dt.date(2020, 1, 2),
        "ent_level": "二级",
        "state_relation": "国有绝对控股",
        "org_form": "有限责任公司",
        "reg_capital": Decimal("1000"),
        "currency": "人民币",
        "region_code": "500103",
        "address": "重庆市渝中区解放碑1号",
        "industry": "C 制造业",
        "op_status": "正常经营",
        "is_overseas": False,
        "is_listed": False,
        "legal_rep": "张三",
        "business_scope": "机械制造",
        "parent_org_code": PARENT,
        "main_investor_code": PARENT,
        "contact_name": "李四",
        "contact_phone": "023-63001234",
        "contact_email": "lisi@example.cn",
    }


def good_investors() -> list[dict[str, Any]]:
    return [
        {
            "investor_name": "重庆国有资本运营集团",
            "investor_code": PARENT,
            "investor_category": "国有独资（全资）企业",
            "subscribed": Decimal("600"),
            "paid_in": Decimal("600"),
            "share_pct": Decimal("60"),
        },
        {
            "investor_name": "某民营投资有限公司",
            "investor_code": PRIVATE_USCC,
            "investor_category": "其他境内企业",
            "subscribed": Decimal("400"),
            "paid_in": Decimal("100.5"),
            "share_pct": Decimal("40"),
        },
    ]


def good_documents(kinds: tuple[str, ...] = OCCUPY_DOCS) -> list[dict[str, Any]]:
    return [{"doc_kind": kind, "required": "必需", "file_name": f"{kind}.pdf"} for kind in kinds]


def good_attachments(kinds: tuple[str, ...] = OCCUPY_DOCS) -> dict[str, bytes]:
    return {f"{kind}.pdf": PDF for kind in kinds}


def make_workbook(
    values: dict[str, Any] | None = None,
    investors: list[dict[str, Any]] | None = None,
    documents: list[dict[str, Any]] | None = None,
    *,
    base: bytes | None = None,
) -> bytes:
    """The good filing with `values` overriding single fields (None clears a cell)."""
    merged = good_values()
    merged.update(values or {})
    return fill_workbook(
        base if base is not None else blank_template(),
        merged,
        good_investors() if investors is None else investors,
        good_documents() if documents is None else documents,
    )


def check(data: bytes, attachments: dict[str, bytes] | None = None, *, with_attachments: bool = True) -> CheckResult:
    """Checks as the service does, with the good attachments unless told otherwise, on a fixed day."""
    if attachments is None and with_attachments:
        attachments = good_attachments()
    return check_workbook_bytes(data, attachments, today=TODAY)


def codes_at(result: CheckResult) -> set[tuple[str, str, str]]:
    """(code, sheet, cell) of every finding, for exact location asserts."""
    return {(f.code, f.sheet, f.cell) for f in result.findings}
