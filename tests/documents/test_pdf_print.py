"""`chanquan print` and `chanquan verify-pdf` on a real data directory with approved filings."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pdf_scenario import Scenario, build, run
from pdf_support import font_dicts, is_embedded, page_texts
from pypdf import PdfWriter

from chanquan.app import open_document_issuer
from chanquan.cli import main
from documents import PrintRefused

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return build(tmp_path_factory.mktemp("pdfdata") / "data", investors=40)


@pytest.fixture(scope="module")
def form_file(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("print") / "登记表.pdf"
    code = main(
        ["--data", str(scenario.data), "print", "--unit", scenario.subsidiary, "--period", scenario.period,
         "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    return out


def test_print_before_approval_is_refused(
    scenario: Scenario, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _out, err = run(
        capsys,
        scenario,
        "print",
        "--unit",
        scenario.pending,
        "--period",
        scenario.period,
        "--out",
        str(tmp_path / "x.pdf"),
    )
    assert code == 1
    assert "尚未经市国资委审核通过" in err and scenario.pending_filing in err
    assert not (tmp_path / "x.pdf").exists()


def test_printed_form_has_every_fact(scenario: Scenario, form_file: Path) -> None:
    pdf = form_file.read_bytes()
    texts = page_texts(pdf)
    text = "\n".join(texts)
    assert "国家出资企业产权登记表" in texts[0]
    assert scenario.subsidiary_name in text and scenario.subsidiary in text
    assert f"91500000{scenario.subsidiary}" in text  # the USCC
    for name in scenario.investors:
        assert name in text
    unwrapped = text.replace("\n", "")
    # 审核人: the name the reply was signed with, else the role; never a mail address
    assert "王建华" in unwrapped and "指定审核人" in unwrapped
    assert "review@" not in text
    assert "资料齐全，同意。" in unwrapped
    assert "业务办理申请文件" in text
    assert all(is_embedded(f) for f in font_dicts(pdf))


def test_verify_pdf_accepts_the_issued_file(
    scenario: Scenario, form_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _err = run(capsys, scenario, "verify-pdf", str(form_file))
    assert code == 0, out
    assert "结论：文件真实有效。" in out and "包含证明" in out
    code, out, _err = run(capsys, scenario, "verify-pdf", str(form_file), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["ok"] and report["signature"]["ok"]
    assert report["issuance"]["verification_code"] in "\n".join(page_texts(form_file.read_bytes()))
    assert report["sha256"] == hashlib.sha256(form_file.read_bytes()).hexdigest()
    proof = report["issuance"]["proof"]
    assert proof["event"]["kind"] == "document.issued"
    assert proof["event"]["payload"]["sha256"] == report["sha256"]
    # the proof is the same document `ledger proof` prints: the offline checker accepts it ...
    checker = _offline_checker()
    verifier = (scenario.data / "keys" / "ledger.pub").read_text(encoding="utf-8")
    assert checker.check(proof, verifier) == []
    # ... and rejects it once the recorded hash is changed
    forged = json.loads(json.dumps(proof))
    forged["event"]["payload"]["sha256"] = "0" * 64
    assert checker.check(forged, verifier) != []


def test_verify_pdf_says_who_and_what(scenario: Scenario, form_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, scenario, "verify-pdf", str(form_file))
    assert code == 0, err
    cert_no = f"DJB-{scenario.sub_filing}-1"
    assert f"单位：{scenario.subsidiary_name}（{scenario.subsidiary}）" in out
    assert f"登记编号：{cert_no}（产权登记表）" in out
    # an 占有 registration's period is its 经济行为日期 (数据时点 is a backfill's)
    assert f"登记：{scenario.sub_filing}，第 1 轮；经济行为日期：{scenario.period}" in out
    code, out, _err = run(capsys, scenario, "verify-pdf", str(form_file), "--json")
    issuance = json.loads(out)["issuance"]
    assert (issuance["unit_name"], issuance["period"], issuance["round"]) == (
        scenario.subsidiary_name,
        scenario.period,
        1,
    )
    assert issuance["missing_chars"] == []


def test_verify_pdf_expectations(scenario: Scenario, form_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A genuine document presented for another unit, or under another number, fails."""
    cert_no = f"DJB-{scenario.sub_filing}-1"
    code, out, err = run(
        capsys, scenario, "verify-pdf", str(form_file), "--expect-unit", scenario.subsidiary.lower(),
        "--expect-number", cert_no.lower(),
    )  # fmt: skip
    assert code == 0, err
    assert "结论：文件真实有效。" in out
    code, out, err = run(capsys, scenario, "verify-pdf", str(form_file), "--expect-unit", scenario.first_level)
    assert code == 1
    assert err.count("\n") == 1 and err.startswith("结论：核验未通过")
    assert f"这份文件是单位 {scenario.subsidiary_name}（{scenario.subsidiary}）的" in err
    assert f"不是所要核验的单位 {scenario.first_level} 的" in err
    assert "电子签名：通过" in out  # the document itself is genuine
    code, _out, err = run(capsys, scenario, "verify-pdf", str(form_file), "--expect-number", "DJB-CQ2026-999999-1")
    assert code == 1 and f"登记编号是 {cert_no}，不是所要核验的编号 DJB-CQ2026-999999-1" in err
    code, out, err = run(
        capsys, scenario, "verify-pdf", str(form_file), "--json", "--expect-unit", scenario.first_level
    )
    assert code == 1 and not json.loads(out)["ok"] and err.startswith("结论：核验未通过")


def test_verify_pdf_of_damaged_files_is_one_line_without_traceback(
    scenario: Scenario, form_file: Path, tmp_path: Path
) -> None:
    """Tampered, truncated, empty or foreign files are answers, not errors: one Chinese line on stderr."""
    original = form_file.read_bytes()
    flipped = bytearray(original)
    flipped[len(flipped) // 3] ^= 0x20
    cases = {
        "garbage.pdf": b"%PDF-1.7\n" + bytes(range(256)) * 40,
        "truncated.pdf": original[: len(original) // 2],
        "cut-tail.pdf": original[:-7],
        "flipped.pdf": bytes(flipped),
        "empty.pdf": b"",
    }
    for name, data in cases.items():
        target = tmp_path / name
        target.write_bytes(data)
        result = subprocess.run(
            [sys.executable, "-m", "chanquan.cli", "--data", str(scenario.data), "verify-pdf", str(target)],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            check=False,
        )
        assert result.returncode == 1, (name, result.stderr)
        assert "Traceback" not in result.stderr, (name, result.stderr)
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("结论：核验未通过——"), (name, result.stderr)
        assert "签发记录" in lines[0], name


def _offline_checker() -> Any:
    script = ROOT / "templates" / "web" / "static" / "verify_proof.py"
    spec = importlib.util.spec_from_file_location("verify_proof", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_verify_pdf_rejects_a_flipped_byte(
    scenario: Scenario, form_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = bytearray(form_file.read_bytes())
    damaged[len(damaged) // 2] ^= 0x01
    target = tmp_path / "damaged.pdf"
    target.write_bytes(bytes(damaged))
    code, _out, err = run(capsys, scenario, "verify-pdf", str(target))
    assert code == 1
    assert "核验未通过" in err and "签发记录" in err


def test_verify_pdf_rejects_an_incremental_edit(
    scenario: Scenario, form_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    writer = PdfWriter(io.BytesIO(form_file.read_bytes()), incremental=True)
    writer.add_metadata({"/Subject": "改过"})
    target = tmp_path / "edited.pdf"
    with target.open("wb") as fh:
        writer.write(fh)
    code, _out, err = run(capsys, scenario, "verify-pdf", str(target))
    assert code == 1
    assert "增量" in err


def test_verify_pdf_of_a_missing_file(scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run(capsys, scenario, "verify-pdf", str(tmp_path / "none.pdf"))
    assert code == 2 and "无法读取" in err


def test_first_level_gets_a_certificate_with_preview(
    scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, png = tmp_path / "证.pdf", tmp_path / "证.png"
    code, stdout, err = run(
        capsys, scenario, "print", "--unit", scenario.first_level, "--period", scenario.period.replace("-", "/"),
        "--template", "横版", "--out", str(out), "--preview", str(png),
    )  # fmt: skip
    assert code == 0, err
    assert "产权登记证" in stdout
    text = page_texts(out.read_bytes())[0]
    assert "国家出资企业产权登记证" in text and scenario.first_level_name in text
    assert "发证机关：重庆市国资委" in text
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_document_type_must_fit_the_level(
    scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "x.pdf")
    code, _o, err = run(
        capsys, scenario, "print", "--unit", scenario.subsidiary, "--period", scenario.period, "--type", "登记证",
        "--out", out,
    )  # fmt: skip
    assert code == 1 and "产权登记证只出具给一级企业" in err
    code, _o, err = run(
        capsys, scenario, "print", "--unit", scenario.first_level, "--period", scenario.period, "--type", "登记表",
        "--out", out,
    )  # fmt: skip
    assert code == 1 and "一级企业出具产权登记证" in err
    code, _o, err = run(
        capsys, scenario, "print", "--unit", scenario.subsidiary, "--period", scenario.period, "--template", "横版",
        "--out", out,
    )  # fmt: skip
    assert code == 2 and "标准" in err and "简洁" in err


def test_bad_period_and_unknown_period(scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "x.pdf")
    code, _o, err = run(capsys, scenario, "print", "--unit", scenario.subsidiary, "--period", "去年", "--out", out)
    assert code == 2 and "不是有效日期" in err
    code, _o, err = run(
        capsys, scenario, "print", "--unit", scenario.subsidiary, "--period", "2011-01-01", "--out", out
    )
    assert code == 1 and scenario.period in err


def test_list_and_search(scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run(capsys, scenario, "print", "--list")
    assert code == 0 and scenario.subsidiary in out and scenario.first_level in out
    assert scenario.pending not in out
    code, out, _err = run(capsys, scenario, "print", "--list", "--search", "精密")
    assert code == 0 and scenario.subsidiary in out and scenario.first_level not in out
    code, out, _err = run(capsys, scenario, "print", "--templates")
    assert code == 0 and "横版" in out and "简洁" in out


def test_issuance_is_idempotent_and_prints_link_to_it(scenario: Scenario, form_file: Path) -> None:
    with open_document_issuer(scenario.data) as issuer:
        first = issuer.issue_for_filing(scenario.sub_filing)
        again = issuer.issue_for_filing(scenario.sub_filing)
        assert first.seq == again.seq
        reprint = issuer.print_document(scenario.subsidiary, scenario.period, template="简洁")
        payload = reprint.payload
        assert payload["reissue_of"] == first.seq
        assert payload["template"] == "简洁" and payload["doc_type"] == "登记表"
        assert payload["sha256"] == hashlib.sha256(reprint.pdf).hexdigest()
        assert issuer.ledger.blobs.get(payload["pdf_blob"]) == reprint.pdf
        assert payload["cert_no"] == first.payload["cert_no"]
        assert issuer.verify(reprint.pdf).ok
        assert issuer.verify(form_file.read_bytes()).ok  # an earlier print stays valid
        view = issuer.workflow.filing(scenario.sub_filing)
        assert view is not None and view.state == "issued"
        approved = next(issuer.ledger.events(subject=scenario.first_filing, kind="filing.approved"))
        on_approval = issuer.on_approved(approved.subject)  # the outbox's hook, given the filing id
        assert on_approval.payload["doc_type"] == "登记证" and on_approval.payload["reissue_of"] is None
        assert issuer.on_approved(approved.subject).seq == on_approval.seq
        with pytest.raises(PrintRefused) as info:
            issuer.issue_for_filing(scenario.pending_filing)
        assert "尚未经市国资委审核通过" in info.value.message_zh
