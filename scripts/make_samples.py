"""Rebuild inbox_samples/: example bundles, good and bad, that a newcomer can drop in or check.

    .venv/bin/python scripts/make_samples.py [--out inbox_samples] [--no-verify]

Every workbook is the standard template filled by defined name and table column (as an outside
tool would fill it), so the samples follow the template as it is today. The output is
deterministic: fixed zip timestamps, fixed workbook properties, seeded filler bytes. After
writing, each sample is checked in-process and compared with the result stated below; the
README's table is written from those statements, and tests/validation/test_samples.py holds
`chanquan check` to them.
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import io
import random
import re
import shutil
import sys
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from validation.bundle import BundleError, load_bundle
from validation.check import check_bundle
from validation.codes import make_org_code, make_uscc
from validation.template import fill_workbook, template_bytes

ROOT = Path(__file__).resolve().parents[1]
FIXED_TIME = (2026, 1, 5, 9, 0, 0)
FIXED_ISO = "2026-01-05T09:00:00Z"

# --- the enterprise tree the demo seeds (inbox_samples/units.csv) -------------------------------


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

# --- attachment bytes -----------------------------------------------------------------------------

_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hn"
    "Pk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2Nj"
    "Y2P/wAARCAAIAAgDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQID"
    "AAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlq"
    "c3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3"
    "+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEI"
    "FEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImK"
    "kpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDH"
    "ooorhPqD/9k="
)
"""An 8x8 JPEG (a red square), standing in for a scanned page."""


def pdf_bytes(title: str, *, padding: int = 0) -> bytes:
    """A minimal valid one-page PDF with a correct xref; `padding` adds a compressible content stream."""
    rng = random.Random(title)
    lines = [
        f"{rng.randint(0, 595)} {rng.randint(0, 842)} m {rng.randint(0, 595)} {rng.randint(0, 842)} l S"
        for _ in range(64)
    ]
    stream = "BT /F1 12 Tf 72 720 Td (scan) Tj ET\n"
    while len(stream) < padding:
        stream += rng.choice(lines) + "\n"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}endstream",
    ]
    out = "%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out.encode("latin-1")))
        out += f"{number} 0 obj\n{body}\nendobj\n"
    xref = len(out.encode("latin-1"))
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n"
    out += "".join(f"{off:010d} 00000 n \n" for off in offsets)
    title_hex = "FEFF" + title.encode("utf-16-be").hex().upper()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info << /Title <{title_hex}> >> >>\n"
    out += f"startxref\n{xref}\n%%EOF\n"
    return out.encode("latin-1")


def zip_attachment(members: Mapping[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, FIXED_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


FAKE_EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 44
    + b"\x80\x00\x00\x00"
    + b"This program cannot be run in DOS mode.\r\r\n$"
    + b"\x00" * 64
    + b"PE\x00\x00"
)
"""The start of a Windows executable, renamed to .pdf in one sample."""

# --- workbook filling ----------------------------------------------------------------------------


def normalize_xlsx(data: bytes) -> bytes:
    """Same workbook with fixed timestamps, so that rebuilding gives identical bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" + FIXED_ISO.encode(), content)
            dst.writestr(zipfile.ZipInfo(info.filename, FIXED_TIME), content, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


_TEMPLATE: bytes | None = None


def blank_template() -> bytes:
    global _TEMPLATE
    if _TEMPLATE is None:
        _TEMPLATE = template_bytes()
    return _TEMPLATE


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


def sasac_investor(capital: str) -> dict[str, object]:
    return {
        "investor_name": "重庆市国资委",
        "investor_code": SASAC_INVESTOR_CODE,
        "investor_category": "国有资产监督管理机构",
        "subscribed": Decimal(capital),
        "paid_in": Decimal(capital),
        "share_pct": Decimal("100"),
    }


def parent_investor(
    parent: Unit, subscribed: str, share: str, category: str = "国有独资（全资）企业"
) -> dict[str, object]:
    return {
        "investor_name": parent.name,
        "investor_code": parent.uscc,
        "investor_category": category,
        "subscribed": Decimal(subscribed),
        "paid_in": Decimal(subscribed),
        "share_pct": Decimal(share),
    }


def other_investor(subscribed: str, share: str) -> dict[str, object]:
    name, code, category = OTHER_INVESTOR
    return {
        "investor_name": name,
        "investor_code": code,
        "investor_category": category,
        "subscribed": Decimal(subscribed),
        "paid_in": Decimal(subscribed),
        "share_pct": Decimal(share),
    }


def documents(files: Mapping[str, str]) -> list[dict[str, object]]:
    """Catalogue rows: kind -> file name ('' leaves the file name empty)."""
    return [{"doc_kind": kind, "file_name": name} for kind, name in files.items()]


# --- the samples -----------------------------------------------------------------------------------


@dataclass
class Sample:
    name: str
    shows: str
    build: Callable[[], dict[str, bytes] | bytes]
    exit_code: int
    codes: tuple[str, ...]
    filed_by: Unit = YUFA
    folder: bool = False


OCCUPY_FILES = {
    "业务办理申请文件": "业务办理申请文件.pdf",
    "经济行为批准文件": "批复文件.pdf",
    "企业章程": "公司章程.pdf",
    "营业执照副本": "营业执照副本.jpg",
    "验资报告或出资证明": "出资证明.zip",
}
CHANGE_FILES = {
    "业务办理申请文件": "业务办理申请文件.pdf",
    "经济行为批准文件": "增资批复.pdf",
    "企业章程": "章程修正案.pdf",
    "营业执照副本": "营业执照副本.jpg",
}
BACKFILL_FILES = {
    "业务办理申请文件": "业务办理申请文件.pdf",
    "企业章程": "公司章程.pdf",
    "营业执照副本": "营业执照副本.jpg",
}


def attachment_bytes(file_name: str) -> bytes:
    if file_name.endswith(".jpg"):
        return _JPEG
    if file_name.endswith(".zip"):
        return zip_attachment({"出资证明-第1页.jpg": _JPEG, "出资证明-第2页.pdf": pdf_bytes("chuzi-2")})
    return pdf_bytes(file_name)


def bundle_files(
    workbook_name: str, workbook: bytes, files: Mapping[str, str], overrides: Mapping[str, bytes] | None = None
) -> dict[str, bytes]:
    out = {workbook_name: workbook}
    for file_name in files.values():
        if file_name:
            out[file_name] = (overrides or {}).get(file_name, attachment_bytes(file_name))
    return out


def workbook(
    registration: Mapping[str, object],
    basic: Mapping[str, object],
    investors: list[dict[str, object]],
    files: Mapping[str, str],
) -> bytes:
    values = {**registration, **basic}
    return normalize_xlsx(fill_workbook(blank_template(), values, investors, documents(files)))


def occupy_first_level() -> dict[str, bytes]:
    reg = {
        "reg_type": "占有产权登记",
        "reg_situation": "新设立国家出资企业",
        "is_biz_registered": True,
        "act_date": dt.date(2025, 3, 18),
        "filer_org_code": YUFA.code,
    }
    basic = basic_values(YUFA, capital="50000", relation="国有全资", established=dt.date(2025, 3, 18))
    wb = workbook(reg, basic, [sasac_investor("50000")], OCCUPY_FILES)
    return bundle_files("产权登记表.xlsx", wb, OCCUPY_FILES)


def change_subsidiary() -> dict[str, bytes]:
    reg = {
        "reg_type": "变动产权登记",
        "reg_situation": "注册资本变动",
        "act_date": dt.date(2025, 11, 3),
        "approval_ref": "渝发集团〔2025〕45号",
        "filer_org_code": YUFA_BUILD.code,
    }
    basic = basic_values(YUFA_BUILD, capital="12000.5", relation="国有全资", established=dt.date(2008, 5, 12))
    wb = workbook(reg, basic, [parent_investor(YUFA, "12000.5", "100")], CHANGE_FILES)
    return bundle_files("渝发建设-变动登记.xlsx", wb, CHANGE_FILES)


def minority_by_investor() -> dict[str, bytes]:
    reg = {
        "reg_type": "占有产权登记",
        "reg_situation": "投资设立",
        "is_biz_registered": True,
        "act_date": dt.date(2024, 9, 2),
        "filer_org_code": YUFA.code,
    }
    basic = basic_values(LIANGJIANG, capital="3000", relation="国有参股", established=dt.date(2024, 8, 26))
    investors = [other_investor("2100", "70"), parent_investor(YUFA, "900", "30", "国有独资（全资）企业")]
    wb = workbook(reg, basic, investors, OCCUPY_FILES)
    return bundle_files("两江数据-参股登记.xlsx", wb, OCCUPY_FILES)


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


def bad_check_character() -> dict[str, bytes]:
    reg = {
        "reg_type": "变动产权登记",
        "reg_situation": "注册资本变动",
        "act_date": dt.date(2025, 11, 3),
        "approval_ref": "渝发集团〔2025〕45号",
        "filer_org_code": YUFA_BUILD.code,
    }
    basic = basic_values(YUFA_BUILD, capital="12000.5", relation="国有全资", established=dt.date(2008, 5, 12))
    wrong = YUFA_BUILD.code[:8] + ("1" if YUFA_BUILD.code[8] != "1" else "2")
    basic["org_code"] = wrong[:8] + "-" + wrong[8]
    wb = workbook(reg, basic, [parent_investor(YUFA, "12000.5", "100")], CHANGE_FILES)
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
    files = dict(OCCUPY_FILES)
    files["企业章程"] = ""
    reg = {
        "reg_type": "占有产权登记",
        "reg_situation": "投资设立",
        "is_biz_registered": True,
        "act_date": dt.date(2024, 9, 2),
        "filer_org_code": YUFA.code,
    }
    basic = basic_values(LIANGJIANG, capital="3000", relation="国有参股", established=dt.date(2024, 8, 26))
    investors = [other_investor("2100", "70"), parent_investor(YUFA, "900", "30")]
    wb = workbook(reg, basic, investors, files)
    return bundle_files("缺少章程.xlsx", wb, files)


def bad_large_attachment() -> dict[str, bytes]:
    files = dict(OCCUPY_FILES)
    files["验资报告或出资证明"] = "验资报告-高清扫描.pdf"
    reg = {
        "reg_type": "占有产权登记",
        "reg_situation": "新设立国家出资企业",
        "is_biz_registered": True,
        "act_date": dt.date(2025, 3, 18),
        "filer_org_code": YUFA.code,
    }
    basic = basic_values(YUFA, capital="50000", relation="国有全资", established=dt.date(2025, 3, 18))
    wb = workbook(reg, basic, [sasac_investor("50000")], files)
    big = pdf_bytes("yanzi-big", padding=2_200_000)
    return bundle_files("附件过大.xlsx", wb, files, {"验资报告-高清扫描.pdf": big})


def bad_executable() -> dict[str, bytes]:
    reg = {
        "reg_type": "变动产权登记",
        "reg_situation": "注册资本变动",
        "act_date": dt.date(2025, 11, 3),
        "approval_ref": "渝发集团〔2025〕45号",
        "filer_org_code": YUFA_BUILD.code,
    }
    basic = basic_values(YUFA_BUILD, capital="12000.5", relation="国有全资", established=dt.date(2008, 5, 12))
    wb = workbook(reg, basic, [parent_investor(YUFA, "12000.5", "100")], CHANGE_FILES)
    return bundle_files("改名的程序.xlsx", wb, CHANGE_FILES, {"营业执照副本.jpg": FAKE_EXE})


def broken_workbook() -> bytes:
    data = occupy_first_level()["产权登记表.xlsx"]
    return data[: len(data) * 2 // 3]


def nested_zip() -> dict[str, bytes]:
    inner = occupy_first_level()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in inner.items():
            zf.writestr(zipfile.ZipInfo(name, FIXED_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
    return {"渝发集团报送材料.zip": out.getvalue()}


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


def write_sample(sample: Sample, out_dir: Path) -> Path:
    built = sample.build()
    target = out_dir / sample.name
    if isinstance(built, bytes):
        target.write_bytes(built)
        return target
    if sample.folder:
        target.mkdir()
        for name, data in built.items():
            (target / name).write_bytes(data)
        return target
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in built.items():
            zf.writestr(zipfile.ZipInfo(name, FIXED_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
    target.write_bytes(buf.getvalue())
    return target


def check_result(path: Path) -> tuple[int, list[str]]:
    """(exit status, sorted distinct finding codes) as `chanquan check` would give them."""
    try:
        bundle = load_bundle(path)
    except BundleError as exc:
        return 2, [exc.code]
    result = check_bundle(bundle)
    return (0 if result.ok else 1), sorted({f.code for f in result.findings})


def write_units(out_dir: Path) -> None:
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


README_HEAD = """# inbox_samples

Example filings, good and bad, that a newcomer can check or drop into the drop folder
(`<dropbox>/<ORGCODE>/`). They are generated — do not edit them by hand:

    .venv/bin/python scripts/make_samples.py

Each workbook is the standard template (`chanquan template`) filled by defined name and table
column. Organization codes and USCCs carry correct check characters and match the enterprise
tree in `units.csv` (the tree the demo seeds): 市国资委 `SASAC0001` → 重庆渝发集团有限公司 and
重庆山城能源投资集团有限公司 (first level) → their subsidiaries, one overseas unit
(渝发（香港）国际有限公司, code assigned by the system) and one 国有参股 holding
(重庆两江数据服务有限公司, filed by its investor 渝发集团).

The last column is the filing unit, i.e. the drop folder `<dropbox>/<ORGCODE>/` the sample
belongs in (for the 参股 sample that is the investor, who files it).

Try one:

    .venv/bin/chanquan check "inbox_samples/08-错误-股权比例合计不等于100.zip"

Exit status: 0 acceptable, 1 has errors, 2 unreadable. The finding codes are explained in
docs/findings.md. tests/validation/test_samples.py checks that `chanquan check` gives exactly the
result below for every sample.

| sample | what it shows | exit | finding codes | filer (drop folder) |
| --- | --- | --- | --- | --- |
"""


def write_readme(out_dir: Path, results: Mapping[str, tuple[int, list[str]]]) -> None:
    rows = []
    for sample in SAMPLES:
        status, codes = results[sample.name]
        shown = ", ".join(f"`{c}`" for c in codes) if codes else "—"
        rows.append(f"| `{sample.name}` | {sample.shows} | {status} | {shown} | `{sample.filed_by.code}` |")
    units = "\n".join(f"- `{u.code}` {u.name}（{'境外，' if u.overseas else ''}{u.holding}）" for u in UNITS)
    text = README_HEAD + "\n".join(rows) + "\n\n## Units\n\n" + units + "\n"
    (out_dir / "README.md").write_text(text, encoding="utf-8")


PACKAGE_MARKER = '''"""Example bundles, installed as the package `chanquan.inbox_samples` (see pyproject.toml).

This marker makes the folder package data, so that `chanquan demo` finds its samples in an installed
wheel as in a checkout. Written by scripts/make_samples.py, like everything here.
"""
'''


def write_package_marker(out_dir: Path) -> None:
    (out_dir / "__init__.py").write_text(PACKAGE_MARKER, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "inbox_samples")
    parser.add_argument("--no-verify", action="store_true", help="write without comparing check results")
    args = parser.parse_args(argv)
    out_dir: Path = args.out
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    results: dict[str, tuple[int, list[str]]] = {}
    problems = []
    for sample in SAMPLES:
        path = write_sample(sample, out_dir)
        status, codes = check_result(path)
        results[sample.name] = (status, codes)
        print(f"{sample.name}: exit {status} {' '.join(codes)}")
        if not args.no_verify and (status, tuple(codes)) != (sample.exit_code, sample.codes):
            problems.append(f"{sample.name}: expected exit {sample.exit_code} {sample.codes}, got {status} {codes}")
    write_units(out_dir)
    write_readme(out_dir, results)
    write_package_marker(out_dir)
    for problem in problems:
        print("MISMATCH", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
