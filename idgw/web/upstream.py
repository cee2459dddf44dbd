"""Sign-in through upstream identity sources, inside a pending interaction (an e-service's
authorization request, or a sign-in to the gateway's own pages: ``client_id`` None).

ThaiD-style OIDC: /interaction/{id}/upstream/{name} -> the upstream's login -> /upstream/{name}/callback.
NDID: /interaction/{id}/upstream/{name} asks for the citizen ID and opens the request, then sends
the browser to its waiting page (idgw.web.ndid_pages: the waiting page, its status poll, Cancel
and the platform's callback).

This module holds the start and the OIDC callback, and the per-request steps both share with the
NDID pages, as plain functions of the gateway (``gw``), the database session and the request:
the failure page and its ways on (``fail``, ``expired``, ``links``), turning a verified identity
into the interaction's session (``sign_in``), and ``render``.

Every fault ends on a Thai/English page that offers a way on (retry, another way to sign in, or
back to the service), changes no account, issues nothing to the e-service, and is audited as
``upstream.failed``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from idgw import audit
from idgw.assurance import current_policy
from idgw.depends import gateway_of
from idgw.login.interaction import alternatives, mark_signed_in, open_interaction
from idgw.login.raising import accepted_upstreams, floors
from idgw.login.sessions import load_session
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.ratelimit import spend
from idgw.security import random_token, sha256_hex
from idgw.storage.models import Client, Interaction, UpstreamAttempt
from idgw.upstream import resolve_account, start_session
from idgw.web.errors import back_link
from idgw.web.i18n import add_messages, t
from idgw.web.refusals import disabled_text
from policies import AAL, IAL, LevelError
from providers import UpstreamError, valid_citizen_id
from providers.ndid import short_reference

router = APIRouter()
ATTEMPT_TTL = 900

add_messages({
    "upstream_choose_another": {"th": "เลือกวิธีเข้าสู่ระบบอื่น", "en": "Choose another way to sign in"},
    "upstream_sign_in_existing": {"th": "เข้าสู่ระบบบัญชีเดิม", "en": "Sign in to your existing account"},
    "ndid_request_message_ref": {"th": "ยืนยันตัวตนเพื่อเข้าใช้บริการ {service} ผ่านระบบ idgw รหัสอ้างอิง {reference}",
                                 "en": "Confirm your identity to use {service} through idgw, reference {reference}"},
    "ndid_outcome_rejected": {"th": "คำขอถูกปฏิเสธในแอปธนาคารหรือถูกยกเลิก ท่านจึงยังไม่ได้เข้าสู่ระบบ "
                                    "หากไม่ได้ตั้งใจปฏิเสธ ลองใหม่อีกครั้งหรือเลือกวิธีอื่น",
                              "en": "The request was declined in your bank app, or cancelled, so you are not "
                                    "signed in. If you did not mean to decline it, try again or choose another way."},
    "ndid_outcome_errored": {"th": "ธนาคารหรือผู้ให้บริการยืนยันตัวตนของท่านไม่ได้ (เช่น ไม่พบข้อมูลของท่านที่นั่น) "
                                   "ลองใหม่โดยยืนยันในแอปของธนาคารอื่น หรือเลือกวิธีเข้าสู่ระบบอื่น",
                             "en": "Your bank or provider could not confirm your identity (for example, it holds "
                                   "no identity for this citizen ID). Try again and approve in another bank's app, "
                                   "or choose another way to sign in."},
    "ndid_outcome_timed_out": {"th": "ไม่ได้รับคำตอบจากแอปธนาคารภายในเวลาที่กำหนด ท่านจึงยังไม่ได้เข้าสู่ระบบ",
                               "en": "No answer came from your bank app in time, so you are not signed in."},
    "ndid_outcome_complicated": {"th": "ธนาคารตอบไม่ตรงกัน (รายหนึ่งยืนยัน อีกรายปฏิเสธ) ระบบจึงให้เข้าสู่ระบบไม่ได้",
                                 "en": "Your banks gave different answers (one approved, another declined), so we "
                                       "cannot sign you in."},
})

_NDID_OUTCOMES = {f"ndid_outcome_{code}" for code in ("rejected", "errored", "timed_out", "complicated")}


def callback_lookup(name: str, secret: str) -> str:
    """How an NDID attempt is found from its callback URL: the provider and the secret's hash."""
    return f"{name}:cb:{sha256_hex(secret)}"


def allowed_upstreams(gw, db, client_id: str | None) -> list:
    """The upstreams the service's policy accepts (all configured ones when it names none, and for
    a sign-in to the gateway's own pages, ``client_id`` None)."""
    return accepted_upstreams(gw.upstreams, current_policy(db, client_id) if client_id is not None else None)


@dataclass
class Failure:
    """An error page: the message, its code, and the ways on (error.html's ``retry_url``,
    ``back_url``, ``back_label``)."""

    message: str
    code: str
    status: int = 400
    links: dict = field(default_factory=dict)
    ui_locales: str | None = None  # the interaction's, so that the page speaks the message's language


def finished(attempt: UpstreamAttempt, code: str) -> None:
    """Remember how an attempt ended (``signed_in``, ``cancelled``, or an error code), so that a
    reload of its waiting page, or the page after the status endpoint saw the end, shows the same."""
    attempt.state = {**(attempt.state or {}), "gateway_outcome": {"code": code}}


# -- per-request steps shared with idgw.web.ndid_pages -----------------------------------------------
def ui_of(ia: Interaction | None) -> str | None:
    return (ia.params.get("request") or {}).get("ui_locales") if ia is not None else None


def locale_of(gw, request: Request, ia: Interaction | None) -> str:
    return gw.pages.locale(request, ui_of(ia))


def browser_hash(request: Request) -> str:
    return sha256_hex(request.cookies.get("idgw_browser") or "")


def links(gw, db, request: Request, ia: Interaction | None, *, retry: str | None = None) -> dict:
    """Where an upstream failure page sends the person: back to the sign-in choices while the
    interaction can go on (and ``retry`` there), else back to the service (``back_link``);
    nothing for an interaction of another browser (error.html then offers the home page)."""
    if ia is None or ia.params.get("browser") != browser_hash(request):
        return {}
    locale = locale_of(gw, request, ia)
    if ia.completed_at is None and ia.expires_at > gw.clock.now():
        return {"back_url": f"/interaction/{ia.id}", "back_label": t("upstream_choose_another", locale),
                "retry_url": retry}
    return back_link(gw, db, ia, locale)


def message_for(code: str, locale: str, *, ndid: bool, error: UpstreamError | None = None) -> str:
    if ndid and f"ndid_outcome_{code}" in _NDID_OUTCOMES:
        return t(f"ndid_outcome_{code}", locale)
    if code == "link_needs_sign_in":
        return t("upstream_needs_local", locale)
    if code == "interaction_expired":
        return t("err_interaction_expired", locale)
    try:
        error = error or UpstreamError(code)
    except ValueError:
        return t("err_unexpected", locale)
    return error.message_th if locale == "th" else error.message_en


def fail(gw, request: Request, db, *, ia: Interaction | None, provider: str, error: UpstreamError, now: int,
         ip: str | None) -> Failure:
    audit.record(db, "upstream.failed", at=now, ip=ip, client_id=ia.client_id if ia else None,
                 provider=provider, code=error.code, detail=error.detail[:300])
    upstream = gw.upstreams.get(provider)
    message = message_for(error.code, locale_of(gw, request, ia), error=error,
                          ndid=upstream is not None and upstream.mode == "async")
    return Failure(message, error.code, ui_locales=ui_of(ia),
                   links=links(gw, db, request, ia, retry=f"/interaction/{ia.id}/upstream/{provider}" if ia else None))


def expired(gw, db, request: Request, ia: Interaction | None) -> Failure:
    own = ia if ia is not None and ia.params.get("browser") == browser_hash(request) else None
    return Failure(t("err_interaction_expired", locale_of(gw, request, own)), "interaction_expired",
                   links=links(gw, db, request, own), ui_locales=ui_of(own))


def needs_local(gw, request: Request, ia: Interaction) -> Failure:
    locale = locale_of(gw, request, ia)
    return Failure(t("upstream_needs_local", locale), "link_needs_sign_in", ui_locales=ui_of(ia),
                   links={"back_url": f"/interaction/{ia.id}",
                          "back_label": t("upstream_sign_in_existing", locale)})


def set_session_cookie(gw, response: Response, cookie: str) -> None:
    response.set_cookie(gw.settings.cookie_name, cookie, httponly=True, samesite="lax",
                        secure=gw.settings.cookie_secure, path="/")


def render(gw, request: Request, result) -> Response:
    """A ``Failure`` as error.html, ``("redirect", url[, cookie])``, or ``("page", template, status,
    context)``."""
    if isinstance(result, Failure):
        status = {"not_found": 404, "rate_limited": 429, "csrf": 403}.get(result.code, result.status)
        return gw.pages.render(request, "error.html", status=status, ui_locales=result.ui_locales,
                               message=result.message, code=result.code, **result.links)
    kind = result[0]
    if kind == "redirect":
        response: Response = RedirectResponse(result[1], status_code=303 if request.method == "POST" else 302)
        if len(result) > 2 and result[2]:
            set_session_cookie(gw, response, result[2])
        return response
    _, template, status, context = result
    return gw.pages.render(request, template, status=status, **context)


def sign_in(gw, db, request: Request, *, ia: Interaction, attempt: UpstreamAttempt, identity, now: int, ip):
    """Turn a verified upstream identity into the interaction's session (or ask to sign in to
    the existing account first, when the link needs that)."""
    cookie_name = gw.settings.cookie_name
    current = load_session(db, cookie=request.cookies.get(cookie_name), now=now)
    resolution = resolve_account(db, identity=identity, now=now, ip=ip,
                                 signed_in_account_id=current.account_id if current else None)
    attempt.finished_at = now
    if resolution.account is None:
        finished(attempt, "state_mismatch")
        return fail(gw, request, db, ia=ia, provider=identity.provider, now=now, ip=ip,
                    error=UpstreamError("state_mismatch", "the upstream subject now names another citizen"))
    if resolution.needs_local_sign_in:
        finished(attempt, "link_needs_sign_in")
        audit.record(db, "upstream.failed", at=now, ip=ip, client_id=ia.client_id, provider=identity.provider,
                     code="link_needs_sign_in")
        return needs_local(gw, request, ia)
    if resolution.account.disabled_at is not None:  # an administrator disabled it: no session
        finished(attempt, "account_disabled")
        audit.record(db, "upstream.failed", at=now, ip=ip, client_id=ia.client_id, provider=identity.provider,
                     code="account_disabled")
        return Failure(disabled_text(locale=locale_of(gw, request, ia), help_desk=gw.settings.help_desk),
                       "account_disabled", status=403, ui_locales=ui_of(ia), links=links(gw, db, request, ia))
    session, cookie = start_session(db, old_cookie=request.cookies.get(cookie_name),
                                    account=resolution.account, identity=identity, now=now, ip=ip,
                                    client_id=ia.client_id, user_agent=request.headers.get("user-agent"))
    mark_signed_in(ia, session)
    finished(attempt, "signed_in")
    return ("redirect", f"/interaction/{ia.id}", cookie)


# -- the start's decisions ---------------------------------------------------------------------------
def _provider_for(gw, db, ia: Interaction, name: str):
    provider = gw.upstreams.get(name)
    if provider is None or provider not in allowed_upstreams(gw, db, ia.client_id):
        return None
    return provider


def _floors(db, ia: Interaction) -> tuple[str, str]:
    """The IAL/AAL to ask NDID for: the service floors raised by the request's most preferred acr
    alternative (as at login); for a sign-in to the gateway's own pages, IAL 1.1 and the AAL the
    page needs (``params["local"]["aal"]``)."""
    if ia.client_id is None:
        try:
            aal = AAL.parse(str((ia.params.get("local") or {}).get("aal") or "1"))
        except LevelError:
            aal = AAL("1")  # the page checks the session's level itself
        return IAL("1.1").value, aal.value
    ial, aal = floors(current_policy(db, ia.client_id), alternatives(ia.params.get("requested") or {})[0])
    return ial.value, aal.value


# -- start ---------------------------------------------------------------------------------------
@router.api_route("/interaction/{iid}/upstream/{name}", methods=["GET", "POST"], include_in_schema=False)
async def start(iid: str, name: str, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request) if request.method == "POST" else {}
    csrf_ok = request.method == "GET" or gw.pages.check_csrf(request, form, f"upstream:{iid}")
    ip = gw.client_ip(request)
    browser = request.cookies.get("idgw_browser") or ""
    prepared = await in_transaction(gw.sessionmaker, ip, prepare_start, gw, request, iid, name, browser, csrf_ok)
    if isinstance(prepared, Failure):
        return render(gw, request, prepared)
    _, ia_id, ia_params, service, provider, floors = prepared
    locale = gw.pages.locale(request, ia_params["request"].get("ui_locales"))
    attempt_id = random_token(24)
    try:
        if provider.mode == "redirect":
            lookup, begun, target = await begin_oidc(gw, provider, name)
        else:
            cid = re.sub(r"[\s-]", "", form.get("citizen_id", ""))
            if request.method == "GET" or not valid_citizen_id(cid):
                return render(gw, request, citizen_id_page(gw, request, iid, ia_id, ia_params, provider, name,
                                                           form, browser, locale))
            lookup, begun, target = await begin_ndid(gw, provider, name, cid, service, floors, ia_id, attempt_id)
    except UpstreamError as exc:
        return render(gw, request, await in_transaction(gw.sessionmaker, ip, record_start_failure, gw, request,
                                                        ia_id, name, exc, ip))
    return render(gw, request, await in_transaction(gw.sessionmaker, ip, store_attempt, gw, attempt_id, name,
                                                    ia_id, browser, lookup, begun.state, target))


def prepare_start(gw, request: Request, iid: str, name: str, browser: str, csrf_ok: bool):
    """Whether this browser's interaction may start a sign-in with upstream ``name`` now (within
    the client IP's budget for a start that stores an attempt): ``("ok", interaction id, its
    params, the service's names, the provider, the NDID floors)``, or the ``Failure`` to show."""
    settings = gw.settings
    ip = gw.client_ip(request)
    db = current_db.get()
    now = gw.clock.now()
    ia = open_interaction(db, iid=iid, browser=browser, now=now)[0]
    if ia is None:
        return expired(gw, db, request, db.get(Interaction, iid) if len(iid) <= 64 else None)
    locale = locale_of(gw, request, ia)
    provider = _provider_for(gw, db, ia, name)
    if provider is None:
        return Failure(t("err_not_found", locale), "not_found", links=links(gw, db, request, ia),
                       ui_locales=ui_of(ia))
    if not csrf_ok:
        return Failure(t("err_csrf", locale), "csrf", links=links(gw, db, request, ia, retry=request.url.path),
                       ui_locales=ui_of(ia))
    if request.method == "POST" or provider.mode == "redirect":
        # Each start stores an attempt (and opens an NDID request): budgeted per IP (item 15).
        wait = spend(db, bucket="upstream", ip=ip, limit=settings.rate_per_ip, window=settings.rate_window,
                     now=now)
        if wait:
            return Failure(t("err_rate_limited", locale), "rate_limited", ui_locales=ui_of(ia),
                           links=links(gw, db, request, ia, retry=request.url.path))
    if ia.client_id is None:  # a sign-in to the gateway's own pages
        service = {lang: t("app_name", lang) for lang in ("th", "en")}
    else:
        client_name = db.get(Client, ia.client_id).name
        service = {"th": client_name, "en": client_name}
    floors = _floors(db, ia) if provider.mode == "async" else None
    return ("ok", ia.id, ia.params, service, provider, floors)


async def begin_oidc(gw, provider, name: str):
    """An OIDC upstream's login begun (network I/O: discovery, outside the database transaction):
    the attempt's lookup, what ``begin`` answered, and where the browser goes."""
    begun = await run_in_threadpool(
        lambda: provider.begin(redirect_uri=f"{gw.settings.issuer}/upstream/{name}/callback", acr_values=None))
    return f"{name}:{begun.state.get('state')}", begun, ("redirect", begun.url)


def citizen_id_page(gw, request: Request, iid: str, ia_id: str, ia_params: dict, provider, name: str, form: dict,
                    browser: str, locale: str):
    """NDID's start page, which asks for the citizen ID (again, with the error, after a POST of
    one that is not valid)."""
    status = 200 if request.method == "GET" else 400
    return ("page", "ndid_start.html", status, dict(
        provider_name=provider.display_name.get(locale, name), action=request.url.path,
        csrf_token=gw.pages.csrf_token(browser, f"upstream:{iid}"), citizen_id=form.get("citizen_id", ""),
        choose_url=f"/interaction/{ia_id}", ui_locales=ia_params["request"].get("ui_locales"),
        error=None if request.method == "GET" else t("citizen_id_invalid", locale)))


async def begin_ndid(gw, provider, name: str, cid: str, service: dict, floors: tuple, ia_id: str, attempt_id: str):
    """An NDID request opened at the node (network I/O, outside the database transaction): the
    attempt's lookup, what ``begin`` answered, and the waiting page the browser goes to."""
    min_ial, min_aal = floors
    reference_id = random_token(12)
    short = short_reference(reference_id)
    # The short reference goes into the message the IdP app shows, so the citizen can match it
    # with the waiting page.
    message = " / ".join(t("ndid_request_message_ref", lang, service=service[lang], reference=short)
                         for lang in ("th", "en"))
    # Security review item 1: the callback URL's secret is neither the attempt id (the
    # browser sees that) nor the reference id (shown to the citizen); only its hash is kept.
    secret = random_token(32)
    begun = await run_in_threadpool(lambda: provider.begin(
        citizen_id=cid, min_ial=min_ial, min_aal=min_aal, request_message=message,
        callback_url=f"{gw.settings.issuer}/upstream/{name}/ndid-callback/{secret}",
        reference_id=reference_id))
    return callback_lookup(name, secret), begun, ("redirect", f"/interaction/{ia_id}/upstream/{name}/wait/{attempt_id}")


def record_start_failure(gw, request: Request, ia_id: str, name: str, error: UpstreamError, ip) -> Failure:
    """A start the upstream refused or could not answer: audited, and its failure page."""
    db = current_db.get()
    return fail(gw, request, db, ia=db.get(Interaction, ia_id), provider=name, error=error, now=gw.clock.now(),
                ip=ip)


def store_attempt(gw, attempt_id: str, name: str, ia_id: str, browser: str, lookup: str, state, target):
    """The begun attempt stored, so that its callback or waiting page finds it; ``target``, where
    the browser goes, is the answer."""
    db = current_db.get()
    now = gw.clock.now()
    db.add(UpstreamAttempt(id=attempt_id, provider=name, interaction_id=ia_id, browser_hash=sha256_hex(browser),
                           lookup=lookup, state=state, created_at=now, expires_at=now + ATTEMPT_TTL))
    return target


# -- OIDC callback -------------------------------------------------------------------------------
@router.get("/upstream/{name}/callback", include_in_schema=False)
async def callback(name: str, request: Request, gw=Depends(gateway_of)) -> Response:
    params = dict(request.query_params)
    ip = gw.client_ip(request)
    provider = gw.upstreams.get(name)
    found = await in_transaction(gw.sessionmaker, ip, find_attempt, gw, request, name, params)
    if isinstance(found, Failure):
        return render(gw, request, found)
    _, attempt_id, state, ia_id = found
    try:
        identity = await run_in_threadpool(
            lambda: provider.complete(state=state, params=params,
                                      redirect_uri=f"{gw.settings.issuer}/upstream/{name}/callback"))
        error = None
    except UpstreamError as exc:
        identity, error = None, exc
    return render(gw, request, await in_transaction(gw.sessionmaker, ip, finish_callback, gw, request, name, ia_id,
                                                    attempt_id, identity, error))


def find_attempt(gw, request: Request, name: str, params: dict):
    """The open OIDC attempt this callback's ``state`` names, if it is this browser's, used up
    (single use, whatever happens next): ``("ok", attempt id, its state, interaction id)``, or
    the ``Failure`` to show."""
    ip = gw.client_ip(request)
    own = browser_hash(request)
    provider = gw.upstreams.get(name)
    db = current_db.get()
    now = gw.clock.now()
    # Only redirect-style (OIDC) upstreams answer here; an NDID name is not found (item 7).
    attempt = db.scalar(select(UpstreamAttempt).where(
        UpstreamAttempt.lookup == f"{name}:{params.get('state', '')}")) \
        if isinstance(params.get("state"), str) and 0 < len(params["state"]) <= 100 else None
    if provider is None or provider.mode != "redirect" or attempt is None or attempt.provider != name \
            or attempt.finished_at is not None or attempt.expires_at <= now \
            or attempt.browser_hash != own:
        # this browser's own interaction, if the attempt is its own: for the way back
        ia = db.get(Interaction, attempt.interaction_id) \
            if attempt is not None and attempt.browser_hash == own and attempt.interaction_id else None
        return fail(gw, request, db, ia=ia, provider=name, now=now, ip=ip,
                    error=UpstreamError("state_mismatch", "no open attempt for this state in this browser"))
    attempt.finished_at = now  # single use, whatever happens next
    return ("ok", attempt.id, attempt.state, attempt.interaction_id)


def finish_callback(gw, request: Request, name: str, ia_id: str, attempt_id: str, identity,
                    error: UpstreamError | None):
    """The upstream's answer (``identity``, or its ``error``) for the interaction: signed in, or
    the failure page (the interaction having ended meanwhile: the expired page)."""
    ip = gw.client_ip(request)
    db = current_db.get()
    now = gw.clock.now()
    ia = db.get(Interaction, ia_id)
    if error is not None:
        return fail(gw, request, db, ia=ia, provider=name, error=error, now=now, ip=ip)
    if ia is None or ia.completed_at is not None or ia.expires_at <= now:
        return expired(gw, db, request, ia)
    return sign_in(gw, db, request, ia=ia, attempt=db.get(UpstreamAttempt, attempt_id), identity=identity,
                   now=now, ip=ip)
