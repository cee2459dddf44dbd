"""Sign-in through upstream identity sources, inside a pending interaction (an e-service's
authorization request, or a sign-in to the gateway's own pages: ``client_id`` None).

ThaiD-style OIDC: /interaction/{id}/upstream/{name} -> the upstream's login -> /upstream/{name}/callback.
NDID: /interaction/{id}/upstream/{name} asks for the citizen ID and opens the request, then sends
the browser to its waiting page (idgw.web.ndid_pages: the waiting page, its status poll, Cancel
and the platform's callback).

This module holds the start and the OIDC callback. Each handler reads the request and runs named
step functions, one per transaction (``prepare_start``, ``store_attempt``; ``find_attempt``,
``finish_callback``), with the upstream's network calls (``begin_oidc``, ``begin_ndid``,
``complete``) between them, outside any transaction. What they answer (a failure page and its
ways on, a sign-in, ``render``) is ``idgw.web.upstream_steps``, shared with the NDID pages.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from idgw.assurance import current_policy
from idgw.depends import gateway_of
from idgw.login.interaction import alternatives, open_interaction
from idgw.login.raising import accepted_upstreams, floors
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.ratelimit import spend
from idgw.security import random_token, sha256_hex
from idgw.storage.models import Client, Interaction, UpstreamAttempt
from idgw.web.i18n import add_messages, t
from idgw.web.upstream_steps import (
    Failure,
    browser_hash,
    expired,
    fail,
    links,
    locale_of,
    render,
    sign_in,
    ui_of,
)
from policies import AAL, IAL, LevelError
from providers import UpstreamError, valid_citizen_id
from providers.ndid import short_reference

router = APIRouter()
ATTEMPT_TTL = 900

add_messages({
    "ndid_request_message_ref": {"th": "ยืนยันตัวตนเพื่อเข้าใช้บริการ {service} ผ่านระบบ idgw รหัสอ้างอิง {reference}",
                                 "en": "Confirm your identity to use {service} through idgw, reference {reference}"},
})


def callback_lookup(name: str, secret: str) -> str:
    """How an NDID attempt is found from its callback URL: the provider and the secret's hash."""
    return f"{name}:cb:{sha256_hex(secret)}"


def allowed_upstreams(gw, db, client_id: str | None) -> list:
    """The upstreams the service's policy accepts (all configured ones when it names none, and for
    a sign-in to the gateway's own pages, ``client_id`` None)."""
    return accepted_upstreams(gw.upstreams, current_policy(db, client_id) if client_id is not None else None)


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
