"""Building blocks for workflow tests: a real ledger, a unit tree, workbooks filled by defined name."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from ledger import Ledger
from validation.bundle import Bundle
from validation.check import check_bundle
from validation.codes import make_org_code, make_uscc
from validation.template import fill_workbook, template_bytes
from workflow import ScryptParams, SubmitOutcome, Workflow, WorkflowConfig, all_projections

TOKEN_KEY = b"k" * 32
FAST_SCRYPT = ScryptParams(n=2**4, r=8, p=1)
PDF = b"%PDF-1.4\n%test\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
DOCS = ("业务办理申请文件", "经济行为批准文件", "企业章程", "营业执照副本", "验资报告或出资证明")
BACKFILL_DOCS = ("业务办理申请文件", "企业章程", "营业执照副本")
LEVELS = ("", "一级", "二级", "三级", "四级", "五级")
_items = itertools.count(1)


def code(body: str) -> str:
    """A valid organization code from an 8-digit body."""
    return make_org_code(body)


@contextmanager
def open_workflow(root: Path) -> Iterator[Workflow]:
    ledger = Ledger.open(root / "ledger.sqlite3", projections=all_projections())
    wf = Workflow(
        ledger,
        accounts_db=root / "accounts.sqlite3",
        token_key=TOKEN_KEY,
        settings=WorkflowConfig(),
        scrypt=FAST_SCRYPT,
    )
    try:
        yield wf
    finally:
        wf.close()
        ledger.close()


@cache
def _template() -> bytes:
    return template_bytes()


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
    act_date: dt.date = dt.date(2025, 3, 1),
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    values: dict[str, Any] = {
        "reg_type": "占有产权登记",
        "reg_situation": "补录历史数据" if backfill else "投资设立",
        "is_biz_registered": "是",
        "filer_org_code": filer or unit,
        "ent_name": name,
        "uscc": make_uscc("91500000", unit),
        "org_code": unit,
        "established_on": dt.date(2010, 1, 1),
        "ent_level": LEVELS[level],
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
    if relation == "国有参股":
        investors = [
            {
                "investor_name": "出资企业",
                "investor_code": parent,
                "investor_category": "国有独资（全资）企业",
                "subscribed": capital * 3 // 10,
                "paid_in": capital * 3 // 10,
                "share_pct": 30,
            },
            {
                "investor_name": "某民营企业",
                "investor_code": code("60000001"),
                "investor_category": "其他境内企业",
                "subscribed": capital * 7 // 10,
                "paid_in": capital * 7 // 10,
                "share_pct": 70,
            },
        ]
    else:
        investors = [
            {
                "investor_name": "出资企业",
                "investor_code": parent or code("11111111"),
                "investor_category": "国有独资（全资）企业" if level > 1 else "国有资产监督管理机构",
                "subscribed": capital,
                "paid_in": capital,
                "share_pct": 100,
            }
        ]
    kinds = BACKFILL_DOCS if backfill else DOCS
    documents = [{"doc_kind": k, "required": "是", "file_name": f"{i}.pdf"} for i, k in enumerate(kinds)]
    return values, investors, documents


_filled: dict[str, bytes] = {}


def bundle_for(values: dict[str, Any], investors: list[dict[str, Any]], documents: list[dict[str, Any]]) -> Bundle:
    """A bundle of the filled template and one small PDF per listed document (workbooks cached by content)."""
    key = repr((sorted(values.items()), investors, documents))
    if key not in _filled:
        _filled[key] = fill_workbook(_template(), values, investors, documents)
    return Bundle("登记表.xlsx", _filled[key], {d["file_name"]: PDF for d in documents})


def file_registration(
    wf: Workflow,
    filer: str,
    unit: str,
    name: str,
    level: int,
    parent: str,
    *,
    item_id: str | None = None,
    **kwargs: Any,
) -> SubmitOutcome:
    """Submit a filing the way intake does: check with the ledger-aware rules, then submit."""
    values, investors, documents = registration_values(unit, name, level, parent, filer=filer, **kwargs)
    bundle = bundle_for(values, investors, documents)
    result = check_bundle(bundle, extra_rules=wf.ledger_rules(filer))
    return wf.submit(
        item_id or f"item-{next(_items)}",
        filer=filer,
        channel="dropbox",
        reply_to=f"dropbox:{filer}",
        bundle=bundle,
        check_result=result,
    )
