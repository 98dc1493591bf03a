"""Login as the seed system has it: user name = normalized organization code (or the assigned
overseas name), initial password = the code, and 修改密码 before any other page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from httpx2 import Response
from portal_helpers import GROUP, PASSWORD, THIRD, Site, csrf_of, post_login
from starlette.testclient import TestClient


def full_width(text: str) -> str:
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param(lambda code: code, id="as-is"),
        pytest.param(lambda code: f"{code[:8]}-{code[8:]}".lower(), id="hyphen-lower-case"),
        pytest.param(lambda code: full_width(f"{code[:8]}-{code[8:]}"), id="full-width"),
        pytest.param(lambda code: f" {code} ", id="blanks"),
    ],
)
def test_user_name_is_normalized_like_smtp_auth(site: Site, typed: Callable[[str], str]) -> None:
    client = site.client()
    response = post_login(client, typed(THIRD), THIRD)
    assert response.status_code == 303
    assert response.headers["location"] == "/password"
    page = client.get("/password")
    assert page.status_code == 200
    assert "您正在使用初始密码" in page.text
    assert "重庆测试三级公司" in page.text


def test_overseas_unit_logs_in_with_its_assigned_user_name(site: Site) -> None:
    assert site.overseas.startswith("JW")
    client = site.client()
    response = post_login(client, site.overseas.lower(), site.overseas)
    assert response.headers["location"] == "/password"
    assert "香港测试有限公司" in client.get("/password").text


def test_wrong_password_gets_no_session(site: Site) -> None:
    client = site.client()
    response = post_login(client, THIRD, "not-the-password")
    assert response.status_code == 200
    assert "用户名或密码错误。" in response.text
    assert "cq_session" not in response.cookies
    assert client.get("/").headers["location"].startswith("/login")


def test_unknown_user_reads_like_a_wrong_password(site: Site) -> None:
    response = post_login(site.client(), "ZZZZZZZZZ", "ZZZZZZZZZ")
    assert "用户名或密码错误。" in response.text


@pytest.mark.parametrize("path", ["/", "/filings/CQ2026-000001", "/template.xlsx", "/filings/x/files/" + "a" * 64])
def test_initial_password_must_be_changed_before_any_other_page(site: Site, path: str) -> None:
    client = site.login(THIRD, THIRD)
    response = client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/password"


def change(client: TestClient, old: str, new: str, again: str | None = None) -> Response:
    page = client.get("/password")
    data = {"csrf": csrf_of(page.text), "old_password": old, "new_password": new, "new_password2": again or new}
    return client.post("/password", data=data)


@pytest.mark.parametrize(
    ("new", "again", "message"),
    [
        ("Sh0rt!", None, "密码至少需要 10 个字符。"),
        ("alllowercaseletters", None, "密码须包含小写字母、大写字母、数字、符号中的至少 3 类。"),
        (f"{THIRD[:8]}-{THIRD[8:]}".lower(), None, "密码不能与用户名（组织机构代码）相同。"),
        (PASSWORD, PASSWORD + "x", "两次输入的新密码不一致。"),
    ],
)
def test_password_policy_is_the_accounts_policy(site: Site, new: str, again: str | None, message: str) -> None:
    client = site.login(THIRD, THIRD)
    response = change(client, THIRD, new, again)
    assert response.status_code == 200
    assert message in response.text
    assert site.wf.accounts.must_change(THIRD)


def test_wrong_old_password_is_refused(site: Site) -> None:
    client = site.login(THIRD, THIRD)
    response = change(client, "wrong-old", PASSWORD)
    assert "原密码错误。" in response.text


def test_change_then_home_and_new_password_works(site: Site) -> None:
    client = site.login(THIRD, THIRD)
    response = change(client, THIRD, PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/?notice=password-changed"
    home = client.get("/?notice=password-changed")
    assert home.status_code == 200
    assert "密码已修改" in home.text and "代办事项" in home.text
    assert not site.wf.accounts.must_change(THIRD)
    assert [e.subject for e in site.wf.ledger.events(kind="account.password_changed")] == [THIRD]
    # the old (initial) password no longer opens the account; the new one does, straight to 首页
    assert "用户名或密码错误。" in post_login(site.client(), THIRD, THIRD).text
    again = post_login(site.client(), THIRD, PASSWORD)
    assert again.headers["location"] == "/"


def test_login_returns_to_a_local_page_only(site: Site) -> None:
    site.wf.accounts.set_password(GROUP, PASSWORD)
    client = site.client()
    page = client.get("/login?next=/filings/CQ2026-000009")
    assert 'name="next" value="/filings/CQ2026-000009"' in page.text
    data = {"csrf": csrf_of(page.text), "username": GROUP, "password": PASSWORD, "next": "/filings/CQ2026-000009"}
    assert client.post("/login", data=data).headers["location"] == "/filings/CQ2026-000009"
    for hostile in ("//evil.example/x", "https://evil.example/", "/\\evil", "javascript:alert(1)"):
        other = site.client()
        page = other.get("/login")
        data = {"csrf": csrf_of(page.text), "username": GROUP, "password": PASSWORD, "next": hostile}
        assert other.post("/login", data=data).headers["location"] == "/"


def test_a_page_behind_the_login_sends_to_login_and_back(site: Site) -> None:
    response = site.client().get("/filings/CQ2026-000001")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/filings/CQ2026-000001"


def test_healthz_needs_no_login(site: Site) -> None:
    response = site.client().get("/healthz")
    assert response.status_code == 200
    assert response.text == "ok"
