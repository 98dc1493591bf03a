"""A real ledger + workflow + document issuer with a small unit tree, for the end-to-end outbox tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import outbox.events  # noqa: F401
from ledger import Ledger
from outbox import MaildirDelivery, Outbox, OutboxConfig
from outbox.pdf import DocumentIssuer, create_signing_identity, identity_files
from validation.bundle import Bundle
from validation.check import check_bundle
from validation.codes import make_org_code, make_uscc
from validation.template import fill_workbook, template_bytes
from workflow import ScryptParams, SubmitOutcome, Workflow, WorkflowConfig, all_projections

GROUP = make_org_code("20000001")
SUB = make_org_code("20000002")
PDF = b"%PDF-1.4\n%test\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
DOCS = ("业务办理申请文件", "经济行为批准文件", "企业章程", "营业执照副本", "验资报告或出资证明")


@cache
def _template() -> bytes:
    return template_bytes()


@cache
def _keys(root: str) -> Path:
    keys = Path(root)
    create_signing_identity(keys, "重庆市国资委", mail_domain="chanquan.test")
    return keys


def bundle(capital: int = 1000, *, broken: bool = False) -> Bundle:
    values: dict[str, Any] = {
        "reg_type": "占有产权登记",
        "reg_situation": "投资设立",
        "is_biz_registered": "是",
        "filer_org_code": SUB,
        "ent_name": "重庆渝新置业有限公司",
        "uscc": make_uscc("91500000", SUB),
        "org_code": SUB,
        "established_on": dt.date(2010, 1, 1),
        "ent_level": "二级",
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
        "parent_org_code": GROUP,
        "main_investor_code": GROUP,
        "contact_name": "李四",
        "contact_phone": "023-12345678",
        "contact_email": "li@example.com",
        "act_date": dt.date(2025, 3, 1),
    }
    if broken:
        values["uscc"] = "91500000XXXXXXXXXX"
    investors = [
        {
            "investor_name": "重庆渝新产业投资集团有限公司",
            "investor_code": GROUP,
            "investor_category": "国有独资（全资）企业",
            "subscribed": capital,
            "paid_in": capital,
            "share_pct": 100,
        }
    ]
    documents = [{"doc_kind": k, "required": "是", "file_name": f"{i}.pdf"} for i, k in enumerate(DOCS)]
    workbook = fill_workbook(_template(), values, investors, documents)
    return Bundle("登记表.xlsx", workbook, {d["file_name"]: PDF for d in documents})


@dataclass
class Flow:
    data: Path
    ledger: Ledger
    wf: Workflow
    issuer: DocumentIssuer
    items: int = 0

    def outbox(self, **config: Any) -> Outbox:
        cfg = OutboxConfig(
            mail_domain="chanquan.test", supervisor_name="重庆市国资委", dropbox_dir=self.data / "dropbox", **config
        )
        return Outbox(
            self.ledger,
            self.wf,
            self.data / "outbox",
            cfg,
            pdf_issuer=self.issuer.on_approved,
            transport=MaildirDelivery(self.data / "maildir"),
        )

    def file(self, *, channel: str = "dropbox", reply_to: str = "", **kwargs: Any) -> SubmitOutcome:
        self.items += 1
        filed = bundle(**kwargs)
        result = check_bundle(filed, extra_rules=self.wf.ledger_rules(SUB))
        return self.wf.submit(
            f"item-{self.items}", filer=SUB, channel=channel, reply_to=reply_to, bundle=filed, check_result=result
        )


@contextmanager
def flow(tmp_path: Path, keys_cache: Path) -> Iterator[Flow]:
    data = tmp_path / "data"
    ledger = Ledger.open(data / "ledger.sqlite3", projections=all_projections(), checkpoint_interval_seconds=3600)
    wf = Workflow(
        ledger,
        accounts_db=data / "accounts.sqlite3",
        token_key=b"k" * 32,
        settings=WorkflowConfig(supervisor_code="SASAC0001"),
        scrypt=ScryptParams(n=2**4, r=8, p=1),
    )
    issuer = DocumentIssuer(ledger, wf, identity_files(_keys(str(keys_cache))), authority="重庆市国资委")
    try:
        wf.units.ensure_root()
        wf.units.set_contacts("SASAC0001", reviewer_emails=["review@sasac.test"], filer_emails=["office@sasac.test"])
        wf.units.add(
            GROUP,
            "重庆渝新产业投资集团有限公司",
            parent="SASAC0001",
            filer_emails=["filer@yuxin.test"],
            reviewer_emails=["audit1@yuxin.test", "audit2@yuxin.test"],
        )
        wf.units.add(
            SUB,
            "重庆渝新置业有限公司",
            parent=GROUP,
            filer_emails=["filer@zhiye.test"],
            reviewer_emails=["boss@zhiye.test"],
        )
        yield Flow(data, ledger, wf, issuer)
    finally:
        issuer.close()
        wf.close()
        ledger.close()
