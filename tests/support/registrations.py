"""What a valid 占有产权登记 looks like, in one place for every test folder.

Workflow, PDF, outbox and intake tests all need filings that pass validation; when a rule in
validation changes, the rows that satisfy it change here once. Callers keep their own unit
codes, names and capital through parameters, because their assertions depend on them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

from validation.bundle import Bundle
from validation.codes import make_org_code, make_uscc
from validation.template import fill_workbook, template_bytes

SMALL_PDF = b"%PDF-1.4\n%test\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
WORKBOOK_NAME = "登记表.xlsx"
DOCUMENT_KINDS = ("业务办理申请文件", "经济行为批准文件", "企业章程", "营业执照副本", "验资报告或出资证明")
BACKFILL_DOCUMENT_KINDS = ("业务办理申请文件", "企业章程", "营业执照副本")
LEVEL_NAMES = ("", "一级", "二级", "三级", "四级", "五级")
WHOLLY_STATE_OWNED = "国有独资（全资）企业"
SUPERVISOR_CATEGORY = "国有资产监督管理机构"
ACT_DATE = dt.date(2025, 3, 1)

Row = dict[str, Any]


def org_code(body: str) -> str:
    """A valid organization code from an 8-digit body."""
    return make_org_code(body)


SUPERVISOR_CODE = org_code("11111111")


def registration_values(
    unit: str,
    name: str,
    level: int,
    parent: str,
    *,
    filer: str | None = None,
    relation: str = "国有全资",
    capital: int = 1000,
    backfill: str | None = None,
    act_date: dt.date = ACT_DATE,
) -> Row:
    """The single-cell values of a unit's workbook; `backfill` (a 补录 form) swaps the act date for an as-of date."""
    values: Row = {
        "reg_type": "占有产权登记",
        "reg_situation": "补录历史数据" if backfill else "投资设立",
        "is_biz_registered": "是",
        "filer_org_code": filer or unit,
        "ent_name": name,
        "uscc": make_uscc("91500000", unit),
        "org_code": unit,
        "established_on": dt.date(2010, 1, 1),
        "ent_level": LEVEL_NAMES[level],
        "state_relation": relation,
        "org_form": "有限责任公司",
        "reg_capital": capital,
        "currency": "人民币",
        "region_code": "500000",
        "address": "重庆市渝中区解放碑1号",
        "industry": "C 制造业",
        "op_status": "正常经营",
        "is_overseas": "否",
        "is_listed": "否",
        "legal_rep": "张三",
        "parent_org_code": parent if level > 1 else "",
        "main_investor_code": parent if level > 1 else "",
        "contact_name": "李四",
        "contact_phone": "023-12345678",
        "contact_email": "li@example.com",
    }
    if backfill:
        values["backfill_form"] = backfill
        values["as_of_date"] = dt.date(2012, 6, 30)
    else:
        values["act_date"] = act_date
    return values


def investor_row(name: str, code: str, category: str, subscribed: int, share_pct: float) -> Row:
    """One row of the investor table, fully paid in."""
    return {
        "investor_name": name,
        "investor_code": code,
        "investor_category": category,
        "subscribed": subscribed,
        "paid_in": subscribed,
        "share_pct": share_pct,
    }


def sole_investor(parent: str, level: int, capital: int, *, name: str = "出资企业") -> list[Row]:
    """A wholly state-owned unit's one investor: its parent, or the supervising body for a first-level one."""
    category = WHOLLY_STATE_OWNED if level > 1 else SUPERVISOR_CATEGORY
    return [investor_row(name, parent or SUPERVISOR_CODE, category, capital, 100)]


def document_rows(kinds: Sequence[str] = DOCUMENT_KINDS) -> list[Row]:
    """The attachment table: every kind required, attached as `0.pdf`, `1.pdf`, …"""
    return [{"doc_kind": kind, "required": "是", "file_name": f"{index}.pdf"} for index, kind in enumerate(kinds)]


def attachments(documents: Iterable[Mapping[str, Any]]) -> dict[str, bytes]:
    """One small but well-formed PDF per listed document."""
    return {str(row["file_name"]): SMALL_PDF for row in documents}


@cache
def blank_workbook() -> bytes:
    """The official template, built once per process."""
    return template_bytes()


_filled: dict[str, bytes] = {}


def filled_workbook(values: Row, investors: Sequence[Row], documents: Sequence[Row]) -> bytes:
    """The template filled by defined name and table column; cached by content, since filling costs ~0.3 s."""
    key = repr((sorted(values.items()), investors, documents))
    if key not in _filled:
        _filled[key] = fill_workbook(blank_workbook(), values, investors, documents)
    return _filled[key]


def registration_bundle(values: Row, investors: Sequence[Row], documents: Sequence[Row]) -> Bundle:
    """A bundle as intake would hand it over: the filled workbook and the listed attachments."""
    return Bundle(WORKBOOK_NAME, filled_workbook(values, investors, documents), attachments(documents))
