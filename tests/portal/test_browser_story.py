"""The whole portal story in a real browser (Debian's chromium through Playwright), over the demo's
SASAC tree and the service as `chanquan serve` runs it (one workflow for intake, outbox and portal;
uvicorn on a free port; mail into the demo's Maildir):

山城电力's filer logs in with the initial password, is made to change it, uploads sample 08 (errors),
sees the findings and downloads the annotated workbook, uploads the corrected bundle; 山城能源's
reviewer logs in and returns it with an opinion; the filer sees it under 被退回 and resubmits; the
reviewers approve up to SASAC; the filer downloads the signed PDF and `chanquan verify-pdf` accepts it.

Every page visited is a screenshot in test-artifacts/screenshots/<test>/ (not committed). Waits are on
page state and on the ledger (the PDF is signed by the outbox after SASAC's approval), never on time.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from chanquan.demo import step_prepare, step_start_service
from chanquan.demo_stage import SAMPLES, Demo, running
from documents.events import DocumentIssued

pytestmark = pytest.mark.timeout(300)

FILER, PARENT, SASAC = "202600127", "202600119", "SASAC0001"  # 山城电力, 山城能源 (its parent), 市国资委
NEW_PASSWORDS = {FILER: "Shancheng-Power-2026", PARENT: "Shancheng-Energy-2026", SASAC: "Sasac-Review-2026"}
SAMPLE_08 = SAMPLES / "08-错误-股权比例合计不等于100.zip"
OPINION = "请附上山城能源关于本次股权调整的董事会决议。"


@pytest.fixture
def story(tmp_path: Path) -> Iterator[Demo]:
    """The demo's data directory and tree, the service started as `serve` starts it (portal included)."""
    demo = Demo(data_dir=tmp_path / "demo-data")
    with running(demo):
        step_prepare(demo)
        step_start_service(demo)
        yield demo


def corrected_bundle(folder: Path) -> Path:
    """Sample 08 as its filer corrects it: the second investor holds 40 %, so the shares add up to 100."""
    out = folder / "08-已更正.zip"
    with zipfile.ZipFile(SAMPLE_08) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith(".xlsx"):
                book = load_workbook(io.BytesIO(data))
                sheet = book["出资人情况"]
                row = next(r for r in sheet.iter_rows(min_row=4) if r[3].value == 4000)
                row[5].value = 40
                buffer = io.BytesIO()
                book.save(buffer)
                data = buffer.getvalue()
            target.writestr(info, data)
    return out


def log_in(browser: Any, base: str, code: str, shots: Any) -> Any:
    """A fresh browser of `code`: logs in with the initial password (the code) and is made to change it."""
    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.goto(f"{base}/")
    page.wait_for_url(re.compile(r"/login"))
    page.fill("#username", code)
    page.fill("#password", code)
    shots.take(page, f"{code}-login")
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r"/password$"))
    page.locator("#must-change").wait_for()
    shots.take(page, f"{code}-must-change-password")
    page.fill("#old_password", code)
    page.fill("#new_password", NEW_PASSWORDS[code])
    page.fill("#new_password2", NEW_PASSWORDS[code])
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r"/\?notice=password-changed$"))
    shots.take(page, f"{code}-home")
    return page


def upload(page: Any, bundle: Path, shots: Any, name: str) -> str:
    """Submits `bundle` on the 报送 page and returns the outcome's status."""
    page.click("a.button:has-text('报送申报')")
    page.wait_for_url(re.compile(r"/submit$"))
    page.set_input_files("#bundle", str(bundle))
    shots.take(page, f"{name}-form")
    page.click("#submit-button")
    page.locator("#outcome").wait_for()
    shots.take(page, f"{name}-outcome")
    return str(page.get_attribute("#outcome", "data-status"))


def decide(page: Any, base: str, fid: str, button: str, opinion: str, shots: Any, name: str) -> None:
    """The reviewer opens the filing from 待审核 and decides it on the review page."""
    page.goto(f"{base}/")
    waiting = page.locator("#waiting + table")
    assert fid in waiting.inner_text()
    waiting.locator(f"a[href='/review/{fid}']").click()
    page.wait_for_url(re.compile(rf"/review/{fid}$"))
    page.fill("#opinion", opinion)
    shots.take(page, f"{name}-review")
    page.click(button)
    page.wait_for_url(re.compile(rf"/review/{fid}\?done="))
    page.locator("#notice").wait_for()
    shots.take(page, f"{name}-decided")


def test_the_whole_story_in_the_browser(story: Demo, chromium: Any, shots: Any, tmp_path: Path) -> None:
    base = story.web_url
    filer = log_in(chromium, base, FILER, shots)
    try:
        assert "重庆山城电力有限公司" in filer.inner_text("#who")

        # sample 08: the findings at once, and the annotated workbook to download
        assert upload(filer, SAMPLE_08, shots, "08-errors") == "invalid"
        findings = filer.inner_text("#outcome-findings")
        assert "出资人情况" in findings and "股权比例" in findings
        with filer.expect_download() as info:
            filer.click("#annotated-download")
        assert info.value.suggested_filename.endswith("-校验批注.xlsx")
        annotated = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()))
        assert annotated.sheetnames[0] == "审核错误"

        # the corrected bundle: accepted, sent to the parent
        corrected = corrected_bundle(tmp_path)
        filer.goto(f"{base}/")
        assert upload(filer, corrected, shots, "corrected") == "accepted"
        assert filer.inner_text("#outcome-reviewer") == "重庆山城能源投资集团有限公司"
        fid = filer.inner_text("#outcome-filing")

        # the parent's reviewer returns it; an empty opinion is refused first
        parent = log_in(chromium, base, PARENT, shots)
        parent.locator("#waiting + table").wait_for()
        parent.locator(f"#waiting + table a[href='/review/{fid}']").click()
        parent.wait_for_url(re.compile(rf"/review/{fid}$"))
        parent.click("#return-button")
        parent.locator("#review-error").wait_for()
        assert "退回时必须填写审核意见" in parent.inner_text("#review-error")
        shots.take(parent, "return-without-opinion")
        decide(parent, base, fid, "#return-button", OPINION, shots, "return")

        # the filer sees it under 被退回 with the opinion, and resubmits
        filer.goto(f"{base}/")
        returned = filer.locator("#returned + table")
        assert fid in returned.inner_text() and OPINION in returned.inner_text()
        shots.take(filer, "filer-returned")
        assert upload(filer, corrected, shots, "resubmitted") == "accepted"
        assert filer.inner_text("#outcome-filing") == fid

        # approvals up to SASAC
        decide(parent, base, fid, "#approve-button", "同意上报。", shots, "parent-approve")
        sasac = log_in(chromium, base, SASAC, shots)
        decide(sasac, base, fid, "#approve-button", "准予登记。", shots, "sasac-approve")

        # the outbox signs the document after the approval; then the filer downloads it
        story.wait_for("story", f"the signed PDF of {fid}", lambda: issued(story, fid))
        filer.goto(f"{base}/filings/{fid}")
        assert filer.inner_text("#filing-state") == "已出证"
        shots.take(filer, "filing-issued")
        with filer.expect_download() as info:
            filer.click("#downloads li.file-document a")
        pdf = tmp_path / info.value.suggested_filename
        info.value.save_as(pdf)
        assert pdf.read_bytes().startswith(b"%PDF")
        verified = subprocess.run(
            [sys.executable, "-m", "chanquan", "--data", str(story.data_dir), "verify-pdf", str(pdf)],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        for context in chromium.contexts:
            context.close()


def issued(demo: Demo, filing_id: str) -> bool:
    return any(e.filing_id == filing_id for e in demo.bodies(DocumentIssued))
