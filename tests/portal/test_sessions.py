"""Server-side sessions: a new id at every login, logout and password changes end sessions,
idle and absolute expiry, and the cookie's attributes."""

from __future__ import annotations

from pathlib import Path

from httpx2 import Response
from portal_helpers import GROUP, PASSWORD, THIRD, Site, build_site, csrf_of, post_login
from starlette.testclient import TestClient


def session_cookie(response: Response, name: str = "cq_session") -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header
    raise AssertionError(f"no {name} cookie set: {response.headers.get_list('set-cookie')}")


def test_cookie_is_httponly_lax_and_not_secure_by_default(site: Site) -> None:
    site.wf.accounts.set_password(GROUP, PASSWORD)
    header = session_cookie(post_login(site.client(), GROUP, PASSWORD))
    assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header
    assert "Secure" not in header
    assert "Domain" not in header and "expires" not in header.lower()  # a browser-session cookie


def test_secure_cookies_behind_https(tmp_path: Path) -> None:
    site = build_site(tmp_path / "data", secure_cookies=True)
    try:
        site.wf.accounts.set_password(GROUP, PASSWORD)
        client = TestClient(site.app, base_url="https://testserver", follow_redirects=False)
        site.clients.append(client)
        login_page = client.get("/login")
        assert "Secure" in session_cookie(login_page, "__Host-cq_login")
        response = post_login(client, GROUP, PASSWORD)
        header = session_cookie(response, "__Host-cq_session")
        assert "Secure" in header and "HttpOnly" in header and "Path=/" in header
        assert client.get("/").status_code == 200
    finally:
        site.close()


def test_every_login_gets_a_new_session_id(site: Site) -> None:
    client = site.browser(GROUP)
    first = client.cookies["cq_session"]
    assert client.get("/").status_code == 200
    post_login(client, GROUP, PASSWORD)
    second = client.cookies["cq_session"]
    assert second != first
    replay = site.client()
    replay.cookies.set("cq_session", first)
    assert replay.get("/").headers["location"].startswith("/login")


def test_a_planted_session_id_is_never_promoted(site: Site) -> None:
    site.wf.accounts.set_password(GROUP, PASSWORD)
    client = site.client()
    client.cookies.set("cq_session", "attacker-chosen-value", domain="testserver.local")
    response = post_login(client, GROUP, PASSWORD)
    assert session_cookie(response).startswith("cq_session=")
    assert "attacker-chosen-value" not in session_cookie(response)
    assert client.cookies["cq_session"] != "attacker-chosen-value"
    attacker = site.client()
    attacker.cookies.set("cq_session", "attacker-chosen-value")
    assert attacker.get("/").status_code == 303


def test_logout_ends_the_session(site: Site) -> None:
    client = site.browser(GROUP)
    cookie = client.cookies["cq_session"]
    home = client.get("/")
    response = client.post("/logout", data={"csrf": csrf_of(home.text)})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?reason=logout"
    assert "您已安全退出" in client.get("/login?reason=logout").text
    replay = site.client()
    replay.cookies.set("cq_session", cookie)
    assert replay.get("/").headers["location"].startswith("/login")
    assert site.app.state.portal.sessions.count(GROUP) == 0


def test_password_change_rotates_this_session_and_ends_the_others(site: Site) -> None:
    site.wf.accounts.set_password(GROUP, PASSWORD)
    mine = site.login(GROUP, PASSWORD)
    other = site.login(GROUP, PASSWORD)
    before = mine.cookies["cq_session"]
    page = mine.get("/password")
    new = "Another#Pass2026"
    data = {"csrf": csrf_of(page.text), "old_password": PASSWORD, "new_password": new, "new_password2": new}
    assert mine.post("/password", data=data).status_code == 303
    assert mine.cookies["cq_session"] != before
    assert mine.get("/").status_code == 200
    ended = other.get("/")
    assert ended.status_code == 303 and ended.headers["location"].startswith("/login")
    stale = site.client()
    stale.cookies.set("cq_session", before)
    assert stale.get("/").status_code == 303
    assert site.app.state.portal.sessions.count(GROUP) == 1


def test_an_admin_reset_ends_the_sessions(site: Site) -> None:
    client = site.browser(GROUP)
    assert client.get("/").status_code == 200
    site.wf.accounts.reset(GROUP)
    response = client.get("/")
    assert response.headers["location"] == "/login?reason=changed"
    assert site.app.state.portal.sessions.count(GROUP) == 0


def test_a_session_ends_after_the_idle_time(site: Site) -> None:
    client = site.browser(GROUP)
    site.clock.advance(minutes=29)
    assert client.get("/").status_code == 200
    site.clock.advance(minutes=29)  # idle time counts from the last request
    assert client.get("/").status_code == 200
    site.clock.advance(minutes=31)
    assert client.get("/").headers["location"].startswith("/login")
    assert site.app.state.portal.sessions.count(GROUP) == 0


def test_a_session_ends_after_its_absolute_lifetime(site: Site) -> None:
    client = site.browser(GROUP)
    for _ in range(35):  # busy all day: a request every 20 minutes, for 11 h 40 min
        site.clock.advance(minutes=20)
        assert client.get("/").status_code == 200
    site.clock.advance(minutes=21)  # 12 h 1 min after the login
    assert client.get("/").headers["location"].startswith("/login")


def test_sessions_of_two_units_are_separate(site: Site) -> None:
    group = site.browser(GROUP)
    third = site.browser(THIRD)
    assert "重庆测试集团有限公司" in group.get("/").text
    assert "重庆测试三级公司" in third.get("/").text
    assert "重庆测试集团有限公司" not in third.get("/").text.split("<main>")[1].split("</main>")[0]


def test_credential_generation_on_an_accounts_file_made_before_it(tmp_path: Path) -> None:
    """An accounts.sqlite3 of an earlier version gains the column; reads before that count as 0."""
    import sqlite3

    from workflow import AccountStore, ScryptParams

    path = tmp_path / "accounts.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE accounts (username TEXT PRIMARY KEY, password_hash TEXT, must_change INTEGER NOT NULL"
            " DEFAULT 1, locked_until TEXT, created_at TEXT NOT NULL, changed_at TEXT)"
        )
        conn.execute("INSERT INTO accounts VALUES ('500100008', NULL, 1, NULL, '2025-01-01T00:00:00+00:00', NULL)")
    conn.close()
    old_view = AccountStore(path, read_only=True)
    assert old_view.generation("500100008") == 0  # no column yet, nothing created or changed
    old_view.close()
    store = AccountStore(path, scrypt=ScryptParams(n=2**4), is_known=lambda name: True)
    try:
        assert store.generation("500100008") == 0
        store.set_password("500100008", PASSWORD)
        assert store.generation("500100008") == 1
        store.reset("500100008")
        assert store.generation("500100008") == 2
        assert store.generation("nobody") == 0
    finally:
        store.close()
