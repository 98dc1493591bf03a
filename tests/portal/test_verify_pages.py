"""/verify: no login, an uploaded PDF or the QR code's URL, the reasons a document is refused,
what it certifies, supersession, the proof to check offline, and the limits on uploads."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from httpx2 import Response
from portal_helpers import csrf_of
from pypdf import PdfWriter
from signed_site import GROUP, THIRD, SignedSite, build_signed_site
from starlette.testclient import TestClient

from documents.events import DocumentIssued
from documents.model import parse_verification_url


@pytest.fixture
def signed(tmp_path: Path) -> Iterator[SignedSite]:
    site = build_signed_site(tmp_path / "data", verify_max_bytes=2 * 1024 * 1024, verify_rate_per_minute=40)
    yield site
    site.close()


def issued_pdf(site: SignedSite, filing_id: str) -> tuple[bytes, dict[str, object]]:
    event = next(e for e in site.wf.ledger.events(subject=filing_id, kind=DocumentIssued.kind))
    return site.wf.ledger.blobs.get(str(event.payload["pdf_blob"])), event.payload


def upload(client: TestClient, data: bytes, name: str = "登记表.pdf") -> Response:
    token = csrf_of(client.get("/verify").text)
    return client.post("/verify", data={"csrf": token}, files={"pdf": (name, data, "application/pdf")})


def verdict(html: str) -> str:
    found = re.search(r'<h1 id="verdict-title">([^<]+)</h1>', html) or re.search(r"<h1>([^<]+)</h1>", html)
    assert found, html
    return found.group(1)


def problems(html: str) -> list[str]:
    return re.findall(r"<li>([^<]+)</li>", html)


def test_a_genuine_upload_shows_what_it_certifies_without_login(signed: SignedSite) -> None:
    fid = signed.approve()
    pdf, payload = issued_pdf(signed, fid)
    page = upload(signed.client(), pdf)
    assert page.status_code == 200
    assert verdict(page.text) == "真实有效"
    assert "重庆测试三级公司" in page.text and THIRD in page.text
    assert str(payload["cert_no"]) in page.text and fid in page.text and str(payload["period"]) in page.text
    assert "签名有效" in page.text
    assert "<th>经济行为日期</th>" in page.text  # the period named by what it is
    assert 'id="superseded"' not in page.text
    assert f'href="/verify/{payload["cert_no"]}/proof.json?c=' in page.text


def test_a_changed_byte_is_refused_with_the_reason(signed: SignedSite) -> None:
    pdf, _ = issued_pdf(signed, signed.approve())
    middle = len(pdf) // 2
    tampered = pdf[:middle] + bytes([pdf[middle] ^ 0x01]) + pdf[middle + 1 :]
    page = upload(signed.client(), tampered)
    assert verdict(page.text) == "核验未通过"
    reasons = problems(page.text)
    assert any("账本中没有这份文件的签发记录" in r for r in reasons), reasons
    assert len(reasons) >= 1


def test_an_edit_after_signing_is_refused_as_such(signed: SignedSite) -> None:
    pdf, _ = issued_pdf(signed, signed.approve())
    writer = PdfWriter(io.BytesIO(pdf), incremental=True)
    writer.add_metadata({"/Title": "已修改"})
    out = io.BytesIO()
    writer.write(out)
    page = upload(signed.client(), out.getvalue())
    assert verdict(page.text) == "核验未通过"
    assert any("增量更新" in r for r in problems(page.text)), problems(page.text)


def test_a_pdf_this_system_never_issued(signed: SignedSite) -> None:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    out = io.BytesIO()
    writer.write(out)
    page = upload(signed.client(), out.getvalue())
    assert verdict(page.text) == "核验未通过"
    reasons = problems(page.text)
    assert any("没有电子签名" in r for r in reasons) and any("没有这份文件的签发记录" in r for r in reasons)


def test_not_a_pdf_and_too_large_get_chinese_messages(signed: SignedSite) -> None:
    client = signed.client()
    page = upload(client, b"PK\x03\x04 a zip, not a pdf", "登记表.pdf")
    assert page.status_code == 400 and "上传的文件不是 PDF 文件" in page.text
    big = b"%PDF-1.7\n" + b"0" * (3 * 1024 * 1024)
    page = upload(client, big)
    assert page.status_code == 413 and "文件过大" in page.text and "2 MB" in page.text
    page = upload(client, b"")
    assert page.status_code == 400 and "空的" in page.text


def test_an_oversized_upload_is_refused_by_its_declared_length_before_reading(signed: SignedSite) -> None:
    """The ASGI app is called directly with a body that fails when read: 413 comes from the header alone."""
    import asyncio

    sent: list[dict[str, object]] = []
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/verify",
        "raw_path": b"/verify",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-length", b"999999999"), (b"content-type", b"multipart/form-data; boundary=x")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 80),
    }

    async def receive() -> dict[str, object]:
        raise AssertionError("the body of an oversized upload was read")

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    asyncio.run(signed.app(scope, receive, send))
    assert sent[0]["status"] == 413
    body = b"".join(part for m in sent[1:] if isinstance(part := m.get("body", b""), bytes))
    assert "文件过大" in body.decode("utf-8")


def test_the_upload_needs_the_form_token(signed: SignedSite) -> None:
    pdf, _ = issued_pdf(signed, signed.approve())
    client = signed.client()
    client.get("/verify")
    response = client.post("/verify", data={"csrf": "forged"}, files={"pdf": ("a.pdf", pdf, "application/pdf")})
    assert response.status_code == 403


def test_the_qr_url_checks_the_record_and_a_wrong_code_leaks_nothing(signed: SignedSite) -> None:
    fid = signed.approve()
    pdf, payload = issued_pdf(signed, fid)
    page = upload(signed.client(), pdf)
    link = re.search(r'href="(/verify/[^"/]+\?c=[^"]+)"', page.text)
    assert link, page.text
    url = link.group(1).replace("&amp;", "&")
    parsed = parse_verification_url("http://x" + url)
    assert parsed is not None and parsed[0] == payload["cert_no"]
    anonymous = signed.client()
    good = anonymous.get(url)
    assert good.status_code == 200 and verdict(good.text) == "真实有效"
    assert "重庆测试三级公司" in good.text and fid in good.text
    number = str(payload["cert_no"])
    code = parsed[1]
    seq, digest = code.split("-")
    wrong_code = anonymous.get(f"/verify/{number}", params={"c": f"{seq}-{'0' * len(digest)}"})
    unknown_number = anonymous.get("/verify/DJB-CQ2099-999999-1", params={"c": code})
    no_code = anonymous.get(f"/verify/{number}")
    for response in (wrong_code, unknown_number, no_code):
        assert response.status_code == 404
        assert verdict(response.text) == "未找到签发记录"
        assert "重庆测试三级公司" not in response.text and 'id="facts"' not in response.text
    # the same page apart from the number echoed back
    assert wrong_code.text.replace(number, "N") == unknown_number.text.replace("DJB-CQ2099-999999-1", "N")
    # the code as printed on the page is accepted too
    printed = anonymous.get(f"/verify/{number}", params={"c": f"{number} · #{seq} · {digest}"})
    assert printed.status_code == 200 and verdict(printed.text) == "真实有效"


def test_the_proof_downloads_and_checks_offline(signed: SignedSite, tmp_path: Path) -> None:
    fid = signed.approve()
    pdf, payload = issued_pdf(signed, fid)
    page = upload(signed.client(), pdf)
    proof_url = re.search(r'href="(/verify/[^"]+/proof\.json\?c=[^"]+)"', page.text)
    assert proof_url
    response = signed.client().get(proof_url.group(1).replace("&amp;", "&"))
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    proof = json.loads(response.content)
    assert proof["event"]["payload"]["sha256"] == payload["sha256"]
    signed.check_offline(response.content, tmp_path)


def test_the_page_hands_out_the_script_and_key_that_check_the_proof(signed: SignedSite, tmp_path: Path) -> None:
    """What a citizen without our code does: download the proof, the script and the key from the page's
    links, and run the script (a subprocess, with only the standard library)."""
    fid = signed.approve()
    pdf, _ = issued_pdf(signed, fid)
    page = upload(signed.client(), pdf).text
    links = dict.fromkeys(re.findall(r'href="(/static/verify_proof\.py|/verify/ledger\.pub)"', page))
    assert list(links) == ["/static/verify_proof.py", "/verify/ledger.pub"], page
    proof_url = re.search(r'href="(/verify/[^"]+/proof\.json\?c=[^"]+)"', page)
    assert proof_url
    client = signed.client()
    files = {
        "proof.json": client.get(proof_url.group(1).replace("&amp;", "&")),
        "verify_proof.py": client.get("/static/verify_proof.py"),
        "ledger.pub": client.get("/verify/ledger.pub"),
    }
    for name, response in files.items():
        assert response.status_code == 200, name
        (tmp_path / name).write_bytes(response.content)
    assert files["ledger.pub"].text.strip() == (signed.data / "keys" / "ledger.pub").read_text().strip()
    checked = subprocess.run(
        [sys.executable, "verify_proof.py", "proof.json", "ledger.pub"],
        cwd=tmp_path,
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_later_registration_supersedes_the_document(signed: SignedSite) -> None:
    import datetime as dt

    first = signed.approve()
    old_pdf, _ = issued_pdf(signed, first)
    later = signed.approve(act_date=dt.date(2025, 9, 1), capital=2000)
    _new_pdf, new_payload = issued_pdf(signed, later)
    page = upload(signed.client(), old_pdf)
    assert verdict(page.text) == "真实有效"  # genuine, but no longer the current registration
    notice = re.search(r'<p class="warning" id="superseded">([^<]+)</p>', page.text)
    assert notice and str(new_payload["cert_no"]) in notice.group(1) and "2025-09-01" in notice.group(1)
    # a reprint of the same registration supersedes nothing
    group = signed.browser(GROUP)
    unit_page = group.get(f"/print/{THIRD}").text
    group.post(
        f"/print/{THIRD}",
        data={"csrf": csrf_of(unit_page), "period": str(new_payload["period"]), "template": "标准"},
    )
    newest = upload(signed.client(), issued_pdf(signed, later)[0])
    assert 'id="superseded"' not in newest.text


def test_requests_are_limited_per_client_address(tmp_path: Path) -> None:
    site = build_signed_site(tmp_path / "data", verify_rate_per_minute=3)
    try:
        client = site.client()
        statuses = [client.get("/verify/DJB-X-1", params={"c": "1-000000000000"}).status_code for _ in range(4)]
        assert statuses == [404, 404, 404, 429]
        limited = client.get("/verify/DJB-X-1", params={"c": "1-000000000000"})
        assert limited.status_code == 429 and "核验请求过于频繁" in limited.text
        site.clock.advance(seconds=61)  # the limit is per minute; the portal's clock is the test's
        assert client.get("/verify/DJB-X-1", params={"c": "1-000000000000"}).status_code == 404
    finally:
        site.close()


def test_the_check_code_must_match_both_the_approval_and_the_content() -> None:
    from documents.events import DocumentIssued
    from documents.model import verification_url
    from documents.public import code_matches, url_code

    fields: dict[str, Any] = {"approval_seq": 55, "content_hash": "117c123ffcd0" + "a" * 52}
    payload = DocumentIssued.model_construct(cert_no="DJB-CQ2026-000003-2", **fields)  # what the code reads
    assert url_code(payload) == "55-117c123ffcd0"
    assert verification_url("", payload.cert_no, url_code(payload)) == "/verify/DJB-CQ2026-000003-2?c=55-117c123ffcd0"
    for good in (
        "55-117c123ffcd0",
        "55-117C123FFCD0",
        "DJB-CQ2026-000003-2 · #55 · 117c123ffcd0",
        "#55 · 117c123ffcd0",
    ):
        assert code_matches(payload, good), good
    for bad in ("56-117c123ffcd0", "55-117c123ffcd1", "55-117c12", "117c123ffcd0", "", "55"):
        assert not code_matches(payload, bad), bad
