"""Sign-in through upstream identity sources, inside a pending interaction (an e-service's
authorization request, or a sign-in to the gateway's own pages: ``client_id`` None).

ThaiD-style OIDC: /interaction/{id}/upstream/{name} -> the upstream's login -> /upstream/{name}/callback.
NDID: /interaction/{id}/upstream/{name} asks for the citizen ID and opens the request; the waiting
page /interaction/{id}/upstream/{name}/wait/{attempt} shows a short reference that the IdP app
also shows, the time left in minutes, and Cancel / "choose another way". With script it polls
``.../wait/{attempt}/status`` (JSON; static/ndid_wait.js); without script it refreshes itself
slowly. The platform's callback (to a capability URL per attempt) is only a hint: each poll reads
the request from the node, which alone decides (security review item 1).

Every fault ends on a Thai/English page that offers a way on (retry, another way to sign in, or
back to the service), changes no account, issues nothing to the e-service, and is audited as
``upstream.failed``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

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
from idgw.web.errors import back_link
from idgw.web.i18n import add_messages, t
from policies import AAL, IAL, LevelError
from providers import UpstreamError, valid_citizen_id
from providers.ndid import short_reference

ATTEMPT_TTL = 900
CALLBACK_MAX = 64 * 1024
#: Seconds between reloads of the waiting page when the browser runs no script (with script,
#: static/ndid_wait.js polls the status endpoint every few seconds instead).
NOSCRIPT_REFRESH = 15
#: Outcomes of an NDID attempt that send the person on to the interaction instead of a page.
_ONWARD = ("signed_in", "cancelled")

add_messages({
    "upstream_choose_another": {"th": "เลือกวิธีเข้าสู่ระบบอื่น", "en": "Choose another way to sign in"},
    "upstream_sign_in_existing": {"th": "เข้าสู่ระบบบัญชีเดิม", "en": "Sign in to your existing account"},
    "ndid_request_message_ref": {"th": "ยืนยันตัวตนเพื่อเข้าใช้บริการ {service} ผ่านระบบ idgw รหัสอ้างอิง {reference}",
                                 "en": "Confirm your identity to use {service} through idgw, reference {reference}"},
    "ndid_wait_match": {"th": "ตรวจสอบว่าคำขอในแอปแสดงรหัสอ้างอิงเดียวกับหน้านี้:",
                        "en": "Check that the request in your app shows the same reference as this page:"},
    "ndid_waiting": {"th": "กำลังรอคำตอบจากแอปธนาคารของท่าน", "en": "Waiting for your answer in your bank app."},
    "ndid_other_bank": {"th": "ธนาคารหรือผู้ให้บริการรายหนึ่งแจ้งว่ายืนยันตัวตนของท่านไม่ได้ ท่านยังยืนยันได้ในแอปของธนาคารอื่น"
                              "ที่ท่านลงทะเบียน NDID ไว้ หน้านี้ยังรอคำตอบอยู่",
                        "en": "One bank or provider could not confirm your identity. Another bank where you "
                              "registered with NDID can still answer: approve the request in its app. This page "
                              "is still waiting."},
    "ndid_one_approved": {"th": "ได้รับการยืนยันแล้ว {done} จาก {needed} แห่ง กรุณายืนยันในแอปของอีกแห่งหนึ่ง",
                          "en": "{done} of {needed} confirmations received. Please approve in another app as well."},
    "ndid_node_unreachable": {"th": "ยังติดต่อระบบ NDID ไม่ได้ชั่วคราว ระบบจะลองใหม่ให้โดยอัตโนมัติ",
                              "en": "We cannot reach NDID at the moment; we keep trying."},
    "ndid_minutes_left": {"th": "เหลือเวลาประมาณ {minutes} นาที", "en": "About {minutes} minutes left."},
    "ndid_minute_left": {"th": "เหลือเวลาประมาณ 1 นาที", "en": "About 1 minute left."},
    "ndid_under_a_minute": {"th": "เหลือเวลาไม่ถึง 1 นาที", "en": "Less than a minute left."},
    "ndid_time_up": {"th": "หมดเวลาแล้ว กำลังตรวจสอบผลครั้งสุดท้าย", "en": "Time is up; checking one last time."},
    "ndid_cancel": {"th": "ยกเลิกคำขอนี้", "en": "Cancel this request"},
    "ndid_noscript": {"th": "หน้านี้จะตรวจสอบผลใหม่ทุก {seconds} วินาที หรือกดตรวจสอบตอนนี้ได้",
                      "en": "This page checks again every {seconds} seconds, or you can check now."},
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


def callback_lookup(name: str, secret: str) -> str:
    """How an NDID attempt is found from its callback URL: the provider and the secret's hash."""
    return f"{name}:cb:{sha256_hex(secret)}"


def _hint_count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _json_error(status: int, error: str, description: str | None = None) -> Response:
    body = {"error": error, **({"error_description": description} if description else {})}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def allowed_upstreams(gw, db, client_id: str | None) -> list:
    """The upstreams the service's policy accepts (all configured ones when it names none, and for
    a sign-in to the gateway's own pages, ``client_id`` None)."""
    policy = current_policy(db, client_id) if client_id is not None else None
    names = policy.allowed_providers if policy is not None else None
    return [p for name, p in gw.upstreams.items() if names is None or name in names]


def time_left(seconds: int, locale: str) -> str:
    """The time an NDID request has left, in minutes (people plan in minutes; a ticking seconds
    count only adds pressure)."""
    if seconds <= 0:
        return t("ndid_time_up", locale)
    minutes = (seconds + 30) // 60
    if minutes == 0:
        return t("ndid_under_a_minute", locale)
    return t("ndid_minute_left", locale) if minutes == 1 else t("ndid_minutes_left", locale, minutes=minutes)


@dataclass
class _Failure:
    """An error page: the message, its code, and the ways on (error.html's ``retry_url``,
    ``back_url``, ``back_label``)."""

    message: str
    code: str
    status: int = 400
    links: dict = field(default_factory=dict)
    ui_locales: str | None = None  # the interaction's, so that the page speaks the message's language


def router(gw) -> APIRouter:
    r = APIRouter()
    pages = gw.pages
    settings = gw.settings

    def ui_of(ia: Interaction | None) -> str | None:
        return (ia.params.get("request") or {}).get("ui_locales") if ia is not None else None

    def locale_of(request: Request, ia: Interaction | None) -> str:
        return pages.locale(request, ui_of(ia))

    def browser_hash(request: Request) -> str:
        return sha256_hex(request.cookies.get("idgw_browser") or "")

    def links(db, request: Request, ia: Interaction | None, *, retry: str | None = None) -> dict:
        """Where an upstream failure page sends the person: back to the sign-in choices while the
        interaction can go on (and ``retry`` there), else back to the service (``back_link``);
        nothing for an interaction of another browser (error.html then offers the home page)."""
        if ia is None or ia.params.get("browser") != browser_hash(request):
            return {}
        locale = locale_of(request, ia)
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

    def fail(request: Request, db, *, ia: Interaction | None, provider: str, error: UpstreamError, now: int,
             ip: str | None) -> _Failure:
        audit.record(db, "upstream.failed", at=now, ip=ip, client_id=ia.client_id if ia else None,
                     provider=provider, code=error.code, detail=error.detail[:300])
        upstream = gw.upstreams.get(provider)
        message = message_for(error.code, locale_of(request, ia), error=error,
                              ndid=upstream is not None and upstream.mode == "async")
        return _Failure(message, error.code, ui_locales=ui_of(ia),
                        links=links(db, request, ia, retry=f"/interaction/{ia.id}/upstream/{provider}" if ia else None))

    def expired(db, request: Request, ia: Interaction | None) -> _Failure:
        own = ia if ia is not None and ia.params.get("browser") == browser_hash(request) else None
        return _Failure(t("err_interaction_expired", locale_of(request, own)), "interaction_expired",
                        links=links(db, request, own), ui_locales=ui_of(own))

    def interaction_for(db, request: Request, iid: str, now: int):
        return open_interaction(db, iid=iid, browser=request.cookies.get("idgw_browser") or "", now=now)[0]

    def provider_for(db, ia: Interaction, name: str):
        provider = gw.upstreams.get(name)
        if provider is None or provider not in allowed_upstreams(gw, db, ia.client_id):
            return None
        return provider

    def render(request: Request, result) -> Response:
        if isinstance(result, _Failure):
            status = {"not_found": 404, "rate_limited": 429, "csrf": 403}.get(result.code, result.status)
            return pages.render(request, "error.html", status=status, ui_locales=result.ui_locales,
                                message=result.message, code=result.code, **result.links)
        kind = result[0]
        if kind == "redirect":
            response: Response = RedirectResponse(result[1], status_code=303 if request.method == "POST" else 302)
            if len(result) > 2 and result[2]:
                set_session_cookie(response, result[2])
            return response
        _, template, status, context = result
        return pages.render(request, template, status=status, **context)

    def set_session_cookie(response: Response, cookie: str) -> None:
        response.set_cookie(settings.cookie_name, cookie, httponly=True, samesite="lax",
                            secure=settings.cookie_secure, path="/")

    def sign_in(db, request: Request, *, ia: Interaction, attempt: UpstreamAttempt, identity, now: int, ip):
        """Turn a verified upstream identity into the interaction's session (or ask to sign in to
        the existing account first, when the link needs that)."""
        current = load_session(db, cookie=request.cookies.get(settings.cookie_name), now=now)
        resolution = resolve_account(db, identity=identity, now=now, ip=ip,
                                     signed_in_account_id=current.account_id if current else None)
        attempt.finished_at = now
        if resolution.account is None:
            finished(attempt, "state_mismatch")
            return fail(request, db, ia=ia, provider=identity.provider, now=now, ip=ip,
                        error=UpstreamError("state_mismatch", "the upstream subject now names another citizen"))
        if resolution.needs_local_sign_in:
            finished(attempt, "link_needs_sign_in")
            audit.record(db, "upstream.failed", at=now, ip=ip, client_id=ia.client_id, provider=identity.provider,
                         code="link_needs_sign_in")
            return needs_local(request, ia)
        session, cookie = start_session(db, old_cookie=request.cookies.get(settings.cookie_name),
                                        account=resolution.account, identity=identity, now=now, ip=ip,
                                        client_id=ia.client_id, user_agent=request.headers.get("user-agent"))
        mark_signed_in(ia, session)
        finished(attempt, "signed_in")
        return ("redirect", f"/interaction/{ia.id}", cookie)

    def needs_local(request: Request, ia: Interaction) -> _Failure:
        locale = locale_of(request, ia)
        return _Failure(t("upstream_needs_local", locale), "link_needs_sign_in", ui_locales=ui_of(ia),
                        links={"back_url": f"/interaction/{ia.id}",
                               "back_label": t("upstream_sign_in_existing", locale)})

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
                return expired(db, request, db.get(Interaction, iid) if len(iid) <= 64 else None)
            locale = locale_of(request, ia)
            provider = provider_for(db, ia, name)
            if provider is None:
                return _Failure(t("err_not_found", locale), "not_found", links=links(db, request, ia),
                                ui_locales=ui_of(ia))
            if not csrf_ok:
                return _Failure(t("err_csrf", locale), "csrf", links=links(db, request, ia, retry=request.url.path),
                                ui_locales=ui_of(ia))
            if request.method == "POST" or provider.mode == "redirect":
                # Each start stores an attempt (and opens an NDID request): budgeted per IP (item 15).
                wait = spend(db, bucket="upstream", ip=ip, limit=settings.rate_per_ip, window=settings.rate_window,
                             now=now)
                if wait:
                    return _Failure(t("err_rate_limited", locale), "rate_limited", ui_locales=ui_of(ia),
                                    links=links(db, request, ia, retry=request.url.path))
            if ia.client_id is None:  # a sign-in to the gateway's own pages
                service = {lang: t("app_name", lang) for lang in ("th", "en")}
            else:
                client_name = db.get(Client, ia.client_id).name
                service = {"th": client_name, "en": client_name}
            floors = _floors(db, ia) if provider.mode == "async" else None
            return ("ok", ia.id, ia.params, service, provider, floors)

        prepared = await in_transaction(gw.sessionmaker, ip, prepare)
        if isinstance(prepared, _Failure):
            return render(request, prepared)
        _, ia_id, ia_params, service, provider, floors = prepared
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
                        choose_url=f"/interaction/{ia_id}", ui_locales=ia_params["request"].get("ui_locales"),
                        error=None if request.method == "GET" else t("citizen_id_invalid", locale))))
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
                    callback_url=f"{settings.issuer}/upstream/{name}/ndid-callback/{secret}",
                    reference_id=reference_id))
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
        own = browser_hash(request)
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
                    or attempt.browser_hash != own:
                # this browser's own interaction, if the attempt is its own: for the way back
                ia = db.get(Interaction, attempt.interaction_id) \
                    if attempt is not None and attempt.browser_hash == own and attempt.interaction_id else None
                return fail(request, db, ia=ia, provider=name, now=now, ip=ip,
                            error=UpstreamError("state_mismatch", "no open attempt for this state in this browser"))
            attempt.finished_at = now  # single use, whatever happens next
            return ("ok", attempt.id, attempt.state, attempt.interaction_id)

        found = await in_transaction(gw.sessionmaker, ip, find)
        if isinstance(found, _Failure):
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
                return expired(db, request, ia)
            return sign_in(db, request, ia=ia, attempt=db.get(UpstreamAttempt, attempt_id), identity=identity,
                           now=now, ip=ip)

        return render(request, await in_transaction(gw.sessionmaker, ip, finish))

    # -- NDID: platform callbacks ------------------------------------------------------------------
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

    # -- NDID: the waiting page, its status endpoint and Cancel -------------------------------------
    def wait_path(iid: str, name: str, attempt_id: str) -> str:
        return f"/interaction/{iid}/upstream/{name}/wait/{attempt_id}"

    def locate(db, request: Request, iid: str, name: str, attempt_id: str, *, lock: bool = False):
        """(attempt, interaction) when the attempt is this browser's NDID attempt of this
        interaction, else (None, this browser's interaction or None). The interaction may have
        expired or finished (the caller decides)."""
        provider = gw.upstreams.get(name)
        own = browser_hash(request)
        attempt = db.get(UpstreamAttempt, attempt_id, with_for_update=lock) if len(attempt_id) <= 64 else None
        ia = db.get(Interaction, iid) if len(iid) <= 64 else None
        if ia is not None and ia.params.get("browser") != own:
            ia = None
        if provider is None or provider.mode != "async" or attempt is None or ia is None \
                or attempt.interaction_id != ia.id or attempt.provider != name or attempt.browser_hash != own:
            return None, ia
        return attempt, ia

    def open_now(ia: Interaction, now: int) -> bool:
        return ia.completed_at is None and ia.expires_at > now

    def finished_result(db, request: Request, attempt: UpstreamAttempt, ia: Interaction):
        """The page for an attempt that has already ended: on to the interaction after a sign-in or
        a cancel, else its failure again (a reload shows the same page)."""
        if ia is None:
            return expired(db, request, None)
        outcome = (attempt.state.get("gateway_outcome") or {}).get("code") if isinstance(attempt.state, dict) \
            else None
        if outcome is None or outcome in _ONWARD:
            return ("redirect", f"/interaction/{ia.id}")
        if outcome == "link_needs_sign_in":
            return needs_local(request, ia)
        if outcome == "interaction_expired":
            return expired(db, request, ia)
        return _Failure(message_for(outcome, locale_of(request, ia), ndid=True), outcome, ui_locales=ui_of(ia),
                        links=links(db, request, ia, retry=f"/interaction/{ia.id}/upstream/{attempt.provider}"))

    def pending_context(request: Request, ia_params: dict, iid: str, name: str, attempt_id: str, state: dict,
                        *, unreachable: bool = False) -> dict:
        provider = gw.upstreams[name]
        locale = pages.locale(request, ia_params["request"].get("ui_locales"))
        left = max(0, int(state.get("expires_at", 0)) - gw.clock.now())
        progress = provider.progress(state=state)
        if unreachable:
            message = t("ndid_node_unreachable", locale)
        elif progress.others_can_answer:
            message = t("ndid_other_bank", locale)
        elif 0 < progress.accepted < progress.needed:
            message = t("ndid_one_approved", locale, done=progress.accepted, needed=progress.needed)
        else:
            message = t("ndid_waiting", locale)
        here = wait_path(iid, name, attempt_id)
        return dict(reference=short_reference(str(state.get("reference_id", ""))), time_left=time_left(left, locale),
                    seconds_left=left, status_text=message, others_can_answer=progress.others_can_answer,
                    here=here, status_url=f"{here}/status", cancel_action=f"{here}/cancel",
                    csrf_token=pages.csrf_token(request.cookies.get("idgw_browser") or "", f"ndid-wait:{attempt_id}"),
                    choose_url=f"/interaction/{iid}", refresh_seconds=NOSCRIPT_REFRESH,
                    ui_locales=ia_params["request"].get("ui_locales"))

    async def poll(request: Request, iid: str, name: str, attempt_id: str):
        """One look at an NDID attempt, the same for the page and its status endpoint: read the node
        when the connector asks for it, and once the node's answer is no longer pending, complete
        from the node's answer alone and sign in (or fail). Returns ``None`` for an attempt that is
        not this browser's, a ``_Failure``, ``("redirect", url[, cookie])`` or
        ``("pending", context)``; ``("gone", failure)`` when the attempt is not this browser's (or
        does not exist)."""
        ip = gw.client_ip(request)
        provider = gw.upstreams.get(name)

        def check():
            db = current_db.get()
            now = gw.clock.now()
            attempt, ia = locate(db, request, iid, name, attempt_id)
            if attempt is None:
                return ("gone", expired(db, request, ia))
            if attempt.finished_at is not None:
                return ("done", finished_result(db, request, attempt, ia))
            if not open_now(ia, now):
                attempt.finished_at = now
                finished(attempt, "interaction_expired")
                return ("close", expired(db, request, ia), attempt.state)
            return ("state", attempt.state, ia.params)

        checked = await in_transaction(gw.sessionmaker, ip, check)
        if checked[0] == "gone":
            return checked
        if checked[0] == "done":
            return checked[1]
        if checked[0] == "close":
            # Nobody can use the answer any more: let the IdP app stop offering the request.
            await close_quietly(provider, checked[2])
            return checked[1]
        _, state, ia_params = checked
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
                    return None
                return finished_result(db, request, attempt, db.get(Interaction, iid))

            ended = await in_transaction(gw.sessionmaker, ip, keep)
            if ended is not None:
                return ended
            return ("pending", pending_context(request, ia_params, iid, name, attempt_id, state))
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
            ia = db.get(Interaction, iid)
            attempt = db.get(UpstreamAttempt, attempt_id, with_for_update=True)
            if attempt.finished_at is not None:
                return finished_result(db, request, attempt, ia)
            if error is not None:
                if error.code in ("upstream_unreachable", "upstream_timeout") \
                        and int(state.get("expires_at", 0)) > now:
                    # The node could not be read: say so, but keep waiting (the next poll retries).
                    return ("pending", pending_context(request, ia.params, iid, name, attempt_id, state,
                                                       unreachable=True))
                attempt.finished_at = now
                finished(attempt, error.code)
                return fail(request, db, ia=ia, provider=name, error=error, now=now, ip=ip)
            if ia is None or not open_now(ia, now):
                attempt.finished_at = now
                finished(attempt, "interaction_expired")
                return expired(db, request, ia)
            return sign_in(db, request, ia=ia, attempt=attempt, identity=identity, now=now, ip=ip)

        return await in_transaction(gw.sessionmaker, ip, finish)

    @r.get("/interaction/{iid}/upstream/{name}/wait/{attempt_id}", include_in_schema=False)
    async def ndid_wait(iid: str, name: str, attempt_id: str, request: Request) -> Response:
        result = await poll(request, iid, name, attempt_id)
        if isinstance(result, _Failure):
            return render(request, result)
        if result[0] == "gone":
            return render(request, result[1])
        if result[0] == "pending":
            return pages.render(request, "ndid_wait.html", **result[1])  # its ui_locales picks the language
        return render(request, result)

    @r.get("/interaction/{iid}/upstream/{name}/wait/{attempt_id}/status", include_in_schema=False)
    async def ndid_wait_status(iid: str, name: str, attempt_id: str, request: Request) -> Response:
        """The waiting page's poll (static/ndid_wait.js), JSON: ``{"state": "pending", "seconds_left",
        "time_left", "message"}`` while the node's answer is pending, ``{"state": "done", "next": url}``
        once the attempt has ended (after a sign-in ``next`` is the interaction and the session
        cookie comes with this answer; after a failure it is the waiting page, which shows it);
        404 ``not_found`` for an attempt that is not this browser's."""
        result = await poll(request, iid, name, attempt_id)
        headers = {"Cache-Control": "no-store"}
        if isinstance(result, tuple) and result[0] == "gone":
            return _json_error(404, "not_found")
        if isinstance(result, _Failure):
            return JSONResponse({"state": "done", "next": wait_path(iid, name, attempt_id)}, headers=headers)
        if result[0] == "pending":
            context = result[1]
            return JSONResponse({"state": "pending", "next": None, "seconds_left": context["seconds_left"],
                                 "time_left": context["time_left"], "message": context["status_text"],
                                 "others_can_answer": context["others_can_answer"]}, headers=headers)
        response = JSONResponse({"state": "done", "next": result[1]}, headers=headers)
        if len(result) > 2 and result[2]:
            set_session_cookie(response, result[2])
        return response

    @r.post("/interaction/{iid}/upstream/{name}/wait/{attempt_id}/cancel", include_in_schema=False)
    async def ndid_cancel(iid: str, name: str, attempt_id: str, request: Request) -> Response:
        """Cancel: close the request at the node (so the IdP app stops offering it), end the attempt
        (audited as ``upstream.failed`` with code ``cancelled``) and go back to the sign-in choices."""
        form = await pages.read_form(request)
        csrf_ok = pages.check_csrf(request, form, f"ndid-wait:{attempt_id}")
        ip = gw.client_ip(request)
        provider = gw.upstreams.get(name)

        def check():
            db = current_db.get()
            attempt, ia = locate(db, request, iid, name, attempt_id)
            if attempt is None:
                return expired(db, request, ia)
            if not csrf_ok:
                return _Failure(t("err_csrf", locale_of(request, ia)), "csrf", ui_locales=ui_of(ia),
                                links={**links(db, request, ia), "retry_url": wait_path(iid, name, attempt_id)})
            if attempt.finished_at is not None:
                return finished_result(db, request, attempt, ia)
            return ("open", attempt.state)

        checked = await in_transaction(gw.sessionmaker, ip, check)
        if isinstance(checked, _Failure) or checked[0] != "open":
            return render(request, checked)
        closed = await close_quietly(provider, checked[1])  # network I/O outside the database transaction

        def settle():
            db = current_db.get()
            now = gw.clock.now()
            attempt, ia = locate(db, request, iid, name, attempt_id, lock=True)
            if attempt is None:
                return expired(db, request, ia)
            if attempt.finished_at is not None:  # the poll finished it meanwhile: its outcome stands
                return finished_result(db, request, attempt, ia)
            attempt.finished_at = now
            finished(attempt, "cancelled")
            audit.record(db, "upstream.failed", at=now, ip=ip, client_id=ia.client_id, provider=name,
                         code="cancelled", detail=f"cancelled by the citizen; closed at the node: {closed}")
            if not open_now(ia, now):
                return expired(db, request, ia)
            return ("redirect", f"/interaction/{ia.id}")

        return render(request, await in_transaction(gw.sessionmaker, ip, settle))

    return r


async def close_quietly(provider, state: dict) -> bool:
    """Close an NDID request at the node (``cancel``); False when that failed (logged by the
    connector: the request then ends at its own timeout)."""
    try:
        return await run_in_threadpool(lambda: provider.cancel(state=state))
    except UpstreamError:
        return False


_NDID_OUTCOMES = {f"ndid_outcome_{code}" for code in ("rejected", "errored", "timed_out", "complicated")}


def finished(attempt: UpstreamAttempt, code: str) -> None:
    """Remember how an attempt ended (``signed_in``, ``cancelled``, or an error code), so that a
    reload of its waiting page, or the page after the status endpoint saw the end, shows the same."""
    attempt.state = {**(attempt.state or {}), "gateway_outcome": {"code": code}}


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
    policy = current_policy(db, ia.client_id)
    ial = policy.min_ial if policy else IAL("1.1")
    aal = policy.min_aal if policy else AAL("1")
    first = alternatives(ia.params.get("requested") or {})[0]
    if first is not None and first.ial is not None:
        ial = max(ial, first.ial)
    if first is not None and first.aal is not None:
        aal = max(aal, first.aal)
    return ial.value, aal.value
