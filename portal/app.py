"""The portal as an ASGI app: `create_app(workflow, config)`; `chanquan serve` runs it with uvicorn.

Handlers are async and read the projections on the event loop (indexed SQLite reads take
microseconds, a thread hop costs more); password hashing and workbook writing go to threads.
The write paths of the portal (web submission through intake's durable path, review decisions)
are added by the routes that own them; a page offers them only when their route exists.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from portal import auth, downloads, errors, filing_page, pages
from portal.config import PortalConfig
from portal.context import Portal
from portal.render import web_templates_dir
from portal.security import SecurityHeaders
from workflow import Workflow


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def routes(config: PortalConfig) -> list[BaseRoute]:
    static = (config.templates_dir or web_templates_dir()) / "static"
    return [
        Route("/healthz", healthz, methods=["GET"], name="healthz"),
        Route("/login", auth.login_form, methods=["GET"], name="login_form"),
        Route("/login", auth.login, methods=["POST"], name="login"),
        Route("/logout", auth.logout, methods=["POST"], name="logout"),
        Route("/password", auth.password_form, methods=["GET"], name="password_form"),
        Route("/password", auth.change_password, methods=["POST"], name="password"),
        Route("/", pages.home, methods=["GET"], name="home"),
        Route("/template.xlsx", downloads.template_workbook, methods=["GET"], name="template"),
        Route("/filings/{filing_id}", filing_page.filing_page, methods=["GET"], name="filing"),
        Route("/filings/{filing_id}/files/{blob}", downloads.filing_file, methods=["GET"], name="filing_file"),
        Mount("/static", app=StaticFiles(directory=static), name="static"),
    ]


def create_app(
    workflow: Workflow,
    config: PortalConfig,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    extra_routes: list[BaseRoute] | None = None,
) -> Starlette:
    """The portal over an open workflow; `app.state.portal.close()` (or the lifespan's end) closes its sessions.

    `extra_routes` come first, so a later door (submit, review) is one list away.
    """
    portal = Portal(workflow, config, clock=clock)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        portal.close()  # the workflow belongs to whoever passed it in

    app = Starlette(
        routes=[*(extra_routes or []), *routes(config)],
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={HTTPException: errors.http_error, Exception: errors.server_error},
        lifespan=lifespan,
    )
    app.state.portal = portal
    return app
