"""What every admin page shares: the gate (admin or 404) and the form check."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from portal.context import Portal, Viewer, portal_of
from portal.errors import csrf_refused, not_found
from portal.forms import form_text
from portal.security import read_form, tokens_equal


def admin_or_response(request: Request) -> tuple[Portal, Viewer | Response]:
    """The admin viewer, or the response to send instead (login, forced password change, or 404)."""
    portal = portal_of(request)
    viewer = portal.viewer_or_redirect(request)
    if isinstance(viewer, Response):
        return portal, viewer
    if not viewer.admin:
        return portal, not_found(portal, request)
    return portal, viewer


async def admin_form(request: Request) -> tuple[Portal, Viewer | Response, FormData | None]:
    """The posted form of an admin, its token checked before anything else is looked at."""
    portal = portal_of(request)
    form = await read_form(request)
    portal, viewer = admin_or_response(request)
    if isinstance(viewer, Response):
        return portal, viewer, None
    if not tokens_equal(form_text(form, "csrf"), viewer.session.csrf):
        return portal, csrf_refused(portal), None
    return portal, viewer, form


def text(form: FormData, name: str, limit: int = 400) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""
