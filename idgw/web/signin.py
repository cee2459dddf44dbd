"""Sign-in to the gateway's own pages (the account page, staff pages): /signin with a password,
then /signin/stepup and /signin/factor/{kind} for a further factor when the page needs a higher AAL.
``next`` is only ever a local path (``safe_next``).

Each handler reads the request and runs one step function in one transaction (``passkey_step``,
``password_step``, ``factor_step``, ...), a plain function of the gateway and the request's
inputs using the transaction's session (``current_db``), then renders (``signin_page``,
``factor_page``, ``no_factor_page``)."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from idgw.depends import gateway_of
from idgw.login.passkey import passkey_sign_in
from idgw.login.password import check_password, locked_outcome, on_hashing_threads, precheck, record_failure, settle
from idgw.login.raising import factor_routes, upstream_reaches
from idgw.login.sessions import add_factor, load_session, replace_session
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.ratelimit import spend
from idgw.security import random_token, sha256_hex
from idgw.storage.models import Account, Interaction
from idgw.web.cookies import set_session_cookie
from idgw.web.i18n import add_messages, t
from idgw.web.raising import needs_in_words, refusal_key
from idgw.web.refusals import refusal_text
from policies import AAL, IAL, LevelError, ServicePolicy

#: The floors for staff pages: admins and officers sign in phishing-resistant (AAL 2.2, a passkey).
STAFF_POLICY = ServicePolicy(min_ial=IAL("1.1"), min_aal=AAL("2.2"))


add_messages({
    "staff_add_passkey": {"th": "หน้าสำหรับเจ้าหน้าที่ต้องเข้าสู่ระบบด้วยพาสคีย์หรือกุญแจความปลอดภัย "
                                "กรุณาเพิ่มพาสคีย์ที่หน้าบัญชีของท่าน แล้วเข้าสู่ระบบอีกครั้ง",
                          "en": "Staff pages need a sign-in with a passkey or security key. Add a passkey on your "
                                "account page, then sign in again."},
    "signin_add_factor": {"th": "กรุณาเพิ่มวิธียืนยันตัวตนที่หน้าบัญชีของท่าน แล้วลองอีกครั้ง",
                          "en": "Add a stronger way to sign in on your account page, then try again."},
    "open_my_account": {"th": "ไปที่บัญชีของฉัน", "en": "Go to my account"},
})


def safe_next(value: str | None) -> str:
    """Only local paths (no scheme, no //host): an open redirect would help phishing."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/admin/services"
    return value


router = APIRouter()


# -- sign-in for the gateway's own pages ---------------------------------------------------------
def query_of(next_path: str, need: AAL | None) -> str:
    return urlencode({"next": next_path, **({"aal": need.value} if need is not None else {})}, safe="/")


def requested_aal(request: Request) -> AAL | None:
    try:
        return AAL.parse(request.query_params["aal"]) if request.query_params.get("aal") else None
    except LevelError:
        return None


def needed(request: Request) -> AAL:
    return requested_aal(request) or STAFF_POLICY.min_aal


def upstream_links(gw, locale: str, next_path: str, need: AAL | None, *, only_enough: bool = False) -> list[dict]:
    """Each configured upstream as a /signin route, marked whether it reaches ``need``."""
    q = query_of(next_path, need)
    links = [dict(kind="upstream", method="get", href=f"/signin/upstream/{u.name}?{q}",
                  enough=upstream_reaches(u, ial=IAL("1.1"), aal=need or AAL("1")),
                  label=t("sign_in_with", locale, name=u.display_name.get(locale, u.name)))
             for u in gw.upstreams.values()]
    return [x for x in links if x["enough"]] if only_enough else links


def signin_page(gw, request: Request, *, next_path: str, error: str | None = None, username: str = "",
                status: int = 200) -> Response:
    """Every method the login page has: password, passkey, and each configured upstream (each
    marked when it cannot reach the AAL the page asks for)."""
    pages = gw.pages
    browser = pages.browser_id(request)
    locale = pages.locale(request)
    need = requested_aal(request)
    q = query_of(next_path, need)
    upstreams = upstream_links(gw, locale, next_path, need)
    response = pages.render(request, "login.html", status=status, action=f"/signin?{q}",
                            client_name=t("app_name", locale), csrf_token=pages.csrf_token(browser, "signin"),
                            error=error, username=username, upstreams=upstreams,
                            passkey_action=f"/signin/passkey?{q}", passkey_csrf=pages.csrf_token(browser, "signin"),
                            options_csrf=pages.csrf_token(browser, "webauthn"))
    pages.set_browser_cookie(response, browser)
    return response


@router.get("/signin", include_in_schema=False)
async def signin_form(request: Request, gw=Depends(gateway_of)) -> Response:
    """The sign-in choices; a person already signed in below the ``aal`` asked for goes on to
    raise it (a further factor) instead of signing in again from the start."""
    next_path = safe_next(request.query_params.get("next"))
    need = requested_aal(request)
    cookie = request.cookies.get(gw.settings.cookie_name)
    if need is not None and cookie:
        if await in_transaction(gw.sessionmaker, gw.client_ip(request), signed_in_below, gw, cookie, need):
            return RedirectResponse(f"/signin/stepup?{query_of(next_path, need)}", status_code=303)
    return signin_page(gw, request, next_path=next_path)


def signed_in_below(gw, cookie: str, need: AAL) -> bool:
    """Whether this browser's session is below ``need`` (then it raises, rather than signs in again)."""
    session = load_session(current_db.get(), cookie=cookie, now=gw.clock.now())
    return session is not None and AAL(session.aal) < need


@router.post("/signin/passkey", include_in_schema=False)
async def signin_passkey(request: Request, gw=Depends(gateway_of)) -> Response:
    """Usernameless sign-in with a discoverable credential (a passkey) to the gateway's pages."""
    pages = gw.pages
    next_path = safe_next(request.query_params.get("next"))
    form = await pages.read_form(request)
    if not pages.check_csrf(request, form, "signin"):
        return pages.error(request, "err_csrf", status=403)
    result = await in_transaction(gw.sessionmaker, gw.client_ip(request), passkey_step, gw, request,
                                  form.get("credential"))
    if result[0] == "error":
        return signin_page(gw, request, next_path=next_path, error=result[1], status=401)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(gw.settings, response, result[1])
    return response


def passkey_step(gw, request: Request, credential_json) -> tuple[str, str]:
    """A passkey sign-in's outcome: ``("ok", cookie)`` with a new session, or ``("error",
    message)`` saying why the credential was refused."""
    settings = gw.settings
    ip = gw.client_ip(request)
    db = current_db.get()
    now = gw.clock.now()
    result = passkey_sign_in(db, registry=gw.authenticators, credential_json=credential_json,
                             browser_hash=sha256_hex(request.cookies.get("idgw_browser") or ""), ip=ip, now=now,
                             settings=settings)
    if result.account is None:
        locale = gw.pages.locale(request)
        return ("error", t("passkey_rejected", locale, reason=result.rejected) if result.rejected
                else refusal_text(result.locked, locale=locale, help_desk=settings.help_desk))
    account, event = result.account, result.event
    _session, cookie = replace_session(db, old_cookie=request.cookies.get(settings.cookie_name), account=account,
                                       factor=event.factor, amr=list(event.amr), now=now, ip=ip,
                                       user_agent=request.headers.get("user-agent"))
    return ("ok", cookie)


@router.get("/signin/upstream/{name}", include_in_schema=False)
async def signin_upstream(name: str, request: Request, gw=Depends(gateway_of)) -> Response:
    """Sign in to the gateway's pages through an upstream (ThaiD, NDID): a sign-in interaction
    without an e-service (``client_id`` None), which the upstream pages complete like any other
    and /interaction/{id} then sends on to ``next`` (idgw.web.steps ``local_step``)."""
    pages = gw.pages
    next_path = safe_next(request.query_params.get("next"))
    need = requested_aal(request) or AAL("1")
    if name not in gw.upstreams:
        return pages.error(request, "err_not_found", status=404)
    browser = pages.browser_id(request)
    iid = await in_transaction(gw.sessionmaker, gw.client_ip(request), local_interaction, gw, request, browser,
                               next_path, need)
    if iid is None:
        return pages.error(request, "err_rate_limited", status=429)
    response = RedirectResponse(f"/interaction/{iid}/upstream/{name}", status_code=303)
    pages.set_browser_cookie(response, browser)
    return response


def local_interaction(gw, request: Request, browser: str, next_path: str, need: AAL) -> str | None:
    """A new interaction without a client for an upstream sign-in to the gateway's pages (its
    id), within the IP's /authorize budget (None past it)."""
    settings = gw.settings
    db = current_db.get()
    now = gw.clock.now()
    wait = spend(db, bucket="authorize", ip=gw.client_ip(request), limit=settings.rate_per_ip,
                 window=settings.rate_window, now=now)
    if wait:
        return None
    ia = Interaction(id=random_token(24), client_id=None, created_at=now,
                     expires_at=now + settings.interaction_ttl,
                     params={"request": {"ui_locales": request.query_params.get("ui_locales")},
                             "requested": {}, "progress": {}, "browser": sha256_hex(browser),
                             "local": {"next": next_path, "aal": need.value}})
    db.add(ia)
    return ia.id


@router.post("/signin", include_in_schema=False)
async def signin(request: Request, gw=Depends(gateway_of)) -> Response:
    pages, settings = gw.pages, gw.settings
    next_path = safe_next(request.query_params.get("next"))
    form = await pages.read_form(request)
    if not pages.check_csrf(request, form, "signin"):
        return pages.error(request, "err_csrf", status=403)
    username, password = form.get("username", ""), form.get("password", "")
    ip = gw.client_ip(request)
    check = await in_transaction(gw.sessionmaker, ip, password_precheck, gw, username, ip)
    # argon2id with no transaction open (see idgw.login.password.precheck)
    ok = check.refusal is None and await on_hashing_threads(gw.hashing, check_password, check, password)
    outcome, cookie = await in_transaction(gw.sessionmaker, ip, password_step, gw, request, check, ok)
    if cookie is None:
        message = refusal_text(outcome, locale=pages.locale(request), help_desk=settings.help_desk)
        status = {"invalid_credentials": 401, "throttled": 429}.get(outcome.error, 403)
        return signin_page(gw, request, next_path=next_path, error=message, username=username, status=status)
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(settings, response, cookie)
    return response


def password_precheck(gw, username: str, ip: str):
    """What the password check needs (``idgw.login.password.precheck``): the account's hash, or
    the refusal decided before any hashing (throttled, locked)."""
    return precheck(current_db.get(), username=username, ip=ip, now=gw.clock.now(), settings=gw.settings)


def password_step(gw, request: Request, check, ok: bool) -> tuple:
    """The password form's outcome, the hash already checked (``ok``): ``(outcome, cookie)`` with a
    new session, or ``(outcome, None)`` with the refusal."""
    settings = gw.settings
    ip = gw.client_ip(request)
    db = current_db.get()
    now = gw.clock.now()
    outcome = check.refusal or settle(db, check=check, ok=ok, ip=ip, now=now, settings=settings)
    if outcome.account is None:
        return outcome, None
    _session, cookie = replace_session(db, old_cookie=request.cookies.get(settings.cookie_name),
                                       account=outcome.account, factor="pwd", amr=["pwd"], now=now, ip=ip,
                                       user_agent=request.headers.get("user-agent"))
    return outcome, cookie


@router.get("/signin/stepup", include_in_schema=False)
async def signin_stepup(request: Request, gw=Depends(gateway_of)) -> Response:
    """Send a signed-in person to a factor that reaches ``aal`` (for the gateway's own pages)."""
    next_path = safe_next(request.query_params.get("next"))
    need = needed(request)
    routes = await in_transaction(gw.sessionmaker, gw.client_ip(request), stepup_routes, gw,
                                  request.cookies.get(gw.settings.cookie_name), need)
    if routes is None:
        return RedirectResponse(f"/signin?next={quote(next_path)}", status_code=303)
    if routes:
        return RedirectResponse(f"/signin/factor/{routes[0]}?{query_of(next_path, need)}", status_code=303)
    return no_factor_page(gw, request, next_path=next_path, need=need)


def stepup_routes(gw, cookie: str | None, need: AAL):
    """The signed-in person's factors that reach ``need`` (None when nobody is signed in)."""
    db = current_db.get()
    session = load_session(db, cookie=cookie, now=gw.clock.now())
    if session is None:
        return None
    account = db.get(Account, session.account_id)
    return factor_routes(registry=gw.authenticators, db=db, account=account, session=session, need=need)


def no_factor_page(gw, request: Request, *, next_path: str, need: AAL) -> Response:
    """None of the person's authenticators reaches ``need``: an upstream that does, else what to
    do (staff are told to add a passkey on their account page, with the link)."""
    pages = gw.pages
    locale = pages.locale(request)
    upstreams = upstream_links(gw, locale, next_path, need, only_enough=True)
    needs = needs_in_words(need_ial=None, need_aal=need, locale=locale)
    if upstreams:
        return pages.render(request, "raise.html", title=t("raise_title", locale),
                            client_name=t("app_name", locale), needs=needs, have=[], upstreams=upstreams,
                            enrol=[], cancel_url=None)
    staff = next_path.startswith("/admin") or next_path.startswith("/officer")
    return pages.render(request, "unmet.html", status=403, client_name=t("app_name", locale), needs=needs,
                        back_url=None, advice=t("staff_add_passkey" if staff else "signin_add_factor", locale),
                        advice_url="/account", advice_label=t("open_my_account", locale))


@router.api_route("/signin/factor/{kind}", methods=["GET", "POST"], include_in_schema=False)
async def signin_factor(kind: str, request: Request, gw=Depends(gateway_of)) -> Response:
    pages = gw.pages
    next_path = safe_next(request.query_params.get("next"))
    need = needed(request)
    form = await pages.read_form(request) if request.method == "POST" else {}
    csrf_ok = request.method == "GET" or pages.check_csrf(request, form, "signin-factor")
    browser = pages.browser_id(request)
    result = await in_transaction(gw.sessionmaker, gw.client_ip(request), factor_step, gw, request, kind, form,
                                  csrf_ok, next_path, need)
    if result[0] == "redirect":
        return RedirectResponse(result[1], status_code=303)
    if result[0] == "error":
        return pages.error(request, result[1], status=403)
    if result[0] == "refused":
        return pages.render(request, "error.html", status=result[2], message=result[1],
                            retry_url=f"/signin/factor/{kind}?{query_of(next_path, need)}")
    return factor_page(gw, request, kind=kind, next_path=next_path, need=need, browser=browser,
                       challenge=result[1], error=result[2], routes=result[3])


def factor_step(gw, request: Request, kind: str, form: dict, csrf_ok: bool, next_path: str, need: AAL) -> tuple:
    """A further factor's page (GET) or its answer checked (POST), for a ``kind`` that reaches
    ``need``: ``("redirect", url)`` (no session: sign in; not a route: on to ``next``; accepted:
    on to ``next``), ``("error", key)``, ``("refused", message, status)`` for a locked account, or
    ``("page", challenge, error key, routes)``."""
    settings = gw.settings
    ip = gw.client_ip(request)
    db = current_db.get()
    now = gw.clock.now()
    session = load_session(db, cookie=request.cookies.get(settings.cookie_name), now=now)
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
            return ("refused", refusal_text(locked, locale=gw.pages.locale(request), help_desk=settings.help_desk),
                    429 if locked.error == "throttled" else 403)
        fields = {**form, "_browser": sha256_hex(request.cookies.get("idgw_browser") or "")}
        event = authenticator.verify(db, account=account, session=session, form=fields, now=now)
        if event is not None:
            account.failed_logins = 0
            add_factor(db, session=session, factor=event.factor, amr=list(event.amr), now=now, ip=ip)
            return ("redirect", next_path)
        record_failure(db, account=account, ip=ip, now=now, settings=settings, reason="factor_rejected",
                       event="authenticator.failed", factor=kind)
        error = refusal_key(authenticator, db, account, fields, now)
    return ("page", authenticator.begin(db, account=account, session=session, now=now), error, routes)


def factor_page(gw, request: Request, *, kind: str, next_path: str, need: AAL, browser: str, challenge,
                error: str | None, routes) -> Response:
    """The factor's page: its challenge, the refusal if any, and the other ways that reach ``need``."""
    pages = gw.pages
    locale = pages.locale(request)
    q = query_of(next_path, need)
    # "Use another method": the person's other authenticators that reach the level (a recovery
    # code for a lost phone or passkey), then upstreams that do.
    others = [(f"/signin/factor/{k}?{q}", t(f"route_factor_{k}", locale)) for k in routes if k != kind]
    others += [(x["href"], x["label"]) for x in upstream_links(gw, locale, next_path, need, only_enough=True)]
    response = pages.render(
        request, "factor.html", status=401 if error else 200, title=challenge.title[locale],
        prompt=challenge.prompt[locale], input_label=challenge.input_label[locale], client_name="idgw",
        webauthn=bool(challenge.extra.get("webauthn")), options_csrf=pages.csrf_token(browser, "webauthn"),
        action=f"/signin/factor/{kind}?{q}",
        error=t(error, locale) if error else None,
        csrf_token=pages.csrf_token(browser, "signin-factor"), others=others)
    pages.set_browser_cookie(response, browser)
    return response
