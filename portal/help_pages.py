"""帮助: the user guide as pages (one per chapter) and as one downloadable PDF (用户手册).

Open to everyone, logged in or not: the guide is what a new unit reads before its first login,
and the credentials mail and the password pages point here. The guide depends only on the
configuration, so it is rendered once per process; the PDF is laid out on its first request.
"""

from __future__ import annotations

import threading
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from documents.fonts import DEFAULT_FONT_FILE  # guide_pdf loads documents.fonts already
from portal.context import Portal, portal_of
from portal.errors import not_found
from portal.guide import Guide
from portal.guide_pdf import guide_pdf
from portal.render import web_templates_dir

GUIDE_PDF_NAME = "用户手册.pdf"
# the guide's chapter 登录与修改密码, for what points to it from outside the portal (the SMTP 修改密码 answer)
PASSWORD_CHAPTER_PATH = "/help/login"


class HelpBook:
    """The guide of one portal, and its PDF once made."""

    def __init__(self, portal: Portal, font_file: str = DEFAULT_FONT_FILE) -> None:
        wf = portal.wf
        self.guide = Guide(
            portal.config,
            (portal.config.templates_dir or web_templates_dir()) / "help",
            policy=wf.accounts.policy,
            lockout=(wf.accounts.lockout_failures, int(wf.accounts.lockout_window.total_seconds() // 60)),
        )
        self.font_file = font_file
        self._pdf: bytes | None = None
        self._lock = threading.Lock()

    def pdf(self) -> bytes:
        with self._lock:
            if self._pdf is None:
                self._pdf = guide_pdf(self.guide, self.font_file)
            return self._pdf


def book_of(request: Request) -> HelpBook:
    book = getattr(request.app.state, "help_book", None)
    if not isinstance(book, HelpBook):
        issuer = getattr(request.app.state, "documents", None)  # the documents' face, from pdf.font_file
        book = HelpBook(portal_of(request), str(getattr(issuer, "font_file", DEFAULT_FONT_FILE)))
        request.app.state.help_book = book
    return book


async def help_index(request: Request) -> Response:
    portal = portal_of(request)
    book = book_of(request)
    return portal.pages.render(
        "help.html.j2",
        {
            "viewer": _viewer(portal, request),
            "chapters": book.guide.chapters,
            "chapter": None,
            "pdf_name": GUIDE_PDF_NAME,
        },
    )


async def help_chapter(request: Request) -> Response:
    portal = portal_of(request)
    book = book_of(request)
    chapter = book.guide.chapter(str(request.path_params["slug"]))
    if chapter is None:
        return not_found(portal, request)
    return portal.pages.render(
        "help.html.j2",
        {
            "viewer": _viewer(portal, request),
            "chapters": book.guide.chapters,
            "chapter": chapter,
            "pdf_name": GUIDE_PDF_NAME,
        },
    )


async def help_finding(request: Request) -> Response:
    """`/help/findings/<code>`: a stable link to one code's explanation (what finding tables link to)."""
    code = str(request.path_params["code"])
    findings = book_of(request).guide.chapter("findings")
    if findings is None or f"code-{code}" not in findings.anchors:
        return not_found(portal_of(request), request)
    return RedirectResponse(f"/help/findings#code-{code}", status_code=303)


async def help_pdf(request: Request) -> Response:
    pdf = await run_in_threadpool(book_of(request).pdf)
    response = Response(pdf, media_type="application/pdf")
    response.headers["content-disposition"] = (
        f"attachment; filename=\"guide.pdf\"; filename*=utf-8''{quote(GUIDE_PDF_NAME)}"
    )
    return response


def _viewer(portal: Portal, request: Request) -> object:
    viewer = portal.viewer_of(request)
    return None if viewer is None or viewer.session.must_change else viewer


def routes() -> list[BaseRoute]:
    return [
        Route("/help", help_index, methods=["GET"], name="help"),
        Route("/help/guide.pdf", help_pdf, methods=["GET"], name="help_pdf"),
        Route("/help/findings/{code}", help_finding, methods=["GET"], name="help_finding"),
        Route("/help/{slug}", help_chapter, methods=["GET"], name="help_chapter"),
    ]
