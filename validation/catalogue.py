"""The catalogue of the workbook's choices: registration types and situations, enumerations,
document kinds and which registrations need them, attachment formats.

Values are the wording of the regulation (SASAC Order No. 29) and the original system's form;
the field declarations in spec.py point at them, the rules and the template use them directly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

REG_OCCUPY = "占有产权登记"
REG_CHANGE = "变动产权登记"
REG_CANCEL = "注销产权登记"
REG_TYPES: tuple[str, ...] = (REG_OCCUPY, REG_CHANGE, REG_CANCEL)

BACKFILL = "补录历史数据"
REG_SITUATIONS: dict[str, tuple[str, ...]] = {
    REG_OCCUPY: ("新设立国家出资企业", "投资设立", "收购股权取得控制", "其他原因取得产权", BACKFILL),
    REG_CHANGE: (
        "企业名称变动",
        "注册资本变动",
        "出资人或出资比例变动",
        "企业级次变动",
        "组织形式变动",
        "国有资产性质变动",
        "其他变动",
    ),
    REG_CANCEL: ("解散清算", "依法破产", "被吸收合并", "股权转让后不再占有产权", "其他原因注销"),
}
ALL_SITUATIONS: tuple[str, ...] = tuple(dict.fromkeys(s for group in REG_SITUATIONS.values() for s in group))

BACKFILL_FORMS: tuple[str, ...] = ("已办无变化", "已办有变化", "未办")

STATE_WHOLLY = "国有全资"
STATE_ABSOLUTE = "国有绝对控股"
STATE_ACTUAL = "国有实际控制"
STATE_MINORITY = "国有参股"
STATE_RELATIONS: tuple[str, ...] = (STATE_WHOLLY, STATE_ABSOLUTE, STATE_ACTUAL, STATE_MINORITY)

ENT_LEVELS: tuple[str, ...] = ("一级", "二级", "三级", "四级", "五级", "六级及以下")
FIRST_LEVEL = "一级"

ORG_FORMS: tuple[str, ...] = (
    "有限责任公司",
    "股份有限公司",
    "全民所有制企业",
    "集体所有制企业",
    "合伙企业",
    "境外企业",
    "其他",
)
CURRENCIES: tuple[str, ...] = ("人民币", "美元", "港元", "欧元", "日元", "英镑", "其他")
INDUSTRIES: tuple[str, ...] = (
    "A 农、林、牧、渔业",
    "B 采矿业",
    "C 制造业",
    "D 电力、热力、燃气及水生产和供应业",
    "E 建筑业",
    "F 批发和零售业",
    "G 交通运输、仓储和邮政业",
    "H 住宿和餐饮业",
    "I 信息传输、软件和信息技术服务业",
    "J 金融业",
    "K 房地产业",
    "L 租赁和商务服务业",
    "M 科学研究和技术服务业",
    "N 水利、环境和公共设施管理业",
    "O 居民服务、修理和其他服务业",
    "P 教育",
    "Q 卫生和社会工作",
    "R 文化、体育和娱乐业",
    "S 公共管理、社会保障和社会组织",
    "T 国际组织",
)
OP_STATUSES: tuple[str, ...] = ("正常经营", "停业", "歇业", "清算中", "已注销")
BOOL_VALUES: tuple[str, ...] = ("是", "否")

INVESTOR_CATEGORIES: tuple[str, ...] = (
    "国有资产监督管理机构",
    "国有独资（全资）企业",
    "国有控股企业",
    "国有实际控制企业",
    "国有参股企业",
    "其他境内企业",
    "境外企业",
    "自然人",
    "其他",
)
STATE_INVESTOR_CATEGORIES: frozenset[str] = frozenset(INVESTOR_CATEGORIES[:4])
"""Investors whose stake counts as state-held when checking 与国家出资企业关系."""
CODELESS_INVESTOR_CATEGORIES: frozenset[str] = frozenset({"境外企业", "自然人", "其他"})
"""Investors that need not carry a Chinese organization code or USCC."""

DOC_APPLICATION = "业务办理申请文件"
DOC_KINDS: tuple[str, ...] = (
    DOC_APPLICATION,
    "经济行为批准文件",
    "企业章程",
    "营业执照副本",
    "验资报告或出资证明",
    "审计报告",
    "注销证明文件",
    "资产评估备案表",
    "其他资料",
)
REQUIRED_DOCS: dict[str, tuple[str, ...]] = {
    REG_OCCUPY: (DOC_APPLICATION, "经济行为批准文件", "企业章程", "营业执照副本", "验资报告或出资证明"),
    REG_CHANGE: (DOC_APPLICATION, "经济行为批准文件", "企业章程", "营业执照副本"),
    REG_CANCEL: (DOC_APPLICATION, "经济行为批准文件", "审计报告", "注销证明文件"),
    BACKFILL: (DOC_APPLICATION, "企业章程", "营业执照副本"),
}
"""Document kinds that need a file, by reg_type (or by the backfill situation, which overrides)."""

ALLOWED_EXTENSIONS: tuple[str, ...] = ("rar", "zip", "pdf", "doc", "docx", "jpg", "jpeg", "png", "tif", "tiff")
"""The manual's “RAR、ZIP、PDF、WORD、JPG 等”, with the PNG and TIFF that scanners write."""
MAX_ATTACHMENT_BYTES = 2 * 1024 * 1024

BACKFILL_CUTOFF = dt.date(2012, 6, 30)
"""数据时点 of the original backfill campaign; the default of the `validation.backfill_cutoff` setting."""

CHOICE_ALIASES: dict[str, str] = {industry.split(" ", 1)[1]: industry for industry in INDUSTRIES}
"""Other spellings accepted for a listed value: 所属行业 by its name alone (建筑业 for E 建筑业)."""


def required_doc_kinds(reg_type: str | None, reg_situation: str | None) -> tuple[str, ...]:
    """Kinds needing a file; the application letter is required even when reg_type is unknown."""
    if reg_situation == BACKFILL:
        return REQUIRED_DOCS[BACKFILL]
    return REQUIRED_DOCS.get(reg_type or "", (DOC_APPLICATION,))


def doc_required_label(kind: str) -> str:
    """The text pre-filled in the 是否必需 column, saying for which registrations a kind is needed."""
    if kind == DOC_APPLICATION:
        return "必需"
    needed_by = [name for name, kinds in REQUIRED_DOCS.items() if kind in kinds]
    if not needed_by:
        return "按需提供"
    short = {REG_OCCUPY: "占有", REG_CHANGE: "变动", REG_CANCEL: "注销", BACKFILL: "补录"}
    return "、".join(short[n] for n in needed_by) + "登记必需"


def join_choices(values: Iterable[str]) -> str:
    """Values joined for reading: with “、”, unless a value contains one itself (A 农、林、牧、渔业),
    when “；” keeps the values apart."""
    items = list(values)
    return ("；" if any("、" in item for item in items) else "、").join(items)
