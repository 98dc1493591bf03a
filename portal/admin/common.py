"""What every admin page shares: the gate (admin or 404) and the form check."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from portal.context import Portal, Viewer, portal_of
from portal.errors import not_found
from portal.forms import posted


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
    """`posted(request, admin=True)` as a triple (the form None when the viewer is a response), for the
    callers written against it; new code takes the `Posted` from `posted` itself."""
    asked = await posted(request, admin=True)
    if isinstance(asked, Response):
        return portal_of(request), asked, None
    return asked.portal, asked.viewer, asked.form


def text(form: FormData, name: str, limit: int = 400) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""
