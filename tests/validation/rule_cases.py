"""The rule tests' case tables: variants that must pass, and spoiled filings each with the one finding
(code, sheet, cell) it must give. test_wb_rules.py runs them; a new rule adds its cases here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from wb_factory import OCCUPY_DOCS, ORG, PARENT, PDF, USCC, good_documents, good_investors

from validation.codes import make_org_code

R = "登记信息"
B = "基本信息"
I = "出资人情况"  # noqa: E741
D = "合规性资料目录"


def wrong_check(code: str) -> str:
    last = code[-1]
    return code[:-1] + ("1" if last != "1" else "2")


def investors_with(**changes: dict[str, Any]) -> list[dict[str, Any]]:
    """good_investors() with changes per row index given as r0=..., r1=..."""
    rows = good_investors()
    for key, change in changes.items():
        rows[int(key[1:])].update(change)
    return rows


PASSING: dict[str, dict[str, Any]] = {
    "overseas-unit-exempt-from-codes": {
        "values": {"is_overseas": True, "uscc": None, "org_code": None, "region_code": None},
    },
    "overseas-unit-may-carry-foreign-identifiers": {
        "values": {"is_overseas": True, "uscc": "HK-12345678", "org_code": "C1234", "filer_org_code": "JW0000123"},
    },
    "first-level-needs-no-parent": {"values": {"ent_level": "一级", "parent_org_code": None}},
    "change-registration": {
        "values": {"reg_type": "变动产权登记", "reg_situation": "注册资本变动", "is_biz_registered": None},
    },
    "backfill-with-its-fields": {
        "values": {
            "reg_situation": "补录历史数据",
            "backfill_form": "已办无变化",
            "as_of_date": dt.date(2012, 6, 30),
            "act_date": None,
            "established_on": dt.date(2005, 3, 1),
        },
    },
    "state-actual-control-with-largest-stake": {
        "values": {"state_relation": "国有实际控制"},
        "investors": [
            {**good_investors()[0], "subscribed": Decimal(400), "paid_in": Decimal(400), "share_pct": Decimal(40)},
            {**good_investors()[1], "subscribed": Decimal(300), "paid_in": Decimal(0), "share_pct": Decimal(30)},
            {
                "investor_name": "张三",
                "investor_category": "自然人",
                "subscribed": Decimal(300),
                "paid_in": Decimal(300),
                "share_pct": Decimal(30),
            },
        ],
    },
    "state-wholly-owned": {
        "values": {"state_relation": "国有全资"},
        "investors": [
            {**good_investors()[0], "share_pct": Decimal(60)},
            {**good_investors()[1], "investor_category": "国有控股企业"},
        ],
    },
    "minority-holding": {
        "values": {"state_relation": "国有参股"},
        "investors": investors_with(r0={"investor_category": "其他境内企业"}, r1={"investor_category": "国有控股企业"}),
    },
    "thirds-round-to-two-decimals": {
        "values": {"reg_capital": Decimal(300)},
        "investors": [
            {**good_investors()[0], "subscribed": Decimal(200), "paid_in": Decimal(200), "share_pct": Decimal("66.67")},
            {**good_investors()[1], "subscribed": Decimal(100), "paid_in": Decimal(100), "share_pct": Decimal("33.33")},
        ],
    },
    "natural-person-without-code": {
        "investors": investors_with(r1={"investor_category": "自然人", "investor_code": None, "investor_name": "王五"}),
    },
    "investor-with-nine-character-code": {
        "investors": investors_with(r1={"investor_code": make_org_code("30000001")}),
    },
    "blank-row-inside-table": {
        "investors": [good_investors()[0], {}, good_investors()[1]],
    },
    "four-decimal-amounts": {
        "values": {"reg_capital": Decimal("1000.1234")},
        "investors": investors_with(r1={"subscribed": Decimal("400.1234"), "paid_in": Decimal("0.0001")}),
    },
}


# (overrides, investors, documents, attachments-modifier, expected (code, sheet, cell))
Case = tuple[
    dict[str, Any] | None,
    list[dict[str, Any]] | None,
    list[dict[str, Any]] | None,
    Callable[[dict[str, bytes]], dict[str, bytes]] | None,
    tuple[str, str, str],
]

FAILING: dict[str, Case] = {
    "name-missing": ({"ent_name": None}, None, None, None, ("required-missing", B, "B3")),
    "uscc-missing-for-domestic": ({"uscc": None}, None, None, None, ("required-missing", B, "B4")),
    "parent-missing-below-first-level": ({"parent_org_code": None}, None, None, None, ("required-missing", B, "B20")),
    "approval-ref-missing-for-change": (
        {"reg_type": "变动产权登记", "reg_situation": "注册资本变动", "approval_ref": None},
        None,
        None,
        None,
        ("required-missing", R, "B9"),
    ),
    "biz-registered-missing-for-occupation": (
        {"is_biz_registered": None},
        None,
        None,
        None,
        ("required-missing", R, "B7"),
    ),
    "act-date-missing": ({"act_date": None}, None, None, None, ("required-missing", R, "B8")),
    "backfill-form-missing": (
        {"reg_situation": "补录历史数据", "act_date": None},
        None,
        None,
        None,
        ("required-missing", R, "B5"),
    ),
    "backfill-date-missing": (
        {"reg_situation": "补录历史数据", "backfill_form": "未办"},
        None,
        None,
        None,
        ("required-missing", R, "B6"),
    ),
    "backfill-field-outside-backfill": (
        {"backfill_form": "未办"},
        None,
        None,
        None,
        ("backfill-field-not-allowed", R, "B5"),
    ),
    "as-of-date-outside-backfill": (
        {"as_of_date": dt.date(2012, 6, 30)},
        None,
        None,
        None,
        ("backfill-field-not-allowed", R, "B6"),
    ),
    "situation-not-for-type": (
        {"reg_type": "注销产权登记", "reg_situation": "投资设立"},
        None,
        None,
        None,
        ("reg-situation-mismatch", R, "B4"),
    ),
    "filer-code-check-character": (
        {"filer_org_code": wrong_check(ORG)},
        None,
        None,
        None,
        ("org-code-check-digit", R, "B10"),
    ),
    "filer-code-too-short": ({"filer_org_code": "1234567"}, None, None, None, ("org-code-format", R, "B10")),
    "unit-code-check-character": (
        {"org_code": wrong_check(ORG)},
        None,
        None,
        None,
        ("org-code-check-digit", B, "B5"),
    ),
    "parent-code-check-character": (
        {"parent_org_code": wrong_check(PARENT)},
        None,
        None,
        None,
        ("org-code-check-digit", B, "B20"),
    ),
    "uscc-check-character": ({"uscc": wrong_check(USCC)}, None, None, None, ("uscc-check-digit", B, "B4")),
    "uscc-forbidden-letter": ({"uscc": USCC[:3] + "I" + USCC[4:]}, None, None, None, ("uscc-format", B, "B4")),
    "org-code-not-in-uscc": ({"org_code": PARENT}, None, None, None, ("org-code-uscc-mismatch", B, "B5")),
    "currency-not-in-list": ({"currency": "卢布"}, None, None, None, ("invalid-choice", B, "B11")),
    "reg-type-not-in-list": ({"reg_type": "登记"}, None, None, None, ("invalid-choice", R, "B3")),
    "investor-category-not-in-list": (
        None,
        investors_with(r0={"investor_category": "央企"}),
        None,
        None,
        ("invalid-choice", I, "C4"),
    ),
    "capital-five-decimals": (
        {"reg_capital": Decimal("1000.00001")},
        None,
        None,
        None,
        ("amount-decimals", B, "B10"),
    ),
    "paid-in-negative": (None, investors_with(r0={"paid_in": Decimal(-1)}), None, None, ("amount-negative", I, "E4")),
    "share-three-decimals": (
        None,
        investors_with(r0={"share_pct": Decimal("60.001")}, r1={"share_pct": Decimal("39.999")}),
        None,
        None,
        ("percent-decimals", I, "F4"),
    ),
    "share-over-100": (None, investors_with(r0={"share_pct": Decimal(160)}), None, None, ("percent-range", I, "F4")),
    "subscribed-not-capital": (
        {"reg_capital": Decimal(1200)},
        None,
        None,
        None,
        ("investors-subscribed-sum", B, "B10"),
    ),
    "shares-not-100": (
        None,
        investors_with(r1={"share_pct": Decimal(30)}),
        None,
        None,
        ("investors-share-sum", I, "F3"),
    ),
    "share-not-subscribed-ratio": (
        None,
        investors_with(r0={"share_pct": Decimal("59.98")}, r1={"share_pct": Decimal("40.02")}),
        None,
        None,
        ("investor-share-mismatch", I, "F4"),
    ),
    "paid-in-over-subscribed": (
        None,
        investors_with(r1={"paid_in": Decimal("400.0001")}),
        None,
        None,
        ("investor-paid-in-exceeds", I, "E5"),
    ),
    "duplicate-investor-name": (
        None,
        investors_with(r1={"investor_name": " 重庆国有资本运营集团"}),
        None,
        None,
        ("investor-duplicate-name", I, "A5"),
    ),
    "duplicate-investor-code": (
        None,
        investors_with(r1={"investor_code": PARENT}),
        None,
        None,
        ("investor-duplicate-code", I, "B5"),
    ),
    "investor-code-check-character": (
        None,
        investors_with(r0={"investor_code": wrong_check(PARENT)}),
        None,
        None,
        ("org-code-check-digit", I, "B4"),
    ),
    "investor-uscc-check-character": (
        None,
        investors_with(r1={"investor_code": wrong_check(good_investors()[1]["investor_code"])}),
        None,
        None,
        ("uscc-check-digit", I, "B5"),
    ),
    "investor-code-wrong-length": (
        None,
        investors_with(r1={"investor_code": "12345"}),
        None,
        None,
        ("investor-code-format", I, "B5"),
    ),
    "enterprise-investor-without-code": (
        None,
        investors_with(r0={"investor_code": None}),
        None,
        None,
        ("required-missing", I, "B4"),
    ),
    "investor-without-share": (
        None,
        investors_with(r1={"share_pct": None}),
        None,
        None,
        ("required-missing", I, "F5"),
    ),
    "no-investors": (None, [], None, None, ("investors-empty", I, "A4")),
    "wholly-owned-but-private-investor": (
        {"state_relation": "国有全资"},
        None,
        None,
        None,
        ("state-relation-mismatch", B, "B8"),
    ),
    "minority-but-state-majority": (
        {"state_relation": "国有参股"},
        None,
        None,
        None,
        ("state-relation-mismatch", B, "B8"),
    ),
    "absolute-control-but-minority": (
        None,
        investors_with(r0={"investor_category": "其他境内企业"}),
        None,
        None,
        ("state-relation-mismatch", B, "B8"),
    ),
    "actual-control-without-largest-stake": (
        {"state_relation": "国有实际控制"},
        [
            {**good_investors()[0], "subscribed": Decimal(300), "paid_in": Decimal(300), "share_pct": Decimal(30)},
            {**good_investors()[1], "subscribed": Decimal(400), "paid_in": Decimal(0), "share_pct": Decimal(40)},
            {
                "investor_name": "张三",
                "investor_category": "自然人",
                "subscribed": Decimal(300),
                "paid_in": Decimal(300),
                "share_pct": Decimal(30),
            },
        ],
        None,
        None,
        ("state-relation-mismatch", B, "B8"),
    ),
    "established-in-future": (
        {"established_on": dt.date(2026, 11, 28)},
        None,
        None,
        None,
        ("date-in-future", B, "B6"),
    ),
    "act-before-established": (
        {"act_date": dt.date(2019, 12, 31)},
        None,
        None,
        None,
        ("act-date-before-established", R, "B8"),
    ),
    "email-invalid": ({"contact_email": "lisi at example"}, None, None, None, ("email-invalid", B, "B24")),
    "phone-invalid": ({"contact_phone": "电话"}, None, None, None, ("phone-invalid", B, "B23")),
    "region-invalid": ({"region_code": "5001"}, None, None, None, ("region-code-invalid", B, "B12")),
    "date-unreadable": ({"act_date": "2020-13-45"}, None, None, None, ("invalid-date", R, "B8")),
    "date-ambiguous": ({"act_date": "05/01/20"}, None, None, None, ("ambiguous-date", R, "B8")),
    "number-unreadable": ({"reg_capital": "一千"}, None, None, None, ("invalid-number", B, "B10")),
    "number-ambiguous": ({"reg_capital": "1,00"}, None, None, None, ("ambiguous-number", B, "B10")),
    "boolean-unreadable": ({"is_listed": "也许"}, None, None, None, ("invalid-boolean", B, "B17")),
    "investor-number-unreadable": (
        None,
        investors_with(r0={"subscribed": "六百"}),
        None,
        None,
        ("invalid-number", I, "D4"),
    ),
    "required-document-without-file": (
        None,
        None,
        [*good_documents(OCCUPY_DOCS[:2]), {"doc_kind": "企业章程"}, *good_documents(OCCUPY_DOCS[3:])],
        None,
        ("document-required-missing", D, "C6"),
    ),
    "required-document-not-listed": (
        None,
        None,
        good_documents(OCCUPY_DOCS[1:]),
        None,
        ("document-required-missing", D, "A3"),
    ),
    "listed-file-not-sent": (
        None,
        None,
        None,
        lambda a: {k: v for k, v in a.items() if not k.startswith("企业章程")},
        ("document-file-missing", D, "C6"),
    ),
    "file-extension-not-allowed": (
        None,
        None,
        [*good_documents(), {"doc_kind": "其他资料", "file_name": "说明.txt"}],
        lambda a: {**a, "说明.txt": b"hello"},
        ("document-extension", D, "C9"),
    ),
    "renamed-executable": (
        None,
        None,
        None,
        lambda a: {**a, "企业章程.pdf": b"MZ\x90\x00" + b"\x00" * 200},
        ("document-content-mismatch", D, "C6"),
    ),
    "jpeg-that-is-a-pdf": (
        None,
        None,
        [*good_documents(), {"doc_kind": "其他资料", "file_name": "照片.JPG"}],
        lambda a: {**a, "照片.JPG": PDF},
        ("document-content-mismatch", D, "C9"),
    ),
    "file-over-2mb": (
        None,
        None,
        None,
        lambda a: {**a, "企业章程.pdf": PDF + b"0" * (2 * 1024 * 1024)},
        ("document-too-large", D, "C6"),
    ),
    "file-listed-twice": (
        None,
        None,
        [*good_documents(), {"doc_kind": "其他资料", "file_name": "企业章程.PDF"}],
        None,
        ("document-listed-twice", D, "C9"),
    ),
    "unknown-template-version": (
        {"template_version": "2012.1"},
        None,
        None,
        None,
        ("template-version-unknown", R, "E1"),
    ),
}
