"""Units and accounts: the tree with search; add, move, contacts, and the filing mode of a first-level
enterprise's subordinates (applied for, then approved or rejected by SASAC's own account) as `chanquan units`
does; an account's last login and lockouts, with reset and unlock.

Each change calls the same workflow method as the CLI (with the admin's user name as the ledger
actor) and answers with a redirect to the unit's page and a notice, or the page again with the
refusal's Chinese message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from portal.admin.common import admin_or_response, text
from portal.context import Portal, Viewer
from portal.errors import not_found
from portal.forms import posted
from portal.render import china_time, level_zh
from workflow import HOLDINGS, PasswordPolicyError, Unit, UnitError
from workflow.accounts import normalize_username
from workflow.admin import unlock_account
from workflow.events import AccountLocked
from workflow.units import MODE_ZH, split_emails

TREE_LIMIT = 400  # units drawn as one tree on the overview; a larger tree is browsed unit by unit
NOTICES = {
    "added": "已添加单位，其账户的初始密码与用户名相同，首次登录须修改。",
    "added-overseas": "已添加境外单位并分配用户名；已请求将账户信息发送给所属一级企业的填报联系人。",
    "contacts": "已更新联系人。",
    "moved": "已移动单位；审核中的申报已按新的上级重新提交审核。",
    "designation-applied": "已记录填报方式申请；市国资委批准前填报方式不变。",
    "designation-approved": "已批准填报方式申请，即日起按新的填报方式受理。",
    "designation-rejected": "已驳回填报方式申请，填报方式不变。",
    "reset": "账户已重置：初始密码与用户名相同，下次登录须修改密码；该账户的登录已全部失效。",
    "unlocked": "账户已解锁。",
    "not-locked": "账户当前没有被锁定。",
}


def _emails(raw: str) -> list[str]:
    good, bad = split_emails(raw)
    if bad:
        raise UnitError(f"邮箱地址无效：{'、'.join(bad)}")
    return good


def _required(value: str, message_zh: str) -> str:
    if not value:
        raise UnitError(message_zh)
    return value


def _to_unit(code: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"/admin/units/{quote(code, safe='')}?notice={notice}", status_code=303)


async def admin_home(request: Request) -> Response:
    portal, viewer = admin_or_response(request)
    if isinstance(viewer, Response):
        return viewer
    units = portal.wf.units
    context = {"viewer": viewer, "unit_count": units.count(), "ledger_size": portal.wf.ledger.size()}
    return portal.pages.render("admin/home.html.j2", context)


async def units_page(request: Request) -> Response:
    portal, viewer = admin_or_response(request)
    if isinstance(viewer, Response):
        return viewer
    units = portal.wf.units
    search = request.query_params.get("q", "").strip()[:60]
    found = units.search(search, limit=100) if search else []
    tree: list[tuple[int, Unit]] = []
    if not search and units.count() <= TREE_LIMIT:
        tree = list(units.iter_tree(units.root_code))
    return portal.pages.render(
        "admin/units.html.j2",
        {
            "viewer": viewer,
            "search": search,
            "found": found,
            "tree": tree,
            "first_level": [] if tree else units.children(units.root_code),
            "root_code": units.root_code,
            "level_zh": level_zh,
            "holdings": HOLDINGS,
            "error": "",
            "form": {},
        },
    )


def _unit_page(
    portal: Portal, request: Request, viewer: Viewer, unit: Unit, *, error: str = "", status: int = 200
) -> Response:
    wf = portal.wf
    units = wf.units
    first = units.first_level_of(unit.code)
    facts = wf.account_facts(unit.username or unit.code)
    login = wf.accounts.login_facts(unit.username or unit.code)
    lockouts = [
        (china_time(e.ts.isoformat()), e.payload.get("failures", ""), china_time(str(e.payload.get("until", ""))))
        for e in wf.ledger.events(subject=unit.username or unit.code, kind=AccountLocked.kind)
    ][-20:]
    _total, filings = wf.filings_of(unit.code, 20)
    context: dict[str, Any] = {
        "viewer": viewer,
        "unit": unit,
        "level": level_zh(unit.level),
        "ancestors": list(reversed(units.ancestors(unit.code))),
        "children": units.children(unit.code),
        "first_level": first,
        "designated": units.get(first.designated_filer) if first and first.designated_filer else None,
        "designation": units.designation(unit.code) if unit.level == 1 else None,
        "modes": MODE_ZH,
        "approver": viewer.session.username == units.root_code,  # only SASAC's own account approves
        "facts": facts,
        "login": login,
        "lockouts": lockouts,
        "filings": filings,
        "notice": NOTICES.get(request.query_params.get("notice", ""), ""),
        "error": error,
        "holdings": HOLDINGS,
        "cst": china_time,
    }
    return portal.pages.render("admin/unit.html.j2", context, status=status)


async def unit_page(request: Request) -> Response:
    portal, viewer = admin_or_response(request)
    if isinstance(viewer, Response):
        return viewer
    unit = portal.wf.units.get(str(request.path_params["code"]))
    if unit is None:
        return not_found(portal, request)
    return _unit_page(portal, request, viewer, unit)


async def add_unit(request: Request) -> Response:
    asked = await posted(request, admin=True)
    if isinstance(asked, Response):
        return asked
    portal, viewer, form = asked.portal, asked.viewer, asked.form
    registry = portal.wf.units
    parent = text(form, "parent", 40) or registry.root_code
    actor = viewer.session.username
    try:
        filers, reviewers = _emails(text(form, "filers")), _emails(text(form, "reviewers"))
        holding, name = text(form, "holding", 20) or "国有全资", text(form, "name", 200)
        if form.get("overseas"):
            unit = await run_in_threadpool(
                lambda: registry.add_overseas(
                    name, parent=parent, holding=holding, filer_emails=filers, reviewer_emails=reviewers, actor=actor
                )
            )
            return _to_unit(unit.code, "added-overseas")
        code = _required(text(form, "code", 40), "请填写组织机构代码（境外单位请勾选“境外单位”）。")
        unit = await run_in_threadpool(
            lambda: registry.add(
                code, name, parent=parent, holding=holding, filer_emails=filers, reviewer_emails=reviewers, actor=actor
            )
        )
    except UnitError as exc:
        up = registry.get(parent)
        if up is None:
            return _units_error(portal, request, viewer, exc.message_zh, form)
        return _unit_page(portal, request, viewer, up, error=exc.message_zh, status=400)
    return _to_unit(unit.code, "added")


def _units_error(portal: Portal, request: Request, viewer: Viewer, message: str, form: Any) -> Response:
    return portal.pages.render(
        "admin/units.html.j2",
        {
            "viewer": viewer,
            "search": "",
            "found": [],
            "tree": [],
            "first_level": portal.wf.units.children(portal.wf.units.root_code),
            "root_code": portal.wf.units.root_code,
            "level_zh": level_zh,
            "holdings": HOLDINGS,
            "error": message,
            "form": {key: form.get(key) for key in ("code", "name", "parent")},
        },
        status=400,
    )


async def _change(request: Request, change: str) -> Response:
    """One change of a unit (contacts, move, a designation applied for, approved or rejected) by its form, as
    `chanquan units` makes it."""
    asked = await posted(request, admin=True)
    if isinstance(asked, Response):
        return asked
    portal, viewer, form = asked.portal, asked.viewer, asked.form
    registry = portal.wf.units
    unit = registry.get(str(request.path_params["code"]))
    if unit is None:
        return not_found(portal, request)
    actor = viewer.session.username
    if change in ("approve", "reject") and actor != registry.root_code:
        return _unit_page(
            portal, request, viewer, unit, error="只有市国资委的账户可以批准或驳回填报方式申请。", status=403
        )
    try:
        if change == "contacts":
            filers, reviewers = _emails(text(form, "filers")), _emails(text(form, "reviewers"))
            await run_in_threadpool(
                lambda: registry.set_contacts(unit.code, filer_emails=filers, reviewer_emails=reviewers, actor=actor)
            )
        elif change == "move":
            target = _required(text(form, "new_parent", 40), "请填写新的上级单位代码。")
            await run_in_threadpool(lambda: registry.move(unit.code, target, actor=actor))
        elif change == "designate":
            mode, filer, reason = text(form, "mode", 20), text(form, "filer", 40), text(form, "reason", 400)
            await run_in_threadpool(
                lambda: registry.apply_designation(unit.code, mode, unit=filer, reason=reason, actor=actor)
            )
        elif change == "approve":
            reference = text(form, "reference", 100)
            await run_in_threadpool(lambda: registry.approve_designation(unit.code, reference=reference, actor=actor))
        else:
            opinion = text(form, "opinion", 400)
            await run_in_threadpool(lambda: registry.reject_designation(unit.code, opinion=opinion, actor=actor))
    except UnitError as exc:
        return _unit_page(portal, request, viewer, unit, error=exc.message_zh, status=400)
    notice = {
        "contacts": "contacts",
        "move": "moved",
        "designate": "designation-applied",
        "approve": "designation-approved",
        "reject": "designation-rejected",
    }[change]
    return _to_unit(unit.code, notice)


async def set_contacts(request: Request) -> Response:
    return await _change(request, "contacts")


async def move_unit(request: Request) -> Response:
    return await _change(request, "move")


async def designate(request: Request) -> Response:
    return await _change(request, "designate")


async def approve_designation(request: Request) -> Response:
    return await _change(request, "approve")


async def reject_designation(request: Request) -> Response:
    return await _change(request, "reject")


async def _account(request: Request, action: str) -> Response:
    asked = await posted(request, admin=True)
    if isinstance(asked, Response):
        return asked
    portal, viewer = asked.portal, asked.viewer
    unit = portal.wf.units.get(str(request.path_params["code"]))
    if unit is None:
        return not_found(portal, request)
    username, actor = unit.username or unit.code, viewer.session.username
    if action == "reset":
        if actor != portal.wf.units.root_code and _privileged(portal, unit, username):
            # a reset password is the user name: whoever resets an account can log in as it
            error = "只有市国资委的账户可以重置市国资委或其他管理员的密码。"
            return _unit_page(portal, request, viewer, unit, error=error, status=403)
        try:
            await run_in_threadpool(lambda: portal.wf.accounts.reset(username, by=actor))
        except PasswordPolicyError as exc:
            return _unit_page(portal, request, viewer, unit, error=exc.reason_zh, status=400)
        return _to_unit(unit.code, "reset")
    unlocked = await run_in_threadpool(lambda: unlock_account(portal.wf, username, by=actor))
    return _to_unit(unit.code, "unlocked" if unlocked else "not-locked")


def _privileged(portal: Portal, unit: Unit, username: str) -> bool:
    """The supervising body's account and the admins': their passwords are reset only by the former."""
    return unit.code == portal.wf.units.root_code or normalize_username(username) in portal.config.admin_users


async def reset_account(request: Request) -> Response:
    return await _account(request, "reset")


async def unlock(request: Request) -> Response:
    return await _account(request, "unlock")


def routes() -> list[BaseRoute]:
    return [
        Route("/admin", admin_home, methods=["GET"], name="admin"),
        Route("/admin/units", units_page, methods=["GET"], name="admin_units"),
        Route("/admin/units", add_unit, methods=["POST"], name="admin_add_unit"),
        Route("/admin/units/{code}", unit_page, methods=["GET"], name="admin_unit"),
        Route("/admin/units/{code}/contacts", set_contacts, methods=["POST"], name="admin_contacts"),
        Route("/admin/units/{code}/move", move_unit, methods=["POST"], name="admin_move"),
        Route("/admin/units/{code}/designate", designate, methods=["POST"], name="admin_designate"),
        Route("/admin/units/{code}/designate/approve", approve_designation, methods=["POST"], name="admin_approve"),
        Route("/admin/units/{code}/designate/reject", reject_designation, methods=["POST"], name="admin_reject"),
        Route("/admin/units/{code}/reset", reset_account, methods=["POST"], name="admin_reset"),
        Route("/admin/units/{code}/unlock", unlock, methods=["POST"], name="admin_unlock"),
    ]
