"""The citizen's side of officer video proofing, inside a sign-in (docs/proofing.md):

1. ``/interaction/{iid}/proofing``: the notice and explicit consent (declining keeps nothing);
2. ``/interaction/{iid}/proofing/card``: card data, checked with the authoritative source before
   the citizen may queue (a failed check never reaches an officer);
3. ``/proofing/case/{id}``: camera check, the queue (position, expected wait, cancel; it survives a
   reload), the call, and the result, which continues the paused sign-in.

Handlers are thin and at module level (the gateway comes in as a dependency): each runs one step
function (``notice_step``, ``card_before_step``, ``case_action_step``, ...) in one transaction;
the decisions are in ``idgw.proofing.cases`` and ``idgw.proofing.intake``. Every case page
belongs to the browser session that opened the case.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from idgw.depends import gateway_of
from idgw.login.interaction import open_interaction
from idgw.login.raising import Route
from idgw.login.sessions import load_session
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.proofing import cases, intake, signals
from idgw.proofing import citizen_texts as _texts  # noqa: F401  (registers the pages' words)
from idgw.proofing.runtime import ProofingRuntime, runtime_of
from idgw.storage.models import Account, Client, Interaction
from idgw.storage.proofing import ProofingCase
from idgw.web.i18n import t
from idgw.web.raising import decide_for
from idgw.web.refusals import wait_words

router = APIRouter()
BROWSER = "idgw_browser"


# -- shared lookups ------------------------------------------------------------------------------

def _client_name(db, client_id: str | None, locale: str) -> str:
    client = db.get(Client, client_id) if client_id else None
    return client.name if client else t("app_name", locale)


def _sign_in(gw, request: Request, iid: str, db, now: int):
    """(interaction, session, account, locale, step) when officer proofing is a route this sign-in
    offers now (``step``: what ``decide_for`` decided); else the response to give instead."""
    pages = gw.pages
    ia, reason = open_interaction(db, iid=iid, browser=request.cookies.get(BROWSER) or "", now=now)
    if ia is None:
        return pages.error(request, "err_interaction_expired" if reason == "expired" else "err_not_found",
                           status=400 if reason == "expired" else 404)
    session = load_session(db, cookie=request.cookies.get(gw.settings.cookie_name), now=now)
    if session is None:
        return RedirectResponse(f"/interaction/{ia.id}", status_code=303)
    account = db.get(Account, session.account_id)
    step = decide_for(gw, db, ia, session, account, now)
    if Route("proofing", "video") not in step.routes:
        return RedirectResponse(f"/interaction/{ia.id}", status_code=303)
    locale = pages.locale(request, ia.params["request"].get("ui_locales"))
    return ia, session, account, locale, step


def _own_case(gw, request: Request, case_id: str, db, now: int):
    """(case, session) for the browser session that opened the case; else an error response."""
    case = db.get(ProofingCase, case_id) if len(case_id) <= 36 else None
    session = load_session(db, cookie=request.cookies.get(gw.settings.cookie_name), now=now)
    if case is None or session is None or case.session_id != session.id or case.account_id != session.account_id:
        return gw.pages.error(request, "pf_not_yours", status=404)
    return case, session


def _posted(gw, request: Request, form: dict, purpose: str, load, key: str, db, now: int):
    """For a form: the 403 page unless its CSRF token is for ``purpose``, else what ``load`` finds
    (a tuple) or its answer."""
    if not gw.pages.check_csrf(request, form, purpose):
        return gw.pages.error(request, "err_csrf", status=403)
    return load(gw, request, key, db, now)


# -- 1. notice and consent -----------------------------------------------------------------------

def notice_step(gw, request: Request, iid: str) -> Response:
    """The notice and consent form; the case page instead when this sign-in already has one live."""
    db, now = current_db.get(), gw.clock.now()
    found = _sign_in(gw, request, iid, db, now)
    if not isinstance(found, tuple):
        return found
    ia, session, account, locale, step = found
    live = cases.live_case(db, account_id=account.id, session_id=session.id)
    if live is not None:
        return RedirectResponse(f"/proofing/case/{live.id}", status_code=303)
    return _notice_page(gw, request, ia, db, locale)


@router.get("/interaction/{iid}/proofing", include_in_schema=False)
async def notice(iid: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await in_transaction(gw.sessionmaker, gw.client_ip(request), notice_step, gw, request, iid)


def _notice_page(gw, request, ia: Interaction, db, locale: str, *, error: str | None = None, status: int = 200):
    browser = request.cookies.get(BROWSER) or ""
    return gw.pages.render(request, "proofing_notice.html", status=status,
                           ui_locales=ia.params["request"].get("ui_locales"),
                           service=_client_name(db, ia.client_id, locale), ial=gw.settings.proofing_grant_ial,
                           days=gw.settings.proofing_media_retention_days, error=error,
                           action=f"/interaction/{ia.id}/proofing", back_url=f"/interaction/{ia.id}",
                           csrf_token=gw.pages.csrf_token(browser, f"proofing:{ia.id}"))


def consent_step(gw, request: Request, iid: str, form: dict) -> Response:
    """The notice's answer: declined keeps nothing (back to the other routes), accepted without
    the box ticked shows the notice again, accepted records the consent and goes on to the card."""
    db, now = current_db.get(), gw.clock.now()
    found = _posted(gw, request, form, f"proofing:{iid}", _sign_in, iid, db, now)
    if not isinstance(found, tuple):
        return found
    ia, session, account, locale, _step = found
    if form.get("decision") != "accept":
        # Declined: nothing is kept; back to the other routes.
        return RedirectResponse(f"/interaction/{ia.id}", status_code=303)
    if form.get("consent") != "yes":
        return _notice_page(gw, request, ia, db, locale, error=t("pf_consent_missing", locale), status=400)
    cases.give_consent(db, account_id=account.id, retention_days=gw.settings.proofing_media_retention_days,
                       now=now, ip=gw.client_ip(request))
    return RedirectResponse(f"/interaction/{ia.id}/proofing/card", status_code=303)


@router.post("/interaction/{iid}/proofing", include_in_schema=False)
async def consent(iid: str, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)
    return await in_transaction(gw.sessionmaker, gw.client_ip(request), consent_step, gw, request, iid, form)


# -- 2. card data ----------------------------------------------------------------------------------

def _card_page(gw, request, ia: Interaction, db, locale: str, *, values: dict | None = None,
               errors: dict | None = None, error: str | None = None, status: int = 200):
    browser = request.cookies.get(BROWSER) or ""
    return gw.pages.render(request, "proofing_card.html", status=status,
                           ui_locales=ia.params["request"].get("ui_locales"),
                           service=_client_name(db, ia.client_id, locale), values=values or {}, errors=errors or {},
                           error=error, months=intake.month_names(locale), action=f"/interaction/{ia.id}/proofing/card",
                           back_url=f"/interaction/{ia.id}",
                           csrf_token=gw.pages.csrf_token(browser, f"proofing:{ia.id}"))


def card_form_step(gw, request: Request, iid: str) -> Response:
    """The card form, prefilled from the account; the notice first when there is no consent."""
    db, now = current_db.get(), gw.clock.now()
    found = _sign_in(gw, request, iid, db, now)
    if not isinstance(found, tuple):
        return found
    ia, session, account, locale, _step = found
    if cases.current_consent(db, account.id) is None:
        return RedirectResponse(f"/interaction/{ia.id}/proofing", status_code=303)
    return _card_page(gw, request, ia, db, locale, values=intake.prefill(account))


@router.get("/interaction/{iid}/proofing/card", include_in_schema=False)
async def card_form(iid: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await in_transaction(gw.sessionmaker, gw.client_ip(request), card_form_step, gw, request, iid)


def card_before_step(gw, request: Request, iid: str, form: dict):
    """Who, whether they may, and the card data (or the form again with what is wrong): a dict
    for the check with the source, else the answer."""
    db, now = current_db.get(), gw.clock.now()
    found = _posted(gw, request, form, f"proofing:{iid}", _sign_in, iid, db, now)
    if not isinstance(found, tuple):
        return found
    ia, session, account, locale, step = found
    live = cases.live_case(db, account_id=account.id, session_id=session.id)
    if live is not None:  # a second submit: the case the first one opened
        return RedirectResponse(f"/proofing/case/{live.id}", status_code=303)
    consent_row = cases.current_consent(db, account.id)
    if consent_row is None:
        return RedirectResponse(f"/interaction/{ia.id}/proofing", status_code=303)
    card, errors = intake.parse_card(form)
    values = intake.echo(form)
    if errors:
        return _card_page(gw, request, ia, db, locale, values=values,
                          errors={k: t(v, locale) for k, v in errors.items()}, status=400)
    conflict = intake.card_conflict(db, card.citizen_id, account)
    if conflict:
        return _card_page(gw, request, ia, db, locale, values=values, status=409,
                          error=t(conflict, locale, help=gw.settings.help_desk))
    wait = intake.spend_check(db, account_id=account.id, now=now)
    if wait:
        return _card_page(gw, request, ia, db, locale, values=values, status=429,
                          error=t("pf_card_too_many", locale, wait=wait_words(wait, locale)))
    return dict(card=card, values=values, ia_id=ia.id, client_id=ia.client_id, session_id=session.id,
                account_id=account.id, locale=locale, need_ial=str(step.need_ial), consent_id=consent_row.id)


def card_after_step(gw, request: Request, runtime: ProofingRuntime, found: dict, outcome, ip: str) -> Response:
    """The source's answer: the form again when it was unavailable (503) or refused the card
    (422, the failure noted), else the case opened and its page."""
    db, now = current_db.get(), gw.clock.now()
    ia = db.get(Interaction, found["ia_id"])
    locale = found["locale"]
    if outcome.unavailable is not None:
        return _card_page(gw, request, ia, db, locale, values=found["values"], status=503,
                          error=t("pf_card_unavailable", locale))
    if not outcome.result.ok:
        intake.note_failed(db, account_id=found["account_id"], result=outcome.result, now=now, ip=ip)
        reason = outcome.result.message_th if locale == "th" else outcome.result.message_en
        return _card_page(gw, request, ia, db, locale, values=found["values"], status=422,
                          error=t("pf_card_failed", locale, reason=reason))
    case = intake.open_checked_case(db, runtime, found=found, outcome=outcome, grant=cases.grant_level(gw.settings),
                                    now=now)
    return RedirectResponse(f"/proofing/case/{case.id}", status_code=303)


@router.post("/interaction/{iid}/proofing/card", include_in_schema=False)
async def card_check(iid: str, request: Request, gw=Depends(gateway_of),
                     runtime: ProofingRuntime = Depends(runtime_of)) -> Response:
    form = await gw.pages.read_form(request)
    ip = gw.client_ip(request)
    found = await in_transaction(gw.sessionmaker, ip, card_before_step, gw, request, iid, form)
    if not isinstance(found, dict):
        return found
    # the authoritative source is asked with no transaction open
    outcome = await intake.check_with_source(runtime.card_check(), found["card"])
    return await in_transaction(gw.sessionmaker, ip, card_after_step, gw, request, runtime, found, outcome, ip)


# -- 3. the case: camera check, queue, call, result --------------------------------------------------

def case_page_step(gw, request: Request, case_id: str) -> Response:
    """The case page (camera check, queue, call, result) for the session that opened the case;
    seeing it keeps the case and the paused sign-in alive."""
    db, now = current_db.get(), gw.clock.now()
    found = _own_case(gw, request, case_id, db, now)
    if not isinstance(found, tuple):
        return found
    case, _session = found
    cases.seen(db, case, now=now)
    intake.keep_sign_in_alive(db, case, settings=gw.settings, now=now)
    ia = db.get(Interaction, case.interaction_id) if case.interaction_id else None
    locale = gw.pages.locale(request, ia.params["request"].get("ui_locales") if ia else None)
    # The page's forms (join, cancel) are bound to this browser's id: issue one if it has none.
    browser = gw.pages.browser_id(request)
    context = intake.case_view(gw, db, case, ia, locale=locale, browser=browser, now=now)
    response = gw.pages.render(request, "proofing_case.html", ui_locales=ia.params["request"].get("ui_locales")
                               if ia else None, **context)
    if browser != request.cookies.get(BROWSER):
        gw.pages.set_browser_cookie(response, browser)
    return response


@router.get("/proofing/case/{case_id}", include_in_schema=False)
async def case_page(case_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await in_transaction(gw.sessionmaker, gw.client_ip(request), case_page_step, gw, request, case_id)


def case_status_step(gw, request: Request, case_id: str) -> Response:
    """The case's state as JSON for the case page's script (404 for anyone else's case)."""
    db, now = current_db.get(), gw.clock.now()
    found = _own_case(gw, request, case_id, db, now)
    if not isinstance(found, tuple):
        return JSONResponse({"error": "not_found"}, status_code=404)
    case, _session = found
    cases.seen(db, case, now=now)
    intake.keep_sign_in_alive(db, case, settings=gw.settings, now=now)
    return JSONResponse(intake.status(db, case, now=now), headers={"cache-control": "no-store"})


@router.get("/proofing/case/{case_id}/status.json", include_in_schema=False)
async def case_status(case_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await in_transaction(gw.sessionmaker, gw.client_ip(request), case_status_step, gw, request, case_id)


@router.post("/proofing/case/{case_id}/join", include_in_schema=False)
async def join(case_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await _case_action(gw, request, case_id, "join")


@router.post("/proofing/case/{case_id}/cancel", include_in_schema=False)
async def cancel(case_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await _case_action(gw, request, case_id, "cancel")


async def _case_action(gw, request: Request, case_id: str, action: str) -> Response:
    form = await gw.pages.read_form(request)
    return await in_transaction(gw.sessionmaker, gw.client_ip(request), case_action_step, gw, request, case_id,
                                action, form)


def case_action_step(gw, request: Request, case_id: str, action: str, form: dict) -> Response:
    """Joining the queue or cancelling (``action``), then back to the case page (or, cancelled,
    to the sign-in); a case that already moved on is left as it is."""
    db, now = current_db.get(), gw.clock.now()
    found = _posted(gw, request, form, f"case:{case_id}", _own_case, case_id, db, now)
    if not isinstance(found, tuple):
        return found
    case, _session = found
    try:
        if action == "join":
            cases.join_queue(db, case, now=now)
            intake.keep_sign_in_alive(db, case, settings=gw.settings, now=now)
        else:
            cases.cancel(db, case, now=now)
            # Whoever is on the call (an officer's socket, maybe held by another instance) is
            # told once the cancellation is committed.
            signals.publish(db, case.id, "cancelled")
    except cases.CaseError:
        pass  # already moved on (double submit, or the case ended): the case page says where it is
    if action == "cancel" and case.interaction_id:
        return RedirectResponse(f"/interaction/{case.interaction_id}", status_code=303)
    return RedirectResponse(f"/proofing/case/{case.id}", status_code=303)
