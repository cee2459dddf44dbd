"""The officer console (issue 13): the queue, the call page of a claimed case, and the second
officer's review. Officers only (``idgw.proofing.officers``: the ``officer`` role, AAL 2.2, signed
in within 8 hours); every POST carries a CSRF token bound to the case (``officer:{case_id}``, the
same token the call page's script sends to the call endpoints as ``X-CSRF-Token``).

The handlers are module-level, on ``router``, and take the gateway as a dependency
(``idgw.depends.gateway_of``); each reads the request, runs one step of
``idgw.proofing.officer_steps`` in one transaction and answers. A refused move (``CaseError``, or
``IdentityInUse`` on approval) raises out of it, so nothing of it is kept, and the page says why
in the officer's language with the move's status (409 for a case that moved on).

The call page must not reload during the call: its forms (checklist, flag, decision) are sent by
officer.js with ``Accept: application/json`` and answered with JSON; without script they are
ordinary forms answered with redirects or the page with the refusal.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from idgw.depends import gateway_of
from idgw.oidc.adapter import in_transaction
from idgw.proofing.cases import CaseError
from idgw.proofing.officer_steps import (
    case_action_step,
    case_state_step,
    case_step,
    claim_step,
    decide_case,
    flag_case,
    purpose,
    queue_step,
    review_decision_step,
    review_step,
    save_checklist,
)
from idgw.proofing.officer_texts import call_error_texts, refusal
from idgw.web.i18n import t

router = APIRouter()
QUEUE_DONE = ("approved", "escalated", "rejected", "handover", "review_approved")
CASE_DONE = {"checklist": "officer_checklist_saved", "flagged": "officer_flagged"}


def wants_json(request: Request) -> bool:
    return "application/json" in (request.headers.get("accept") or "")


def refusal_text(code: str, locale: str) -> str:
    return t("err_csrf", locale) if code == "csrf" else refusal(code, locale)


async def transact(gw, request: Request, step, *args, **kwargs):
    return await in_transaction(gw.sessionmaker, gw.client_ip(request), step, gw, request, *args, **kwargs)


def with_browser(gw, request: Request):
    """(browser id, its CSRF token function) for a page whose forms are bound to cases."""
    browser = gw.pages.browser_id(request)
    return browser, (lambda case_id: gw.pages.csrf_token(browser, purpose(case_id)))


# -- the queue ---------------------------------------------------------------------------------

async def queue_page(gw, request: Request, *, error: str | None = None, status: int = 200) -> Response:
    """GET /officer, and the answer to a refused move whose case the officer no longer holds."""
    pages = gw.pages
    locale = pages.locale(request)
    browser, csrf = with_browser(gw, request)
    view = await transact(gw, request, queue_step, locale, csrf)
    if isinstance(view, Response):
        return view
    done = request.query_params.get("done")
    message = t(f"officer_done_{done}", locale) if done in QUEUE_DONE and not error else None
    response = pages.render(request, "officer_queue.html", status=status, message=message, error=error, **view)
    pages.set_browser_cookie(response, browser)
    return response


@router.get("/officer", include_in_schema=False)
async def queue(request: Request, gw=Depends(gateway_of)) -> Response:
    return await queue_page(gw, request)


@router.get("/officer/queue.json", include_in_schema=False)
async def queue_data(request: Request, gw=Depends(gateway_of)) -> Response:
    """The queue page's lists, for officer.js to refresh them in place."""
    locale = gw.pages.locale(request)
    _browser, csrf = with_browser(gw, request)
    view = await transact(gw, request, queue_step, locale, csrf, as_json=True)
    if isinstance(view, Response):
        return view
    return JSONResponse(view, headers={"Cache-Control": "no-store"})


@router.post("/officer/case/{case_id}/claim", include_in_schema=False)
async def claim(case_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    """Of two officers, one gets the case and its call page; the other the queue, with why (409)."""
    form = await gw.pages.read_form(request)
    csrf_ok = gw.pages.check_csrf(request, form, purpose(case_id))
    try:
        return await transact(gw, request, claim_step, case_id, csrf_ok)
    except CaseError as exc:
        return await queue_page(gw, request, error=refusal_text(exc.code, gw.pages.locale(request)),
                                status=exc.status)


# -- the call page -----------------------------------------------------------------------------

async def case_page(gw, request: Request, case_id: str, *, error: str | None = None, status: int = 200,
                    form: dict | None = None) -> Response:
    """GET /officer/case/{id}: the call with the citizen and everything to decide on; also the
    answer (with ``error``) to a refused form sent without script, while the case is still held."""
    pages = gw.pages
    locale = pages.locale(request)
    browser, csrf = with_browser(gw, request)
    try:
        view = await transact(gw, request, case_step, case_id, locale)
    except CaseError as exc:  # no longer held: the queue says why (the refusal being answered, if any)
        if error is None:
            error, status = refusal_text(exc.code, locale), exc.status
        return await queue_page(gw, request, error=error, status=status)
    if isinstance(view, Response):
        return view
    done = request.query_params.get("done")
    message = t(CASE_DONE[done], locale) if done in CASE_DONE and not error else None
    response = pages.render(request, "officer_case.html", status=status, case=view, error=error, message=message,
                            form=form or {}, csrf_token=csrf(case_id), errors=call_error_texts(locale))
    pages.set_browser_cookie(response, browser)
    return response


@router.get("/officer/case/{case_id}", include_in_schema=False)
async def case(case_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await case_page(gw, request, case_id)


@router.get("/officer/case/{case_id}/state.json", include_in_schema=False)
async def case_state(case_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    """What officer.js refreshes every 2 s (and how it learns that the citizen left). Only for the
    officer who claimed the case."""
    answer = await transact(gw, request, case_state_step, case_id, gw.pages.locale(request))
    if isinstance(answer, Response):
        return answer
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


async def case_action(gw, request: Request, case_id: str, act, *, leaves: bool = False) -> Response:
    """POST /officer/case/{id}/checklist | flag | decision: ``act`` moves the case the officer holds.
    JSON for officer.js (``{"ok", "next", "message", "version"}``; refusals ``{"ok": false, "code",
    "message"}`` with the status), else a redirect, or the page with the refusal."""
    pages = gw.pages
    form = await pages.read_form(request)
    csrf_ok = pages.check_csrf(request, form, purpose(case_id))
    as_json = wants_json(request)
    locale = pages.locale(request)
    try:
        result = await transact(gw, request, case_action_step, case_id, act, form, csrf_ok, as_json)
    except CaseError as exc:
        if as_json:
            return JSONResponse({"ok": False, "code": exc.code, "message": refusal_text(exc.code, locale)},
                                status_code=exc.status)
        return await case_page(gw, request, case_id, error=refusal_text(exc.code, locale), status=exc.status,
                               form=form)
    if isinstance(result, Response):
        return result
    next_url, message, version = result
    if as_json:
        return JSONResponse({"ok": True, "next": next_url if leaves else None, "message": t(message, locale),
                             "version": version})
    return RedirectResponse(next_url, status_code=303)


@router.post("/officer/case/{case_id}/checklist", include_in_schema=False)
async def checklist(case_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await case_action(gw, request, case_id, save_checklist)


@router.post("/officer/case/{case_id}/flag", include_in_schema=False)
async def flag(case_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await case_action(gw, request, case_id, flag_case)


@router.post("/officer/case/{case_id}/decision", include_in_schema=False)
async def decision(case_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await case_action(gw, request, case_id, decide_case, leaves=True)


# -- the second officer ------------------------------------------------------------------------

async def review_page(gw, request: Request, case_id: str, *, error: str | None = None, status: int = 200,
                      form: dict | None = None) -> Response:
    """GET /officer/review/{id}: a case approved against a problem, for a different officer."""
    pages = gw.pages
    locale = pages.locale(request)
    browser, csrf = with_browser(gw, request)
    try:
        context = await transact(gw, request, review_step, case_id, locale)
    except CaseError as exc:  # no longer waiting for review: the queue says why (the refusal being answered, if any)
        if error is None:
            error, status = refusal_text(exc.code, locale), exc.status
        return await queue_page(gw, request, error=error, status=status)
    if isinstance(context, Response):
        return context
    response = pages.render(request, "officer_review.html", status=status, error=error, form=form or {},
                            csrf_token=csrf(case_id), **context)
    pages.set_browser_cookie(response, browser)
    return response


@router.get("/officer/review/{case_id}", include_in_schema=False)
async def review(case_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await review_page(gw, request, case_id)


@router.post("/officer/review/{case_id}", include_in_schema=False)
async def review_decision(case_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    """Confirm (with a written reason) or reject; an approval raises the account's IAL in the same
    transaction."""
    pages = gw.pages
    form = await pages.read_form(request)
    csrf_ok = pages.check_csrf(request, form, purpose(case_id))
    locale = pages.locale(request)
    try:
        return await transact(gw, request, review_decision_step, case_id, form, csrf_ok)
    except CaseError as exc:
        return await review_page(gw, request, case_id, error=refusal_text(exc.code, locale), status=exc.status,
                                 form=form)
