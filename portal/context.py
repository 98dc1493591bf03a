"""What the route handlers share: the workflow, the session store, the pages, and who is asking.

`viewer_or_redirect` is the single gate of every page behind the login: the session must be
live, its credential generation current (a password changed through any door ends it) and
its initial password changed before anything but 修改密码 and 退出 is shown.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from portal.config import PortalConfig
from portal.render import Pages, level_zh, make_environment
from portal.security import LoginLimiter
from portal.sessions import Session, SessionStore
from workflow import Unit, Workflow

CACHE_ENTRIES = 1024  # page parts kept per process (a filing page's body is some 15 KB)
# paths a session on its initial password may still use
MUST_CHANGE_PATHS = frozenset({"/password", "/logout"})
_SAFE_NEXT = re.compile(r"/(?!/)[A-Za-z0-9/_\-.]*\Z")


@dataclass(frozen=True)
class Viewer:
    """The logged-in account and its unit, for one request."""

    session: Session
    unit: Unit

    @property
    def level_zh(self) -> str:
        return level_zh(self.unit.level)

    @property
    def is_supervisor(self) -> bool:
        return self.unit.level == 0

    @property
    def is_first_level(self) -> bool:
        return self.unit.level == 1


class Portal:
    """The portal's shared objects (one per app)."""

    def __init__(
        self,
        workflow: Workflow,
        config: PortalConfig,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.wf = workflow
        self.config = config
        self.clock = clock
        self.sessions = SessionStore(
            config.sessions_db,
            idle_seconds=config.session_idle_minutes * 60.0,
            absolute_seconds=config.session_max_hours * 3600.0,
            clock=lambda: clock().timestamp(),
        )
        self.limiter = LoginLimiter(config.login_rate_per_minute, clock=lambda: clock().timestamp())
        prefix = "__Host-" if config.secure_cookies else ""  # __Host-: Secure, Path=/, no Domain, by the browser's rule
        self.session_cookie = f"{prefix}cq_session"
        self.login_cookie = f"{prefix}cq_login"
        self.site_name = f"{config.supervisor_name}产权登记系统"
        self.pages = Pages(
            make_environment(config.templates_dir),
            {"site_name": self.site_name, "supervisor_name": config.supervisor_name, "viewer": None},
        )
        self._cached: OrderedDict[str, tuple[int, Any]] = OrderedDict()

    def close(self) -> None:
        self.sessions.close()

    # -- cookies --------------------------------------------------------------------------

    def set_cookie(self, response: Response, name: str, value: str) -> None:
        response.set_cookie(name, value, path="/", httponly=True, samesite="lax", secure=self.config.secure_cookies)

    def clear_cookie(self, response: Response, name: str) -> None:
        response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=self.config.secure_cookies)

    # -- who is asking --------------------------------------------------------------------

    def session_of(self, request: Request) -> Session | None:
        """The request's live session with a current credential generation, or None."""
        token = request.cookies.get(self.session_cookie)
        session = self.sessions.get(token) if token else None
        if session is None:
            return None
        if self.wf.accounts.generation(session.username) != session.generation:
            self.sessions.end(session)  # the password was changed or reset since this login
            request.state.session_ended = "changed"
            return None
        return session

    def viewer_of(self, request: Request) -> Viewer | None:
        session = self.session_of(request)
        if session is None:
            return None
        unit = self.wf.units.get(session.unit)
        if unit is None:
            self.sessions.end(session)
            return None
        return Viewer(session, unit)

    def viewer_or_redirect(self, request: Request) -> Viewer | Response:
        """The viewer, or where to send the browser instead (log-in, or the forced password change)."""
        viewer = self.viewer_of(request)
        if viewer is None:
            return self.to_login(request)
        if viewer.session.must_change and request.url.path not in MUST_CHANGE_PATHS:
            return RedirectResponse("/password", status_code=303)
        return viewer

    def to_login(self, request: Request, reason: str = "") -> RedirectResponse:
        target = "/login"
        params = []
        if request.method == "GET" and request.url.path not in ("/", "/login") and safe_next(request.url.path):
            params.append("next=" + quote(request.url.path, safe="/"))
        had_cookie = self.session_cookie in request.cookies
        reason = reason or getattr(request.state, "session_ended", "")
        if reason or had_cookie:
            params.append("reason=" + (reason or "expired"))
        if params:
            target += "?" + "&".join(params)
        response = RedirectResponse(target, status_code=303)
        if had_cookie:
            self.clear_cookie(response, self.session_cookie)
        return response

    # -- projections that change only with the ledger ---------------------------------------

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """`compute()` remembered until the ledger grows: what is read from the projections cannot
        change before the next append (they are updated in the append's own transaction). The
        `CACHE_ENTRIES` most recently used are kept."""
        if not self.config.page_cache:
            return compute()
        head = self.wf.ledger.size()
        hit = self._cached.get(key)
        if hit is not None and hit[0] == head:
            self._cached.move_to_end(key)
            return hit[1]
        value = compute()
        self._cached[key] = (head, value)
        self._cached.move_to_end(key)
        while len(self._cached) > CACHE_ENTRIES:
            self._cached.popitem(last=False)
        return value


def safe_next(path: str | None) -> str | None:
    """A local path to return to after login (never another site, never a scheme-relative URL)."""
    if path and _SAFE_NEXT.match(path):
        return path
    return None


def portal_of(request: Request) -> Portal:
    portal = request.app.state.portal
    assert isinstance(portal, Portal)
    return portal
