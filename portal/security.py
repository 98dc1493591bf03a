"""What every response carries (CSP, no referrer, no framing, no caching of pages), the CSRF
tokens of forms, and the per-address limit on login attempts.

The headers are set by a plain ASGI wrapper rather than Starlette's BaseHTTPMiddleware, which
costs a task and a stream per request: the portal's pages must stay cheap next to /healthz.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import Callable

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_COMMON = [
    (b"content-security-policy", CSP.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_NO_STORE = (b"cache-control", b"no-store")
_STATIC_CACHE = (b"cache-control", b"public, max-age=3600")


class SecurityHeaders:
    """Adds the security headers to every HTTP response; pages are never cached, static files briefly."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in _COMMON:
                    if name not in present:
                        headers.append((name, value))
                if b"cache-control" not in present:
                    headers.append(_STATIC_CACHE if static else _NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


FORM_BODY_LIMIT = 64 * 1024  # a login or password form is a few hundred bytes


async def read_form(request: Request, limit: int = FORM_BODY_LIMIT) -> FormData:
    """The posted form, refused (413) by its declared length before a byte of it is read; a body
    without a length (chunked) is refused too, since no browser sends a form that way. The server
    never delivers more than the declared length."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit() or int(declared) > limit:
        raise HTTPException(413)
    return await request.form(max_files=0, max_fields=10, max_part_size=limit)


def with_security_headers(response: Response) -> Response:
    """The same headers for a response that leaves outside the wrapper (Starlette answers errors that
    escape every handler from its outermost layer)."""
    for name, value in [*_COMMON, _NO_STORE]:
        response.headers.setdefault(name.decode(), value.decode())
    return response


def tokens_equal(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a submitted form token; a missing one is never equal."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def login_form_token(secret: bytes, cookie_value: str) -> str:
    """The login form's token: bound to the pre-session cookie by a server key, so a cookie planted
    from elsewhere cannot be paired with a token its planter made up."""
    return hmac.new(secret, b"login:" + cookie_value.encode("utf-8", "replace"), hashlib.sha256).hexdigest()


class LoginLimiter:
    """At most `per_minute` login attempts per client address in any 60 seconds (the account lockout,
    shared with SMTP, still counts failures per account on top of this)."""

    MAX_ADDRESSES = 10_000

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        """Counts one attempt from `address` and says whether it may go ahead."""
        now = self.clock()
        with self._lock:
            if len(self._seen) > self.MAX_ADDRESSES:
                self._sweep(now)
            times = self._seen.setdefault(address, deque())
            while times and now - times[0] >= 60.0:
                times.popleft()
            if len(times) >= self.per_minute:
                return False
            times.append(now)
            return True

    def _sweep(self, now: float) -> None:
        stale = [address for address, times in self._seen.items() if not times or now - times[-1] >= 60.0]
        for address in stale:
            del self._seen[address]
