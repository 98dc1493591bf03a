"""The unit tree: import (idempotent, all-or-nothing), overseas user names, search, move, tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import SASAC, Tree, code

from workflow import Unit, UnitError, UnitImportError, Workflow
from workflow.tokens import make_token, parse_token, token_matches
from workflow.unitfile import read_unit_rows, write_unit_template

CSV = """code,name,parent_code,level,overseas,holding,filer_emails,reviewer_emails
{g},重庆示例集团有限公司,,1,否,国有全资,tb@g.cn,sh@g.cn;fu@g.cn
{b},示例三级公司,{a},3,否,国有绝对控股,tb@b.cn,
{a},示例二级公司,{g},2,否,全资,tb@a.cn,sh@a.cn
,示例香港有限公司,{a},3,是,国有全资,hk@a.cn,
{p},示例参股公司,{a},,否,国有参股,,
"""


def unit(wf: Workflow, code: str) -> Unit:
    found = wf.units.get(code)
    assert found is not None, code
    return found


def first_level(wf: Workflow, code: str) -> Unit:
    found = wf.units.first_level_of(code)
    assert found is not None, code
    return found


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_import_is_idempotent_and_orders_parents(wf: Workflow, tmp_path: Path) -> None:
    t = Tree()
    text = CSV.format(g=t.g, a=t.a, b=t.b, p=t.p)
    summary = wf.units.import_rows(read_unit_rows(write_csv(tmp_path / "units.csv", text)))
    assert len(summary.added) == 5 and summary.changed == []
    hk = wf.units.search("香港")[0]
    assert hk.overseas and hk.username == "JW" + t.g[-4:] + "0001" and hk.level == 3
    assert unit(wf, t.b).level == 3 and unit(wf, t.g).reviewer_emails == ["sh@g.cn", "fu@g.cn"]
    assert unit(wf, t.p).holding == "国有参股"
    size = wf.ledger.size()
    again = wf.units.import_rows(read_unit_rows(write_csv(tmp_path / "units.csv", text)))
    assert again.added == [] and again.changed == [] and len(again.unchanged) == 5
    assert wf.ledger.size() == size
    changed = wf.units.import_rows(read_unit_rows(write_csv(tmp_path / "u2.csv", text.replace("tb@b.cn", "x@b.cn"))))
    assert changed.changed == [t.b] and unit(wf, t.b).filer_emails == ["x@b.cn"]


def test_import_refuses_everything_on_a_bad_row(wf: Workflow, tmp_path: Path) -> None:
    t = Tree()
    bad = CSV.format(g=t.g, a=t.a, b="500300001", p=t.p) + f"{code('50070000')},孤儿公司,{code('59990000')},,否,,,\n"
    with pytest.raises(UnitImportError) as caught:
        wf.units.import_rows(read_unit_rows(write_csv(tmp_path / "units.csv", bad)))
    rows = dict(caught.value.problems)
    assert "校验位" in rows[3] and "不存在" in rows[7]
    assert wf.units.count() == 1  # only the root: nothing half-imported


def test_units_template_round_trips(tmp_path: Path, wf: Workflow) -> None:
    for name in ("units.xlsx", "units.csv"):
        write_unit_template(tmp_path / name)
        rows = read_unit_rows(tmp_path / name)
        assert [r.name for r in rows] == ["重庆示例集团有限公司"]
    summary = wf.units.import_rows(read_unit_rows(tmp_path / "units.xlsx"))
    assert summary.added == ["500100008"]


def test_overseas_user_names_are_unique_and_mailed_to_the_first_level(wf: Workflow, tree: Tree) -> None:
    first = wf.units.add_overseas("测试香港公司", parent=tree.a)
    second = wf.units.add_overseas("测试新加坡公司", parent=tree.g)
    assert (first.username, second.username) == ("JW00080001", "JW00080002")
    assert first.level == 3 and second.level == 2
    requests = [e.payload for e in wf.ledger.events(kind="credentials.mail_requested")]
    assert requests[0] == {
        "unit": "JW00080001",
        "username": "JW00080001",
        "first_level": tree.g,
        "recipients": ["tb@g.cn"],
    }
    assert wf.accounts.authenticate("jw00080001", "JW00080001").must_change
    with pytest.raises(UnitError):
        wf.units.add_overseas("直属境外公司", parent=SASAC)


def test_search_ranks_exact_then_prefix_then_substring(wf: Workflow) -> None:
    wf.units.add(code("70000001"), "重庆建工集团股份有限公司")
    wf.units.add(code("70000002"), "建工")
    wf.units.add(code("70000003"), "建工第三建设有限责任公司")
    wf.units.add(code("70000004"), "建工四公司")
    names = [u.name for u in wf.units.search("建工")]
    assert names == ["建工", "建工四公司", "建工第三建设有限责任公司", "重庆建工集团股份有限公司"]
    assert wf.units.search("100%") == []


def test_move_shifts_levels_of_the_subtree(wf: Workflow, tree: Tree) -> None:
    wf.units.move(tree.b, tree.g)
    assert (unit(wf, tree.b).level, unit(wf, tree.c).level) == (2, 3)
    with pytest.raises(UnitError):
        wf.units.move(tree.b, tree.c)  # under its own descendant
    assert first_level(wf, tree.c).code == tree.g
    assert [a.code for a in wf.units.ancestors(tree.c)] == [tree.b, tree.g, SASAC]


def test_tokens_bind_step_and_address() -> None:
    key = b"s" * 32
    token = make_token(key, "CQ2026-000007", 2, 3, "Reviewer@Example.com")
    assert token.startswith("cq2026-000007-r2-l3-") and token == token.lower() and "@" not in token
    step = parse_token(token.upper())
    assert step is not None and (step.filing_id, step.round, step.level) == ("CQ2026-000007", 2, 3)
    assert token_matches(key, step, "reviewer@example.com")
    assert not token_matches(key, step, "other@example.com")
    assert not token_matches(b"x" * 32, step, "reviewer@example.com")
    assert parse_token("cq2026-000007-r2-l3") is None


def test_inbox_sample_units_file_imports(wf: Workflow) -> None:
    sample = Path(__file__).resolve().parents[2] / "inbox_samples" / "units.csv"
    if not sample.exists():
        pytest.skip("inbox_samples/units.csv is generated by the samples script")
    first = wf.units.import_rows(read_unit_rows(sample))
    assert len(first.added) == wf.units.count() - 1 >= 5
    assert unit(wf, SASAC).reviewer_emails  # the supervisor's row sets its reviewers
    overseas = [u for u in wf.units.all() if u.overseas]
    assert overseas and all(u.username.startswith("JW") for u in overseas)
    size = wf.ledger.size()
    again = wf.units.import_rows(read_unit_rows(sample))
    assert again.added == [] and again.changed == [] and wf.ledger.size() == size


def test_a_units_file_with_an_out_of_range_date_cell_is_refused_not_a_crash(tmp_path: Path) -> None:
    """calamine panics (a Rust panic is a BaseException) on a date cell far out of range."""
    import openpyxl

    from workflow.unitfile import UnitFileError

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["code", "name", "parent_code", "level"])
    sheet.append(["500100008", "重庆示例集团有限公司", "", -1e15])
    sheet["D2"].number_format = "yyyy-mm-dd"
    path = tmp_path / "units.xlsx"
    book.save(path)
    with pytest.raises(UnitFileError, match="无法读取的单元格数值"):
        read_unit_rows(path)
