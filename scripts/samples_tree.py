"""The enterprise tree the samples are filed in (inbox_samples/units.csv, the tree the demo seeds),
and the basic-information and investor rows each sample fills in about one of its units."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from validation.codes import make_org_code, make_uscc


@dataclass(frozen=True)
class Unit:
    key: str
    code: str
    name: str
    parent: str
    level: int
    overseas: bool = False
    holding: str = "国有全资"
    uscc_prefix: str = "91500000"
    filer: str = ""
    reviewer: str = ""

    @property
    def uscc(self) -> str:
        return make_uscc(self.uscc_prefix, self.code) if not self.overseas else ""


SASAC_CODE = "SASAC0001"
SASAC_INVESTOR_CODE = make_org_code("00930001")
"""The organization code 市国资委 uses when it appears as an investor in a workbook."""

YUFA = Unit(
    "yufa",
    make_org_code("20260001"),
    "重庆渝发集团有限公司",
    SASAC_CODE,
    1,
    filer="filer@yufa.example.cn",
    reviewer="review@yufa.example.cn",
)
YUFA_BUILD = Unit(
    "yufa_build",
    make_org_code("20260002"),
    "重庆渝发建设工程有限公司",
    YUFA.code,
    2,
    filer="filer@yfjs.example.cn",
    reviewer="review@yfjs.example.cn",
)
YUFA_HK = Unit(
    "yufa_hk",
    "JW" + YUFA.code[-4:] + "0001",
    "渝发（香港）国际有限公司",
    YUFA.code,
    2,
    overseas=True,
    filer="filer@yufa-hk.example.com",
    reviewer="review@yufa-hk.example.com",
)
LIANGJIANG = Unit(
    "liangjiang",
    make_org_code("20260003"),
    "重庆两江数据服务有限公司",
    YUFA.code,
    2,
    holding="国有参股",
    filer="filer@yufa.example.cn",
    reviewer="review@yufa.example.cn",
)
SHANCHENG = Unit(
    "shancheng",
    make_org_code("20260011"),
    "重庆山城能源投资集团有限公司",
    SASAC_CODE,
    1,
    filer="filer@scny.example.cn",
    reviewer="review@scny.example.cn",
)
SC_POWER = Unit(
    "sc_power",
    make_org_code("20260012"),
    "重庆山城电力有限公司",
    SHANCHENG.code,
    2,
    holding="国有绝对控股",
    filer="filer@scdl.example.cn",
    reviewer="review@scdl.example.cn",
)
UNITS: tuple[Unit, ...] = (YUFA, YUFA_BUILD, YUFA_HK, LIANGJIANG, SHANCHENG, SC_POWER)

OTHER_INVESTOR = ("重庆民营科技投资有限公司", make_uscc("91500000", make_org_code("33330001")), "其他境内企业")


def basic_values(unit: Unit, *, capital: str, relation: str, established: dt.date) -> dict[str, object]:
    values: dict[str, object] = {
        "ent_name": unit.name,
        "uscc": unit.uscc,
        "org_code": unit.code,
        "established_on": established,
        "ent_level": "一级" if unit.level == 1 else "二级",
        "state_relation": relation,
        "org_form": "有限责任公司",
        "reg_capital": Decimal(capital),
        "currency": "人民币",
        "region_code": "500000",
        "address": "重庆市渝北区金开大道100号",
        "industry": "L 租赁和商务服务业",
        "op_status": "正常经营",
        "is_overseas": False,
        "is_listed": False,
        "legal_rep": "张三",
        "business_scope": "企业管理服务",
        "parent_org_code": "" if unit.level == 1 else unit.parent,
        "contact_name": "李四",
        "contact_phone": "023-67889900",
        "contact_email": unit.filer,
        "remarks": "",
    }
    return values


def _investor(name: str, code: str, category: str, subscribed: str, share: str) -> dict[str, object]:
    """One 出资人情况 row, paid in full."""
    return {
        "investor_name": name,
        "investor_code": code,
        "investor_category": category,
        "subscribed": Decimal(subscribed),
        "paid_in": Decimal(subscribed),
        "share_pct": Decimal(share),
    }


def sasac_investor(capital: str) -> dict[str, object]:
    return _investor("重庆市国资委", SASAC_INVESTOR_CODE, "国有资产监督管理机构", capital, "100")


def parent_investor(
    parent: Unit, subscribed: str, share: str, category: str = "国有独资（全资）企业"
) -> dict[str, object]:
    return _investor(parent.name, parent.uscc, category, subscribed, share)


def other_investor(subscribed: str, share: str) -> dict[str, object]:
    return _investor(*OTHER_INVESTOR, subscribed, share)


def write_units(out_dir: Path) -> None:
    """units.csv: the tree as `chanquan units import` reads it, 市国资委 first."""
    with (out_dir / "units.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(
            ["code", "name", "parent_code", "level", "overseas", "holding", "filer_emails", "reviewer_emails"]
        )
        writer.writerow([SASAC_CODE, "重庆市国资委", "", "0", "否", "", "", "review@sasac.example.cn"])
        for unit in UNITS:
            writer.writerow(
                [
                    unit.code,
                    unit.name,
                    unit.parent,
                    str(unit.level),
                    "是" if unit.overseas else "否",
                    unit.holding,
                    unit.filer,
                    unit.reviewer,
                ]
            )
