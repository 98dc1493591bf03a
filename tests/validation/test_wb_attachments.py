"""Attachments: PNG and TIFF scans, one finding per refused file, a workbook checked alone, the annotated copy."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import openpyxl
import pytest
from wb_factory import OCCUPY_DOCS, check, codes_at, good_attachments, good_documents, make_workbook

from chanquan.cli import main
from validation import annotate_workbook, check_bundle, load_bundle
from validation.annotate import ERRORS_SHEET, NOTES_SHEET

D = "合规性资料目录"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
TIFF_LE = b"II*\x00" + b"\x08\x00\x00\x00" + b"\x00" * 64
TIFF_BE = b"MM\x00*" + b"\x00\x00\x00\x08" + b"\x00" * 64
BMP = b"BM" + b"\x00" * 64


def _with_files(files: dict[str, bytes]) -> tuple[bytes, dict[str, bytes]]:
    """The good filing whose first documents are `files` (name -> content), the rest PDFs as usual."""
    documents = good_documents()
    attachments = good_attachments()
    for row, (name, data) in zip(documents, files.items(), strict=False):
        del attachments[row["file_name"]]
        row["file_name"] = name
        attachments[name] = data
    return make_workbook(None, None, documents), attachments


def test_png_and_tiff_scans_are_accepted() -> None:
    workbook, attachments = _with_files({"申请文件.png": PNG, "批文.tif": TIFF_LE, "章程扫描.TIFF": TIFF_BE})
    assert check(workbook, attachments).findings == []


def test_png_and_tiff_are_content_sniffed_like_the_rest() -> None:
    workbook, attachments = _with_files({"申请文件.png": TIFF_LE, "批文.tiff": PNG})
    assert codes_at(check(workbook, attachments)) == {
        ("document-content-mismatch", D, "C4"),
        ("document-content-mismatch", D, "C5"),
    }


def test_png_over_the_limit_is_too_large() -> None:
    workbook, attachments = _with_files({"申请文件.png": PNG + b"\x00" * (2 * 1024 * 1024)})
    assert codes_at(check(workbook, attachments)) == {("document-too-large", D, "C4")}


def test_a_listed_file_of_a_refused_type_gets_one_finding() -> None:
    workbook, attachments = _with_files({"营业执照.bmp": BMP})
    result = check(workbook, attachments)
    assert codes_at(result) == {("document-extension", D, "C4")}  # not also document-unlisted
    assert "PNG" in result.findings[0].message and "TIFF" in result.findings[0].message


def test_a_filing_still_requires_its_attachments() -> None:
    """A lone .xlsx sent through any door is a filing without attachments: the listed files are missing."""
    result = check_bundle(load_bundle(make_workbook(), name="登记表.xlsx"))
    assert {f.code for f in result.findings} == {"document-file-missing"}
    assert len(result.findings) == len(OCCUPY_DOCS) and not result.ok


def test_check_of_a_lone_workbook_says_the_attachments_were_not_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    workbook = tmp_path / "登记表.xlsx"
    workbook.write_bytes(make_workbook())
    assert main(["check", "--json", str(workbook)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["ok"] is True
    assert [(f["code"], f["severity"], f["sheet"], f["cell"]) for f in printed["findings"]] == [
        ("attachments-not-checked", "warning", D, "C3")
    ]
    assert main(["check", str(workbook)]) == 0
    out = capsys.readouterr().out
    assert "可以报送" in out and "1 个提示" in out


def test_require_attachments_keeps_the_filing_behaviour(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    workbook = tmp_path / "登记表.xlsx"
    workbook.write_bytes(make_workbook())
    assert main(["check", "--json", "--require-attachments", str(workbook)]) == 1
    codes = [f["code"] for f in json.loads(capsys.readouterr().out)["findings"]]
    assert codes == ["document-file-missing"] * len(OCCUPY_DOCS)


def test_a_zip_holding_only_the_workbook_is_a_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "报送.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        zf.writestr("登记表.xlsx", make_workbook())
    assert main(["check", "--json", str(bundle)]) == 1
    assert {f["code"] for f in json.loads(capsys.readouterr().out)["findings"]} == {"document-file-missing"}


def _sheetnames(data: bytes) -> list[str]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


def test_annotated_copy_without_errors_does_not_ask_to_correct(tmp_path: Path) -> None:
    workbook = tmp_path / "登记表.xlsx"
    workbook.write_bytes(make_workbook())
    out = tmp_path / "标注.xlsx"
    assert main(["check", str(workbook), "--annotate", str(out)]) == 0  # one warning
    wb = openpyxl.load_workbook(out)
    try:
        assert ERRORS_SHEET not in wb.sheetnames
        assert wb.sheetnames[0] == NOTES_SHEET
        summary = str(wb[NOTES_SHEET]["A1"].value)
        assert "可以报送" in summary and "改正" not in summary and "重新报送" not in summary
        assert wb[NOTES_SHEET]["E3"].value == "attachments-not-checked"
    finally:
        wb.close()


def test_annotated_copy_without_findings_has_no_report_sheet() -> None:
    data = make_workbook()
    annotated = annotate_workbook(data, check(data).findings)
    assert _sheetnames(annotated) == _sheetnames(data)


def test_annotated_copy_with_errors_keeps_the_error_sheet_after_a_notes_one() -> None:
    data = make_workbook()
    notes_only = annotate_workbook(data, check(data, with_attachments=False).findings)
    assert _sheetnames(notes_only)[0] == NOTES_SHEET
    broken = check(make_workbook({"currency": "卢布"}))
    again = annotate_workbook(notes_only, broken.findings)
    names = _sheetnames(again)
    assert names[0] == ERRORS_SHEET and NOTES_SHEET not in names
