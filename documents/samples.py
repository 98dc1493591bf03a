"""A registration-shaped sample, for the benchmark, the tests and template previews.

It follows validation's canonical shape (`Registration.to_canonical()`): amounts as
decimal strings, dates as ISO strings, `investors` and `documents` as lists of dicts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from documents.model import DocumentData, ReviewEntry
from documents.templates import CERTIFICATE, FORM


def sample_registration(investors: int = 3, name: str = "重庆渝新产业投资集团有限公司") -> dict[str, Any]:
    capital = Decimal(10000)
    share = (Decimal(100) / investors).quantize(Decimal("0.01"))
    rows = []
    for n in range(investors):
        pct = share if n < investors - 1 else Decimal(100) - share * (investors - 1)
        amount = (capital * pct / 100).quantize(Decimal("0.0001"))
        rows.append(
            {
                "investor_name": "重庆市国有资产监督管理委员会"
                if n == 0
                else f"重庆第{n:04d}号投资合伙企业（有限合伙）",
                "investor_code": "91500000MA5U00018C" if n == 0 else f"91500000{n:08d}X",
                "investor_category": "国有独资企业" if n == 0 else "境内非国有法人",
                "subscribed": str(amount),
                "paid_in": str(amount),
                "share_pct": str(pct),
            }
        )
    return {
        "reg_type": "占有产权登记",
        "reg_situation": "补录历史数据",
        "backfill_form": "已办无变化",
        "as_of_date": "2012-06-30",
        "is_biz_registered": True,
        "act_date": "2012-03-15",
        "approval_ref": "渝国资〔2012〕128号",
        "filer_org_code": "MA5U00018",
        "ent_name": name,
        "uscc": "91500000MA5U00018C",
        "org_code": "MA5U00018",
        "established_on": "2008-11-20",
        "ent_level": 2,
        "state_relation": "国有绝对控股",
        "org_form": "有限责任公司",
        "reg_capital": str(capital),
        "currency": "人民币",
        "region_code": "500000",
        "address": "重庆市渝北区金开大道西段 106 号 10 幢 18 层",
        "industry": "商务服务业",
        "op_status": "存续",
        "is_overseas": False,
        "is_listed": False,
        "legal_rep": "张建国",
        "business_scope": (
            "利用自有资金从事投资活动；企业管理；以自有资金从事股权投资及相关咨询服务"
            "（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）。"
        ),
        "parent_org_code": "20280001X",
        "main_investor_code": "500000000X",
        "contact_name": "李晓",
        "contact_phone": "023-63891234",
        "contact_email": "lixiao@example.cn",
        "remarks": "",
        "investors": rows,
        "documents": [
            {"doc_kind": "业务办理申请文件", "required": True, "file_name": "申请文件.pdf", "note": ""},
            {"doc_kind": "企业章程", "required": True, "file_name": "章程.pdf", "note": "2011年修订"},
            {"doc_kind": "营业执照副本", "required": True, "file_name": "营业执照.jpg", "note": ""},
        ],
    }


def sample_document(
    doc_type: str = FORM, investors: int = 3, name: str = "重庆渝新产业投资集团有限公司"
) -> DocumentData:
    reviews = (
        ReviewEntry(
            1,
            "20280001X",
            "重庆渝新控股集团有限公司",
            "王建华",
            "通过",
            "资料齐全，同意。",
            "2026-11-20 10:32",
        ),
        ReviewEntry(0, "SASAC0001", "重庆市国资委", "指定审核人", "通过", "同意登记。", "2026-11-24 16:05"),
    )
    return DocumentData(
        doc_type=doc_type,
        registration=sample_registration(investors, name),
        filing_id="CQ2026-000123",
        round=1,
        unit_code="MA5U00018",
        unit_name=name,
        period="2012-06-30",
        cert_no=("DJZ" if doc_type == CERTIFICATE else "DJB") + "-CQ2026-000123-1",
        approval_seq=4711,
        approved_on="2026-11-24",
        issued_on="2026-11-27",
        authority="重庆市国资委",
        reviews=reviews if doc_type == FORM else reviews[-1:],
        public_url="https://chanquan.example.cn",
    )
