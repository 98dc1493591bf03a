"""What the route handlers share: the workflow, the session store, the pages, and who is asking.

`viewer_or_redirect` is the single gate of every page behind the login: the session must be
live, its credential generation current (a password changed through any door ends it) and
its initial password changed before anything but 修改密码 and 退出 is shown.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
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
from workflow.events import (
    AccountCreated,
    AccountLocked,
    AccountPasswordChanged,
    AccountReset,
    AccountUnlocked,
    CredentialsMailRequested,
)

CACHE_ENTRIES = 1024  # page parts kept per process (a filing page's body is some 15 KB)
MEMO_ENTRIES = 1024  # values named for good by their keys (`Portal.remember`)
# More new events than this at once (an import, a restore): forget everything rather than sort them out.
CATCH_UP_LIMIT = 2000
# Events about a unit's account: no page part kept here shows them (the admin pages read them anew).
ACCOUNT_KINDS = frozenset(
    cls.kind
    for cls in (
        AccountCreated,
        AccountLocked,
        AccountPasswordChanged,
        AccountReset,
        AccountUnlocked,
        CredentialsMailRequested,
    )
)
# paths a session on its initial password may still use
MUST_CHANGE_PATHS = frozenset({"/password", "/logout"})
_SAFE_NEXT = re.compile(r"/(?!/)[A-Za-z0-9/_\-.]*\Z")


@dataclass(frozen=True)
class Viewer:
    """The logged-in account and its unit, for one request."""

    session: Session
    unit: Unit
    admin: bool = False  # the supervising body's account, or one listed in web.admin_users

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
            {
                "site_name": self.site_name,
                "supervisor_name": config.supervisor_name,
                "viewer": None,
                "support": config.support,
            },
        )
        self._cached: OrderedDict[str, tuple[tuple[int, ...], Any]] = OrderedDict()
        self._versions: dict[str, int] = {}  # scope -> how often something it covers changed
        self._epoch = 0  # raised when the unit tree changes: every kept part depends on it
        self._seen = workflow.ledger.size()  # the ledger as far as it was sorted into scopes
        self._cache_lock = threading.RLock()
        self._memo: OrderedDict[Hashable, Any] = OrderedDict()
        self._closers: list[Callable[[], None]] = []

    def on_close(self, close: Callable[[], None]) -> None:
        """Something a page opened on first use (a database, a thread) to end with the portal."""
        self._closers.append(close)

    def close(self) -> None:
        for close in reversed(self._closers):
            close()
        self._closers.clear()
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
        code = session.unit
        unit: Unit | None = self.cached(f"unit-of:{code}", lambda: self.wf.units.get(code))  # until the tree changes
        if unit is None:
            self.sessions.end(session)
            return None
        return Viewer(session, unit, admin=unit.level == 0 or session.username in self.config.admin_users)

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

    def cached(self, key: str, compute: Callable[[], Any], scopes: Iterable[str] = ()) -> Any:
        """`compute()` remembered until something it depends on changes: the unit tree (always), and
        each of its `scopes` — `filing:<id>` (that filing's events), `unit:<code>` (any filing the
        unit filed, is filed for, or was asked to review), `group:<first-level code>` (a filing of a
        unit in that tree), `groups` and `filings` (any filing). What is read from the projections
        cannot change before an append (they are updated in the append's own transaction), so the
        new events are sorted into scopes first (`_catch_up`); events that no page shows (mail,
        intake items, accounts) change nothing. The `CACHE_ENTRIES` most recently used are kept."""
        if not self.config.page_cache:
            return compute()
        names = tuple(scopes)
        with self._cache_lock:
            self._catch_up()
            stamp = (self._epoch, *(self._versions.get(name, 0) for name in names))
            hit = self._cached.get(key)
            if hit is not None and hit[0] == stamp:
                self._cached.move_to_end(key)
                return hit[1]
        value = compute()  # outside the lock: a slow part does not hold up the others
        with self._cache_lock:
            self._cached[key] = (stamp, value)  # stamped as before computing: a change meanwhile expires it
            self._cached.move_to_end(key)
            while len(self._cached) > CACHE_ENTRIES:
                self._cached.popitem(last=False)
        return value

    def remember(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """`compute()` remembered by a key that names everything it depends on for good (immutable
        ledger facts: a filing round's registration, an approval), so no event can make it wrong and
        it is kept whether or not pages are (`page_cache`); the `MEMO_ENTRIES` most recently used."""
        with self._cache_lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        value = compute()
        with self._cache_lock:
            self._memo[key] = value
            while len(self._memo) > MEMO_ENTRIES:
                self._memo.popitem(last=False)
        return value

    def _catch_up(self) -> None:
        """Sort the events appended since the last look into the scopes they change."""
        head = self.wf.ledger.size()
        if head == self._seen:
            return
        if head - self._seen > CATCH_UP_LIMIT:
            self._epoch += 1
            self._seen = head
            return
        kinds: dict[str, set[str]] = {}
        for event in self.wf.ledger.events(after_seq=self._seen, until_seq=head):
            kinds.setdefault(event.subject, set()).add(event.kind)
        for subject, subject_kinds in kinds.items():
            self._invalidate(subject, subject_kinds)
        self._seen = head

    def _invalidate(self, subject: str, kinds: set[str]) -> None:
        """What events about `subject` change: a filing's own parts and those of every unit it
        concerns; anything about the unit tree everything; items, mails and folders nothing."""
        view = self.wf.filing(subject) if subject else None
        if view is not None:
            units = {view.unit, view.filer, view.review_unit}
            units.update(entry.unit for entry in view.history)
            units.update(decision.unit for decision in view.decisions)
            first = self.wf.units.first_level_of(view.unit) if view.unit else None
            changed = [f"filing:{view.filing_id}", "groups", "filings", *(f"unit:{code}" for code in units if code)]
            if first is not None:
                changed.append(f"group:{first.code}")
            for name in changed:
                self._versions[name] = self._versions.get(name, 0) + 1
            return
        if self.wf.units.get(subject) is not None and not kinds <= ACCOUNT_KINDS:
            self._epoch += 1  # a unit added, renamed, moved, designated: names and chains everywhere


def safe_next(path: str | None) -> str | None:
    """A local path to return to after login (never another site, never a scheme-relative URL)."""
    if path and _SAFE_NEXT.match(path):
        return path
    return None


def portal_of(request: Request) -> Portal:
    portal = request.app.state.portal
    assert isinstance(portal, Portal)
    return portal
