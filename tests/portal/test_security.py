"""Attacks and bad input: forged forms, login floods, hostile text, framing, caching, oversize bodies."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from httpx2 import Response
from portal_helpers import GROUP, PASSWORD, SECOND, THIRD, Site, build_site, csrf_of, decide, file, post_login
from starlette.testclient import TestClient

from workflow import ReviewDecision

HOSTILE = '<script>alert("x")</script>'


def failures(site: Site) -> int:
    with sqlite3.connect(site.data / "accounts.sqlite3") as conn:
        return int(conn.execute("SELECT count(*) FROM failures").fetchone()[0])


def password_hash(site: Site, username: str) -> str | None:
    with sqlite3.connect(site.data / "accounts.sqlite3") as conn:
        row = conn.execute("SELECT password_hash FROM accounts WHERE username = ?", (username,)).fetchone()
    return None if row is None else row[0]


def logged_in(site: Site, username: str = GROUP) -> TestClient:
    site.wf.accounts.set_password(username, PASSWORD)
    return site.login(username, PASSWORD)


# -- CSRF ---------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "forged-token-value"])
def test_login_without_its_token_is_refused_and_records_nothing(site: Site, token: str | None) -> None:
    client = site.client()
    client.get("/login")  # has the pre-session cookie, but posts a wrong or no token
    size = site.wf.ledger.size()
    for _ in range(8):  # more than the lockout threshold: a forged form must not count
        data = {"username": THIRD, "password": "wrong-password"}
        if token is not None:
            data["csrf"] = token
        response = client.post("/login", data=data)
        assert response.status_code == 403
        assert "本次提交未被处理" in response.text
    assert failures(site) == 0
    assert site.wf.ledger.size() == size
    assert not site.wf.accounts.authenticate(THIRD, THIRD).locked


def test_login_token_of_another_browser_is_refused(site: Site) -> None:
    victim = site.client()
    token = csrf_of(victim.get("/login").text)
    attacker = site.client()
    attacker.get("/login")  # its own pre-session cookie
    response = attacker.post("/login", data={"csrf": token, "username": THIRD, "password": THIRD})
    assert response.status_code == 403
    assert "cq_session" not in attacker.cookies


def test_password_change_without_the_session_token_changes_nothing(site: Site) -> None:
    client = logged_in(site)
    before = password_hash(site, GROUP)
    size = site.wf.ledger.size()
    for token in (None, "wrong"):
        data = {"old_password": PASSWORD, "new_password": "Brand#New2026x", "new_password2": "Brand#New2026x"}
        if token is not None:
            data["csrf"] = token
        assert client.post("/password", data=data).status_code == 403
    assert password_hash(site, GROUP) == before
    assert site.wf.ledger.size() == size
    assert client.get("/").status_code == 200  # the session itself is untouched


def test_a_token_of_another_session_does_not_pass(site: Site) -> None:
    one = logged_in(site)
    other = site.login(GROUP, PASSWORD)
    stolen = csrf_of(other.get("/password").text)
    data = {
        "csrf": stolen,
        "old_password": PASSWORD,
        "new_password": "Brand#New2026x",
        "new_password2": "Brand#New2026x",
    }
    assert one.post("/password", data=data).status_code == 403


def test_logout_without_the_token_keeps_the_session(site: Site) -> None:
    client = logged_in(site)
    assert client.post("/logout", data={"csrf": "nope"}).status_code == 403
    assert client.post("/logout").status_code == 403
    assert client.get("/").status_code == 200


# -- the login limit per client address ----------------------------------------------------


def test_login_attempts_per_address_are_limited(tmp_path: Path) -> None:
    site = build_site(tmp_path / "data", login_rate_per_minute=3)
    try:
        client = site.client()
        for _ in range(3):
            assert "用户名或密码错误。" in post_login(client, SECOND, "wrong").text
        before = failures(site)
        refused = post_login(client, SECOND, SECOND)  # even the right password waits
        assert refused.status_code == 429
        assert "登录尝试过于频繁" in refused.text
        assert failures(site) == before  # a refused attempt reaches no account
        site.clock.advance(seconds=61)
        assert post_login(client, SECOND, SECOND).status_code == 303
    finally:
        site.close()


def test_an_oversized_login_form_is_refused_before_it_is_read(site: Site) -> None:
    client = site.client()
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"csrf": token, "username": THIRD, "password": "x" * 200_000})
    assert response.status_code == 413
    assert "提交的内容超过了允许的大小" in response.text
    assert failures(site) == 0


# -- headers ---------------------------------------------------------------------------------


def assert_security_headers(response: Response, *, cached: bool = False) -> None:
    headers = response.headers
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "default-src 'self'" in csp
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    if not cached:
        assert headers["cache-control"] == "no-store"


def test_every_response_carries_the_security_headers(site: Site) -> None:
    fid = file(site.wf).filing_id
    client = logged_in(site)
    pages = [client.get(path) for path in ("/", f"/filings/{fid}", "/password", "/filings/CQ1999-000001", "/nope")]
    pages += [site.client().get("/login"), site.client().get("/healthz"), site.client().get("/")]
    for response in pages:
        assert_security_headers(response)
    static = site.client().get("/static/portal.css")
    assert static.status_code == 200
    assert_security_headers(static, cached=True)
    assert "no-store" not in static.headers["cache-control"]


def test_pages_have_no_inline_script_or_style(site: Site) -> None:
    fid = file(site.wf).filing_id
    client = logged_in(site)
    for path in ("/", f"/filings/{fid}", "/password", "/nope"):
        html = client.get(path).text
        assert "<script" not in html
        assert not re.search(r"\sstyle\s*=", html)
        assert not re.search(r"\son[a-z]+\s*=", html)  # no inline event handlers
        assert "http://" not in html and "https://" not in html  # every asset is local


# -- escaping -------------------------------------------------------------------------------


def test_script_in_a_unit_name_is_escaped(tmp_path: Path) -> None:
    site = build_site(tmp_path / "data", tree={"group_name": f"{HOSTILE}集团"})
    try:
        client = logged_in(site)
        html = client.get("/").text
        assert HOSTILE not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;集团" in html
    finally:
        site.close()


def test_script_in_an_opinion_is_escaped(site: Site) -> None:
    fid = file(site.wf).filing_id
    decide(site.wf, fid, ReviewDecision.RETURN, f"请补充材料{HOSTILE}")
    client = logged_in(site, THIRD)
    for html in (client.get("/").text, client.get(f"/filings/{fid}").text):
        assert "请补充材料" in html
        assert HOSTILE not in html
        assert "&lt;script&gt;" in html


def test_script_in_a_file_name_is_escaped(site: Site) -> None:
    rows = [{"doc_kind": "业务办理申请文件", "required": "是", "file_name": f"{HOSTILE}.pdf"}]
    outcome = file(site.wf, documents=rows)
    client = logged_in(site, THIRD)
    html = client.get(f"/filings/{outcome.filing_id}").text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;.pdf" in html
    assert HOSTILE not in html


def test_script_in_an_attachment_name_is_escaped(site: Site) -> None:
    rows = [{"doc_kind": "业务办理申请文件", "required": "是", "file_name": f"{HOSTILE}.pdf"}]
    outcome = file(site.wf, documents=rows)
    view = site.wf.filing(outcome.filing_id)
    assert view is not None
    attachment = next(f for f in view.files if f.kind == "attachment")
    client = logged_in(site, THIRD)
    html = client.get(f"/filings/{outcome.filing_id}").text
    assert attachment.original_name == f"{HOSTILE}.pdf"  # the filer's own name, as recorded
    assert html.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;.pdf") >= 2  # catalogue and attachment list
    assert HOSTILE not in html
    download = client.get(f"/filings/{outcome.filing_id}/files/{attachment.blob}")
    assert "script" not in download.headers["content-disposition"]  # the saved name is the portal's own


def test_an_unexpected_error_shows_a_chinese_page_without_details(tmp_path: Path) -> None:
    from starlette.routing import Route

    from portal import PortalConfig, create_app

    def broken(request: object) -> None:
        raise RuntimeError("secret detail /etc/passwd")

    site = build_site(tmp_path / "data")
    app = create_app(
        site.wf, PortalConfig(sessions_db=tmp_path / "other.sqlite3"), extra_routes=[Route("/boom", broken)]
    )
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            response = client.get("/boom")
        assert response.status_code == 500
        assert "系统处理您的请求时出错" in response.text
        assert "secret detail" not in response.text and "Traceback" not in response.text
        assert_security_headers(response)
    finally:
        site.close()


def test_a_wrong_method_gets_a_chinese_page(site: Site) -> None:
    response = site.client().get("/logout")
    assert response.status_code == 405
    assert "该页面不支持这种请求方式" in response.text
