"""补录历史数据: the campaign's cut-off date (a setting) and 是否已办工商 = 是, as the original manual has them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wb_factory import TODAY, good_attachments, make_workbook

from chanquan.cli import main
from validation import RuleOptions, check_workbook_bytes, set_default_options
from validation.check import CheckResult

R = "登记信息"


def backfill(**values: Any) -> bytes:
    """The good filing as a backfill of a unit never registered before, as of 2012-06-30."""
    merged: dict[str, Any] = {
        "reg_situation": "补录历史数据",
        "backfill_form": "未办",
        "as_of_date": dt.date(2012, 6, 30),
        "act_date": None,
        "established_on": dt.date(2001, 3, 1),
    }
    merged.update(values)
    return make_workbook(merged)


def check(data: bytes, options: RuleOptions | None = None) -> CheckResult:
    return check_workbook_bytes(data, good_attachments(), today=TODAY, options=options)


@pytest.fixture
def restore_default_options() -> Iterator[None]:
    yield
    set_default_options(RuleOptions())


def test_backfill_at_the_cutoff_is_clean() -> None:
    assert check(backfill()).findings == []


def test_another_as_of_date_is_a_warning_by_default() -> None:
    result = check(backfill(as_of_date=dt.date(2013, 12, 31)))
    assert [(f.code, f.severity, f.sheet, f.cell) for f in result.findings] == [
        ("backfill-as-of-date", "warning", R, "B6")
    ]
    assert result.ok
    assert "2012-06-30" in result.findings[0].message and "2013-12-31" in result.findings[0].message


def test_cutoff_and_severity_are_options() -> None:
    options = RuleOptions(backfill_cutoff=dt.date(2013, 12, 31), backfill_cutoff_severity="error")
    assert check(backfill(as_of_date=dt.date(2013, 12, 31)), options).findings == []
    result = check(backfill(), options)
    assert [(f.code, f.severity) for f in result.findings] == [("backfill-as-of-date", "error")]
    assert not result.ok and "2013-12-31" in result.findings[0].message


def test_a_check_without_options_uses_the_process_default(restore_default_options: None) -> None:
    set_default_options(RuleOptions(backfill_cutoff_severity="error"))
    result = check(backfill(as_of_date=dt.date(2011, 1, 1)))
    assert [(f.code, f.severity) for f in result.findings] == [("backfill-as-of-date", "error")]


def test_backfill_not_registered_with_gongshang_is_an_error_that_explains() -> None:
    result = check(backfill(is_biz_registered=False))
    assert [(f.code, f.severity, f.sheet, f.cell) for f in result.findings] == [
        ("backfill-not-biz-registered", "error", R, "B7")
    ]
    message = result.findings[0].message
    assert "是否已办工商" in message and "“是”" in message and "工商登记" in message and "2012-06-30" in message


def test_other_situations_may_say_not_registered() -> None:
    assert check(make_workbook({"is_biz_registered": False})).findings == []


def test_an_as_of_date_reported_already_gets_no_second_finding() -> None:
    result = check(backfill(as_of_date=dt.date(2030, 1, 1)))
    assert [f.code for f in result.findings] == ["date-in-future"]


def _folder(tmp_path: Path, workbook: bytes) -> Path:
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "登记表.xlsx").write_bytes(workbook)
    for name, data in good_attachments().items():
        (folder / name).write_bytes(data)
    return folder


def test_check_command_takes_the_settings_of_the_data_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _folder(tmp_path, backfill(as_of_date=dt.date(2013, 12, 31)))
    data = tmp_path / "data"
    assert main(["--data", str(data), "check", "--json", str(folder)]) == 0  # no configuration: a warning
    assert [f["severity"] for f in json.loads(capsys.readouterr().out)["findings"]] == ["warning"]
    data.mkdir()
    (data / "chanquan.toml").write_text('[validation]\nbackfill_cutoff_severity = "error"\n', encoding="utf-8")
    assert main(["--data", str(data), "check", "--json", str(folder)]) == 1
    assert [f["code"] for f in json.loads(capsys.readouterr().out)["findings"]] == ["backfill-as-of-date"]
    (data / "chanquan.toml").write_text("[validation]\nbackfill_cutoff = 2013-12-31\n", encoding="utf-8")
    assert main(["--data", str(data), "check", "--json", str(folder)]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []
    (data / "chanquan.toml").write_text('[validation]\nbackfill_cutoff_severity = "fatal"\n', encoding="utf-8")
    assert main(["--data", str(data), "check", str(folder)]) == 2
    assert "配置文件" in capsys.readouterr().err


def test_intake_is_wired_with_the_same_options() -> None:
    from chanquan.app import rule_options
    from chanquan.config import Settings

    settings = Settings.model_validate(
        {"validation": {"backfill_cutoff": "2013-12-31", "backfill_cutoff_severity": "error"}}
    )
    assert rule_options(settings) == RuleOptions(dt.date(2013, 12, 31), "error")
    assert rule_options(Settings()) == RuleOptions()
