"""The samples themselves: the good filings, the bad ones (each a good one with one thing wrong), and
the table of what `chanquan check` says of each (inbox_samples/README.md is written from it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from samples_files import (
    BACKFILL_FILES,
    CHANGE_FILES,
    FAKE_EXE,
    OCCUPY_FILES,
    bundle_files,
    pdf_bytes,
    workbook,
    zip_of,
)
from samples_tree import (
    LIANGJIANG,
    SC_POWER,
    SHANCHENG,
    YUFA,
    YUFA_BUILD,
    Unit,
    basic_values,
    other_investor,
    parent_investor,
    sasac_investor,
)


@dataclass
class Sample:
    name: str
    shows: str
    build: Callable[[], dict[str, bytes] | bytes]
    exit_code: int
    codes: tuple[str, ...]
    filed_by: Unit = YUFA
    folder: bool = False


# --- the three filings the bad samples spoil ------------------------------------------------------


def _yufa_founded(files: dict[str, str] = OCCUPY_FILES) -> bytes:
    """渝发集团's 占有产权登记 after it was founded, wholly owned by 市国资委."""
    reg = {
        "reg_type": "占有产权登记",
        "reg_situation": "新设立国家出资企业",
        "is_biz_registered": True,
        "act_date": dt.date(2025, 3, 18),
        "filer_org_code": YUFA.code,
    }
    basic = basic_values(YUFA, capital="50000", relation="国有全资", established=dt.date(2025, 3, 18))
    return workbook(reg, basic, [sasac_investor("50000")], files)


def _build_capital_change(**basic_changes: object) -> bytes:
    """渝发建设's 变动产权登记 for a new registered capital, filed by itself."""
    reg = {
        "reg_type": "变动产权登记",
        "reg_situation": "注册资本变动",
        "act_date": dt.date(2025, 11, 3),
        "approval_ref": "渝发集团〔2025〕45号",
        "filer_org_code": YUFA_BUILD.code,
    }
    basic = basic_values(YUFA_BUILD, capital="12000.5", relation="国有全资", established=dt.date(2008, 5, 12))
    basic.update(basic_changes)
    return workbook(reg, basic, [parent_investor(YUFA, "12000.5", "100")], CHANGE_FILES)


def _liangjiang_minority(files: dict[str, str] = OCCUPY_FILES) -> bytes:
    """两江数据, 30% held by 渝发集团: its 占有产权登记 is filed by that investor."""
    reg = {
        "reg_type": "占有产权登记",
        "reg_situation": "投资设立",
        "is_biz_registered": True,
        "act_date": dt.date(2024, 9, 2),
        "filer_org_code": YUFA.code,
    }
    basic = basic_values(LIANGJIANG, capital="3000", relation="国有参股", established=dt.date(2024, 8, 26))
    investors = [other_investor("2100", "70"), parent_investor(YUFA, "900", "30", "国有独资（全资）企业")]
    return workbook(reg, basic, investors, files)


# --- good ------------------------------------------------------------------------------------------


def occupy_first_level() -> dict[str, bytes]:
    return bundle_files("产权登记表.xlsx", _yufa_founded(), OCCUPY_FILES)


def change_subsidiary() -> dict[str, bytes]:
    return bundle_files("渝发建设-变动登记.xlsx", _build_capital_change(), CHANGE_FILES)


def minority_by_investor() -> dict[str, bytes]:
    return bundle_files("两江数据-参股登记.xlsx", _liangjiang_minority(), OCCUPY_FILES)


def backfill(unit: Unit, form: str, *, capital: str, relation: str, investors: list[dict[str, object]]) -> bytes:
    reg = {
        "reg_type": "占有产权登记",
        "reg_situation": "补录历史数据",
        "backfill_form": form,
        "as_of_date": dt.date(2012, 6, 30),
        "is_biz_registered": True,
        "filer_org_code": unit.code,
    }
    basic = basic_values(unit, capital=capital, relation=relation, established=dt.date(2003, 7, 1))
    return workbook(reg, basic, investors, BACKFILL_FILES)


def backfill_unchanged() -> dict[str, bytes]:
    investors = [parent_investor(SHANCHENG, "6000", "60", "国有独资（全资）企业"), other_investor("4000", "40")]
    wb = backfill(SC_POWER, "已办无变化", capital="10000", relation="国有绝对控股", investors=investors)
    return bundle_files("山城电力-补录.xlsx", wb, BACKFILL_FILES)


def backfill_changed() -> dict[str, bytes]:
    wb = backfill(SHANCHENG, "已办有变化", capital="80000", relation="国有全资", investors=[sasac_investor("80000")])
    return bundle_files("山城能源-补录.xlsx", wb, BACKFILL_FILES)


def backfill_never() -> dict[str, bytes]:
    investors = [parent_investor(YUFA, "8000", "100")]
    wb = backfill(YUFA_BUILD, "未办", capital="8000", relation="国有全资", investors=investors)
    return bundle_files("渝发建设-补录未办.xlsx", wb, BACKFILL_FILES)


# --- bad -------------------------------------------------------------------------------------------


def bad_check_character() -> dict[str, bytes]:
    wrong = YUFA_BUILD.code[:8] + ("1" if YUFA_BUILD.code[8] != "1" else "2")
    wb = _build_capital_change(org_code=wrong[:8] + "-" + wrong[8])
    return bundle_files("校验码错误.xlsx", wb, CHANGE_FILES)


def bad_shares() -> dict[str, bytes]:
    reg = {
        "reg_type": "变动产权登记",
        "reg_situation": "出资人或出资比例变动",
        "act_date": dt.date(2025, 8, 1),
        "approval_ref": "山城能源〔2025〕7号",
        "filer_org_code": SC_POWER.code,
    }
    basic = basic_values(SC_POWER, capital="10000", relation="国有绝对控股", established=dt.date(2003, 7, 1))
    investors = [parent_investor(SHANCHENG, "6000", "60", "国有独资（全资）企业"), other_investor("4000", "30")]
    wb = workbook(reg, basic, investors, CHANGE_FILES)
    return bundle_files("股权比例合计90.xlsx", wb, CHANGE_FILES)


def bad_missing_document() -> dict[str, bytes]:
    files = {**OCCUPY_FILES, "企业章程": ""}
    return bundle_files("缺少章程.xlsx", _liangjiang_minority(files), files)


def bad_large_attachment() -> dict[str, bytes]:
    files = {**OCCUPY_FILES, "验资报告或出资证明": "验资报告-高清扫描.pdf"}
    big = pdf_bytes("yanzi-big", padding=2_200_000)
    return bundle_files("附件过大.xlsx", _yufa_founded(files), files, {"验资报告-高清扫描.pdf": big})


def bad_executable() -> dict[str, bytes]:
    return bundle_files("改名的程序.xlsx", _build_capital_change(), CHANGE_FILES, {"营业执照副本.jpg": FAKE_EXE})


def broken_workbook() -> bytes:
    data = occupy_first_level()["产权登记表.xlsx"]
    return data[: len(data) * 2 // 3]


def nested_zip() -> dict[str, bytes]:
    return {"渝发集团报送材料.zip": zip_of(occupy_first_level())}


SAMPLES: tuple[Sample, ...] = (
    Sample(
        "01-一级企业-占有登记.zip", "一级企业（渝发集团）新设立后的占有产权登记，资料齐全", occupy_first_level, 0, ()
    ),
    Sample(
        "02-子企业-变动登记.zip",
        "二级子企业（渝发建设）注册资本变动，由本企业填报",
        change_subsidiary,
        0,
        (),
        filed_by=YUFA_BUILD,
    ),
    Sample(
        "03-参股企业-出资人填报.zip",
        "国有参股企业（两江数据，渝发集团持股30%）由出资企业渝发集团代为填报",
        minority_by_investor,
        0,
        (),
    ),
    Sample(
        "04-补录-已办无变化.zip",
        "补录历史数据（2012-06-30），以前已办登记且无变化；绝对控股子企业",
        backfill_unchanged,
        0,
        (),
        filed_by=SC_POWER,
    ),
    Sample(
        "05-补录-已办有变化.zip", "补录历史数据，一级企业已办登记但有变化", backfill_changed, 0, (), filed_by=SHANCHENG
    ),
    Sample(
        "06-补录-未办",
        "补录历史数据，从未办理登记；以文件夹形式报送",
        backfill_never,
        0,
        (),
        folder=True,
        filed_by=YUFA_BUILD,
    ),
    Sample(
        "07-错误-组织机构代码校验码错.zip",
        "组织机构代码校验位填错（与统一社会信用代码第9-17位也不一致）",
        bad_check_character,
        1,
        ("org-code-check-digit", "org-code-uscc-mismatch"),
        filed_by=YUFA_BUILD,
    ),
    Sample(
        "08-错误-股权比例合计不等于100.zip",
        "出资人股权比例合计90%，且与认缴额不符",
        bad_shares,
        1,
        ("investor-share-mismatch", "investors-share-sum"),
        filed_by=SC_POWER,
    ),
    Sample(
        "09-错误-缺少必需资料.zip",
        "合规性资料目录中必需的“企业章程”没有文件",
        bad_missing_document,
        1,
        ("document-required-missing",),
    ),
    Sample("10-错误-附件超过2MB.zip", "验资报告扫描件超过2MB", bad_large_attachment, 1, ("document-too-large",)),
    Sample(
        "11-错误-改名的可执行文件.zip",
        "“营业执照副本.jpg”实际是改了扩展名的 Windows 程序",
        bad_executable,
        1,
        ("document-content-mismatch",),
        filed_by=YUFA_BUILD,
    ),
    Sample("12-错误-损坏的工作簿.xlsx", "传输中断、只剩三分之二的工作簿", broken_workbook, 2, ("workbook-truncated",)),
    Sample("13-错误-压缩包里套压缩包.zip", "把报送压缩包又打包了一层", nested_zip, 2, ("bundle-nested-zip",)),
)
