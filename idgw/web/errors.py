"""Answers for requests no handler should see, in each endpoint's own format: a Thai/English page
for people, JSON for machines (security review item 17: the back-channel endpoints never answer
HTML, and nothing a client sends is answered with a bare 500). Also the ways back an error page
offers (``back_to_service``, ``back_link``): no page is a dead end (issue 12).

When the database cannot serve (``idgw.storage.probe.unavailable``: PostgreSQL down or
unreachable, SQLite read-only or locked), every request is answered 503 with ``Retry-After``: a
Thai/English "temporarily unavailable" page for people, ``temporarily_unavailable`` JSON for
machines (``DatabaseOutage``); the outage is logged in one line (``idgw.health.Outage``), not a
traceback per request, and the next request after the database returns is served as usual."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from idgw.storage.models import Client, Interaction
from idgw.storage.probe import error_name, unavailable
from idgw.web.i18n import add_messages, t

#: Seconds a client is asked to wait (``Retry-After``) while the database is unavailable or this
#: process is not ready (idgw.health's /readyz).
RETRY_AFTER = 5
#: Paths called by e-services, platforms and scripts rather than people.
MACHINE_PREFIXES = ("/token", "/introspect", "/revoke", "/userinfo", "/jwks.json", "/.well-known/",
                    "/webauthn/", "/openapi.json")

add_messages({
    "errpage_code": {"th": "รหัสข้อผิดพลาด", "en": "Error code"},
    "errpage_next": {"th": "ท่านทำอะไรต่อได้บ้าง", "en": "What you can do"},
    "errpage_home": {"th": "ไปที่หน้าแรกของระบบ", "en": "Go to the gateway's home page"},
    "errpage_back_to_service": {"th": "กลับไปที่ {service} (ยังไม่ได้เข้าสู่ระบบ)",
                                "en": "Return to {service} (not signed in)"},
    "errpage_sign_in_again": {"th": "เริ่มเข้าสู่ระบบใหม่", "en": "Start signing in again"},
    "errpage_choose_another": {"th": "เลือกวิธีเข้าสู่ระบบอื่น", "en": "Choose another way to sign in"},
    "errpage_not_found_title": {"th": "ไม่พบหน้านี้", "en": "Page not found"},
    "errpage_not_found": {"th": "ที่อยู่อาจพิมพ์ผิด หรือหน้านี้ถูกย้ายหรือไม่มีแล้ว หากท่านมาจากบริการของหน่วยงาน "
                                "กรุณากลับไปที่บริการนั้นแล้วเริ่มใหม่",
                          "en": "The address may be mistyped, or the page has moved or no longer exists. If you "
                                "came from a government e-service, go back to it and start again."},
    "unavailable_title": {"th": "ระบบขัดข้องชั่วคราว", "en": "Temporarily unavailable"},
    "unavailable_body": {"th": "ขณะนี้ระบบยืนยันตัวตนให้บริการไม่ได้ชั่วคราว การเข้าสู่ระบบที่ท่านทำค้างไว้ยังอยู่ "
                               "กรุณาลองใหม่อีกครั้งในอีกสักครู่",
                         "en": "The sign-in service cannot answer for a moment. A sign-in you have started is "
                               "kept: please try again in a few moments."},
    "unavailable_post": {"th": "หากท่านส่งแบบฟอร์มไว้ กรุณากลับไปหน้าก่อนหน้าแล้วส่งอีกครั้ง",
                         "en": "If you had sent a form, go back to the previous page and send it again."},
})


def machine_path(path: str) -> bool:
    return path.startswith(MACHINE_PREFIXES) or ("/ndid-callback/" in path and path.startswith("/upstream/")) \
        or (path.startswith("/interaction/") and path.endswith("/status"))  # the NDID waiting page's poll


def wants_json(request: Request) -> bool:
    """An API caller (it asks for JSON and not for a page), for paths shared with people."""
    accept = request.headers.get("accept", "")
    return "json" in accept and "text/html" not in accept


def back_to_service(gw, interaction: Interaction | None) -> str | None:
    """Where a person goes back to when their sign-in cannot go on (it expired or has finished):
    the e-service's redirect URI with ``error=access_denied`` and the service's ``state`` (RFC 6749
    §4.1.2.1; the redirect URI was verified at /authorize and the interaction row outlives its
    expiry), so the service hears that nobody signed in and can offer to start again. For a
    sign-in to the gateway's own pages (``client_id`` None) it is /signin for the page that was
    wanted. None when there is no interaction.

    Offer it only to the browser that started the interaction (``params["browser"]``): the link
    carries the service's ``state``."""
    if interaction is None:
        return None
    params = interaction.params or {}
    if interaction.client_id is None:
        local = params.get("local") or {}
        next_path = local.get("next") if isinstance(local.get("next"), str) else None
        if not next_path or not next_path.startswith("/") or next_path.startswith("//") or "\\" in next_path:
            return "/signin"
        return f"/signin?next={quote(next_path)}"
    request = params.get("request") or {}
    if not request.get("redirect_uri"):
        return None
    return gw.provider.authorization_error_redirect(
        redirect_uri=request["redirect_uri"], error="access_denied",
        description="The sign-in at the gateway ended without completing", state=request.get("state"))


def back_link(gw, db, interaction: Interaction | None, locale: str) -> dict:
    """``back_url`` and ``back_label`` for error.html from ``back_to_service`` (the label names the
    service), or an empty dict."""
    url = back_to_service(gw, interaction)
    if url is None:
        return {}
    if interaction.client_id is None:
        return {"back_url": url, "back_label": t("errpage_sign_in_again", locale)}
    client = db.get(Client, interaction.client_id)
    name = client.name if client is not None else t("app_name", locale)
    return {"back_url": url, "back_label": t("errpage_back_to_service", locale, service=name)}


def _json(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status_code=status,
                        headers={"Cache-Control": "no-store"})


def nul_refused(pages):
    """For ``idgw.httpio.RejectNul``: 400 invalid_request."""

    async def answer(scope) -> Response:
        if machine_path(scope.get("path", "")):
            return _json(400, "invalid_request", "the request contains a NUL character")
        return pages.error(Request(scope), "err_invalid_request", code="invalid_request: NUL character",
                           status=400)

    return answer


def not_found_page(pages, request: Request) -> Response:
    """The HTML 404: what happened in plain Thai/English (not as an alarm) and a link to the home
    page; the help desk is in every page's footer (base.html)."""
    locale = pages.locale(request)
    return pages.render(request, "error.html", status=404, heading=t("errpage_not_found_title", locale), calm=True,
                        message=t("errpage_not_found", locale), back_url="/", back_label=t("errpage_home", locale))


def http_error(pages):
    """Starlette's own refusals (404: no route; 405: a route without this method), which FastAPI
    answers with ``{"detail": ...}`` JSON everywhere, in the endpoint's own format: a page for
    people, the OAuth error JSON for machines and for callers that ask for JSON only; their
    headers (``Allow``) are kept. Found by tests/security/test_fuzz.py (e.g. POST
    /interaction//login)."""

    async def handler(request: Request, exc: StarletteHTTPException) -> Response:
        status = exc.status_code
        if machine_path(request.url.path) or wants_json(request):
            response = _json(status, "not_found" if status == 404 else "invalid_request", str(exc.detail))
        elif status == 404:
            response = not_found_page(pages, request)
        else:
            response = pages.error(request, "err_invalid_request", code=str(exc.detail), status=status)
        response.headers.update(exc.headers or {})
        return response

    return handler


def unavailable_answer(pages, request: Request) -> Response:
    """503 with ``Retry-After``: the OAuth error JSON (``temporarily_unavailable``) for machine
    paths and callers that ask for JSON only, else the Thai/English page (both languages on it:
    the page says the same whichever language was chosen, the other one below it)."""
    if machine_path(request.url.path) or wants_json(request):
        response = _json(503, "temporarily_unavailable",
                         "the service is temporarily unavailable; try again in a few seconds")
    else:
        locale = pages.locale(request)
        other = "en" if locale == "th" else "th"
        retry = None
        if request.method in ("GET", "HEAD"):  # the same address again; never a //host link
            path = request.url.path if not request.url.path.startswith("//") else "/"
            retry = path + (f"?{request.url.query}" if request.url.query else "")
        response = pages.render(request, "unavailable.html", status=503, other=other, retry_url=retry,
                                other_text=lambda key: t(key, other))
    response.headers["Retry-After"] = str(RETRY_AFTER)
    return response


class DatabaseOutage:
    """ASGI middleware around everything that reaches the database, the token endpoint's ASGI app
    (``idgw.oidc.endpoints.OAuthEndpoints``) included: an exception that means the database is
    unavailable, raised before the response started, is answered by ``unavailable_answer`` and
    counted in the gateway's ``health.outage`` (one log line per outage) instead of reaching
    Starlette's server-error layer, which would answer 500 and log a traceback per request. Any
    other exception passes on unchanged (a programming error stays a 500 with its traceback).
    While an outage lasts, each request nudges a background readiness probe, which notices and
    logs the recovery."""

    def __init__(self, app, *, gateway) -> None:
        self.app = app
        self.gw = gateway

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watching_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        health = self.gw.health
        try:
            await self.app(scope, receive, watching_send)
        except Exception as error:
            reason = unavailable(error)
            if reason is None or started:
                raise
            health.outage.failed(reason, error_name(error), request=True)
            await unavailable_answer(self.gw.pages, Request(scope))(scope, receive, send)
        if health.outage.active:
            health.nudge()


def unexpected(pages):
    """The last resort for an exception no handler expected: answered 500 without detail (a page
    or JSON), so the client learns nothing of the internals. (Starlette's server-error layer still
    re-raises it afterwards, so the server logs the traceback once.) A database failure that got
    past ``DatabaseOutage`` (raised outside it) is still answered 503, not 500."""

    async def handler(request: Request, exc: Exception) -> Response:
        if unavailable(exc) is not None:
            return unavailable_answer(pages, request)
        if machine_path(request.url.path):
            return _json(500, "server_error", "an unexpected error occurred")
        return pages.error(request, "err_unexpected", code="server_error", status=500)

    return handler
