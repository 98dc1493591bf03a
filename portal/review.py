"""审核 in the browser: the reviewing unit's account decides its step (通过/退回 with an opinion)
through `Workflow.decide_as_account`, by the same rules and with the same events as a reply mail.

The page names the step it shows (round and level, hidden in the form), so a stale page or a
second click is refused by workflow as `already-decided` or `stale-round`, with who decided and
when. Only a unit the ledger shows was asked for a step of the filing gets anything here; every
other viewer, like a filing that does not exist, gets the 404 page and nothing is recorded.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from portal.context import Portal, Viewer, portal_of
from portal.errors import not_found
from portal.filing_page import filing_body, is_current_reviewer, visible_filing
from portal.forms import form_text, posted
from portal.pages import unit_names
from portal.render import china_time
from workflow import FilingView
from workflow.events import ReviewRequested
from workflow.machine import ReviewDecision
from workflow.views import DecisionOutcome

OPINION_MAX = 2000  # characters; an opinion is a few sentences
DECISIONS = {"approve": ReviewDecision.APPROVE, "return": ReviewDecision.RETURN}
MISSING_OPINION = "退回时必须填写审核意见，请写明需要填报单位修改的内容。"
DONE = {
    "approve": "已记录您的审核决定：通过。",
    "return": "已记录您的审核决定：退回。填报单位将在首页“被退回”中看到您的意见。",
}


def was_asked(view: FilingView, code: str, round_no: int | None = None, level: int | None = None) -> bool:
    """Whether the filing's history shows `code` was asked to review (that step, when one is named)."""
    return any(
        entry.kind == ReviewRequested.kind
        and entry.unit == code
        and (round_no is None or entry.round == round_no)
        and (level is None or entry.level == level)
        for entry in view.history
    )


def reviewable(portal: Portal, viewer: Viewer, filing_id: str) -> FilingView | None:
    """The filing when the viewer's unit may see it and was asked to review it; None is answered 404."""
    view = visible_filing(portal, viewer, filing_id)
    if view is None:
        return None
    code = viewer.unit.code
    if not (is_current_reviewer(view, code) or was_asked(view, code)):
        return None
    return view


def decided_text(reviewer: str, at: str, decision: str) -> str:
    door = "通过邮件" if "@" in reviewer else "在网页门户"
    return f"已由 {reviewer} 于 {china_time(at)} {door}作出决定：{decision}"


def _page(
    portal: Portal,
    request: Request,
    viewer: Viewer,
    view: FilingView,
    *,
    error: str = "",
    refusal: DecisionOutcome | None = None,
    opinion: str = "",
    chosen: str = "",
    status: int = 200,
) -> Response:
    code = viewer.unit.code
    names = unit_names(portal, [view.review_unit, *(d.unit for d in view.decisions)])
    mine = [d for d in view.decisions if d.unit == code]
    context: dict[str, Any] = {
        "viewer": viewer,
        "filing": view,
        "can_decide": is_current_reviewer(view, code),
        "review_unit_name": names.get(view.review_unit, view.review_unit),
        "decisions": [
            (d.round, d.level, d.decision, d.opinion, decided_text(d.reviewer, d.at, d.decision)) for d in mine
        ],
        "notice": DONE.get(request.query_params.get("done", ""), ""),
        "error": error,
        "refusal": refusal,
        "refusal_when": china_time(refusal.decided_at) if refusal is not None and refusal.decided_at else "",
        "opinion": opinion,
        "chosen": chosen,
        "opinion_max": OPINION_MAX,
        "body": filing_body(portal, view),
    }
    return portal.pages.render("review.html.j2", context, status=status)


async def review_page(request: Request) -> Response:
    portal = portal_of(request)
    viewer = portal.viewer_or_redirect(request)
    if isinstance(viewer, Response):
        return viewer
    view = reviewable(portal, viewer, str(request.path_params["filing_id"]))
    if view is None:
        return not_found(portal, request)
    return _page(portal, request, viewer, view)


async def review_decide(request: Request) -> Response:
    asked = await posted(request)
    if isinstance(asked, Response):
        return asked
    portal, viewer, form = asked.portal, asked.viewer, asked.form
    view = reviewable(portal, viewer, str(request.path_params["filing_id"]))
    round_no, level = _number(form, "round"), _number(form, "level")
    if view is None or round_no is None or level is None or not was_asked(view, viewer.unit.code, round_no, level):
        return not_found(portal, request)  # not this unit's step: nothing is attempted, nothing recorded
    choice = form_text(form, "decision")
    opinion = form_text(form, "opinion").replace("\r\n", "\n")
    decision = DECISIONS.get(choice)
    if decision is None:
        return _page(portal, request, viewer, view, error="请选择“通过”或“退回”。", opinion=opinion, status=400)
    if len(opinion) > OPINION_MAX:
        error = f"审核意见过长（{len(opinion)} 字），请精简到 {OPINION_MAX} 字以内。"
        return _page(portal, request, viewer, view, error=error, opinion=opinion, chosen=choice, status=400)
    if decision == ReviewDecision.RETURN and not opinion.strip():
        return _page(portal, request, viewer, view, error=MISSING_OPINION, opinion=opinion, chosen=choice, status=400)
    outcome: DecisionOutcome = await run_in_threadpool(
        lambda: portal.wf.decide_as_account(
            view.filing_id,
            round=round_no,
            level=level,
            username=viewer.session.username,
            decision=decision,
            opinion=opinion,
            channel="web",
        )
    )
    if outcome.applied:
        return RedirectResponse(f"/review/{view.filing_id}?done={choice}", status_code=303)
    fresh = portal.wf.filing(view.filing_id) or view  # what happened meanwhile, shown with the refusal
    return _page(portal, request, viewer, fresh, refusal=outcome, opinion=opinion, chosen=choice, status=409)


def _number(form: FormData, name: str) -> int | None:
    text = form_text(form, name)
    return int(text) if text.isdigit() and len(text) <= 4 else None


def routes() -> list[BaseRoute]:
    return [
        Route("/review/{filing_id}", review_page, methods=["GET"], name="review"),
        Route("/review/{filing_id}", review_decide, methods=["POST"], name="review_post"),
    ]
