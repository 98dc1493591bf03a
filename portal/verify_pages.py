"""/verify: anyone, without logging in, checks a registration form or certificate.

Two ways in: upload the PDF (its signature, its exact bytes against the issuance record, and the
record's inclusion in the newest signed checkpoint, as `chanquan verify-pdf`), or open the URL
of the document's QR code, `/verify/<number>?c=<code>`, which checks the issuance record that
number and code name. A wrong code reads exactly as an unknown number. Both show what the
document certifies and whether a later registration replaced it, with the inclusion proof to
download and check offline (templates/web/static/verify_proof.py). Requests are limited per client address.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from documents import SigningIdentityError, VerificationReport
from documents.public import PublicRecord, find_by_number, public_record
from portal.context import Portal, portal_of
from portal.errors import csrf_refused
from portal.forms import form_text
from portal.print_pages import document_label, issuer_of
from portal.render import china_time
from portal.security import LoginLimiter, tokens_equal

log = logging.getLogger(__name__)

FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the token field around the file
NOT_CONFIGURED = "本系统尚未配置文件签章证书，暂不能核验，请联系技术支持。"


def limiter_of(request: Request) -> LoginLimiter:
    portal = portal_of(request)
    limiter = getattr(request.app.state, "verify_limiter", None)
    if not isinstance(limiter, LoginLimiter):
        limiter = LoginLimiter(portal.config.verify_rate_per_minute, clock=lambda: portal.clock().timestamp())
        request.app.state.verify_limiter = limiter
    return limiter


def _allowed(request: Request) -> bool:
    address = request.client.host if request.client else "unknown"
    if limiter_of(request).allow(address):
        return True
    log.warning("portal.verify_rate_limited")
    return False


def _cookie_name(portal: Portal) -> str:
    return ("__Host-" if portal.config.secure_cookies else "") + "cq_verify"


def _form_token(portal: Portal, cookie: str) -> str:
    """The upload form's token, bound to a cookie by the server's key (as the login form's)."""
    message = b"verify:" + cookie.encode("utf-8", "replace")
    return hmac.new(portal.sessions.login_secret, message, hashlib.sha256).hexdigest()


def _page(portal: Portal, request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
    cookie = request.cookies.get(_cookie_name(portal)) or ""
    fresh = not cookie or len(cookie) > 100
    if fresh:
        cookie = secrets.token_urlsafe(32)
    response = portal.pages.render(
        template,
        {
            "viewer": portal.viewer_of(request),
            "csrf": _form_token(portal, cookie),
            "max_mb": portal.config.verify_max_bytes // (1024 * 1024),
            "error": "",
            **context,
        },
        status=status,
    )
    if fresh:
        portal.set_cookie(response, _cookie_name(portal), cookie)
    return response


def _refused(portal: Portal, request: Request, message: str, status: int) -> Response:
    return _page(portal, request, "verify.html.j2", {"error": message}, status=status)


async def verify_form(request: Request) -> Response:
    portal = portal_of(request)
    return _page(portal, request, "verify.html.j2", {})


def _looks_like_pdf(data: bytes) -> bool:
    return b"%PDF-" in data[:1024]


async def verify_upload(request: Request) -> Response:
    portal = portal_of(request)
    limit = portal.config.verify_max_bytes
    too_large = f"文件过大：核验页面只接受不超过 {limit / (1024 * 1024):g} MB 的 PDF 文件。"
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        return _refused(portal, request, "无法读取上传的文件，请重新选择 PDF 文件后提交。", 411)
    if int(declared) > limit + FORM_OVERHEAD:
        return _refused(portal, request, too_large, 413)  # refused before a byte of the body is read
    if not _allowed(request):
        return _refused(portal, request, "核验请求过于频繁，请一分钟后再试。", 429)
    async with request.form(max_files=1, max_fields=4, max_part_size=FORM_OVERHEAD) as form:  # temp files closed
        cookie = request.cookies.get(_cookie_name(portal), "")
        if not cookie or not tokens_equal(form_text(form, "csrf"), _form_token(portal, cookie)):
            return csrf_refused(portal)
        upload = form.get("pdf")
        if not isinstance(upload, UploadFile):
            return _refused(portal, request, "请选择要核验的 PDF 文件。", 400)
        data = await upload.read(limit + 1)
        file_name = (upload.filename or "")[:120]
    if len(data) > limit:
        return _refused(portal, request, too_large, 413)
    if not data:
        return _refused(portal, request, "上传的文件是空的，请选择要核验的 PDF 文件。", 400)
    if not _looks_like_pdf(data):
        return _refused(
            portal, request, "上传的文件不是 PDF 文件。请上传本系统签发的产权登记表或产权登记证的 PDF 原件。", 400
        )
    issuer = issuer_of(request)
    if issuer is None:
        return _refused(portal, request, NOT_CONFIGURED, 503)
    try:
        report: VerificationReport = await run_in_threadpool(issuer.verify, data)
        shown = await run_in_threadpool(public_record, issuer, report.issuance) if report.issuance else None
    except SigningIdentityError:
        return _refused(portal, request, NOT_CONFIGURED, 503)
    return _page(
        portal,
        request,
        "verify_result.html.j2",
        {
            "by_file": True,
            "missing": False,
            "ok": report.ok,
            "problems": report.problems,
            "signature": report.signature,
            "sha256": report.sha256,
            "file_name": file_name,
            **_facts(portal, shown),
        },
    )


async def verify_number(request: Request) -> Response:
    """The QR code's URL: the issuance record of this number and code, without the file."""
    portal = portal_of(request)
    if not _allowed(request):
        return _refused(portal, request, "核验请求过于频繁，请一分钟后再试。", 429)
    number = str(request.path_params["number"]).strip()[:80]
    code = request.query_params.get("c", "").strip()[:200]
    issuer = issuer_of(request)
    if issuer is None:
        return _refused(portal, request, NOT_CONFIGURED, 503)
    shown = await run_in_threadpool(find_by_number, issuer, number, code) if code else None
    if shown is None:
        return _page(
            portal, request, "verify_result.html.j2", {"by_file": False, "missing": True, "number": number}, 404
        )
    ok = shown.record.proof_ok
    problems = [] if ok else [shown.record.proof_reason_zh or "签发记录不在最新的已签名检查点中。"]
    return _page(
        portal,
        request,
        "verify_result.html.j2",
        {"by_file": False, "missing": False, "ok": ok, "problems": problems, "sha256": "", **_facts(portal, shown)},
    )


async def proof_json(request: Request) -> Response:
    """The inclusion proof of the issuance record, in the form templates/web/static/verify_proof.py checks offline."""
    portal = portal_of(request)
    if not _allowed(request):
        return _refused(portal, request, "核验请求过于频繁，请一分钟后再试。", 429)
    issuer = issuer_of(request)
    number = str(request.path_params["number"]).strip()[:80]
    code = request.query_params.get("c", "").strip()[:200]
    shown = await run_in_threadpool(find_by_number, issuer, number, code) if issuer is not None and code else None
    if shown is None or not shown.record.proof:
        return _page(
            portal, request, "verify_result.html.j2", {"by_file": False, "missing": True, "number": number}, 404
        )
    body = json.dumps(shown.record.proof, ensure_ascii=False, indent=2).encode("utf-8")
    response = Response(body, media_type="application/json")
    response.headers["content-disposition"] = f'attachment; filename="proof-{shown.record.seq}.json"'
    return response


async def ledger_key(request: Request) -> Response:
    """The ledger's verifier key line, the second file `verify_proof.py` takes. It comes from the same
    server as the proof, so the page asks to compare it with the key the supervisor publishes elsewhere."""
    verifier = portal_of(request).wf.ledger.verifier
    if verifier is None:
        return Response("本系统尚未配置账本签名密钥。\n", status_code=404, media_type="text/plain; charset=utf-8")
    response = Response(verifier.to_string() + "\n", media_type="text/plain; charset=utf-8")
    response.headers["content-disposition"] = 'attachment; filename="ledger.pub"'
    return response


def _facts(portal: Portal, shown: PublicRecord | None) -> dict[str, Any]:
    """What the result page prints about the document (nothing when no issuance record was found)."""
    if shown is None:
        return {"record": None, "superseded": None}
    record = shown.record
    later = shown.superseded_by
    return {
        "record": record,
        "period_label": record.period_label,  # from the filing that issued it, not the period's latest approval
        "doc_label": document_label(record.doc_type),
        "issued_at": china_time(shown.issued_at),
        "reprints": shown.reprints,
        "superseded": later,
        "superseded_label": document_label(later.doc_type) if later else "",
        "superseded_at": china_time(later.issued_at) if later else "",
        "proof_url": f"/verify/{record.cert_no}/proof.json?c={shown.code}",
        "checked_url": f"/verify/{record.cert_no}?c={shown.code}",
        "proof_text": json.dumps(record.proof, ensure_ascii=False, indent=2) if record.proof else "",
        "tree_size": record.proof.get("tree_size", "") if record.proof else "",
        "leaf_index": record.proof.get("leaf_index", "") if record.proof else "",
    }


def routes() -> list[BaseRoute]:
    return [
        Route("/verify", verify_form, methods=["GET"], name="verify"),
        Route("/verify", verify_upload, methods=["POST"], name="verify_upload"),
        Route("/verify/ledger.pub", ledger_key, methods=["GET"], name="verify_ledger_key"),
        Route("/verify/{number}", verify_number, methods=["GET"], name="verify_number"),
        Route("/verify/{number}/proof.json", proof_json, methods=["GET"], name="verify_proof"),
    ]
