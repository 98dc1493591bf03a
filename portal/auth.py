"""登录, 退出 and 修改密码: the same accounts, policy and lockout as SMTP AUTH.

Every POST checks its form token before anything else, so a forged or replayed form changes
nothing and counts no failure. A login always starts a new session id (a planted cookie is
never promoted), and a password change rotates the id and ends every other session of the
account; changes made through the other doors end sessions through the credential generation.
"""

from __future__ import annotations

import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from portal.context import Portal, Viewer, portal_of, safe_next
from portal.errors import csrf_refused, too_many_logins
from portal.forms import form_text, posted
from portal.security import login_form_token, read_form, tokens_equal
from workflow import PasswordPolicyError
from workflow.accounts import normalize_username

LOGIN_REASONS = {
    "expired": "登录已过期或已在别处退出，请重新登录。",
    "changed": "该账户的密码已修改或重置，请用新密码重新登录。",
    "logout": "您已安全退出。",
}


def _login_page(
    portal: Portal, request: Request, *, username: str = "", error: str = "", status: int = 200
) -> Response:
    cookie = request.cookies.get(portal.login_cookie) or ""
    fresh = not cookie or len(cookie) > 100
    if fresh:
        cookie = secrets.token_urlsafe(32)
    reason = LOGIN_REASONS.get(request.query_params.get("reason", ""), "")
    current = portal.session_of(request)
    if current is not None and not reason:
        reason = f"当前已登录为 {current.username}；在此重新登录将结束当前登录。"
    response = portal.pages.render(
        "login.html.j2",
        {
            "csrf": login_form_token(portal.sessions.login_secret, cookie),
            "username": username,
            "error": error,
            "notice": "" if error else reason,
            "next": safe_next(request.query_params.get("next")) or "",
        },
        status=status,
    )
    if fresh:
        portal.set_cookie(response, portal.login_cookie, cookie)
    return response


async def login_form(request: Request) -> Response:
    """The form, also for someone logged in already (to change account: the new login ends the old one)."""
    portal = portal_of(request)
    return _login_page(portal, request)


async def login(request: Request) -> Response:
    portal = portal_of(request)
    form = await read_form(request)
    cookie = request.cookies.get(portal.login_cookie, "")
    if not cookie or not tokens_equal(form_text(form, "csrf"), login_form_token(portal.sessions.login_secret, cookie)):
        return csrf_refused(portal)
    username = normalize_username(form_text(form, "username"))
    password = form_text(form, "password")
    address = request.client.host if request.client else "unknown"
    if not portal.limiter.allow(address):
        return too_many_logins(portal)
    if not username or not password:
        return _login_page(portal, request, username=username, error="请输入用户名和密码。")
    result = await run_in_threadpool(portal.wf.accounts.authenticate, username, password)
    if not result.ok:
        return _login_page(portal, request, username=username, error=result.reason_zh)
    unit = portal.wf.units.by_username(result.username)
    if unit is None:
        return _login_page(portal, request, username=username, error="该账户没有对应的单位，请联系管理员。")
    old = portal.session_of(request)
    if old is not None:
        portal.sessions.end(old)  # a new id at every login: a session id known before it is worth nothing
    generation = portal.wf.accounts.generation(result.username)
    token, _session = portal.sessions.create(
        result.username, unit.code, generation=generation, must_change=result.must_change
    )
    target = "/password" if result.must_change else (safe_next(form_text(form, "next")) or "/")
    response = RedirectResponse(target, status_code=303)
    portal.set_cookie(response, portal.session_cookie, token)
    portal.clear_cookie(response, portal.login_cookie)
    return response


async def logout(request: Request) -> Response:
    portal = portal_of(request)
    form = await read_form(request)
    session = portal.session_of(request)
    if session is None:
        return portal.to_login(request)
    if not tokens_equal(form_text(form, "csrf"), session.csrf):
        return csrf_refused(portal)
    portal.sessions.end(session)
    response = RedirectResponse("/login?reason=logout", status_code=303)
    portal.clear_cookie(response, portal.session_cookie)
    return response


def _password_page(portal: Portal, viewer: Viewer, *, error: str = "", status: int = 200) -> Response:
    policy = portal.wf.accounts.policy
    return portal.pages.render(
        "password.html.j2",
        {
            "viewer": viewer,
            "error": error,
            "min_length": policy.min_length,
            "min_classes": policy.min_classes,
        },
        status=status,
    )


async def password_form(request: Request) -> Response:
    portal = portal_of(request)
    viewer = portal.viewer_or_redirect(request)
    if isinstance(viewer, Response):
        return viewer
    return _password_page(portal, viewer)


async def change_password(request: Request) -> Response:
    asked = await posted(request)
    if isinstance(asked, Response):
        return asked
    portal, viewer = asked.portal, asked.viewer
    old, new, again = asked.text("old_password"), asked.text("new_password"), asked.text("new_password2")
    if not old or not new:
        return _password_page(portal, viewer, error="请填写原密码和新密码。")
    if new != again:
        return _password_page(portal, viewer, error="两次输入的新密码不一致。")
    if new == old:
        return _password_page(portal, viewer, error="新密码不能与原密码相同。")
    accounts = portal.wf.accounts
    try:
        await run_in_threadpool(accounts.change_password, viewer.session.username, old, new)
    except PasswordPolicyError as exc:
        return _password_page(portal, viewer, error=exc.reason_zh)
    generation = accounts.generation(viewer.session.username)
    token, fresh = portal.sessions.rotate(viewer.session, generation=generation, must_change=False)
    portal.sessions.end_others(viewer.session.username, keep=fresh)
    response = RedirectResponse("/?notice=password-changed", status_code=303)
    portal.set_cookie(response, portal.session_cookie, token)
    return response
