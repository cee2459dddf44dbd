"""The person-facing pages: sign-in and consent for a pending authorization request,
RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) and the home page."""

from __future__ import annotations

from urllib.parse import urlencode

from authlib.common.urls import add_params_to_uri
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import bindparam, select
from starlette.concurrency import run_in_threadpool

from idgw import audit
from idgw.account.consents import access_lasts, record_receipt
from idgw.assurance import current_policy
from idgw.authn import UnknownAuthenticatorError
from idgw.login.interaction import finish, mark_signed_in, next_step, open_interaction, record_consent, repeated
from idgw.login.passkey import passkey_sign_in
from idgw.login.password import check_password, locked_outcome, precheck, record_failure, settle
from idgw.login.sessions import add_factor, load_session, replace_session, sign_out
from idgw.oidc.adapter import InvalidParametersError, adapt, in_transaction
from idgw.oidc.provider import GrantSubject, current_db
from idgw.oidc.routes import AuthorizeError, issue_code, validate_authorization_request
from idgw.ratelimit import spend
from idgw.release import SCOPE_CLAIMS, describe
from idgw.security import random_token, sha256_hex
from idgw.storage.models import Account, Client, Consent, Interaction
from idgw.web.errors import back_to_service
from idgw.web.i18n import add_messages, format_datetime, t
from idgw.web.raising import decide_for, raise_context, refusal_key, route_links, unmet_context, upstream_choices
from idgw.web.refusals import refusal_text
from idgw.web.upstream import allowed_upstreams
from policies import AAL

add_messages({
    "consent_how_long": {"th": "การเข้าถึงนานเท่าใดและการถอนความยินยอม", "en": "How long access lasts, and withdrawing it"},
    "consent_withdraw_how": {"th": "ท่านถอนความยินยอมได้ทุกเมื่อ บริการจะหมดสิทธิ์เข้าถึงทันที ที่หน้า",
                             "en": "You can withdraw this at any time, and the service loses access at once, on"},
    "consent_connected_services": {"th": "บริการที่เชื่อมต่อในบัญชีของฉัน", "en": "Connected services in my account"},
    "consent_privacy": {"th": "ประกาศความเป็นส่วนตัว: ระบบนี้ใช้ข้อมูลของท่านอย่างไร",
                        "en": "Privacy notice: how this gateway uses your information"},
})

# Read on every interaction step: plain column reads, no ORM objects.
_CLIENT_NAME = select(Client.name).where(Client.client_id == bindparam("p_client_id"))
_CONSENTED = select(Consent.scope, Consent.claims).where(Consent.account_id == bindparam("p_account_id"),
                                                        Consent.client_id == bindparam("p_client_id"))


_UNLOADED = object()


class _Outcome:
    """What a page handler decided, computed inside the transaction and rendered outside it."""

    def __init__(self, *, redirect: str | None = None, page: str | None = None, status: int = 200,
                 context: dict | None = None, cookie: str | None = None, clear_cookie: bool = False,
                 error_key: str | None = None, code: str | None = None, ui_locales: str | None = None,
                 headers: dict | None = None):
        self.redirect, self.page, self.status, self.context = redirect, page, status, context or {}
        self.headers = headers or {}
        self.cookie, self.clear_cookie, self.error_key, self.code = cookie, clear_cookie, error_key, code
        self.ui_locales = ui_locales
        self.redirect_status: int | None = None


def router(gw) -> APIRouter:
    r = APIRouter()
    pages = gw.pages
    settings = gw.settings

    def respond(request: Request, out: _Outcome) -> Response:
        if out.redirect:
            status = out.redirect_status or (303 if request.method == "POST" else 302)
            response: Response = RedirectResponse(out.redirect, status_code=status)
        elif out.error_key:
            response = pages.render(request, "error.html", status=out.status, ui_locales=out.ui_locales,
                                    message=t(out.error_key, pages.locale(request, out.ui_locales)), code=out.code,
                                    **out.context)
        else:
            response = pages.render(request, out.page, status=out.status, ui_locales=out.ui_locales, **out.context)
        if out.cookie:
            response.set_cookie(settings.cookie_name, out.cookie, httponly=True, samesite="lax",
                                secure=settings.cookie_secure, path="/")
        response.headers.update(out.headers)
        if out.clear_cookie:
            response.delete_cookie(settings.cookie_name, path="/", httponly=True, samesite="lax",
                                   secure=settings.cookie_secure)
        return response

    def load_interaction(db, iid: str, request: Request, now: int, *, csrf_ok: bool = True):
        """The pending interaction, or the page that explains why it cannot continue."""
        browser = request.cookies.get("idgw_browser") or ""
        ia, reason = open_interaction(db, iid=iid, browser=browser, now=now)
        if reason == "not_found":
            return None, _Outcome(error_key="err_not_found", status=404)
        if reason is not None:
            # A repeated submit of a finished sign-in (double click, reload): the same answer again.
            result = repeated(db, iid=iid, browser=browser, now=now, within=settings.code_ttl)
            if result and result.get("kind") == "code":
                done = db.get(Interaction, iid)
                return None, _Outcome(redirect=gw.provider.code_location(
                    params=done.params["request"], code=gw.provider.derived_code(iid)))
            if result and result.get("kind") == "error":
                return None, _Outcome(redirect=result["location"])
            return None, _Outcome(error_key="err_interaction_expired", status=400,
                                  context=way_back(db, request, iid, browser))
        if not csrf_ok:
            # A stale form: the sign-in itself goes on; offer its current step again.
            return None, _Outcome(error_key="err_csrf", status=403, context=dict(
                back_url=f"/interaction/{ia.id}", back_label=t("errpage_sign_in_again", pages.locale(request))))
        return ia, None

    def way_back(db, request: Request, iid: str, browser: str) -> dict:
        """For a sign-in that cannot go on: a link back to its service (with access_denied and the
        service's state), only for the browser that started it."""
        ia = db.get(Interaction, iid) if len(iid) <= 64 else None
        if ia is None or sha256_hex(browser) != ia.params.get("browser"):
            return {}
        name = db.execute(_CLIENT_NAME, {"p_client_id": ia.client_id}).scalar() if ia.client_id else None
        locale = pages.locale(request, ia.params["request"].get("ui_locales"))
        return dict(back_url=back_to_service(gw, ia),
                    back_label=t("errpage_back_to_service", locale, service=name) if name
                    else t("errpage_sign_in_again", locale))

    def advance(db, ia: Interaction, request: Request, now: int, *, cookie_value: str | None,
                set_cookie: str | None = None, error: str | None = None, username: str | None = None,
                session=_UNLOADED, browser: str | None = None) -> _Outcome:
        """Decide and perform the next step of an interaction (``session``: already loaded for
        ``cookie_value`` in this transaction, if the caller has it; ``browser``: the browser id
        when it is being set by this very response)."""
        params = ia.params["request"]
        progress = ia.params["progress"]
        if session is _UNLOADED:
            session = load_session(db, cookie=cookie_value, now=now)
        if ia.client_id is None:
            return local_step(db, ia, session, now, set_cookie=set_cookie)
        client = db.execute(_CLIENT_NAME, {"p_client_id": ia.client_id}).first()
        account = db.get(Account, session.account_id) if session else None
        consented = db.execute(_CONSENTED, {"p_account_id": session.account_id,
                                            "p_client_id": ia.client_id}).first() if session else None
        upstreams = allowed_upstreams(gw, db, ia.client_id)
        policy = current_policy(db, ia.client_id)
        step = next_step(db=db, params=params, requested=ia.params.get("requested") or {}, progress=progress,
                         session=session, account=account, policy=policy,
                         consented_scope=consented.scope if consented else None,
                         consented_claims=consented.claims if consented else None, registry=gw.authenticators,
                         now=now, upstreams=upstreams)
        browser = browser if browser is not None else request.cookies.get("idgw_browser") or ""
        ui = params.get("ui_locales")
        locale = pages.locale(request, ui)
        if step.kind == "unmet":
            # Nothing here can reach the level: say why first, then back to the service with the error.
            location = gw.provider.authorization_error_redirect(
                redirect_uri=params["redirect_uri"], error=step.error, description=step.description,
                state=params.get("state"))
            if finish(db, ia=ia, now=now, result={"kind": "error", "location": location}):
                audit.record(db, "authorization.unmet", at=now, actor=account.id if account else None,
                             client_id=ia.client_id, session_id=session.id if session else None,
                             ip=gw.client_ip(request), error=step.error, reason=step.description)
            return _Outcome(page="unmet.html", status=403, ui_locales=ui, cookie=set_cookie,
                            context=unmet_context(step=step, client_name=client.name, locale=locale,
                                                  back_url=location))
        if step.kind == "raise":
            return _Outcome(page="raise.html", ui_locales=ui, cookie=set_cookie, status=401 if error else 200,
                            context=dict(error=error, cancel_csrf=pages.csrf_token(browser, f"cancel:{ia.id}"),
                                         **raise_context(gw, ia=ia, step=step, client_name=client.name,
                                                         locale=locale, browser=browser,
                                                         cancel_url=f"/interaction/{ia.id}/cancel")))
        if step.kind == "error":
            location = gw.provider.authorization_error_redirect(
                redirect_uri=params["redirect_uri"], error=step.error, description=step.description,
                state=params.get("state"))
            if finish(db, ia=ia, now=now, result={"kind": "error", "location": location}) \
                    and step.error in ("unmet_authentication_requirements", "access_denied"):
                audit.record(db, "authorization.unmet", at=now, actor=account.id if account else None,
                             client_id=ia.client_id, session_id=session.id if session else None,
                             ip=gw.client_ip(request), error=step.error, reason=step.description)
            return _Outcome(redirect=location, cookie=set_cookie)
        if step.kind == "login":
            return _Outcome(page="login.html", status=401 if error else 200, ui_locales=ui, cookie=set_cookie,
                            context=dict(action=f"/interaction/{ia.id}/login", client_name=client.name,
                                         csrf_token=pages.csrf_token(browser, f"login:{ia.id}"), error=error,
                                         passkey_action=f"/interaction/{ia.id}/passkey",
                                         upstreams=upstream_choices(ia.id, upstreams, policy=policy,
                                                                    requested=ia.params.get("requested") or {},
                                                                    locale=locale),
                                         cancel_url=f"/interaction/{ia.id}/cancel",
                                         cancel_csrf=pages.csrf_token(browser, f"cancel:{ia.id}"),
                                         passkey_csrf=pages.csrf_token(browser, f"login:{ia.id}"),
                                         options_csrf=pages.csrf_token(browser, "webauthn"),
                                         username=(username or params.get("login_hint") or "")[:200]))
        if step.kind == "factor":
            return factor_page(db, ia, request, now, kind=step.factors[0], step=step, account=account,
                               session=session, client=client, set_cookie=set_cookie, error=error, browser=browser)
        if step.kind == "consent":
            locale = pages.locale(request, ui)
            scopes = [t(f"scope_{s}", locale) for s in params["scope"].split() if f"scope_{s}" in _SCOPE_KEYS]
            shown = describe(step.release, scope=params["scope"])
            # what this page shows is what the Allow button records (not a later recomputation)
            ia.params = {**ia.params, "progress": {**progress, "shown": list(step.release)}}
            return _Outcome(page="consent.html", ui_locales=ui, cookie=set_cookie,
                            context=dict(action=f"/interaction/{ia.id}/consent", client_name=client.name,
                                         csrf_token=pages.csrf_token(browser, f"consent:{ia.id}"), scopes=scopes,
                                         extra_claims=[t(f"claim_{c}", locale) for c in shown["extra"]],
                                         verified_claims=[t(f"claim_{c}", locale) for c in shown["verified"]],
                                         ial=account.ial, account_name=_display_name(account, locale),
                                         auth_time=format_datetime(session.auth_time, locale),
                                         lasts=access_lasts(scope=params["scope"], settings=settings, locale=locale),
                                         cancel_url=f"/interaction/{ia.id}/cancel",
                                         cancel_csrf=pages.csrf_token(browser, f"cancel:{ia.id}")))
        if not finish(db, ia=ia, now=now, result={"kind": "code"}):
            # Another submit of this interaction got there first: answer with its code, not a new one.
            return _Outcome(redirect=gw.provider.code_location(params=params, code=gw.provider.derived_code(ia.id)),
                            cookie=set_cookie)
        subject = GrantSubject(account_id=session.account_id, session_id=session.id, auth_time=session.auth_time,
                               acr=step.acr, amr=list(session.amr), ial=session.ial, aal=session.aal,
                               claims=(ia.params.get("requested") or {}).get("claims"), release=step.release,
                               code_seed=ia.id)
        return _Outcome(redirect=issue_code(gw, params=params, subject=subject), cookie=set_cookie)

    def local_step(db, ia: Interaction, session, now: int, *, set_cookie=None) -> _Outcome:
        """A sign-in to the gateway's own pages begun through an upstream (/signin): on to ``next``
        once the session reaches the page's AAL, else back to /signin to go on from there."""
        local = ia.params["local"]
        query = urlencode({"next": local["next"], "aal": local.get("aal") or "1"})
        if session is None:
            return _Outcome(redirect=f"/signin?{query}", cookie=set_cookie)
        if AAL(session.aal) < AAL(local.get("aal") or "1"):
            return _Outcome(redirect=f"/signin/stepup?{query}", cookie=set_cookie)
        finish(db, ia=ia, now=now, result={"kind": "local"})
        return _Outcome(redirect=local["next"], cookie=set_cookie)

    def factor_page(db, ia, request, now, *, kind, step, account, session, client, set_cookie=None, error=None,
                    browser=None):
        locale = pages.locale(request, ia.params["request"].get("ui_locales"))
        challenge = gw.authenticators.get(kind).begin(db, account=account, session=session, now=now)
        if browser is None:
            browser = request.cookies.get("idgw_browser") or ""
        # "Use another method": every other route that reaches the level (recovery codes included).
        others = [(x["href"], x["label"]) for x in route_links(gw, iid=ia.id, routes=step.routes, locale=locale,
                                                               skip=kind) if x["method"] == "get"]
        return _Outcome(page="factor.html", status=401 if error else 200, cookie=set_cookie,
                        ui_locales=ia.params["request"].get("ui_locales"),
                        context=dict(action=f"/interaction/{ia.id}/factor/{kind}", client_name=client.name,
                                     csrf_token=pages.csrf_token(browser, f"factor:{ia.id}"),
                                     webauthn=bool(challenge.extra.get("webauthn")),
                                     options_csrf=pages.csrf_token(browser, "webauthn"),
                                     title=challenge.title[locale], prompt=challenge.prompt[locale],
                                     input_label=challenge.input_label[locale], error=error, others=others,
                                     cancel_url=f"/interaction/{ia.id}/cancel",
                                     cancel_csrf=pages.csrf_token(browser, f"cancel:{ia.id}")))

    @r.api_route("/interaction/{iid}/factor/{kind}", methods=["GET", "POST"], include_in_schema=False)
    async def factor(iid: str, kind: str, request: Request) -> Response:
        form = await pages.read_form(request) if request.method == "POST" else {}
        csrf_ok = request.method == "GET" or pages.check_csrf(request, form, f"factor:{iid}")
        cookie_value = request.cookies.get(settings.cookie_name)
        ip = gw.client_ip(request)
        # The browser binding for WebAuthn challenges (the authenticator never sees cookies).
        fields = {**form, "_browser": sha256_hex(request.cookies.get("idgw_browser") or "")}

        def work():
            db = current_db.get()
            now = gw.clock.now()
            ia, problem = load_interaction(db, iid, request, now, csrf_ok=csrf_ok)
            if problem:
                return problem
            session = load_session(db, cookie=cookie_value, now=now)
            if session is None:
                return _Outcome(redirect=f"/interaction/{ia.id}")
            account = db.get(Account, session.account_id)
            step = decide_for(gw, db, ia, session, account, now)
            if step.kind != "factor" or kind not in step.factors:
                # Not a route this person may use now (or nothing to step up): back to the decision.
                return _Outcome(redirect=f"/interaction/{ia.id}")
            client = db.get(Client, ia.client_id)
            if request.method == "GET":
                return factor_page(db, ia, request, now, kind=kind, step=step, account=account,
                                   session=session, client=client)
            try:
                authenticator = gw.authenticators.get(kind)
            except UnknownAuthenticatorError:
                return _Outcome(error_key="err_not_found", status=404)
            locale = pages.locale(request, ia.params["request"].get("ui_locales"))
            locked = locked_outcome(account, now)
            if locked is not None:
                message = refusal_text(locked, locale=locale, help_desk=settings.help_desk)
                out = factor_page(db, ia, request, now, kind=kind, step=step, account=account, session=session,
                                  client=client, error=message)
                out.status = 429 if locked.error == "throttled" else 403
                return out
            event = authenticator.verify(db, account=account, session=session, form=fields, now=now)
            if event is None:
                record_failure(db, account=account, ip=ip, now=now, settings=settings, client_id=ia.client_id,
                               reason="factor_rejected", event="authenticator.failed", factor=kind)
                return factor_page(db, ia, request, now, kind=kind, step=step, account=account,
                                   session=session, client=client, error=t(refusal_key(authenticator, db, account,
                                                                                       fields, now), locale))
            account.failed_logins = 0
            add_factor(db, session=session, factor=event.factor, amr=list(event.amr), now=now, ip=ip,
                       client_id=ia.client_id)
            mark_signed_in(ia, session)
            return _Outcome(redirect=f"/interaction/{ia.id}")

        return respond(request, await in_transaction(gw.sessionmaker, ip, work))

    @r.api_route("/authorize", methods=["GET", "POST"], include_in_schema=False)
    async def authorize(request: Request) -> Response:
        """The authorization endpoint. A valid request becomes an interaction whose first step is
        answered at once: the page to show (sign-in, a further factor, consent), or straight back
        to the service when nothing is needed. Later steps live under /interaction/{id}."""
        try:
            areq = await adapt(request, issuer=settings.issuer, timeout=settings.body_timeout)
        except InvalidParametersError as exc:
            return pages.error(request, "err_invalid_request", code=f"invalid_request: {exc}", status=400)
        cookie = request.cookies.get(settings.cookie_name)
        browser = pages.browser_id(request)

        def work():
            db = current_db.get()
            now = gw.clock.now()
            session = load_session(db, cookie=cookie, now=now)
            params, requested = validate_authorization_request(gw, areq, has_session=session is not None)
            wait = spend(db, bucket="authorize", ip=gw.client_ip(request), limit=settings.rate_per_ip,
                         window=settings.rate_window, now=now)
            if wait:
                return _Outcome(error_key="err_rate_limited", status=429, ui_locales=params.get("ui_locales"),
                                headers={"Retry-After": str(wait)})
            ia = Interaction(id=random_token(24), client_id=params["client_id"],
                             params={"request": params, "requested": requested, "progress": {},
                                     "browser": sha256_hex(browser)},
                             created_at=now, expires_at=now + settings.interaction_ttl)
            out = advance(db, ia, request, now, cookie_value=cookie, session=session, browser=browser)
            if not out.redirect:
                db.add(ia)  # a page: later steps need it. Answered at once (a code or an error): nothing kept.
            return out

        try:
            out = await in_transaction(gw.sessionmaker, gw.client_ip(request), work)
        except AuthorizeError as err:
            if err.redirect_uri:
                return RedirectResponse(gw.provider.authorization_error_redirect(
                    redirect_uri=err.redirect_uri, error=err.error, description=err.description,
                    state=err.state), status_code=302)
            # RFC 6749 §4.1.2.1: never redirect before the client and redirect URI are verified.
            return pages.error(request, err.page_key, code=f"{err.error}: {err.description}", status=400)
        if out.redirect:
            out.redirect_status = 302  # RFC 6749 §4.1.2 (also for a POSTed request)
        response = respond(request, out)
        pages.set_browser_cookie(response, browser)
        return response

    @r.get("/interaction/{iid}", include_in_schema=False)
    async def interaction(iid: str, request: Request) -> Response:
        cookie_value = request.cookies.get(settings.cookie_name)

        def work():
            db = current_db.get()
            now = gw.clock.now()
            ia, problem = load_interaction(db, iid, request, now)
            return problem or advance(db, ia, request, now, cookie_value=cookie_value)

        return respond(request, await in_transaction(gw.sessionmaker, gw.client_ip(request), work))

    @r.post("/interaction/{iid}/login", include_in_schema=False)
    async def login(iid: str, request: Request) -> Response:
        form = await pages.read_form(request)
        csrf_ok = pages.check_csrf(request, form, f"login:{iid}")
        username = str(form.get("username") or "")
        password = str(form.get("password") or "")
        ip = gw.client_ip(request)
        old_cookie = request.cookies.get(settings.cookie_name)

        def first():
            db = current_db.get()
            now = gw.clock.now()
            _ia, problem = load_interaction(db, iid, request, now, csrf_ok=csrf_ok)
            if problem:
                return problem, None
            return None, precheck(db, username=username, ip=ip, now=now, settings=settings)

        problem, check = await in_transaction(gw.sessionmaker, ip, first)
        if problem is not None:
            return respond(request, problem)
        # argon2id with no transaction open (it would hold SQLite's write lock for ~25 ms)
        ok = check.refusal is None and await run_in_threadpool(check_password, check, password)

        def work():
            db = current_db.get()
            now = gw.clock.now()
            ia, problem = load_interaction(db, iid, request, now, csrf_ok=csrf_ok)
            if problem:
                return problem
            outcome = check.refusal or settle(db, check=check, ok=ok, ip=ip, now=now, settings=settings,
                                              client_id=ia.client_id)
            if outcome.account is None:
                locale = pages.locale(request, ia.params["request"].get("ui_locales"))
                message = refusal_text(outcome, locale=locale, help_desk=settings.help_desk)
                out = advance(db, ia, request, now, cookie_value=old_cookie, error=message, username=username)
                if outcome.error != "invalid_credentials":
                    out.status = 429 if outcome.error == "throttled" else 403
                return out
            session, cookie = replace_session(db, old_cookie=old_cookie, account=outcome.account, factor="pwd",
                                              amr=["pwd"], now=now, ip=ip, client_id=ia.client_id,
                                              user_agent=request.headers.get("user-agent"))
            mark_signed_in(ia, session)
            return _Outcome(redirect=f"/interaction/{ia.id}", cookie=cookie)

        return respond(request, await in_transaction(gw.sessionmaker, ip, work))

    @r.post("/interaction/{iid}/passkey", include_in_schema=False)
    async def passkey_login(iid: str, request: Request) -> Response:
        """Usernameless sign-in with a discoverable credential from the login page."""
        form = await pages.read_form(request)
        csrf_ok = pages.check_csrf(request, form, f"login:{iid}")
        ip = gw.client_ip(request)
        old_cookie = request.cookies.get(settings.cookie_name)
        browser_hash = sha256_hex(request.cookies.get("idgw_browser") or "")

        def work():
            db = current_db.get()
            now = gw.clock.now()
            ia, problem = load_interaction(db, iid, request, now, csrf_ok=csrf_ok)
            if problem:
                return problem
            result = passkey_sign_in(db, registry=gw.authenticators, credential_json=form.get("credential"),
                                     browser_hash=browser_hash, ip=ip, now=now, settings=settings,
                                     client_id=ia.client_id)
            if result.account is None:
                locale = pages.locale(request, ia.params["request"].get("ui_locales"))
                message = t("passkey_rejected", locale, reason=result.rejected) if result.rejected \
                    else refusal_text(result.locked, locale=locale, help_desk=settings.help_desk)
                return advance(db, ia, request, now, cookie_value=old_cookie, error=message)
            account, event = result.account, result.event
            session, cookie = replace_session(db, old_cookie=old_cookie, account=account, factor=event.factor,
                                              amr=list(event.amr), now=now, ip=ip, client_id=ia.client_id,
                                              user_agent=request.headers.get("user-agent"))
            mark_signed_in(ia, session)
            return _Outcome(redirect=f"/interaction/{ia.id}", cookie=cookie)

        return respond(request, await in_transaction(gw.sessionmaker, ip, work))

    @r.post("/interaction/{iid}/cancel", include_in_schema=False)
    async def cancel(iid: str, request: Request) -> Response:
        """The way out of every sign-in page: back to the service with ``access_denied`` (the
        interaction ends; nothing is released)."""
        form = await pages.read_form(request)
        csrf_ok = pages.check_csrf(request, form, f"cancel:{iid}")
        ip = gw.client_ip(request)
        cookie_value = request.cookies.get(settings.cookie_name)

        def work():
            db = current_db.get()
            now = gw.clock.now()
            ia, problem = load_interaction(db, iid, request, now, csrf_ok=csrf_ok)
            if problem:
                return problem
            if ia.client_id is None:
                finish(db, ia=ia, now=now, result={"kind": "local"})
                return _Outcome(redirect="/")
            params = ia.params["request"]
            location = gw.provider.authorization_error_redirect(
                redirect_uri=params["redirect_uri"], error="access_denied",
                description="The person cancelled the sign-in", state=params.get("state"))
            if finish(db, ia=ia, now=now, result={"kind": "error", "location": location}):
                session = load_session(db, cookie=cookie_value, now=now)
                audit.record(db, "authorization.denied", at=now, actor=session.account_id if session else None,
                             client_id=ia.client_id, session_id=session.id if session else None, ip=ip,
                             reason="cancelled")
            return _Outcome(redirect=location)

        return respond(request, await in_transaction(gw.sessionmaker, ip, work))

    @r.post("/interaction/{iid}/consent", include_in_schema=False)
    async def consent(iid: str, request: Request) -> Response:
        form = await pages.read_form(request)
        csrf_ok = pages.check_csrf(request, form, f"consent:{iid}")
        decision = form.get("decision")
        cookie_value = request.cookies.get(settings.cookie_name)
        ip = gw.client_ip(request)

        def work():
            db = current_db.get()
            now = gw.clock.now()
            ia, problem = load_interaction(db, iid, request, now, csrf_ok=csrf_ok)
            if problem:
                return problem
            session = load_session(db, cookie=cookie_value, now=now)
            if session is None:
                return advance(db, ia, request, now, cookie_value=cookie_value)
            params = ia.params["request"]
            if decision != "allow":
                location = gw.provider.authorization_error_redirect(
                    redirect_uri=params["redirect_uri"], error="access_denied",
                    description="The person declined the request", state=params.get("state"))
                if finish(db, ia=ia, now=now, result={"kind": "error", "location": location}):
                    audit.record(db, "authorization.denied", at=now, actor=session.account_id,
                                 client_id=ia.client_id, session_id=session.id, ip=ip)
                return _Outcome(redirect=location)
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
            following = advance(db, ia, request, now, cookie_value=cookie_value, session=session)
            return following if following.redirect else _Outcome(redirect=f"/interaction/{ia.id}")

        return respond(request, await in_transaction(gw.sessionmaker, ip, work))

    @r.api_route("/logout", methods=["GET", "POST"], include_in_schema=False)
    async def logout(request: Request) -> Response:
        if request.method == "POST":
            data = await pages.read_form(request)
        else:
            data = dict(request.query_params)
        hint = data.get("id_token_hint")
        hint_claims = None
        if hint:
            try:
                # An expired ID token is still a valid hint (RP-Initiated Logout §2); only an ID
                # token is (typ JWT: not an access token, at+jwt, nor a logout token, logout+jwt).
                hint_claims = gw.provider.verify_own_jwt(hint, typ="JWT", check_exp=False)
                if "scope" in hint_claims or "events" in hint_claims or "sid" not in hint_claims:
                    raise ValueError("not an ID token")
            except ValueError as exc:
                return pages.error(request, "err_invalid_request", code=f"invalid id_token_hint: {exc}")
        client_id = data.get("client_id")
        if hint_claims is not None:
            aud = hint_claims.get("aud")
            if client_id and client_id != aud:
                return pages.error(request, "err_invalid_request", code="client_id does not match id_token_hint")
            client_id = aud if isinstance(aud, str) else client_id
        post_logout = data.get("post_logout_redirect_uri")
        state = data.get("state")
        cookie_value = request.cookies.get(settings.cookie_name)
        ip = gw.client_ip(request)
        csrf_ok = request.method == "POST" and pages.check_csrf(request, data, "logout")
        confirmed = request.method == "POST" and data.get("logout") == "yes" and csrf_ok

        def work():
            db = current_db.get()
            now = gw.clock.now()
            if post_logout:
                client = db.get(Client, client_id) if client_id else None
                # Exact match against the registered list; otherwise no redirect at all.
                if client is None or post_logout not in (client.post_logout_redirect_uris or []):
                    return _Outcome(error_key="err_redirect_uri", code="invalid post_logout_redirect_uri", status=400,
                                    ui_locales=data.get("ui_locales"))
            session = load_session(db, cookie=cookie_value, now=now)
            # The RP proved it holds an ID token for this very session: no need to ask.
            proven = session is not None and hint_claims is not None and hint_claims.get("sid") == session.id
            if request.method == "POST" and not csrf_ok:
                return _Outcome(error_key="err_csrf", status=403)
            if session is not None and not (proven or confirmed):
                if request.method == "POST":  # answered "no"
                    return _Outcome(page="home.html", context={"account_name": None})
                carry = [(k, v) for k, v in data.items()
                         if k in ("id_token_hint", "post_logout_redirect_uri", "state", "client_id", "ui_locales")]
                browser = request.cookies.get("idgw_browser") or ""
                return _Outcome(page="logout.html", ui_locales=data.get("ui_locales"),
                                context=dict(done=False, carry=carry, csrf_token=pages.csrf_token(browser, "logout")))
            if session is not None:
                sign_out(db, session=session, now=now, ip=ip, reason="logout", client_id=client_id)
            if post_logout:
                target = add_params_to_uri(post_logout, [("state", state)]) if state else post_logout
                return _Outcome(redirect=target, clear_cookie=True)
            return _Outcome(page="logout.html", context=dict(done=True), clear_cookie=True,
                            ui_locales=data.get("ui_locales"))

        response = respond(request, await in_transaction(gw.sessionmaker, ip, work))
        gw.backchannel.wake()
        if request.method == "GET":
            browser = pages.browser_id(request)
            if request.cookies.get("idgw_browser") != browser:
                pages.set_browser_cookie(response, browser)
        return response

    @r.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        cookie_value = request.cookies.get(settings.cookie_name)

        def work():
            db = current_db.get()
            session = load_session(db, cookie=cookie_value, now=gw.clock.now())
            account = db.get(Account, session.account_id) if session else None
            return _display_name(account, pages.locale(request)) if account else None

        name = await in_transaction(gw.sessionmaker, gw.client_ip(request), work)
        return pages.render(request, "home.html", account_name=name)

    return r


_SCOPE_KEYS = {f"scope_{s}" for s in ["openid", *SCOPE_CLAIMS, "offline_access"]}


def _display_name(account: Account, locale: str) -> str:
    if locale == "th" and account.given_name_th:
        return f"{account.given_name_th} {account.family_name_th or ''}".strip()
    name = " ".join(p for p in (account.given_name, account.family_name) if p)
    return name or account.username
