"""The portal as an ASGI app: `create_app(workflow, config)`; `chanquan serve` runs it with uvicorn.

Handlers are async and read the projections on the event loop (indexed SQLite reads take
microseconds, a thread hop costs more); password hashing and workbook writing go to threads.
The write paths are review decisions (through workflow, always there) and web submission
(through intake's durable path): its routes exist only when an intake door is given, and 首页
offers 报送申报 only when they do.
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

from documents import DocumentIssuer
from portal import (
    admin,
    auth,
    downloads,
    errors,
    filing_page,
    help_pages,
    pages,
    print_pages,
    review,
    submit,
    verify_pages,
)
from portal.config import PortalConfig
from portal.context import Portal
from portal.render import web_templates_dir
from portal.security import SecurityHeaders
from workflow import Workflow


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def routes(config: PortalConfig, *, with_submit: bool = False) -> list[BaseRoute]:
    static = (config.templates_dir or web_templates_dir()) / "static"
    return [
        *(submit.routes() if with_submit else []),
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
        *review.routes(),
        *print_pages.routes(),
        *verify_pages.routes(),
        *help_pages.routes(),
        *admin.routes(),
        Mount("/static", app=StaticFiles(directory=static), name="static"),
    ]


def create_app(
    workflow: Workflow,
    config: PortalConfig,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    extra_routes: list[BaseRoute] | None = None,
    issuer: DocumentIssuer | None = None,
    intake: submit.UploadDoor | None = None,
) -> Starlette:
    """The portal over an open workflow; `app.state.portal.close()` (or the lifespan's end) closes its sessions.

    `extra_routes` come first (a page of the deployment's own, a test's). `issuer` (the
    data directory's, `chanquan.app.open_document_issuer`) serves 打表/打证 and /verify; without it
    those pages say that signing is not set up. `intake` (the service's `IntakeService`) is the door
    of 报送申报; without it there is no /submit and 首页 says to file by mail or drop folder.
    """
    portal = Portal(workflow, config, clock=clock)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        portal.close()  # the workflow belongs to whoever passed it in

    app = Starlette(
        routes=[*(extra_routes or []), *routes(config, with_submit=intake is not None)],
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={HTTPException: errors.http_error, Exception: errors.server_error},
        lifespan=lifespan,
    )
    app.state.portal = portal
    app.state.documents = issuer
    app.state.intake = intake
    return app
