"""What every admin page shares: the gate (admin or 404); a posted admin form is `posted(request, admin=True)`."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from portal.context import Portal, Viewer, portal_of
from portal.errors import not_found


def admin_or_response(request: Request) -> tuple[Portal, Viewer | Response]:
    """The admin viewer, or the response to send instead (login, forced password change, or 404)."""
    portal = portal_of(request)
    viewer = portal.viewer_or_redirect(request)
    if isinstance(viewer, Response):
        return portal, viewer
    if not viewer.admin:
        return portal, not_found(portal, request)
    return portal, viewer


def text(form: FormData, name: str, limit: int = 400) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""
