"""The officer console (issue 13): the queue, the call page of a claimed case, and the second
officer's review. Officers only (``idgw.proofing.officers``: the ``officer`` role, AAL 2.2, signed
in within 8 hours); every POST carries a CSRF token bound to the case (``officer:{case_id}``, the
same token the call page's script sends to the call endpoints as ``X-CSRF-Token``).

Each handler is a plain function of ``gw`` and the request; ``router`` only binds them to paths.
The case's moves are ``idgw.proofing.cases`` functions run in one transaction: a refused move
(``CaseError``, or ``IdentityInUse`` on approval) raises out of it, so nothing of it is kept, and
the page says why in the officer's language with the move's status (409 for a case that moved on).

The call page must not reload during the call: its forms (checklist, flag, decision) are sent by
officer.js with ``Accept: application/json`` and answered with JSON; without script they are
ordinary forms answered with redirects or the page with the refusal.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.proofing import cases, signals
from idgw.proofing.cases import CaseError, Officer
from idgw.proofing.evidence import IdentityInUse, raise_identity
from idgw.proofing.officer_texts import call_error_texts, refusal
from idgw.proofing.officer_views import (
    LEFT,
    case_view,
    first_decision_view,
    queue_view,
    record_view,
    service_names,
    state_json,
)
from idgw.proofing.officers import current_officer, officer_json_gate
from idgw.storage.proofing import ProofingCase
from idgw.web.i18n import t

QUEUE_DONE = ("approved", "escalated", "rejected", "handover", "review_approved")
CASE_DONE = {"checklist": "officer_checklist_saved", "flagged": "officer_flagged"}


def purpose(case_id: str) -> str:
    return f"officer:{case_id}"


def wants_json(request: Request) -> bool:
    return "application/json" in (request.headers.get("accept") or "")


def refusal_text(code: str, locale: str) -> str:
    return t("err_csrf", locale) if code == "csrf" else refusal(code, locale)


def held_case(db, case_id: str, officer: Officer, *, lock: bool = False) -> ProofingCase:
    """The case this officer is in a call with, or the ``CaseError`` that says why not (the citizen
    left, the case is finished, someone else holds it, ...)."""
    case = db.get(ProofingCase, case_id, with_for_update=lock)
    if case is not None and case.claimed_by == officer.account_id and case.state in LEFT:
        raise CaseError("citizen_left")
    if case is not None and case.state in cases.FINAL:
        raise CaseError("finished")
    return cases.held_by(case, officer)


def reviewable_case(db, case_id: str, *, lock: bool = False) -> ProofingCase:
    case = db.get(ProofingCase, case_id, with_for_update=lock)
    if case is None:
        raise CaseError("not_found", 404)
    if case.state in cases.FINAL:
        raise CaseError("finished")
    if case.state != "awaiting_second":
        raise CaseError("not_awaiting")
    return case


def form_version(form: dict) -> int:
    try:
        return int(form.get("version", ""))
    except ValueError:
        raise CaseError("stale") from None


def approve(gw, db, case: ProofingCase, *, now: int) -> None:
    """The approval's effect on the account and the citizen's session, in the decision's transaction."""
    try:
        raise_identity(db, case, issuer=gw.settings.issuer, now=now)
    except IdentityInUse:
        raise CaseError("identity_in_use") from None


async def transact(gw, request: Request, work):
    return await in_transaction(gw.sessionmaker, gw.client_ip(request), work)


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

    def work():
        db = current_db.get()
        now = gw.clock.now()
        who = current_officer(gw, db, request, now, here="/officer")
        if not isinstance(who, Officer):
            return who
        return queue_view(db, who, now=now, locale=locale, csrf=csrf)

    view = await transact(gw, request, work)
    if isinstance(view, Response):
        return view
    done = request.query_params.get("done")
    message = t(f"officer_done_{done}", locale) if done in QUEUE_DONE and not error else None
    response = pages.render(request, "officer_queue.html", status=status, message=message, error=error, **view)
    pages.set_browser_cookie(response, browser)
    return response


async def queue_data(gw, request: Request) -> Response:
    """GET /officer/queue.json: the queue page's lists, for officer.js to refresh them in place."""
    locale = gw.pages.locale(request)
    _browser, csrf = with_browser(gw, request)

    def work():
        db = current_db.get()
        now = gw.clock.now()
        who = officer_json_gate(gw, db, request, now)
        if not isinstance(who, Officer):
            return who
        return queue_view(db, who, now=now, locale=locale, csrf=csrf)

    view = await transact(gw, request, work)
    if isinstance(view, Response):
        return view
    return JSONResponse(view, headers={"Cache-Control": "no-store"})


async def claim(gw, request: Request, case_id: str) -> Response:
    """POST /officer/case/{id}/claim: of two officers, one gets the case and its call page; the
    other the queue, with why (409)."""
    form = await gw.pages.read_form(request)
    csrf_ok = gw.pages.check_csrf(request, form, purpose(case_id))

    def work():
        db = current_db.get()
        now = gw.clock.now()
        who = current_officer(gw, db, request, now, here="/officer")
        if not isinstance(who, Officer):
            return who
        if not csrf_ok:
            raise CaseError("csrf", 403)
        cases.claim(db, case_id, who, now=now)
        return RedirectResponse(f"/officer/case/{quote(case_id)}", status_code=303)

    try:
        return await transact(gw, request, work)
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

    def work():
        db = current_db.get()
        who = current_officer(gw, db, request, gw.clock.now(), here=f"/officer/case/{case_id}")
        if not isinstance(who, Officer):
            return who
        case = held_case(db, case_id, who)
        return case_view(case, locale, service=service_names(db, [case], locale)[case.client_id] or "")

    try:
        view = await transact(gw, request, work)
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


async def case_state(gw, request: Request, case_id: str) -> Response:
    """GET /officer/case/{id}/state.json: what officer.js refreshes every 2 s (and how it learns
    that the citizen left). Only for the officer who claimed the case."""
    locale = gw.pages.locale(request)

    def work():
        db = current_db.get()
        who = officer_json_gate(gw, db, request, gw.clock.now())
        if not isinstance(who, Officer):
            return who
        case = db.get(ProofingCase, case_id)
        if case is None:
            return JSONResponse({"error": "not_found", "message": refusal("not_found", locale)}, status_code=404)
        if case.claimed_by != who.account_id:
            return JSONResponse({"error": "not_yours", "message": refusal("not_yours", locale)}, status_code=403)
        return state_json(case, locale, service=service_names(db, [case], locale)[case.client_id] or "")

    answer = await transact(gw, request, work)
    if isinstance(answer, Response):
        return answer
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})


def save_checklist(gw, db, case, officer, form, now) -> tuple[str, str]:
    cases.set_checklist(db, case, form, officer, now=now)
    return f"/officer/case/{case.id}?done=checklist", "officer_checklist_saved"


def flag_case(gw, db, case, officer, form, now) -> tuple[str, str]:
    cases.flag(db, case, officer, note=str(form.get("note") or ""), now=now)
    return f"/officer/case/{case.id}?done=flagged", "officer_flagged"


def decide_case(gw, db, case, officer, form, now) -> tuple[str, str]:
    new = cases.decide(db, case, officer, outcome=str(form.get("outcome") or ""), reason=str(form.get("reason") or ""),
                       note=str(form.get("note") or ""), version=form_version(form), now=now)
    if new == "approved":
        approve(gw, db, case, now=now)
    # The citizen's call page (its socket perhaps held by another instance) looks at once.
    signals.publish(db, case.id, "decided", data={"state": new})
    done = {"approved": "approved", "awaiting_second": "escalated", "rejected": "rejected", "queued": "handover"}[new]
    return f"/officer?done={done}", f"officer_done_{done}"


async def case_action(gw, request: Request, case_id: str, act, *, leaves: bool = False) -> Response:
    """POST /officer/case/{id}/checklist | flag | decision: ``act`` moves the case the officer holds.
    JSON for officer.js (``{"ok", "next", "message", "version"}``; refusals ``{"ok": false, "code",
    "message"}`` with the status), else a redirect, or the page with the refusal."""
    pages = gw.pages
    form = await pages.read_form(request)
    csrf_ok = pages.check_csrf(request, form, purpose(case_id))
    as_json = wants_json(request)
    locale = pages.locale(request)

    def work():
        db = current_db.get()
        now = gw.clock.now()
        who = officer_json_gate(gw, db, request, now) if as_json else \
            current_officer(gw, db, request, now, here=f"/officer/case/{case_id}")
        if not isinstance(who, Officer):
            return who
        if not csrf_ok:
            raise CaseError("csrf", 403)
        case = held_case(db, case_id, who, lock=True)
        next_url, message = act(gw, db, case, who, form, now)
        return next_url, message, case.version

    try:
        result = await transact(gw, request, work)
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


# -- the second officer ------------------------------------------------------------------------

async def review_page(gw, request: Request, case_id: str, *, error: str | None = None, status: int = 200,
                      form: dict | None = None) -> Response:
    """GET /officer/review/{id}: a case approved against a problem, for a different officer."""
    pages = gw.pages
    locale = pages.locale(request)
    browser, csrf = with_browser(gw, request)

    def work():
        db = current_db.get()
        who = current_officer(gw, db, request, gw.clock.now(), here=f"/officer/review/{case_id}")
        if not isinstance(who, Officer):
            return who
        case = reviewable_case(db, case_id)
        first = first_decision_view(db, case, locale)
        return {"case": case_view(case, locale, service=service_names(db, [case], locale)[case.client_id] or ""),
                "first": first, "own": bool(first and first["by"] == who.account_id),
                "record": record_view(db, case.id, locale)}

    try:
        context = await transact(gw, request, work)
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


async def review_decision(gw, request: Request, case_id: str) -> Response:
    """POST /officer/review/{id}: confirm (with a written reason) or reject; an approval raises the
    account's IAL in the same transaction."""
    pages = gw.pages
    form = await pages.read_form(request)
    csrf_ok = pages.check_csrf(request, form, purpose(case_id))
    locale = pages.locale(request)

    def work():
        db = current_db.get()
        now = gw.clock.now()
        who = current_officer(gw, db, request, now, here=f"/officer/review/{case_id}")
        if not isinstance(who, Officer):
            return who
        if not csrf_ok:
            raise CaseError("csrf", 403)
        case = reviewable_case(db, case_id, lock=True)
        new = cases.second_decision(db, case, who, outcome=str(form.get("outcome") or ""),
                                    reason=str(form.get("reason") or ""), note=str(form.get("note") or ""),
                                    version=form_version(form), now=now)
        if new == "approved":
            approve(gw, db, case, now=now)
        signals.publish(db, case.id, "decided", data={"state": new})
        return RedirectResponse(f"/officer?done={'review_approved' if new == 'approved' else 'rejected'}",
                                status_code=303)

    try:
        return await transact(gw, request, work)
    except CaseError as exc:
        return await review_page(gw, request, case_id, error=refusal_text(exc.code, locale), status=exc.status,
                                 form=form)


def router(gw) -> APIRouter:
    r = APIRouter()

    @r.get("/officer", include_in_schema=False)
    async def _queue(request: Request) -> Response:
        return await queue_page(gw, request)

    @r.get("/officer/queue.json", include_in_schema=False)
    async def _queue_json(request: Request) -> Response:
        return await queue_data(gw, request)

    @r.post("/officer/case/{case_id}/claim", include_in_schema=False)
    async def _claim(case_id: str, request: Request) -> Response:
        return await claim(gw, request, case_id)

    @r.get("/officer/case/{case_id}", include_in_schema=False)
    async def _case(case_id: str, request: Request) -> Response:
        return await case_page(gw, request, case_id)

    @r.get("/officer/case/{case_id}/state.json", include_in_schema=False)
    async def _state(case_id: str, request: Request) -> Response:
        return await case_state(gw, request, case_id)

    @r.post("/officer/case/{case_id}/checklist", include_in_schema=False)
    async def _checklist(case_id: str, request: Request) -> Response:
        return await case_action(gw, request, case_id, save_checklist)

    @r.post("/officer/case/{case_id}/flag", include_in_schema=False)
    async def _flag(case_id: str, request: Request) -> Response:
        return await case_action(gw, request, case_id, flag_case)

    @r.post("/officer/case/{case_id}/decision", include_in_schema=False)
    async def _decision(case_id: str, request: Request) -> Response:
        return await case_action(gw, request, case_id, decide_case, leaves=True)

    @r.get("/officer/review/{case_id}", include_in_schema=False)
    async def _review(case_id: str, request: Request) -> Response:
        return await review_page(gw, request, case_id)

    @r.post("/officer/review/{case_id}", include_in_schema=False)
    async def _review_post(case_id: str, request: Request) -> Response:
        return await review_decision(gw, request, case_id)

    return r
