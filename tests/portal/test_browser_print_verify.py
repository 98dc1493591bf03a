"""打表/打证 and /verify in a real browser (Debian's chromium through Playwright, uvicorn serving).

A first-level enterprise's reviewer previews and prints a subsidiary's 登记表 and its own 登记证;
a citizen, without an account, opens the URL read off the QR code of the rendered document page
and sees it is genuine; a tampered PDF is refused with the reason; another group's unit cannot
print or preview these documents. Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import zxingcpp
from PIL import Image
from portal_helpers import OTHER_GROUP, PASSWORD
from signed_site import GROUP, THIRD, SignedSite, build_signed_site

from documents.events import DocumentIssued
from documents.preview import page_images
from intake.smtp import free_port

pytestmark = pytest.mark.timeout(180)
T = TypeVar("T")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[SignedSite, str]]:
    """A signed site served on a port chosen first, so the QR codes it prints lead back to it."""
    from browser_harness import serve

    port = free_port()
    site = build_signed_site(tmp_path / "data", public_url=f"http://127.0.0.1:{port}")
    try:
        with serve(site.app, port=port) as base_url:
            yield site, base_url
    finally:
        site.close()


def off_loop(function: Callable[..., T], *args: Any) -> T:
    """Runs `function` in another thread: Playwright's sync API keeps an event loop running in this
    one, and signing and checking PDFs (pyHanko) call asyncio.run."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def log_in(browser: Any, base_url: str, site: SignedSite, username: str) -> Any:
    site.ready(username)
    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.goto(f"{base_url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    return page


def qr_url(pdf: bytes) -> str:
    """The QR code's text, read off the first page rendered as a person's scanner would see it."""
    image = Image.open(__import__("io").BytesIO(page_images(pdf, scale=3, max_pages=1)[0]))
    found = zxingcpp.read_barcodes(image)
    texts = [b.text for b in found if b.format == zxingcpp.BarcodeFormat.QRCode]
    assert texts, "no QR code found on the rendered page"
    return texts[0]


def test_a_reviewer_previews_and_prints_a_subsidiarys_form(
    live: tuple[SignedSite, str], chromium: Any, shots: Any
) -> None:
    site, base_url = live
    off_loop(site.approve)
    page = log_in(chromium, base_url, site, GROUP)
    try:
        page.click("nav.nav a:has-text('打表/打证')")
        page.wait_for_url(re.compile(r"/print$"))
        page.fill("#q", "三级")
        page.click("form.search button")
        page.wait_for_url(re.compile(r"/print\?q="))
        shots.take(page, "print-list")
        page.click(f"a[href='/print/{THIRD}']")
        page.wait_for_url(re.compile(rf"/print/{THIRD}$"))
        assert page.inner_text("#doc-label") == "产权登记表"
        page.select_option("#template", "简洁")
        shots.take(page, "print-unit")
        page.click("#preview-button")
        page.locator("#preview figure img").first.wait_for()
        images = page.locator("#preview figure img")
        assert images.count() >= 1
        assert page.evaluate("() => [...document.querySelectorAll('#preview img')].every(i => i.naturalWidth > 500)")
        shots.take(page, "print-preview")
        with page.expect_download() as info:
            page.click("#print-button")
        download = info.value
        assert download.suggested_filename.startswith("产权登记表-DJB-") and download.suggested_filename.endswith(
            ".pdf"
        )
        pdf = Path(download.path()).read_bytes()
        assert site.issuer is not None and off_loop(site.issuer.verify, pdf).ok
        reprint = list(site.wf.ledger.events(kind=DocumentIssued.kind))[-1]
        assert reprint.actor == GROUP and reprint.payload["reissue_of"] and reprint.payload["template"] == "简洁"
    finally:
        page.context.close()


def test_a_first_level_enterprise_prints_its_certificate(
    live: tuple[SignedSite, str], chromium: Any, shots: Any
) -> None:
    site, base_url = live
    off_loop(site.approve, GROUP, "重庆测试集团有限公司", 1, "")
    page = log_in(chromium, base_url, site, GROUP)
    try:
        page.goto(f"{base_url}/print/{GROUP}")
        assert page.inner_text("#doc-label") == "产权登记证"
        shots.take(page, "certificate-unit")
        with page.expect_download() as info:
            page.click("#print-button")
        download = info.value
        assert download.suggested_filename.startswith("产权登记证-DJZ-")
        pdf = Path(download.path()).read_bytes()
        assert site.issuer is not None and off_loop(site.issuer.verify, pdf).ok
    finally:
        page.context.close()


def test_a_citizen_opens_the_qr_url_and_sees_genuine(live: tuple[SignedSite, str], chromium: Any, shots: Any) -> None:
    site, base_url = live
    fid = off_loop(site.approve)
    event = next(site.wf.ledger.events(subject=fid, kind=DocumentIssued.kind))
    url = qr_url(site.wf.ledger.blobs.get(str(event.payload["pdf_blob"])))
    assert url.startswith(f"{base_url}/verify/{event.payload['cert_no']}?c="), url
    context = chromium.new_context(locale="zh-CN")  # no account, no cookie
    page = context.new_page()
    try:
        page.goto(url)
        assert page.inner_text("#verdict-title") == "真实有效"
        assert page.inner_text("#unit-name") == "重庆测试三级公司"
        assert page.inner_text("#cert-no") == event.payload["cert_no"]
        shots.take(page, "verify-qr")
        with page.expect_download() as info:
            page.click("#proof-download")
        assert info.value.suggested_filename == f"proof-{event.seq}.json"
    finally:
        context.close()


def test_a_tampered_pdf_is_refused_with_the_reason(
    live: tuple[SignedSite, str], chromium: Any, shots: Any, tmp_path: Path
) -> None:
    site, base_url = live
    fid = off_loop(site.approve)
    event = next(site.wf.ledger.events(subject=fid, kind=DocumentIssued.kind))
    pdf = site.wf.ledger.blobs.get(str(event.payload["pdf_blob"]))
    middle = len(pdf) // 2
    tampered = tmp_path / "登记表.pdf"
    tampered.write_bytes(pdf[:middle] + bytes([pdf[middle] ^ 0x20]) + pdf[middle + 1 :])
    genuine = tmp_path / "原件.pdf"
    genuine.write_bytes(pdf)
    context = chromium.new_context(locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{base_url}/verify")
        shots.take(page, "verify-form")
        page.set_input_files("#pdf", str(tampered))
        page.click("#verify-button")
        page.locator("#verdict-title").wait_for()
        assert page.inner_text("#verdict-title") == "核验未通过"
        assert "账本中没有这份文件的签发记录" in page.inner_text("#problems")
        shots.take(page, "verify-tampered")
        page.goto(f"{base_url}/verify")
        page.set_input_files("#pdf", str(genuine))
        page.click("#verify-button")
        page.locator("#verdict-title").wait_for()
        assert page.inner_text("#verdict-title") == "真实有效"
        shots.take(page, "verify-genuine")
    finally:
        context.close()


def test_another_group_cannot_print_or_preview(live: tuple[SignedSite, str], chromium: Any, shots: Any) -> None:
    site, base_url = live
    off_loop(site.approve)
    page = log_in(chromium, base_url, site, OTHER_GROUP)
    try:
        page.goto(f"{base_url}/print")
        assert f"/print/{THIRD}" not in page.content()
        response = page.goto(f"{base_url}/print/{THIRD}")
        assert response is not None and response.status == 404
        assert "页面不存在" in page.inner_text("main")
        shots.take(page, "print-404")
        csrf = page.evaluate("() => document.querySelector('input[name=csrf]').value")
        for path in (f"/print/{THIRD}/preview", f"/print/{THIRD}"):
            answer = page.request.post(
                f"{base_url}{path}", form={"csrf": csrf, "period": "2025-03-01", "template": "标准"}
            )
            assert answer.status == 404
        assert len(list(site.wf.ledger.events(kind=DocumentIssued.kind))) == 1
    finally:
        page.context.close()


def test_help_and_admin_pages_render_in_the_browser(live: tuple[SignedSite, str], chromium: Any, shots: Any) -> None:
    """The guide, its finding anchors, and the admin pages, with no CSP complaint in the console."""
    site, base_url = live
    off_loop(site.approve)
    page = log_in(chromium, base_url, site, "SASAC0001")
    console: list[Any] = []
    page.on("console", lambda message: console.append(message))  # noqa: PLW0108
    try:
        page.goto(f"{base_url}/help/findings#code-investors-share-sum")
        assert page.locator("#code-investors-share-sum").is_visible()
        shots.take(page, "help-findings")
        for path, name in (
            ("/admin/units", "admin-units"),
            (f"/admin/units/{THIRD}", "admin-unit"),
            ("/admin/progress", "admin-progress"),
            ("/admin/ledger", "admin-ledger"),
        ):
            page.goto(f"{base_url}{path}")
            shots.take(page, name)
        page.click("#verify-ledger-button")
        page.wait_for_url(re.compile(r"/admin/ledger/verify$"))
        page.locator("#verify-result").wait_for(timeout=60_000)  # the page reloads itself until the check ends
        assert "账本完整" in page.inner_text("#verify-result")
        shots.take(page, "admin-ledger-verified")
        assert not [m.text for m in console if "Content Security Policy" in m.text or "Refused to" in m.text]
    finally:
        page.context.close()
