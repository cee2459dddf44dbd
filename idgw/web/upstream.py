"""Sign-in through upstream identity sources, inside a pending authorization request.

ThaiD-style OIDC: /interaction/{id}/upstream/{name} -> the upstream's login -> /upstream/{name}/callback.
NDID: /interaction/{id}/upstream/{name} asks for the citizen ID, opens the request, and shows a
waiting page that refreshes itself (no script) until the platform's callback (to a capability
URL per attempt) says the citizen answered in their bank app.

Every fault ends on a Thai/English page with a retry, changes no account, issues nothing to the
e-service, and is audited as ``upstream.failed``.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from idgw import audit, jsontext
from idgw.assurance import current_policy
from idgw.httpio import BodyError, read_body
from idgw.login.interaction import alternatives, mark_signed_in, open_interaction
from idgw.login.sessions import load_session
from idgw.oidc.adapter import in_transaction
from idgw.oidc.provider import current_db
from idgw.ratelimit import spend
from idgw.security import random_token, sha256_hex
from idgw.storage.models import Client, Interaction, UpstreamAttempt
from idgw.upstream import resolve_account, start_session
from idgw.web.i18n import t
from providers import UpstreamError, valid_citizen_id

ATTEMPT_TTL = 900
CALLBACK_MAX = 64 * 1024


def callback_lookup(name: str, secret: str) -> str:
    """How an NDID attempt is found from its callback URL: the provider and the secret's hash."""
    return f"{name}:cb:{sha256_hex(secret)}"


def _hint_count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _json_error(status: int, error: str, description: str | None = None) -> Response:
    body = {"error": error, **({"error_description": description} if description else {})}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def allowed_upstreams(gw, db, client_id: str) -> list:
    """The upstreams the service's policy accepts (all configured ones when it names none)."""
    policy = current_policy(db, client_id)
    names = policy.allowed_providers if policy is not None else None
    return [p for name, p in gw.upstreams.items() if names is None or name in names]


def router(gw) -> APIRouter:
    r = APIRouter()
    pages = gw.pages
    settings = gw.settings

    def locale_of(request: Request, ia: Interaction | None) -> str:
        return pages.locale(request, ia.params["request"].get("ui_locales") if ia else None)

    def fail(request: Request, db, *, ia: Interaction | None, provider: str, error: UpstreamError, now: int,
             ip: str | None):
        audit.record(db, "upstream.failed", at=now, ip=ip, client_id=ia.client_id if ia else None,
                     provider=provider, code=error.code, detail=error.detail[:300])
        locale = locale_of(request, ia)
        retry = f"/interaction/{ia.id}/upstream/{provider}" if ia and ia.completed_at is None else None
        return ("error", error.message_th if locale == "th" else error.message_en, error.code, retry)

    def interaction_for(db, request: Request, iid: str, now: int):
        return open_interaction(db, iid=iid, browser=request.cookies.get("idgw_browser") or "", now=now)[0]

    def provider_for(db, ia: Interaction, name: str):
        provider = gw.upstreams.get(name)
        if provider is None or provider not in allowed_upstreams(gw, db, ia.client_id):
            return None
        return provider

    def render(request: Request, result) -> Response:
        kind = result[0]
        if kind == "redirect":
            response: Response = RedirectResponse(result[1], status_code=303 if request.method == "POST" else 302)
            if len(result) > 2 and result[2]:
                response.set_cookie(settings.cookie_name, result[2], httponly=True, samesite="lax",
                                    secure=settings.cookie_secure, path="/")
            return response
        if kind == "error":
            _, message, code, retry = result
            status = {"not_found": 404, "rate_limited": 429, "csrf": 403}.get(code, 400)
            return pages.render(request, "error.html", status=status, message=message, code=code, retry_url=retry)
        _, template, status, context = result
        return pages.render(request, template, status=status, **context)

    def sign_in(db, request: Request, *, ia: Interaction, attempt: UpstreamAttempt, identity, now: int, ip):
        """Turn a verified upstream identity into the interaction's session (or ask to sign in to
        the existing account first, when the link needs that)."""
        current = load_session(db, cookie=request.cookies.get(settings.cookie_name), now=now)
        resolution = resolve_account(db, identity=identity, now=now, ip=ip,
                                     signed_in_account_id=current.account_id if current else None)
        attempt.finished_at = now
        if resolution.account is None:
            return fail(request, db, ia=ia, provider=identity.provider, now=now, ip=ip,
                        error=UpstreamError("state_mismatch", "the upstream subject now names another citizen"))
        if resolution.needs_local_sign_in:
            audit.record(db, "upstream.failed", at=now, ip=ip, client_id=ia.client_id, provider=identity.provider,
                         code="link_needs_sign_in")
            locale = locale_of(request, ia)
            return ("error", t("upstream_needs_local", locale), "link_needs_sign_in", f"/interaction/{ia.id}")
        session, cookie = start_session(db, old_cookie=request.cookies.get(settings.cookie_name),
                                        account=resolution.account, identity=identity, now=now, ip=ip,
                                        client_id=ia.client_id, user_agent=request.headers.get("user-agent"))
        mark_signed_in(ia, session)
        return ("redirect", f"/interaction/{ia.id}", cookie)

    # -- start ----------------------------------------------------------------------------------
    @r.api_route("/interaction/{iid}/upstream/{name}", methods=["GET", "POST"], include_in_schema=False)
    async def start(iid: str, name: str, request: Request) -> Response:
        form = await pages.read_form(request) if request.method == "POST" else {}
        csrf_ok = request.method == "GET" or pages.check_csrf(request, form, f"upstream:{iid}")
        ip = gw.client_ip(request)
        browser = request.cookies.get("idgw_browser") or ""

        def prepare():
            db = current_db.get()
            now = gw.clock.now()
            ia = interaction_for(db, request, iid, now)
            if ia is None:
                return ("error", t("err_interaction_expired", locale_of(request, None)), "interaction_expired", None)
            provider = provider_for(db, ia, name)
            if provider is None:
                return ("error", t("err_not_found", locale_of(request, ia)), "not_found", None)
            if not csrf_ok:
                return ("error", t("err_csrf", locale_of(request, ia)), "csrf", None)
            if request.method == "POST" or provider.mode == "redirect":
                # Each start stores an attempt (and opens an NDID request): budgeted per IP (item 15).
                wait = spend(db, bucket="upstream", ip=ip, limit=settings.rate_per_ip, window=settings.rate_window,
                             now=now)
                if wait:
                    return ("error", t("err_rate_limited", locale_of(request, ia)), "rate_limited", None)
            client = db.get(Client, ia.client_id)
            return ("ok", ia.id, ia.params, client.name, provider)

        prepared = await in_transaction(gw.sessionmaker, ip, prepare)
        if prepared[0] != "ok":
            return render(request, prepared)
        _, ia_id, ia_params, client_name, provider = prepared
        locale = pages.locale(request, ia_params["request"].get("ui_locales"))
        attempt_id = random_token(24)
        try:
            if provider.mode == "redirect":
                # network I/O (discovery) outside the database transaction
                begun = await run_in_threadpool(
                    lambda: provider.begin(redirect_uri=f"{settings.issuer}/upstream/{name}/callback",
                                           acr_values=None))
                lookup = f"{name}:{begun.state.get('state')}"
                target = ("redirect", begun.url)
            else:
                cid = re.sub(r"[\s-]", "", form.get("citizen_id", ""))
                if request.method == "GET" or not valid_citizen_id(cid):
                    return render(request, ("page", "ndid_start.html", 200 if request.method == "GET" else 400, dict(
                        provider_name=provider.display_name.get(locale, name), action=request.url.path,
                        csrf_token=pages.csrf_token(browser, f"upstream:{iid}"), citizen_id=form.get("citizen_id", ""),
                        error=None if request.method == "GET" else t("citizen_id_invalid", locale))))
                required = (ia_params.get("requested") or {})
                min_ial, min_aal = await in_transaction(gw.sessionmaker, ip, lambda: _floors(gw, ia_params, required))
                message = (f"{t('ndid_request_message', 'th', service=client_name)} / "
                           f"{t('ndid_request_message', 'en', service=client_name)}")
                # Security review item 1: the callback URL's secret is neither the attempt id (the
                # browser sees that) nor the reference id (shown to the citizen); only its hash is kept.
                secret = random_token(32)
                begun = await run_in_threadpool(lambda: provider.begin(
                    citizen_id=cid, min_ial=min_ial, min_aal=min_aal, request_message=message,
                    callback_url=f"{settings.issuer}/upstream/{name}/ndid-callback/{secret}",
                    reference_id=random_token(12)))
                lookup = callback_lookup(name, secret)
                target = ("redirect", f"/interaction/{ia_id}/upstream/{name}/wait/{attempt_id}")
        except UpstreamError as exc:
            failure = exc

            def record():
                db = current_db.get()
                return fail(request, db, ia=db.get(Interaction, ia_id), provider=name, error=failure,
                            now=gw.clock.now(), ip=ip)

            return render(request, await in_transaction(gw.sessionmaker, ip, record))

        def store():
            db = current_db.get()
            now = gw.clock.now()
            db.add(UpstreamAttempt(id=attempt_id, provider=name, interaction_id=ia_id, browser_hash=sha256_hex(browser),
                                   lookup=lookup, state=begun.state, created_at=now,
                                   expires_at=now + ATTEMPT_TTL))
            return target

        return render(request, await in_transaction(gw.sessionmaker, ip, store))

    # -- OIDC callback ---------------------------------------------------------------------------
    @r.get("/upstream/{name}/callback", include_in_schema=False)
    async def callback(name: str, request: Request) -> Response:
        params = dict(request.query_params)
        ip = gw.client_ip(request)
        browser_hash = sha256_hex(request.cookies.get("idgw_browser") or "")
        provider = gw.upstreams.get(name)

        def find():
            db = current_db.get()
            now = gw.clock.now()
            # Only redirect-style (OIDC) upstreams answer here; an NDID name is not found (item 7).
            attempt = db.scalar(select(UpstreamAttempt).where(
                UpstreamAttempt.lookup == f"{name}:{params.get('state', '')}")) \
                if isinstance(params.get("state"), str) and 0 < len(params["state"]) <= 100 else None
            if provider is None or provider.mode != "redirect" or attempt is None or attempt.provider != name \
                    or attempt.finished_at is not None or attempt.expires_at <= now \
                    or attempt.browser_hash != browser_hash:
                return fail(request, db, ia=None, provider=name, now=now, ip=ip,
                            error=UpstreamError("state_mismatch", "no open attempt for this state in this browser"))
            attempt.finished_at = now  # single use, whatever happens next
            return ("ok", attempt.id, attempt.state, attempt.interaction_id)

        found = await in_transaction(gw.sessionmaker, ip, find)
        if found[0] != "ok":
            return render(request, found)
        _, attempt_id, state, ia_id = found
        try:
            identity = await run_in_threadpool(
                lambda: provider.complete(state=state, params=params,
                                          redirect_uri=f"{settings.issuer}/upstream/{name}/callback"))
            error = None
        except UpstreamError as exc:
            identity, error = None, exc

        def finish():
            db = current_db.get()
            now = gw.clock.now()
            ia = db.get(Interaction, ia_id)
            if error is not None:
                return fail(request, db, ia=ia, provider=name, error=error, now=now, ip=ip)
            if ia is None or ia.completed_at is not None or ia.expires_at <= now:
                return ("error", t("err_interaction_expired", locale_of(request, None)), "interaction_expired", None)
            return sign_in(db, request, ia=ia, attempt=db.get(UpstreamAttempt, attempt_id), identity=identity,
                           now=now, ip=ip)

        return render(request, await in_transaction(gw.sessionmaker, ip, finish))

    # -- NDID: platform callbacks and the waiting page ---------------------------------------------
    @r.post("/upstream/{name}/ndid-callback/{secret}", include_in_schema=False)
    async def ndid_callback(name: str, secret: str, request: Request) -> Response:
        """The platform's notifications (rp_callback.yaml). A callback is a hint, never proof: it
        only makes the waiting page read the request from the node sooner (providers.ndid). JSON in,
        JSON out, never a page."""
        provider = gw.upstreams.get(name)
        if provider is None or provider.mode != "async" or not 20 <= len(secret) <= 64:
            return _json_error(404, "not_found")
        try:
            payload = jsontext.loads(await read_body(request, limit=CALLBACK_MAX, timeout=settings.body_timeout),
                                     max_bytes=CALLBACK_MAX)
        except BodyError as exc:
            if exc.status is None:
                raise
            return _json_error(exc.status, exc.code)
        except jsontext.JSONTextError as exc:
            return _json_error(400, "invalid_json", str(exc))

        def handle():
            db = current_db.get()
            # One callback at a time per attempt (row lock on PostgreSQL; SQLite serialises writers).
            attempt = db.scalar(select(UpstreamAttempt).where(UpstreamAttempt.lookup == callback_lookup(name, secret))
                                .with_for_update())
            if attempt is None or attempt.provider != name:
                # The platform may call back before begin() has returned and the attempt is stored:
                # 409 makes it retry. The URL holds a 256-bit secret, so this reveals nothing.
                return 409, "unknown_request"
            if attempt.finished_at is not None:
                return 204, None  # nothing left to learn; the platform stops retrying
            try:
                attempt.state = provider.handle_callback(state=attempt.state, payload=payload)
            except UpstreamError as exc:
                return 400, exc.code
            return 204, None

        status, code = await in_transaction(gw.sessionmaker, gw.client_ip(request), handle)
        return Response(status_code=204) if status == 204 else _json_error(status, code)

    @r.get("/interaction/{iid}/upstream/{name}/wait/{attempt_id}", include_in_schema=False)
    async def ndid_wait(iid: str, name: str, attempt_id: str, request: Request) -> Response:
        ip = gw.client_ip(request)
        provider = gw.upstreams.get(name)

        def check():
            db = current_db.get()
            now = gw.clock.now()
            ia = interaction_for(db, request, iid, now)
            attempt = db.get(UpstreamAttempt, attempt_id) if len(attempt_id) <= 64 else None
            if ia is None or provider is None or provider.mode != "async" or attempt is None \
                    or attempt.interaction_id != ia.id or attempt.provider != name \
                    or attempt.browser_hash != sha256_hex(request.cookies.get("idgw_browser") or ""):
                return ("error", t("err_interaction_expired", locale_of(request, None)), "interaction_expired", None)
            if attempt.finished_at is not None:
                return ("redirect", f"/interaction/{ia.id}")
            return ("state", attempt.state, ia.id)

        checked = await in_transaction(gw.sessionmaker, ip, check)
        if checked[0] != "state":
            return render(request, checked)
        _, state, ia_id = checked
        error = None
        if provider.needs_refresh(state=state, now=gw.clock.now()):
            try:
                # The node's view of the request (network I/O, outside the database transaction).
                state = await run_in_threadpool(lambda: provider.refresh(state=state))
            except UpstreamError as exc:
                error = exc
        if error is None and provider.status(state=state, now=gw.clock.now()) == "pending":
            refreshed = state

            def keep():
                db = current_db.get()
                attempt = db.get(UpstreamAttempt, attempt_id)
                if attempt.finished_at is None:
                    # keep callback hints that arrived while the node was being read
                    attempt.state = {**refreshed, "hint": attempt.state.get("hint"),
                                     "hint_seen": min(_hint_count(refreshed.get("hint_seen")),
                                                      _hint_count((attempt.state.get("hint") or {}).get("count")))}
                return attempt.finished_at

            if await in_transaction(gw.sessionmaker, ip, keep) is not None:
                return RedirectResponse(f"/interaction/{ia_id}", status_code=302)
            left = max(0, int(state.get("expires_at", 0)) - gw.clock.now())
            return render(request, ("page", "ndid_wait.html", 200, dict(
                reference=state.get("reference_id", ""), seconds_left=left, here=request.url.path)))
        identity = None
        if error is None:
            try:
                # complete() reads the request from the node once more and decides from that alone
                # (accepted answers from listed IdPs within their levels, meeting the floors), and
                # always closes the request.
                identity = await run_in_threadpool(lambda: provider.complete(state=state))
            except UpstreamError as exc:
                error = exc

        def finish():
            db = current_db.get()
            now = gw.clock.now()
            ia = db.get(Interaction, ia_id)
            attempt = db.get(UpstreamAttempt, attempt_id, with_for_update=True)
            if attempt.finished_at is not None:
                return ("redirect", f"/interaction/{ia.id}")
            if error is not None:
                if error.code in ("upstream_unreachable", "upstream_timeout"):
                    # The node could not be read: say so, but keep waiting (the next poll retries).
                    left = max(0, int(state.get("expires_at", 0)) - now)
                    if left > 0:
                        return ("page", "ndid_wait.html", 200, dict(reference=state.get("reference_id", ""),
                                                                     seconds_left=left, here=request.url.path))
                attempt.finished_at = now
                return fail(request, db, ia=ia, provider=name, error=error, now=now, ip=ip)
            if ia is None or ia.completed_at is not None or ia.expires_at <= now:
                attempt.finished_at = now
                return ("error", t("err_interaction_expired", locale_of(request, None)), "interaction_expired", None)
            return sign_in(db, request, ia=ia, attempt=attempt, identity=identity, now=now, ip=ip)

        return render(request, await in_transaction(gw.sessionmaker, ip, finish))

    return r


def _floors(gw, ia_params: dict, requested: dict) -> tuple[str, str]:
    """The IAL/AAL to ask NDID for: the service floors raised by the request's most preferred acr
    alternative (as at login)."""
    from policies import AAL, IAL

    policy = current_policy(current_db.get(), ia_params["request"]["client_id"])
    ial = policy.min_ial if policy else IAL("1.1")
    aal = policy.min_aal if policy else AAL("1")
    first = alternatives(requested)[0]
    if first is not None and first.ial is not None:
        ial = max(ial, first.ial)
    if first is not None and first.aal is not None:
        aal = max(aal, first.aal)
    return ial.value, aal.value
