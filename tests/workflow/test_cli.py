"""The CLI on a real data directory: units, accounts, filings, queue, report."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import Tree, file_registration
from openpyxl import load_workbook

from chanquan.app import init_review_token_key, open_workflow, prefill_registration
from chanquan.cli import main
from chanquan.config import Settings
from ledger import localtime
from ledger.localtime import reader_time
from workflow import ReviewDecision

UNITS = """code,name,parent_code,level,overseas,holding,filer_emails,reviewer_emails
{g},重庆测试集团,,1,否,国有全资,tb@g.cn,sh@g.cn
{a},测试二级公司,{g},2,否,国有全资,tb@a.cn,sh@a.cn
{b},测试三级公司,{a},3,否,国有全资,tb@b.cn,sh@b.cn
{c},测试四级公司,{b},4,否,国有全资,tb@c.cn,
{d},测试共享中心,{g},2,否,国有全资,tb@d.cn,sh@d.cn
"""


def run(data: Path, *argv: str) -> int:
    return main(["--data", str(data), *argv])


@pytest.fixture(autouse=True)
def default_zone() -> Iterator[None]:
    yield
    localtime.set_reader_zone(localtime.DEFAULT_ZONE)  # a command names the zone of its data directory


@pytest.fixture
def data(tmp_path: Path) -> Path:
    t = Tree()
    root = tmp_path / "data"
    units = tmp_path / "units.csv"
    units.write_text(UNITS.format(g=t.g, a=t.a, b=t.b, c=t.c, d=t.d), encoding="utf-8")
    assert run(root, "units", "import", str(units)) == 0
    assert run(root, "units", "set-contacts", "SASAC0001", "--reviewers", "chu@sasac.gov.cn") == 0
    return root


def test_units_commands(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = Tree()
    capsys.readouterr()
    assert run(data, "units", "tree") == 0
    out = capsys.readouterr().out
    assert "重庆市国资委" in out and "测试四级公司" in out
    assert run(data, "units", "search", "测试") == 0
    assert "测试共享中心" in capsys.readouterr().out
    assert run(data, "units", "search", "不存在的名字") == 1
    assert run(data, "units", "add", "--overseas", "--parent", t.a, "--name", "测试香港公司") == 0
    assert "JW00080001" in capsys.readouterr().out
    assert run(data, "units", "show", "JW00080001") == 0
    assert "测试二级公司" in capsys.readouterr().out
    assert run(data, "units", "add", "500400001", "--name", "坏代码公司") == 1
    assert "校验位" in capsys.readouterr().err
    assert run(data, "units", "move", t.c, t.d) == 0
    assert f"移至「测试共享中心」（{t.d}）之下" in capsys.readouterr().out
    assert run(data, "units", "template", "--out", str(tmp_path / "blank.xlsx")) == 0
    assert load_workbook(tmp_path / "blank.xlsx").sheetnames == ["单位名录", "填写说明"]
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,parent_code\n123,坏,\n", encoding="utf-8")
    assert run(data, "units", "import", str(bad)) == 1
    assert "第 2 行" in capsys.readouterr().err


def test_accounts_commands(data: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    t = Tree()
    monkeypatch.setenv("CHANQUAN_PASSWORD", "short")
    assert run(data, "accounts", "passwd", t.b) == 1
    assert "至少" in capsys.readouterr().err
    monkeypatch.setenv("CHANQUAN_PASSWORD", "Chanquan-2026!")
    assert run(data, "accounts", "passwd", t.b) == 0
    with open_workflow(data) as wf:
        assert wf.accounts.authenticate(t.b, "Chanquan-2026!").ok
    assert run(data, "accounts", "show", t.b) == 0
    assert "须修改密码：否" in capsys.readouterr().out
    assert run(data, "accounts", "reset", t.b) == 0
    with open_workflow(data) as wf:
        assert wf.accounts.authenticate(t.b, t.b).must_change
    assert run(data, "accounts", "reset", "999999999") == 1


def test_filings_queue_and_progress_report(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = Tree()
    with open_workflow(data) as wf:
        returned = file_registration(wf, t.c, t.c, "测试四级公司", 4, t.b).filing_id
        waiting = file_registration(wf, t.d, t.d, "测试共享中心", 2, t.g).filing_id
        approved = file_registration(wf, t.a, t.a, "测试二级公司", 2, t.g, backfill="未办").filing_id
        token = wf.review_token(returned, 1, 1, "sh@b.cn")
        assert wf.decide(token, "sh@b.cn", ReviewDecision.RETURN, "请补充验资报告").applied
        for level, reviewer in ((1, "sh@g.cn"), (2, "chu@sasac.gov.cn")):
            assert wf.decide(
                wf.review_token(approved, 1, level, reviewer), reviewer, ReviewDecision.APPROVE, "同意"
            ).applied
    capsys.readouterr()
    assert run(data, "filings", "list") == 0
    assert "共 3 件" in capsys.readouterr().out
    assert run(data, "filings", "list", "--state", "returned") == 0
    out = capsys.readouterr().out
    assert returned in out and waiting not in out
    assert run(data, "filings", "show", returned) == 0
    out = capsys.readouterr().out
    assert "请补充验资报告" in out and "sh@b.cn" in out
    assert run(data, "queue", t.g) == 0
    out = capsys.readouterr().out
    assert waiting in out and "待审核 1 件" in out
    assert run(data, "filings", "withdraw", approved) == 1
    assert "不能撤回" in capsys.readouterr().err
    assert run(data, "filings", "withdraw", waiting, "--reason", "填报有误") == 0

    report = tmp_path / "progress.xlsx"
    assert run(data, "report", "progress", "--out", str(report)) == 0
    book = load_workbook(report)
    summary = book["进度汇总"]
    row = [c.value for c in summary[3]]
    assert row[:7] == ["重庆测试集团", t.g, 5, 1, 0, 1, 3]
    assert len(summary._charts) == 1
    missing = [r[1] for r in book["未填报单位"].iter_rows(min_row=2, values_only=True)]
    assert sorted(missing) == sorted([t.g, t.b, t.d])
    book.close()
    prefill = prefill_registration(data, t.a)
    assert prefill is not None and prefill.ent_name == "测试二级公司"
    assert prefill_registration(data, t.c) is None


def test_review_token_key_is_private_and_kept(tmp_path: Path) -> None:
    message = init_review_token_key(tmp_path, Settings())
    key = tmp_path / "keys" / "review-token.key"
    assert "已生成" in message and len(key.read_bytes()) == 32
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    before = key.read_bytes()
    assert "未改动" in init_review_token_key(tmp_path, Settings())
    assert key.read_bytes() == before


def test_designation_is_applied_for_approved_and_shown(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = Tree()
    capsys.readouterr()
    assert run(data, "units", "designate", t.g, t.d) == 1  # the old direct form: refused, pointing onwards
    err = capsys.readouterr().err
    assert "designate-apply" in err and "designate-approve" in err
    assert (
        run(data, "units", "designate-apply", t.g, "--mode", "designated", "--unit", t.d, "--reason", "集中填报") == 0
    )
    assert "批准前填报方式不变" in capsys.readouterr().out
    assert run(data, "units", "show", t.g) == 0
    out = capsys.readouterr().out
    assert "各单位自行填报" in out and "待批准的申请" in out and "测试共享中心" in out
    assert run(data, "units", "tree") == 0
    assert "待批准申请" in capsys.readouterr().out
    assert run(data, "units", "designate-approve", t.g, "--reference", "渝国资〔2026〕12号") == 0
    capsys.readouterr()
    assert run(data, "units", "tree") == 0
    assert "填报方式：指定单位填报：测试共享中心" in capsys.readouterr().out
    assert run(data, "units", "show", t.b) == 0
    out = capsys.readouterr().out
    assert "批准文号：渝国资〔2026〕12号" in out and f"测试共享中心（{t.d}）填报" in out
    assert run(data, "units", "designate-apply", t.g, "--mode", "holder", "--reason", "改由持有单位填报") == 0
    assert run(data, "units", "designate-reject", t.g, "--opinion", "暂不同意") == 0
    assert "填报方式仍为指定单位填报" in capsys.readouterr().out
    assert run(data, "units", "designate-approve", t.g, "--reference", "X") == 1
    assert "没有待批准" in capsys.readouterr().err
    assert run(data, "units", "designate-apply", t.a, "--mode", "holder", "--reason", "x") == 1
    assert "不是一级企业" in capsys.readouterr().err


def test_queue_prints_each_reviewers_reply_address(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = Tree()
    with open_workflow(data) as wf:
        waiting = file_registration(wf, t.d, t.d, "测试共享中心", 2, t.g).filing_id
    capsys.readouterr()
    assert run(data, "queue", t.g, "--reply-addresses") == 0
    out = capsys.readouterr().out
    assert f"{waiting}（测试共享中心，第 1 轮第 1 级，重庆测试集团审核）" in out
    found = re.search(r"审核人 sh@g\.cn → 答复地址 review\+(\S+)@chanquan\.localhost", out)
    assert found is not None, out
    assert f"chanquan send --from sh@g.cn --to 'review+{found[1]}@chanquan.localhost' --body '通过'" in out
    with open_workflow(data) as wf:  # the printed address is the one the reviewer's answer must go to
        assert wf.decide(found[1], "sh@g.cn", ReviewDecision.APPROVE, "同意").applied


def test_lists_show_names_and_times_in_the_configured_zone(data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t = Tree()
    with open_workflow(data) as wf:
        fid = file_registration(wf, t.c, t.c, "测试四级公司", 4, t.b).filing_id
    capsys.readouterr()
    assert run(data, "filings", "list") == 0
    out = capsys.readouterr().out
    assert "更新时间（北京时间）" in out and f"第1级 测试三级公司（{t.b}）" in out
    assert run(data, "filings", "show", fid) == 0
    out = capsys.readouterr().out
    assert "时间（北京时间）" in out and f"填报单位：测试四级公司（{t.c}）" in out
    assert run(data, "queue", t.b) == 0
    assert "提交审核时间（北京时间）" in capsys.readouterr().out
    (data / "chanquan.toml").write_text('[service]\ntimezone = "Europe/Berlin"\n', encoding="utf-8")
    with open_workflow(data) as wf:
        received = wf.filing(fid)
    assert received is not None
    assert run(data, "filings", "list") == 0
    out = capsys.readouterr().out
    berlin = reader_time(received.updated_at, "Europe/Berlin", label=False)
    assert "更新时间（Europe/Berlin 时间）" in out and berlin in out
    assert run(data, "ledger", "log", "--kind", "filing.received") == 0
    assert "（Europe/Berlin 时间）" in capsys.readouterr().out
