"""打表/打证: the units an account may print for, their approved periods, a preview, and the signed PDF.

As in the seed system, a unit prints its own documents after SASAC's approval, a first-level
enterprise those of its whole tree, SASAC (and the admin accounts) everyone's; any other unit
is answered 404 like one that does not exist. Printing goes through the same
`DocumentIssuer.print_document` as `chanquan print`, so every download is a signed copy
recorded in the ledger as a (re)issuance; a preview is pictures of the unsigned pages, kept
in memory for the session that asked and never recorded.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from documents import DocumentIssuer, PrintRefused, TemplateError, doc_type_for_level
from documents.labels import document_label as document_label  # noqa: PLC0414 (re-exported for portal.verify_pages)
from documents.labels import period_label
from documents.preview import Preview, preview
from portal.context import Portal, Viewer, portal_of
from portal.errors import not_found
from portal.forms import posted
from portal.render import china_time, level_zh
from workflow import ApprovedRegistration, Unit
from workflow.machine import FilingStatus

LIST_LIMIT = 200
PREVIEWS_KEPT = 12  # a preview is some 250 KB of PNG per page (a 200-investor form has a dozen pages)


def issuer_of(request: Request) -> DocumentIssuer | None:
    issuer = getattr(request.app.state, "documents", None)
    return issuer if isinstance(issuer, DocumentIssuer) else None


def period_choice_label(registration: dict[str, Any] | None, period: str) -> str:
    """A period named by what it is (数据时点 of a backfill, else 经济行为日期) and the registration's kind."""
    data = registration or {}
    what = "·".join(str(part) for part in (data.get("reg_type"), data.get("reg_situation")) if part)
    return f"{period_label(data)} {period}" + (f"（{what}）" if what else "")


# -- who may print what ------------------------------------------------------------------------


def in_scope(portal: Portal, viewer: Viewer, code: str) -> Unit | None:
    """The unit when the viewer may print for it; None (answered 404) otherwise or when it does not exist."""
    unit = portal.wf.units.get(code) if code and len(code) <= 40 else None
    if unit is None or unit.level == 0:
        return None
    if viewer.admin or unit.code == viewer.unit.code:
        return unit
    if viewer.is_first_level:
        first = portal.wf.units.first_level_of(unit.code)
        if first is not None and first.code == viewer.unit.code:
            return unit
    return None


@dataclass(frozen=True)
class PrintableUnit:
    code: str
    name: str
    level: int
    doc_label: str
    periods: tuple[str, ...]


def printable(portal: Portal, viewer: Viewer, search: str) -> list[PrintableUnit]:
    """The units in the viewer's scope with approved registrations (matching `search`), with their periods."""
    rows: list[ApprovedRegistration] = portal.cached(
        f"approved:{search}", lambda: portal.wf.approved_registrations(search or None), ("filings",)
    )
    code = viewer.unit.code
    if not viewer.admin:
        rows = [r for r in rows if r.unit == code or (viewer.is_first_level and r.first_level == code)]
    by_unit: dict[str, list[ApprovedRegistration]] = {}
    for row in rows:
        by_unit.setdefault(row.unit, []).append(row)
    return [
        PrintableUnit(
            unit,
            found[0].unit_name,
            found[0].unit_level,
            document_label(doc_type_for_level(found[0].unit_level)),
            tuple(sorted({r.period for r in found})),
        )
        for unit, found in by_unit.items()
    ]


@dataclass(frozen=True)
class PeriodChoice:
    period: str
    label: str
    filing_id: str
    approved_at: str


def _approved(portal: Portal, unit: Unit) -> list[ApprovedRegistration]:
    """The unit's own approved registrations, in the order they were approved."""
    return [r for r in portal.wf.approved_registrations(unit.code) if r.unit == unit.code]


def periods_of(portal: Portal, unit: Unit) -> list[PeriodChoice]:
    """The unit's approved periods, newest first, each labelled by what it is."""
    latest: dict[str, ApprovedRegistration] = {}
    for row in _approved(portal, unit):  # ordered by approval: a later approval of the same period wins
        latest[row.period] = row
    return [
        PeriodChoice(
            row.period,
            period_choice_label(portal.wf.last_approved_data(unit.code, row.period), row.period),
            row.filing_id,
            china_time(row.approved_at),
        )
        for row in sorted(latest.values(), key=lambda r: r.period, reverse=True)
    ]


def pending_of(portal: Portal, unit: Unit) -> str:
    """Why there is nothing to print yet, in Chinese (for a unit without an approved period)."""
    _total, filings = portal.wf.filings_of(unit.code, 5)
    mine = [f for f in filings if f.unit == unit.code]
    base = "该单位尚无经市国资委审核通过的登记；登记表、登记证须经市国资委审核通过后才能打印。"
    if mine:
        latest = mine[0]
        step = f"（目前在第 {latest.level} 级审核）" if latest.state == FilingStatus.IN_REVIEW else ""
        return f"{base}最近的申报 {latest.filing_id}：{latest.state_zh}{step}。"
    return base


# -- previews kept per session ---------------------------------------------------------------


class PreviewStore:
    """The last PREVIEWS_KEPT previews, each only for the session that asked for it."""

    def __init__(self) -> None:
        self._kept: OrderedDict[str, tuple[str, Preview]] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, session_key: str, shown: Preview) -> str:
        preview_id = secrets.token_urlsafe(16)
        with self._lock:
            self._kept[preview_id] = (session_key, shown)
            while len(self._kept) > PREVIEWS_KEPT:
                self._kept.popitem(last=False)
        return preview_id

    def get(self, session_key: str, preview_id: str) -> Preview | None:
        with self._lock:
            found = self._kept.get(preview_id)
        if found is None or not secrets.compare_digest(found[0], session_key):
            return None
        return found[1]


def previews_of(request: Request) -> PreviewStore:
    store = getattr(request.app.state, "previews", None)
    if not isinstance(store, PreviewStore):
        store = PreviewStore()
        request.app.state.previews = store
    return store


# -- pages -----------------------------------------------------------------------------------


async def print_list(request: Request) -> Response:
    portal = portal_of(request)
    viewer = portal.viewer_or_redirect(request)
    if isinstance(viewer, Response):
        return viewer
    search = request.query_params.get("q", "").strip()[:60]
    units = printable(portal, viewer, search)
    own_pending = ""
    if not viewer.admin and not search and all(u.code != viewer.unit.code for u in units):
        own_pending = pending_of(portal, viewer.unit)
    return portal.pages.render(
        "print.html.j2",
        {
            "viewer": viewer,
            "search": search,
            "units": units[:LIST_LIMIT],
            "total": len(units),
            "own_pending": own_pending,
            "level_zh": level_zh,
            "scope": "全部单位" if viewer.admin else ("本集团各单位" if viewer.is_first_level else "本单位"),
        },
    )


def _unit_page(
    portal: Portal,
    request: Request,
    viewer: Viewer,
    unit: Unit,
    *,
    error: str = "",
    chosen: tuple[str, str] = ("", ""),
    shown: tuple[str, Preview] | None = None,
    status: int = 200,
) -> Response:
    issuer = issuer_of(request)
    doc_type = doc_type_for_level(unit.level)
    periods = periods_of(portal, unit)
    templates = [t for t in issuer.templates.all() if t.doc_type == doc_type] if issuer is not None else []
    default = issuer.default_template if issuer is not None else ""
    return portal.pages.render(
        "print_unit.html.j2",
        {
            "viewer": viewer,
            "unit": unit,
            "unit_level": level_zh(unit.level),
            "doc_label": document_label(doc_type),
            "periods": periods,
            "pending": "" if periods else pending_of(portal, unit),
            "templates": templates,
            "chosen_period": chosen[0] or (periods[0].period if periods else ""),
            "chosen_template": chosen[1] or default,
            "ready": issuer is not None,
            "error": error,
            "preview_id": shown[0] if shown else "",
            "preview": shown[1] if shown else None,
        },
        status=status,
    )


async def print_unit(request: Request) -> Response:
    portal = portal_of(request)
    viewer = portal.viewer_or_redirect(request)
    if isinstance(viewer, Response):
        return viewer
    unit = in_scope(portal, viewer, str(request.path_params["code"]).strip().upper())
    if unit is None:
        return not_found(portal, request)
    return _unit_page(portal, request, viewer, unit)


def _choice(portal: Portal, unit: Unit, period: str, template: str) -> str:
    """Why the chosen period or template cannot be used ("" when both are offered on the page)."""
    if period not in {r.period for r in _approved(portal, unit)}:  # the periods offered, without their labels
        return "请选择一个已经市国资委审核通过的时期。"
    if len(template) > 40:
        return "请选择打印模板。"
    return ""


@dataclass(frozen=True)
class _Asked:
    """A posted 预览/打印 form: its token checked, the unit in the viewer's scope, the period and template
    offered on the unit's page, and signing set up."""

    portal: Portal
    request: Request
    viewer: Viewer
    unit: Unit
    period: str
    template: str
    issuer: DocumentIssuer

    def page(self, **shown: Any) -> Response:
        """The unit's page again, with what was chosen (and an error, or the preview)."""
        return _unit_page(
            self.portal, self.request, self.viewer, self.unit, chosen=(self.period, self.template), **shown
        )

    def refused(self, exc: PrintRefused | TemplateError) -> Response:
        return self.page(error=exc.message_zh, status=400)


async def _asked(request: Request) -> _Asked | Response:
    """预览 and 打印 are posted alike (the form's token never lands in a URL, a history or a log)."""
    asked = await posted(request)
    if isinstance(asked, Response):
        return asked
    portal, viewer = asked.portal, asked.viewer
    unit = in_scope(portal, viewer, str(request.path_params["code"]).strip().upper())
    if unit is None:
        return not_found(portal, request)
    period, template = asked.text("period").strip(), asked.text("template").strip()
    issuer = issuer_of(request)
    if issuer is None:
        problem = "本系统尚未配置文件签章，暂不能打表/打证。"
    else:
        problem = _choice(portal, unit, period, template)
    if problem or issuer is None:
        return _unit_page(portal, request, viewer, unit, error=problem, chosen=(period, template), status=400)
    return _Asked(portal, request, viewer, unit, period, template, issuer)


async def print_preview(request: Request) -> Response:
    """预览: the document's pages unsigned, kept for the session that asked."""
    asked = await _asked(request)
    if isinstance(asked, Response):
        return asked
    try:
        shown = await run_in_threadpool(preview, asked.issuer, asked.unit.code, asked.period, asked.template or None)
    except (PrintRefused, TemplateError) as exc:
        return asked.refused(exc)
    preview_id = previews_of(request).put(asked.viewer.session.key, shown)
    return asked.page(shown=(preview_id, shown))


async def preview_image(request: Request) -> Response:
    portal = portal_of(request)
    viewer = portal.viewer_or_redirect(request)
    if isinstance(viewer, Response):
        return viewer
    shown = previews_of(request).get(viewer.session.key, str(request.path_params["preview_id"]))
    number = int(request.path_params["page"])
    if shown is None or not 1 <= number <= len(shown.pages):
        return not_found(portal, request)
    return Response(shown.pages[number - 1], media_type="image/png")


async def print_document(request: Request) -> Response:
    """打印: a freshly signed copy, recorded as a (re)issuance exactly as `chanquan print` records it."""
    asked = await _asked(request)
    if isinstance(asked, Response):
        return asked
    issuer, actor = asked.issuer, asked.viewer.session.username
    try:
        issued = await run_in_threadpool(
            lambda: issuer.print_document(asked.unit.code, asked.period, template=asked.template or None, actor=actor)
        )
    except (PrintRefused, TemplateError) as exc:
        return asked.refused(exc)
    p = issued.payload
    name = f"{document_label(str(p['doc_type']))}-{p['cert_no']}.pdf"
    response = Response(issued.pdf, media_type="application/pdf")
    response.headers["content-disposition"] = (
        f"attachment; filename=\"{_ascii(str(p['cert_no']))}.pdf\"; filename*=utf-8''{quote(name)}"
    )
    return response


def _ascii(text: str) -> str:
    return "".join(ch for ch in text if ch.isascii() and (ch.isalnum() or ch in "-_")) or "document"


def routes() -> list[BaseRoute]:
    return [
        Route("/print", print_list, methods=["GET"], name="print"),
        Route("/print/{code}", print_unit, methods=["GET"], name="print_unit"),
        Route("/print/{code}", print_document, methods=["POST"], name="print_document"),
        Route("/print/{code}/preview", print_preview, methods=["POST"], name="print_preview"),
        Route("/print/previews/{preview_id}/{page:int}.png", preview_image, methods=["GET"], name="preview_image"),
    ]
