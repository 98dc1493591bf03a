"""A real data directory with an approved first-level filing, an approved subsidiary filing and one in review.

Built through the public layers only: `chanquan init`, the workflow's units, workbooks
filled by defined name and table column, `check_bundle`, `submit`, and reviewer decisions
with real review tokens, up to SASAC.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chanquan.app import init_signing_identity, open_workflow
from chanquan.cli import main as cli_main
from chanquan.config import load_settings
from validation.bundle import Bundle
from validation.check import check_bundle
from validation.codes import make_org_code, make_uscc
from validation.template import fill_workbook, template_bytes
from workflow import ReviewDecision, Workflow

PDF_ATTACHMENT = b"%PDF-1.4\n%test\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
DOCS = ("业务办理申请文件", "经济行为批准文件", "企业章程", "营业执照副本", "验资报告或出资证明")
LEVEL_NAMES = ("", "一级", "二级", "三级")
STATE_CATEGORY = "国有独资（全资）企业"


@dataclass(frozen=True)
class Scenario:
    data: Path
    first_level: str
    first_level_name: str
    subsidiary: str
    subsidiary_name: str
    pending: str
    first_filing: str
    sub_filing: str
    pending_filing: str
    period: str
    investors: list[str]


def _values(unit: str, name: str, level: int, parent: str, capital: int) -> dict[str, Any]:
    return {
        "reg_type": "占有产权登记",
        "reg_situation": "投资设立",
        "is_biz_registered": "是",
        "filer_org_code": unit,
        "ent_name": name,
        "uscc": make_uscc("91500000", unit),
        "org_code": unit,
        "established_on": dt.date(2010, 1, 1),
        "ent_level": LEVEL_NAMES[level],
        "state_relation": "国有全资",
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
        "act_date": dt.date(2025, 3, 1),
    }


def _investors(parent: str, count: int, capital: int, level: int) -> list[dict[str, Any]]:
    if count == 1:
        category = STATE_CATEGORY if level > 1 else "国有资产监督管理机构"
        return [
            {
                "investor_name": "重庆市国有资产监督管理委员会" if level == 1 else "出资企业",
                "investor_code": parent or make_org_code("11111111"),
                "investor_category": category,
                "subscribed": capital,
                "paid_in": capital,
                "share_pct": 100,
            }
        ]
    share = capital // count
    rows = []
    for n in range(count):
        rows.append(
            {
                "investor_name": f"重庆国投第{n + 1:03d}号全资子公司",
                "investor_code": make_org_code(f"7{n + 1:07d}"),
                "investor_category": STATE_CATEGORY,
                "subscribed": share,
                "paid_in": share,
                "share_pct": 100 / count,
            }
        )
    return rows


def _submit(wf: Workflow, unit: str, name: str, level: int, parent: str, investors: int, item: str) -> str:
    capital = 1000 * max(1, investors)
    documents = [{"doc_kind": k, "required": "是", "file_name": f"{i}.pdf"} for i, k in enumerate(DOCS)]
    rows = _investors(parent, investors, capital, level)
    workbook = fill_workbook(template_bytes(), _values(unit, name, level, parent, capital), rows, documents)
    bundle = Bundle("登记表.xlsx", workbook, {d["file_name"]: PDF_ATTACHMENT for d in documents})
    result = check_bundle(bundle, extra_rules=wf.ledger_rules(unit))
    errors = [f for f in result.findings if f.is_error]
    assert not errors, errors
    outcome = wf.submit(
        item, filer=unit, channel="dropbox", reply_to=f"dropbox:{unit}", bundle=bundle, check_result=result
    )
    assert outcome.accepted, outcome
    return outcome.filing_id


def approve_all(wf: Workflow, filing_id: str) -> None:
    """Every level says 通过 with an opinion, up to SASAC."""
    for _ in range(10):
        view = wf.filing(filing_id)
        assert view is not None
        if view.state != "in_review":
            assert view.is_approved, view.state
            return
        reviewer = view.reviewers[0]
        token = wf.review_token(filing_id, view.round, view.level, reviewer)
        outcome = wf.decide(token, reviewer, ReviewDecision.APPROVE, f"{view.review_unit} 审核：资料齐全，同意。")
        assert outcome.applied, outcome
    raise AssertionError("review chain did not end")


def build(data: Path, investors: int = 40) -> Scenario:
    assert cli_main(["--data", str(data), "init"]) == 0
    settings = load_settings(data)
    init_signing_identity(data, settings)
    first, sub, pending = make_org_code("10000001"), make_org_code("20000002"), make_org_code("30000003")
    names = ("重庆渝新控股集团有限公司", "重庆渝新精密制造有限公司", "重庆渝新物流有限公司")
    with open_workflow(data, settings) as wf:
        root = wf.units.ensure_root()
        wf.units.set_contacts(root.code, reviewer_emails=["review@sasac.example.cn"])
        wf.units.add(
            first,
            names[0],
            parent=root.code,
            filer_emails=["filer@yuxin.example.cn"],
            reviewer_emails=["review@yuxin.example.cn"],
        )
        wf.units.add(
            sub,
            names[1],
            parent=first,
            filer_emails=["filer@jingmi.example.cn"],
            reviewer_emails=["review@jingmi.example.cn"],
        )
        wf.units.add(pending, names[2], parent=first, filer_emails=["filer@wuliu.example.cn"])
        first_filing = _submit(wf, first, names[0], 1, "", 1, "item-first")
        approve_all(wf, first_filing)
        sub_filing = _submit(wf, sub, names[1], 2, first, investors, "item-sub")
        approve_all(wf, sub_filing)
        pending_filing = _submit(wf, pending, names[2], 2, first, 1, "item-pending")
        sub_view = wf.filing(sub_filing)
        assert sub_view is not None
        period = sub_view.period
    return Scenario(
        data,
        first,
        names[0],
        sub,
        names[1],
        pending,
        first_filing,
        sub_filing,
        pending_filing,
        period,
        [f"重庆国投第{n + 1:03d}号全资子公司" for n in range(investors)],
    )
