"""Registration data: canonical form, its inverse, and field-by-field diffs."""

from __future__ import annotations

import json
from decimal import Decimal

from wb_factory import good_investors, make_workbook

from validation import Registration, diff_registrations, read_workbook


def test_canonical_is_json_safe_and_invertible(good_xlsx: bytes) -> None:
    reg = read_workbook(good_xlsx).registration
    canonical = reg.to_canonical()
    text = json.dumps(canonical, ensure_ascii=False, sort_keys=True)
    assert '"reg_capital": "1000"' in text and '"established_on": "2020-01-02"' in text
    assert "row" not in canonical["investors"][0]
    back = Registration.from_canonical(json.loads(text))
    assert back.to_canonical() == canonical
    assert back.reg_capital == Decimal(1000) and back.is_overseas is False


def test_no_changes_between_equal_registrations(good_xlsx: bytes) -> None:
    reg = read_workbook(good_xlsx).registration
    assert diff_registrations(reg, Registration.from_canonical(reg.to_canonical())) == []


def test_changes_are_listed_field_by_field(good_xlsx: bytes) -> None:
    old = read_workbook(good_xlsx).registration
    rows = good_investors()
    rows[1]["share_pct"] = Decimal("40.00")  # same value, different typing: not a change
    rows[0]["paid_in"] = Decimal(500)
    rows.append(
        {"investor_name": "新股东", "investor_category": "自然人", "subscribed": 0, "paid_in": 0, "share_pct": 0}
    )
    new = read_workbook(make_workbook({"ent_name": "新名称有限公司", "remarks": "改名"}, rows)).registration
    changes = {c.key: c for c in diff_registrations(old, new)}
    assert set(changes) == {"ent_name", "remarks", "investors[重庆国有资本运营集团].paid_in", "investors[新股东]"}
    assert changes["ent_name"].label == "企业名称"
    assert (changes["ent_name"].old, changes["ent_name"].new) == ("重庆测试实业有限公司", "新名称有限公司")
    assert changes["investors[重庆国有资本运营集团].paid_in"][2:] == ("600", "500")
    removed = diff_registrations(new, old, ignore=frozenset({"ent_name", "remarks"}))
    assert [(c.key, c.new) for c in removed if c.key == "investors[新股东]"] == [("investors[新股东]", "删除")]
