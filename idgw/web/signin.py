"""Sign-in to the gateway's own pages (the account page, staff pages): /signin with a password,
then /signin/stepup and /signin/factor/{kind} for a further factor when the page needs a higher AAL.
``next`` is only ever a local path (``safe_next``)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from idgw.login.interaction import factor_routes
from idgw.login.password import check_password, locked_outcome, precheck, record_failure, settle
from idgw.login.sessions import add_factor, load_session, replace_session
from idgw.oidc.adapter import in_transaction
from idgw.oidc.provider import current_db
from idgw.security import sha256_hex
from idgw.storage.models import Account
from idgw.web.i18n import t
from policies import AAL, IAL, LevelError, ServicePolicy

#: The floors for staff pages: admins and officers sign in phishing-resistant (AAL 2.2, a passkey).
STAFF_POLICY = ServicePolicy(min_ial=IAL("1.1"), min_aal=AAL("2.2"))


def safe_next(value: str | None) -> str:
    """Only local paths (no scheme, no //host): an open redirect would help phishing."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/admin/services"
    return value


def router(gw) -> APIRouter:
    r = APIRouter()
    pages = gw.pages
    settings = gw.settings

    def set_session_cookie(response: Response, cookie: str) -> None:
        response.set_cookie(settings.cookie_name, cookie, httponly=True, samesite="lax",
                            secure=settings.cookie_secure, path="/")


    # -- sign-in for staff pages ---------------------------------------------------------------
    def signin_page(request: Request, *, next_path: str, error: str | None = None, username: str = "",
                    status: int = 200) -> Response:
        browser = pages.browser_id(request)
        response = pages.render(request, "login.html", status=status, action=f"/signin?next={quote(next_path)}",
                                client_name="idgw", csrf_token=pages.csrf_token(browser, "signin"), error=error,
                                username=username)
        pages.set_browser_cookie(response, browser)
        return response

    @r.get("/signin", include_in_schema=False)
    async def signin_form(request: Request) -> Response:
        return signin_page(request, next_path=safe_next(request.query_params.get("next")))

    @r.post("/signin", include_in_schema=False)
    async def signin(request: Request) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        form = await pages.read_form(request)
        if not pages.check_csrf(request, form, "signin"):
            return pages.error(request, "err_csrf", status=403)
        username, password = form.get("username", ""), form.get("password", "")
        ip = gw.client_ip(request)
        old_cookie = request.cookies.get(settings.cookie_name)

        check = await in_transaction(gw.sessionmaker, ip, lambda: precheck(
            current_db.get(), username=username, ip=ip, now=gw.clock.now(), settings=settings))
        # argon2id with no transaction open (see idgw.login.password.precheck)
        ok = check.refusal is None and await run_in_threadpool(check_password, check, password)

        def work():
            db = current_db.get()
            now = gw.clock.now()
            outcome = check.refusal or settle(db, check=check, ok=ok, ip=ip, now=now, settings=settings)
            if outcome.account is None:
                return outcome, None
            _session, cookie = replace_session(db, old_cookie=old_cookie, account=outcome.account, factor="pwd",
                                               amr=["pwd"], now=now, ip=ip,
                                              user_agent=request.headers.get("user-agent"))
            return outcome, cookie

        outcome, cookie = await in_transaction(gw.sessionmaker, ip, work)
        if cookie is None:
            message = t(outcome.error, pages.locale(request), seconds=max(outcome.retry_after, 1))
            status = {"invalid_credentials": 401, "throttled": 429}.get(outcome.error, 403)
            return signin_page(request, next_path=next_path, error=message, username=username, status=status)
        response = RedirectResponse(next_path, status_code=303)
        set_session_cookie(response, cookie)
        return response

    def needed(request: Request) -> AAL:
        try:
            return AAL.parse(request.query_params.get("aal") or STAFF_POLICY.min_aal.value)
        except LevelError:
            return STAFF_POLICY.min_aal

    @r.get("/signin/stepup", include_in_schema=False)
    async def signin_stepup(request: Request) -> Response:
        """Send a signed-in person to a factor that reaches ``aal`` (for the gateway's own pages)."""
        next_path = safe_next(request.query_params.get("next"))
        need = needed(request)

        def work():
            db = current_db.get()
            session = load_session(db, cookie=request.cookies.get(settings.cookie_name), now=gw.clock.now())
            if session is None:
                return None
            account = db.get(Account, session.account_id)
            return factor_routes(registry=gw.authenticators, db=db, account=account, session=session, need=need)

        routes = await in_transaction(gw.sessionmaker, gw.client_ip(request), work)
        if routes is None:
            return RedirectResponse(f"/signin?next={quote(next_path)}", status_code=303)
        if not routes:
            return pages.error(request, "err_need_stronger", code="unmet_authentication_requirements", status=403)
        return RedirectResponse(f"/signin/factor/{routes[0]}?next={quote(next_path)}&aal={need.value}",
                                status_code=303)

    @r.api_route("/signin/factor/{kind}", methods=["GET", "POST"], include_in_schema=False)
    async def signin_factor(kind: str, request: Request) -> Response:
        next_path = safe_next(request.query_params.get("next"))
        need = needed(request)
        form = await pages.read_form(request) if request.method == "POST" else {}
        csrf_ok = request.method == "GET" or pages.check_csrf(request, form, "signin-factor")
        cookie_value = request.cookies.get(settings.cookie_name)
        ip = gw.client_ip(request)
        browser = pages.browser_id(request)

        def work():
            db = current_db.get()
            now = gw.clock.now()
            session = load_session(db, cookie=cookie_value, now=now)
            if session is None:
                return ("redirect", f"/signin?next={quote(next_path)}")
            account = db.get(Account, session.account_id)
            routes = factor_routes(registry=gw.authenticators, db=db, account=account, session=session, need=need)
            if kind not in routes:
                return ("redirect", next_path)
            if not csrf_ok:
                return ("error", "err_csrf")
            authenticator = gw.authenticators.get(kind)
            error = None
            if request.method == "POST":
                locked = locked_outcome(account, now)
                if locked is not None:
                    return ("error", locked.error)
                fields = {**form, "_browser": sha256_hex(request.cookies.get("idgw_browser") or "")}
                event = authenticator.verify(db, account=account, session=session, form=fields, now=now)
                if event is not None:
                    account.failed_logins = 0
                    add_factor(db, session=session, factor=event.factor, amr=list(event.amr), now=now, ip=ip)
                    return ("redirect", next_path)
                record_failure(db, account=account, ip=ip, now=now, settings=settings, reason="factor_rejected",
                               event="authenticator.failed", factor=kind)
                error = "factor_invalid"
            return ("page", authenticator.begin(db, account=account, session=session, now=now), error)

        result = await in_transaction(gw.sessionmaker, ip, work)
        if result[0] == "redirect":
            return RedirectResponse(result[1], status_code=303)
        if result[0] == "error":
            return pages.error(request, result[1], status=403)
        challenge, error = result[1], result[2]
        locale = pages.locale(request)
        response = pages.render(
            request, "factor.html", status=401 if error else 200, title=challenge.title[locale],
            prompt=challenge.prompt[locale], input_label=challenge.input_label[locale], client_name="idgw",
            webauthn=bool(challenge.extra.get("webauthn")), options_csrf=pages.csrf_token(browser, "webauthn"),
            action=f"/signin/factor/{kind}?next={quote(next_path)}&aal={need.value}",
            error=t(error, locale) if error else None,
            csrf_token=pages.csrf_token(browser, "signin-factor"), others=[])
        pages.set_browser_cookie(response, browser)
        return response

    return r
