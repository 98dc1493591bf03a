"""The gate of every form posted behind the login, and reading a form's text fields.

A posted form is read within its limit first (refused by its declared length before a byte is
read), then the viewer is found (or the browser sent to the login or the forced password change),
then the session's token is checked, before anything in the form is looked at: a form without it
is the 403 page and nothing is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from portal.context import Portal, Viewer, portal_of
from portal.errors import csrf_refused, not_found
from portal.security import read_form, tokens_equal


@dataclass(frozen=True)
class Posted:
    """A form a logged-in viewer posted, its token already checked."""

    portal: Portal
    viewer: Viewer
    form: FormData

    def text(self, name: str) -> str:
        return form_text(self.form, name)


async def posted(request: Request, *, admin: bool = False) -> Posted | Response:
    """The checked form, or the response to send instead (login, password change, or 403); with
    `admin`, a viewer who is not an admin is answered 404 before the token is looked at."""
    portal = portal_of(request)
    form = await read_form(request)
    viewer = portal.viewer_or_redirect(request)
    if isinstance(viewer, Response):
        return viewer
    if admin and not viewer.admin:
        return not_found(portal, request)
    if not tokens_equal(form_text(form, "csrf"), viewer.session.csrf):
        return csrf_refused(portal)
    return Posted(portal, viewer, form)


def form_text(form: FormData, name: str) -> str:
    """A text field as sent ("" when missing, or when a file came under its name)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""
