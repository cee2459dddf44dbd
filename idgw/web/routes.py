"""The person-facing pages of a pending authorization request: /authorize, which opens it, and
its steps under /interaction/{id} (sign-in with a password or a passkey, a further factor,
consent, cancelling). What each step shows is decided by ``idgw.web.steps``; RP-initiated logout
and the home page are ``idgw.web.logout``.

Each handler reads what the request brought (form, cookies) and runs one step function in one
transaction (``in_short_transaction``; the steps that can wait on a lock, ``in_transaction``).
The step functions are plain functions of the gateway, the request's inputs and the transaction's
session (``current_db``), so tests can call them directly."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from idgw import audit
from idgw.account.consents import record_receipt
from idgw.assurance import current_policy
from idgw.authn import UnknownAuthenticatorError
from idgw.depends import gateway_of
from idgw.login.interaction import finish, keep_new, mark_signed_in, record_consent
from idgw.login.passkey import passkey_sign_in
from idgw.login.password import check_password, locked_outcome, on_hashing_threads, precheck, record_failure, settle
from idgw.login.sessions import add_factor, load_session, replace_session
from idgw.oidc.adapter import AdaptedRequest, InvalidParametersError, adapt, in_short_transaction, in_transaction
from idgw.oidc.context import current_db
from idgw.oidc.routes import AuthorizeError, validate_authorization_request
from idgw.ratelimit import spend
from idgw.security import random_token, sha256_hex
from idgw.storage.models import Account, Client, Interaction
from idgw.web.i18n import t
from idgw.web.raising import decide_for, refusal_key
from idgw.web.refusals import refusal_text
from idgw.web.steps import Outcome, advance, factor_page, load_interaction, respond

router = APIRouter()


def _opened(gw, request: Request, iid: str, csrf_ok: bool = True):
    """A step's start: the transaction's session, the time, and the interaction (or the page that
    says why it cannot continue: ``idgw.web.steps.load_interaction``)."""
    db = current_db.get()
    now = gw.clock.now()
    ia, problem = load_interaction(gw, db, iid, request, now, csrf_ok=csrf_ok)
    return db, now, ia, problem


@router.api_route("/authorize", methods=["GET", "POST"], include_in_schema=False)
async def authorize(request: Request, gw=Depends(gateway_of)) -> Response:
    """The authorization endpoint. A valid request becomes an interaction whose first step is
    answered at once: the page to show (sign-in, a further factor, consent), or straight back
    to the service when nothing is needed. Later steps live under /interaction/{id}."""
    pages, settings = gw.pages, gw.settings
    try:
        areq = await adapt(request, issuer=settings.issuer, timeout=settings.body_timeout)
    except InvalidParametersError as exc:
        return pages.error(request, "err_invalid_request", code=f"invalid_request: {exc}", status=400)
    cookie = request.cookies.get(settings.cookie_name)
    browser = pages.browser_id(request)
    try:
        out = await in_short_transaction(gw.sessionmaker, gw.client_ip(request), open_request, gw, request, areq,
                                         cookie, browser)
    except AuthorizeError as err:
        if err.redirect_uri:
            return RedirectResponse(gw.provider.authorization_error_redirect(
                redirect_uri=err.redirect_uri, error=err.error, description=err.description,
                state=err.state), status_code=302)
        # RFC 6749 §4.1.2.1: never redirect before the client and redirect URI are verified.
        return pages.error(request, err.page_key, code=f"{err.error}: {err.description}", status=400)
    if out.redirect:
        out.redirect_status = 302  # RFC 6749 §4.1.2 (also for a POSTed request)
    response = respond(gw, request, out)
    pages.set_browser_cookie(response, browser)
    return response


def open_request(gw, request: Request, areq: AdaptedRequest, cookie: str | None, browser: str) -> Outcome:
    """/authorize's step: a valid request, within the client IP's budget, becomes an interaction
    and its first step is decided. ``AuthorizeError`` for an invalid request."""
    settings = gw.settings
    db = current_db.get()
    now = gw.clock.now()
    session = load_session(db, cookie=cookie, now=now)
    params, requested = validate_authorization_request(gw, areq, has_session=session is not None)
    wait = spend(db, bucket="authorize", ip=gw.client_ip(request), limit=settings.rate_per_ip,
                 window=settings.rate_window, now=now)
    if wait:
        return Outcome(error_key="err_rate_limited", status=429, ui_locales=params.get("ui_locales"),
                       headers={"Retry-After": str(wait)})
    ia = Interaction(id=random_token(24), client_id=params["client_id"],
                     params={"request": params, "requested": requested, "progress": {},
                             "browser": sha256_hex(browser)},
                     created_at=now, expires_at=now + settings.interaction_ttl)
    out = advance(gw, db, ia, request, now, cookie_value=cookie, session=session, browser=browser)
    if not out.redirect:
        keep_new(db, ia)  # a page: later steps need it. Answered at once (a code or an error): nothing kept.
    return out


@router.get("/interaction/{iid}", include_in_schema=False)
async def interaction(iid: str, request: Request, gw=Depends(gateway_of)) -> Response:
    cookie_value = request.cookies.get(gw.settings.cookie_name)
    return respond(gw, request, await in_short_transaction(gw.sessionmaker, gw.client_ip(request), current_step,
                                                           gw, request, iid, cookie_value))


def current_step(gw, request: Request, iid: str, cookie_value: str | None) -> Outcome:
    db, now, ia, problem = _opened(gw, request, iid)
    return problem or advance(gw, db, ia, request, now, cookie_value=cookie_value)


@router.post("/interaction/{iid}/login", include_in_schema=False)
async def login(iid: str, request: Request, gw=Depends(gateway_of)) -> Response:
    pages, settings = gw.pages, gw.settings
    form = await pages.read_form(request)
    csrf_ok = pages.check_csrf(request, form, f"login:{iid}")
    username = str(form.get("username") or "")
    password = str(form.get("password") or "")
    ip = gw.client_ip(request)
    old_cookie = request.cookies.get(settings.cookie_name)

    def first():
        db, now, _ia, problem = _opened(gw, request, iid, csrf_ok)
        if problem:
            return problem, None
        return None, precheck(db, username=username, ip=ip, now=now, settings=settings)

    problem, check = await in_short_transaction(gw.sessionmaker, ip, first)
    if problem is not None:
        return respond(gw, request, problem)
    # argon2id with no transaction open (it would hold SQLite's write lock for ~25 ms)
    ok = check.refusal is None and await on_hashing_threads(gw.hashing, check_password, check, password)
    return respond(gw, request, await in_short_transaction(gw.sessionmaker, ip, password_step, gw, request, iid,
                                                           csrf_ok, check, ok, username, old_cookie))


def password_step(gw, request: Request, iid: str, csrf_ok: bool, check, ok: bool, username: str,
                  old_cookie: str | None) -> Outcome:
    """The password form's outcome, the hash already checked (``ok``): the refusal shown on the
    sign-in page again, or a new session and on to the interaction's next step."""
    settings = gw.settings
    ip = gw.client_ip(request)
    db, now, ia, problem = _opened(gw, request, iid, csrf_ok)
    if problem:
        return problem
    outcome = check.refusal or settle(db, check=check, ok=ok, ip=ip, now=now, settings=settings,
                                      client_id=ia.client_id)
    if outcome.account is None:
        locale = gw.pages.locale(request, ia.params["request"].get("ui_locales"))
        message = refusal_text(outcome, locale=locale, help_desk=settings.help_desk)
        out = advance(gw, db, ia, request, now, cookie_value=old_cookie, error=message, username=username)
        if outcome.error != "invalid_credentials":
            out.status = 429 if outcome.error == "throttled" else 403
        return out
    session, cookie = replace_session(db, old_cookie=old_cookie, account=outcome.account, factor="pwd",
                                      amr=["pwd"], now=now, ip=ip, client_id=ia.client_id,
                                      user_agent=request.headers.get("user-agent"))
    mark_signed_in(ia, session)
    return Outcome(redirect=f"/interaction/{ia.id}", cookie=cookie)


@router.post("/interaction/{iid}/passkey", include_in_schema=False)
async def passkey_login(iid: str, request: Request, gw=Depends(gateway_of)) -> Response:
    """Usernameless sign-in with a discoverable credential from the login page."""
    form = await gw.pages.read_form(request)
    csrf_ok = gw.pages.check_csrf(request, form, f"login:{iid}")
    return respond(gw, request, await in_transaction(gw.sessionmaker, gw.client_ip(request), passkey_step, gw,
                                                     request, iid, csrf_ok, form.get("credential")))


def passkey_step(gw, request: Request, iid: str, csrf_ok: bool, credential_json) -> Outcome:
    settings = gw.settings
    ip = gw.client_ip(request)
    old_cookie = request.cookies.get(settings.cookie_name)
    db, now, ia, problem = _opened(gw, request, iid, csrf_ok)
    if problem:
        return problem
    result = passkey_sign_in(db, registry=gw.authenticators, credential_json=credential_json,
                             browser_hash=sha256_hex(request.cookies.get("idgw_browser") or ""), ip=ip, now=now,
                             settings=settings, client_id=ia.client_id)
    if result.account is None:
        locale = gw.pages.locale(request, ia.params["request"].get("ui_locales"))
        message = t("passkey_rejected", locale, reason=result.rejected) if result.rejected \
            else refusal_text(result.locked, locale=locale, help_desk=settings.help_desk)
        return advance(gw, db, ia, request, now, cookie_value=old_cookie, error=message)
    account, event = result.account, result.event
    session, cookie = replace_session(db, old_cookie=old_cookie, account=account, factor=event.factor,
                                      amr=list(event.amr), now=now, ip=ip, client_id=ia.client_id,
                                      user_agent=request.headers.get("user-agent"))
    mark_signed_in(ia, session)
    return Outcome(redirect=f"/interaction/{ia.id}", cookie=cookie)


@router.api_route("/interaction/{iid}/factor/{kind}", methods=["GET", "POST"], include_in_schema=False)
async def factor(iid: str, kind: str, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request) if request.method == "POST" else {}
    csrf_ok = request.method == "GET" or gw.pages.check_csrf(request, form, f"factor:{iid}")
    # The browser binding for WebAuthn challenges (the authenticator never sees cookies).
    fields = {**form, "_browser": sha256_hex(request.cookies.get("idgw_browser") or "")}
    return respond(gw, request, await in_transaction(gw.sessionmaker, gw.client_ip(request), factor_step, gw,
                                                     request, iid, kind, csrf_ok, fields))


def factor_step(gw, request: Request, iid: str, kind: str, csrf_ok: bool, fields: dict) -> Outcome:
    """A further factor's page (GET), or its answer checked (POST): the step-up recorded in the
    session, or the page again with the refusal."""
    settings = gw.settings
    ip = gw.client_ip(request)
    db, now, ia, problem = _opened(gw, request, iid, csrf_ok)
    if problem:
        return problem
    session = load_session(db, cookie=request.cookies.get(settings.cookie_name), now=now)
    if session is None:
        return Outcome(redirect=f"/interaction/{ia.id}")
    account = db.get(Account, session.account_id)
    step = decide_for(gw, db, ia, session, account, now)
    if step.kind != "factor" or kind not in step.factors:
        # Not a route this person may use now (or nothing to step up): back to the decision.
        return Outcome(redirect=f"/interaction/{ia.id}")
    client = db.get(Client, ia.client_id)
    if request.method == "GET":
        return factor_page(gw, db, ia, request, now, kind=kind, step=step, account=account,
                           session=session, client=client)
    try:
        authenticator = gw.authenticators.get(kind)
    except UnknownAuthenticatorError:
        return Outcome(error_key="err_not_found", status=404)
    locale = gw.pages.locale(request, ia.params["request"].get("ui_locales"))
    locked = locked_outcome(account, now)
    if locked is not None:
        message = refusal_text(locked, locale=locale, help_desk=settings.help_desk)
        out = factor_page(gw, db, ia, request, now, kind=kind, step=step, account=account, session=session,
                          client=client, error=message)
        out.status = 429 if locked.error == "throttled" else 403
        return out
    event = authenticator.verify(db, account=account, session=session, form=fields, now=now)
    if event is None:
        record_failure(db, account=account, ip=ip, now=now, settings=settings, client_id=ia.client_id,
                       reason="factor_rejected", event="authenticator.failed", factor=kind)
        return factor_page(gw, db, ia, request, now, kind=kind, step=step, account=account,
                           session=session, client=client, error=t(refusal_key(authenticator, db, account,
                                                                               fields, now), locale))
    account.failed_logins = 0
    add_factor(db, session=session, factor=event.factor, amr=list(event.amr), now=now, ip=ip,
               client_id=ia.client_id)
    mark_signed_in(ia, session)
    return Outcome(redirect=f"/interaction/{ia.id}")


@router.post("/interaction/{iid}/cancel", include_in_schema=False)
async def cancel(iid: str, request: Request, gw=Depends(gateway_of)) -> Response:
    """The way out of every sign-in page: back to the service with ``access_denied`` (the
    interaction ends; nothing is released)."""
    form = await gw.pages.read_form(request)
    csrf_ok = gw.pages.check_csrf(request, form, f"cancel:{iid}")
    return respond(gw, request, await in_transaction(gw.sessionmaker, gw.client_ip(request), cancel_step, gw,
                                                     request, iid, csrf_ok))


def cancel_step(gw, request: Request, iid: str, csrf_ok: bool) -> Outcome:
    db, now, ia, problem = _opened(gw, request, iid, csrf_ok)
    if problem:
        return problem
    if ia.client_id is None:
        finish(db, ia=ia, now=now, result={"kind": "local"})
        return Outcome(redirect="/")
    params = ia.params["request"]
    location = gw.provider.authorization_error_redirect(
        redirect_uri=params["redirect_uri"], error="access_denied",
        description="The person cancelled the sign-in", state=params.get("state"))
    if finish(db, ia=ia, now=now, result={"kind": "error", "location": location}):
        session = load_session(db, cookie=request.cookies.get(gw.settings.cookie_name), now=now)
        audit.record(db, "authorization.denied", at=now, actor=session.account_id if session else None,
                     client_id=ia.client_id, session_id=session.id if session else None, ip=gw.client_ip(request),
                     reason="cancelled")
    return Outcome(redirect=location)


@router.post("/interaction/{iid}/consent", include_in_schema=False)
async def consent(iid: str, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)
    csrf_ok = gw.pages.check_csrf(request, form, f"consent:{iid}")
    return respond(gw, request, await in_short_transaction(gw.sessionmaker, gw.client_ip(request), consent_step,
                                                           gw, request, iid, csrf_ok, form.get("decision")))


def consent_step(gw, request: Request, iid: str, csrf_ok: bool, decision) -> Outcome:
    """The consent form's answer: declined, back to the service with ``access_denied``; allowed,
    the consent and its receipt recorded, and on to the service with the code (or to whatever
    the interaction still asks for)."""
    ip = gw.client_ip(request)
    cookie_value = request.cookies.get(gw.settings.cookie_name)
    db, now, ia, problem = _opened(gw, request, iid, csrf_ok)
    if problem:
        return problem
    session = load_session(db, cookie=cookie_value, now=now)
    if session is None:
        return advance(gw, db, ia, request, now, cookie_value=cookie_value)
    params = ia.params["request"]
    if decision != "allow":
        location = gw.provider.authorization_error_redirect(
            redirect_uri=params["redirect_uri"], error="access_denied",
            description="The person declined the request", state=params.get("state"))
        if finish(db, ia=ia, now=now, result={"kind": "error", "location": location}):
            audit.record(db, "authorization.denied", at=now, actor=session.account_id,
                         client_id=ia.client_id, session_id=session.id, ip=ip)
        return Outcome(redirect=location)
    # Exactly what the consent page showed; if more is to be released now, the page comes again.
    release = tuple(ia.params["progress"].get("shown") or ())
    record_consent(db, account_id=session.account_id, client_id=ia.client_id, scope=params["scope"],
                   release=release, now=now)
    # The person's receipt of this grant (PDPA: consent is recorded and can be withdrawn).
    record_receipt(db, account_id=session.account_id, client_id=ia.client_id, scope=params["scope"],
                   release=release, now=now, policy=current_policy(db, ia.client_id))
    audit.record(db, "consent.granted", at=now, actor=session.account_id, client_id=ia.client_id,
                 session_id=session.id, ip=ip, scope=params["scope"], claims=list(release))
    ia.params = {**ia.params, "progress": {**ia.params["progress"], "consented": True}}
    # Consent is normally the last step: go straight back to the service with the code
    # (one redirect less). Anything else still asked for is shown by the interaction page.
    # Without autoflush: the interaction's change above is written once, at commit, with
    # the outcome ``finish`` adds (the steps read it from ``ia``, never from its row).
    with db.no_autoflush:
        following = advance(gw, db, ia, request, now, cookie_value=cookie_value, session=session)
    return following if following.redirect else Outcome(redirect=f"/interaction/{ia.id}")
