"""`chanquan template` and `chanquan check`: outputs and exit codes (0 ok, 1 errors, 2 unreadable/usage)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from wb_factory import good_attachments, make_workbook

from chanquan.cli import main
from validation import spec_as_json


def _bundle_folder(tmp_path: Path, workbook: bytes, attachments: dict[str, bytes]) -> Path:
    folder = tmp_path / "bundle"
    folder.mkdir()
    (folder / "登记表.xlsx").write_bytes(workbook)
    for name, data in attachments.items():
        (folder / name).write_bytes(data)
    return folder


def test_template_spec_is_the_field_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["template", "--spec"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(spec_as_json(), ensure_ascii=False))
    field = next(f for f in printed["fields"] if f["key"] == "state_relation")
    assert field["sheet"] == "基本信息" and field["cell"] == "B8" and field["required"] is True
    assert "国有参股" in field["allowed"]
    assert [t["name"] for t in printed["tables"]] == ["investors", "documents"]


def test_template_out_writes_a_workbook(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "模板.xlsx"
    assert main(["--data", str(tmp_path / "data"), "template", "--out", str(out)]) == 0
    assert out.read_bytes()[:2] == b"PK"
    assert main(["check", str(out)]) == 1  # blank: required fields missing


def test_template_unit_uses_the_app_prefill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import chanquan.app
    from validation import read_workbook

    registration = read_workbook(make_workbook()).registration
    seen: list[str] = []

    def prefill(data: Path, code: str) -> object:
        seen.append(code)
        return registration if code == "MA5U00010" else None

    monkeypatch.setattr(chanquan.app, "prefill_registration", prefill, raising=False)
    out = tmp_path / "p.xlsx"
    assert main(["template", "--out", str(out), "--unit", "ma5u0001-0"]) == 0
    assert read_workbook(out.read_bytes()).registration.ent_name == registration.ent_name
    assert main(["template", "--out", str(out), "--unit", "11111111-1"]) == 2
    assert "没有已通过的登记数据" in capsys.readouterr().err
    assert seen == ["MA5U00010", "111111111"]


def test_check_good_bundle_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _bundle_folder(tmp_path, make_workbook(), good_attachments())
    assert main(["check", str(folder), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {"ok": True, "findings": []}


def test_check_errors_exit_1_with_stable_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workbook = tmp_path / "登记表.xlsx"
    workbook.write_bytes(make_workbook({"currency": "卢布"}))
    attachments = tmp_path / "附件"
    attachments.mkdir()
    for name, data in good_attachments().items():
        (attachments / name).write_bytes(data)
    assert main(["check", str(workbook), "--attachments", str(attachments), "--json"]) == 1
    printed = json.loads(capsys.readouterr().out)
    assert printed["ok"] is False
    assert printed["findings"] == [
        {
            "code": "invalid-choice",
            "severity": "error",
            "sheet": "基本信息",
            "cell": "B11",
            "field": "currency",
            "value": "卢布",
            "message": printed["findings"][0]["message"],
        }
    ]
    assert "B11" in printed["findings"][0]["message"]


def test_check_human_output_and_annotate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = _bundle_folder(tmp_path, make_workbook({"currency": "卢布"}), good_attachments())
    out = tmp_path / "错误.xlsx"
    assert main(["check", str(folder), "--annotate", str(out)]) == 1
    text = capsys.readouterr().out
    assert "invalid-choice" in text and "B11" in text
    assert out.read_bytes()[:2] == b"PK"


def test_check_missing_attachment_is_an_error(tmp_path: Path) -> None:
    folder = _bundle_folder(tmp_path, make_workbook(), {})
    assert main(["check", str(folder)]) == 1


@pytest.mark.parametrize("content", [b"not a workbook", b"PK\x03\x04broken", b""])
def test_unreadable_input_exits_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    path = tmp_path / "坏文件.xlsx"
    path.write_bytes(content)
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "无法读取" in err


def test_missing_file_and_bad_usage_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "nothing.zip")]) == 2
    assert main(["check", str(tmp_path / "nothing.zip"), "--annotate", str(tmp_path / "x.txt")]) == 2
    with pytest.raises(SystemExit) as exc:
        main(["check"])
    assert exc.value.code == 2
    assert main(["template", "--out", str(tmp_path / "x.csv")]) == 2
