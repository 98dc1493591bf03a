"""The portal in a real browser (Debian's chromium through Playwright, the app under uvicorn).

A filer logs in with the initial password typed the way people type codes, is made to change
it, sees 首页 with its filing, opens the filing's page and downloads its workbook; its reviewer
sees the filing waiting. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from portal_helpers import PASSWORD, SECOND, THIRD, Site, decide, file

from workflow import ReviewDecision

pytestmark = pytest.mark.timeout(120)


def csp_problems(messages: list[Any]) -> list[str]:
    return [m.text for m in messages if "Content Security Policy" in m.text or "Refused to" in m.text]


def test_first_login_forced_change_home_and_filing_page(site: Site, served: str, chromium: Any, shots: Any) -> None:
    fid = file(site.wf).filing_id
    decide(site.wf, fid, ReviewDecision.APPROVE, "同意上报，请集团审核")
    context = chromium.new_context(locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    console: list[Any] = []
    page.on("console", lambda message: console.append(message))  # noqa: PLW0108 (Playwright wraps the callable)
    try:
        page.goto(f"{served}/")
        page.wait_for_url(re.compile(r"/login"))
        shots.take(page, "login")
        page.fill("#username", f"{THIRD[:8]}-{THIRD[8:]}".lower())  # as people type it
        page.fill("#password", THIRD)  # the initial password is the code
        page.click("button[type=submit]")

        page.wait_for_url(re.compile(r"/password$"))
        page.get_by_text("您正在使用初始密码").wait_for()
        shots.take(page, "forced-password-change")
        page.goto(f"{served}/filings/{fid}")  # nothing else opens before the change
        page.wait_for_url(re.compile(r"/password$"))

        page.fill("#old_password", THIRD)
        page.fill("#new_password", "short")
        page.fill("#new_password2", "short")
        page.click("form.form button[type=submit]")
        page.locator("#password-error").wait_for()
        assert "至少需要 10 个字符" in page.inner_text("#password-error")
        shots.take(page, "password-policy")

        page.fill("#old_password", THIRD)
        page.fill("#new_password", PASSWORD)
        page.fill("#new_password2", PASSWORD)
        page.click("form.form button[type=submit]")
        page.wait_for_url(re.compile(r"/\?notice=password-changed$"))
        page.locator("#notice").wait_for()
        assert "重庆测试三级公司" in page.inner_text("#who")
        assert "三级企业" in page.inner_text("#who")
        mine = page.locator("#mine + table")
        assert fid in mine.inner_text() and "审核中" in mine.inner_text()
        shots.take(page, "home")

        page.click(f"#mine + table a:has-text('{fid}')")
        page.wait_for_url(re.compile(rf"/filings/{fid}$"))
        assert page.inner_text("#filing-state") == "审核中"
        assert "重庆测试集团有限公司" in page.inner_text("#current-step")
        assert "同意上报，请集团审核" in page.inner_text("#history")
        shots.take(page, "filing")

        with page.expect_download() as info:
            page.click("#downloads a:has-text('登记表工作簿')")
        download = info.value
        view = site.wf.filing(fid)
        assert view is not None
        assert download.suggested_filename == f"{fid}-第1轮-登记表.xlsx"
        assert Path(download.path()).read_bytes() == site.wf.ledger.blobs.get(view.workbook_blob)

        page.click("nav button:has-text('退出')")
        page.wait_for_url(re.compile(r"/login\?reason=logout$"))
        page.go_back()  # the page behind the login is gone from the server, not just hidden
        page.reload()
        page.wait_for_url(re.compile(r"/login"))
        assert csp_problems(console) == []
    finally:
        context.close()


def test_the_reviewer_sees_what_waits_and_a_stranger_gets_404(
    site: Site, served: str, chromium: Any, shots: Any
) -> None:
    fid = file(site.wf).filing_id
    site.wf.accounts.set_password(SECOND, PASSWORD)
    context = chromium.new_context(locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{served}/login")
        page.fill("#username", SECOND)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/$"))
        waiting = page.locator("#waiting + table")
        assert fid in waiting.inner_text() and "重庆测试三级公司" in waiting.inner_text()
        assert re.search(r"\d+ 天", waiting.inner_text())
        shots.take(page, "reviewer-home")
        response = page.goto(f"{served}/filings/CQ2026-999999")
        assert response is not None and response.status == 404
        page.get_by_text("您要找的页面不存在，或您无权查看。").wait_for()
        shots.take(page, "not-found")
    finally:
        context.close()
