"""A filing's page: its state and who must act, its whole history with every opinion, its files,
its registration and documents, and what changed against the unit's last approved registration.

Who may see it is decided on every request (portal.visibility). The page body is the same for
everyone who may see it, so it is rendered once per change of the filing or its unit (and day
waited) and reused.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from documents.labels import required_marks
from portal.context import Portal, Viewer, portal_of
from portal.errors import not_found
from portal.pages import days_since, joined, unit_names
from portal.render import china_time
from portal.visibility import can_see
from validation.model import Registration, diff_registrations
from validation.spec import FIELD_SPEC
from workflow import FilingView, Unit
from workflow.machine import FilingStatus

# the registration's fields shown at the top (all of them are in the workbook)
SUMMARY_FIELDS = (
    "ent_name",
    "uscc",
    "org_code",
    "reg_type",
    "reg_situation",
    "backfill_form",
    "ent_level",
    "state_relation",
    "reg_capital",
    "currency",
    "legal_rep",
    "contact_name",
    "contact_phone",
)


def visible_filing(portal: Portal, viewer: Viewer, filing_id: str) -> FilingView | None:
    """The filing when the viewer may see it; None (answered 404) when it does not exist or may not."""
    fid = filing_id.strip().upper()
    if not fid or len(fid) > 40:
        return None
    view: FilingView | None = portal.cached(f"filing:{fid}", lambda: portal.wf.filing(fid), (f"filing:{fid}",))
    if view is None or not can_see(viewer.unit, view, lambda code: _first_level(portal, code)):
        return None
    return view


def _first_level(portal: Portal, code: str) -> Unit | None:
    first: Unit | None = portal.cached(f"first-level:{code}", lambda: portal.wf.units.first_level_of(code))
    return first


def is_current_reviewer(view: FilingView, code: str) -> bool:
    """Whether the filing waits for `code`'s decision now (the filing page's 审核 button, the review page's form)."""
    return view.state == FilingStatus.IN_REVIEW and view.review_unit == code


async def filing_page(request: Request) -> Response:
    portal = portal_of(request)
    viewer = portal.viewer_or_redirect(request)
    if isinstance(viewer, Response):
        return viewer
    view = visible_filing(portal, viewer, str(request.path_params["filing_id"]))
    if view is None:
        return not_found(portal, request)
    can_review = is_current_reviewer(view, viewer.unit.code)
    context = {"viewer": viewer, "filing": view, "body": filing_body(portal, view), "can_review": can_review}
    return portal.pages.render("filing.html.j2", context)


def filing_body(portal: Portal, view: FilingView) -> Markup:
    """The page body of a filing, the same for every viewer: rendered once per change and day waited."""
    waiting = days_since(_requested_at(view), portal.clock()) if view.state == FilingStatus.IN_REVIEW else 0
    # the unit's scope too: the changes shown are against the unit's last approved registration
    scopes = (f"filing:{view.filing_id}", f"unit:{view.unit}")
    body: Markup = portal.cached(
        f"filing-body:{view.filing_id}:{waiting}", lambda: _body(portal, view, waiting), scopes
    )
    return body


def _body(portal: Portal, view: FilingView, waiting_days: int) -> Markup:
    """The lists are rows of `_rows.html.j2` remembered by their values (`Pages.row`): a history
    line, a file or a registration's table row reads the same on every later rendering."""
    data, row, fid = view.registration_data or {}, portal.pages.row, view.filing_id
    codes = [view.unit, view.filer, view.review_unit, *(d.unit for d in view.decisions)]
    changes = _changes(portal, view)
    marks = required_marks(data)
    context: dict[str, Any] = {
        "filing": view,
        "names": unit_names(portal, codes),
        "summary": joined(
            [row("fact", FIELD_SPEC[key].label, data[key]) for key in SUMMARY_FIELDS if data.get(key) not in (None, "")]
        ),
        "investors": joined([row("investor", *_cells(i, INVESTOR_CELLS)) for i in data.get("investors") or []]),
        "documents": joined([row("document", *_document_cells(d, marks)) for d in data.get("documents") or []]),
        "changes": None if changes is None else joined([row("change", c.label, c.old, c.new) for c in changes]),
        "files": joined(
            [
                row("file", f.kind, fid, f.blob, f.label_zh, f.original_name, china_time(f.at))
                for f in view.files
                if f.kind != "attachment"
            ]
        ),
        "attachments": joined(
            [
                row("attachment", fid, f.blob, f.label_zh, f.original_name)
                for f in view.files
                if f.kind == "attachment" and f.round == view.round
            ]
        ),
        "findings": joined([row("finding", *_finding_cells(f)) for f in view.findings]),
        "history": joined(
            [row("history", h.kind.replace(".", "-"), china_time(h.at), h.text_zh) for h in view.history]
        ),
        "waiting_days": waiting_days,
    }
    return portal.pages.fragment("_filing_body.html.j2", context)


# the registration's table columns shown, in the order of the page's table heads
INVESTOR_CELLS = ("investor_name", "investor_code", "investor_category", "subscribed", "paid_in", "share_pct")
DOCUMENT_CELLS = ("doc_kind", "required", "file_name", "note")


def _document_cells(entry: dict[str, Any], marks: dict[str, str]) -> tuple[Any, ...]:
    """是否必需 is not in the workbook: it comes from the catalogue's rules, as on the printed 登记表."""
    return _cells({**entry, "required": marks.get(str(entry.get("doc_kind") or ""), "")}, DOCUMENT_CELLS)


def _cells(entry: dict[str, Any], keys: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(entry.get(key) or "" for key in keys)


def _finding_cells(finding: dict[str, str]) -> tuple[str, ...]:
    return tuple(finding.get(key, "") for key in ("severity", "sheet", "cell", "message", "code"))


def _requested_at(view: FilingView) -> str:
    for entry in reversed(view.history):
        if entry.kind == "review.requested" and entry.level == view.level and entry.round == view.round:
            return entry.at
    return view.updated_at


def _changes(portal: Portal, view: FilingView) -> list[Any] | None:
    """The filing's changes against the unit's last approved registration; None when there is none.
    Remembered by what names both registrations for good (this round; that approval)."""
    current = view.registration_data
    if current is None:
        return None
    previous = portal.wf.previous_approved(view.unit, view.filing_id)
    if previous is None:
        return None
    key = ("changes", view.filing_id, view.round, previous.filing_id, previous.approved_seq)
    changes: list[Any] = portal.remember(
        key,
        lambda: diff_registrations(Registration.from_canonical(previous.data()), Registration.from_canonical(current)),
    )
    return changes
