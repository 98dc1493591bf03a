"""On a real data directory: periods named by what they are, times in the supervisor's zone, the prefill rule."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pdf_scenario import Scenario, build, run

from chanquan.app import DataDir, open_workflow
from chanquan.config import ConfigError, load_settings
from documents import DocumentIssuer, identity_files
from documents.facts import local, zone_of
from validation import read_workbook
from workflow import Workflow


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build(tmp_path_factory.mktemp("periods") / "data", investors=4)


def test_print_list_and_refusals_name_the_period_by_its_kind(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _err = run(capsys, scenario, "print", "--list")
    assert code == 0 and "登记时期" in out and "数据时点" not in out
    assert f"{scenario.period}（经济行为日期）" in out  # an 占有 registration: the date of the economic act
    args = ("print", "--unit", scenario.subsidiary, "--period", "2011-01-01", "--out", str(tmp_path / "x.pdf"))
    code, _out, err = run(capsys, scenario, *args)
    assert code == 1 and f"已审核通过的时期：{scenario.period}（经济行为日期）" in err


def _issuer(scenario: Scenario, wf: Workflow, zone: str, now: datetime) -> DocumentIssuer:
    keys = identity_files(DataDir(scenario.data).keys)
    return DocumentIssuer(wf.ledger, wf, keys, authority="重庆市国资委", timezone=zone, clock=lambda: now)


def test_dates_and_times_are_in_the_supervisors_zone(scenario: Scenario) -> None:
    evening_utc = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)  # already 3 December in Chongqing
    with open_workflow(scenario.data) as wf:
        china = _issuer(scenario, wf, "Asia/Shanghai", evening_utc).build_data(scenario.sub_filing)
        utc = _issuer(scenario, wf, "UTC", evening_utc).build_data(scenario.sub_filing)
        view = wf.filing(scenario.sub_filing)
        assert view is not None
        approval = next(wf.ledger.events(subject=scenario.sub_filing, kind="filing.approved"))
    assert china.issued_on == "2026-12-03" and utc.issued_on == "2026-12-02"
    assert china.zone_label == "北京时间" and utc.zone_label == "UTC 时间"
    assert china.approved_on == local(approval.ts, zone_of("Asia/Shanghai")).date().isoformat()
    decided = [local(d.at, zone_of("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M") for d in view.decisions]
    assert [r.decided_at for r in china.reviews] == decided
    assert china.period_label == "经济行为日期"


def test_an_unknown_zone_is_refused_when_the_configuration_is_read(scenario: Scenario, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "chanquan.toml").write_text('[service]\ntimezone = "Asia/Chongqin"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(data)
    assert "Asia/Chongqin" in str(info.value)


def test_template_prefill_leaves_the_filing_fields_to_the_filer(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "prefilled.xlsx"
    code, said, err = run(capsys, scenario, "template", "--out", str(out), "--unit", scenario.subsidiary)
    assert code == 0, err
    assert "登记类型、登记情形、日期和批准文号请按本次登记填写" in said
    registration = read_workbook(out.read_bytes()).registration
    assert registration is not None
    for key in ("reg_type", "reg_situation", "act_date", "approval_ref", "as_of_date", "backfill_form"):
        assert registration.value(key) is None, key
    assert registration.ent_name == scenario.subsidiary_name  # the enterprise's data is carried over
    assert registration.org_code == scenario.subsidiary and registration.filer_org_code == scenario.subsidiary
    assert len(registration.investors) == 4
