"""Error pages, in Chinese: 404 for anything missing or not the viewer's (the same page either
way), 403 for a form without its token, 429 for too many logins, 413 and 500."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from portal.context import Portal, portal_of
from portal.security import with_security_headers

log = logging.getLogger(__name__)

_PAGES = {
    403: (
        "请求被拒绝",
        "表单已失效或来源不明（缺少或错误的安全校验码），本次提交未被处理。请返回上一页刷新后重新提交。",
    ),
    404: ("页面不存在", "您要找的页面不存在，或您无权查看。"),
    405: ("请求方式不正确", "该页面不支持这种请求方式。"),
    413: ("提交内容过大", "提交的内容超过了允许的大小，未被处理。"),
    429: ("尝试过于频繁", "登录尝试过于频繁，请一分钟后再试。"),
    500: ("系统错误", "系统处理您的请求时出错，请稍后重试；如问题持续，请联系管理员。"),
}


def error_page(portal: Portal, status: int, request: Request | None = None) -> Response:
    title, message = _PAGES.get(status, _PAGES[500])
    viewer = None
    if request is not None and status in (404, 405):
        try:
            viewer = portal.viewer_of(request)
        except Exception:  # the error page must render even when the session store cannot answer
            log.warning("portal.error_page_viewer_failed", exc_info=True)
    if viewer is not None and viewer.session.must_change:
        viewer = None  # no navigation until the initial password is changed
    return portal.pages.render("error.html.j2", {"title": title, "message": message, "viewer": viewer}, status=status)


def csrf_refused(portal: Portal) -> Response:
    log.warning("portal.csrf_refused")
    return error_page(portal, 403)


def too_many_logins(portal: Portal) -> Response:
    log.warning("portal.login_rate_limited")
    return error_page(portal, 429)


def not_found(portal: Portal, request: Request) -> Response:
    return error_page(portal, 404, request)


async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return error_page(portal_of(request), status if status in _PAGES else 500, request)


async def server_error(request: Request, exc: Exception) -> Response:
    log.error("portal.error", exc_info=exc, extra={"path": request.url.path})
    return with_security_headers(error_page(portal_of(request), 500))
