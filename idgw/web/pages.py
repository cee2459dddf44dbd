"""Rendering, locale choice, the browser cookie and CSRF tokens.

CSRF (ASVS 5.0 V3.5): every form carries ``HMAC(key, browser id | purpose)``; the browser id
lives in an HttpOnly SameSite=Lax cookie, so another site can neither read nor forge the token.
"""

from __future__ import annotations

import hmac
from pathlib import Path
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from idgw.httpio import BodyError, log_disconnect, read_form
from idgw.security import constant_time_equal, derive_key
from idgw.web import layout_messages  # noqa: F401  (the layout's texts: skip link, navigation, footer)
from idgw.web.cookies import BrowserIds
from idgw.web.i18n import choose_locale, format_datetime, t

TEMPLATES = Path(__file__).parent / "templates"
# Each capability keeps its pages beside it (idgw/<package>/templates/*.html); the shared layout
# (base.html) and the sign-in pages live in idgw/web/templates. A name may exist in one place only.
PACKAGE_TEMPLATES = sorted(p for p in Path(__file__).parent.parent.glob("*/templates") if p != TEMPLATES)
BROWSER_COOKIE = "idgw_browser"
LANG_COOKIE = "idgw_lang"
MAX_FORM_BYTES = 32 * 1024


class Pages:
    def __init__(self, settings) -> None:
        self.settings = settings
        self.env = Environment(loader=FileSystemLoader([TEMPLATES, *PACKAGE_TEMPLATES]),
                               autoescape=select_autoescape(["html"]), auto_reload=False)
        self._csrf_key = derive_key(settings.secret_key, "csrf")
        self.browser_ids = BrowserIds(settings.secret_key)

    # -- locale --------------------------------------------------------------------------------
    def locale(self, request: Request, ui_locales: str | None = None) -> str:
        return choose_locale(ui_locales=ui_locales or request.query_params.get("ui_locales"),
                             cookie=request.query_params.get("lang") or request.cookies.get(LANG_COOKIE),
                             accept_language=request.headers.get("accept-language"),
                             default=self.settings.default_locale)

    def render(self, request: Request, template: str, *, status: int = 200, ui_locales: str | None = None,
               **context) -> HTMLResponse:
        locale = self.locale(request, ui_locales)
        other = "en" if locale == "th" else "th"
        query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("lang", "ui_locales")]
        # A page answering a POST has no address to load again in the other language (a GET of
        # a POST-only path is a 405): the switch is offered on pages reached by GET.
        switch_url = request.url.path + "?" + urlencode([*query, ("lang", other)]) \
            if request.method in ("GET", "HEAD") else None
        # Every page can say where to get help and link the privacy notice (base.html's footer).
        shared = dict(help_desk=self.settings.help_desk, privacy_url=self.settings.privacy_notice_url)
        html = self.env.get_template(template).render(
            locale=locale, t=lambda key, **kw: t(key, locale, **kw),
            when=lambda epoch: format_datetime(epoch, locale), switch_url=switch_url, **{**shared, **context},
        )
        response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
        if request.query_params.get("lang") in ("th", "en"):
            response.set_cookie(LANG_COOKIE, locale, max_age=365 * 24 * 3600, httponly=True, samesite="lax",
                                secure=self.settings.cookie_secure)
        return response

    def error(self, request: Request, key: str, *, code: str | None = None, status: int = 400) -> HTMLResponse:
        locale = self.locale(request)
        return self.render(request, "error.html", status=status, message=t(key, locale), code=code)

    # -- forms ---------------------------------------------------------------------------------
    async def read_form(self, request: Request, *, max_bytes: int = MAX_FORM_BYTES) -> dict:
        """The posted form's text fields (``application/x-www-form-urlencoded``, UTF-8, at most
        100 fields, ``max_bytes``, within ``IDGW_BODY_TIMEOUT``: ``idgw.httpio.read_form``).
        Never returns None: a refused body raises ``idgw.httpio.BodyError`` (413, 408, 415, 400),
        which ``body_refused`` answers for every route."""
        return await read_form(request, limit=max_bytes, timeout=self.settings.body_timeout)

    async def body_refused(self, request: Request, exc: Exception) -> Response:
        """Exception handler (``idgw.app``) for a body that was not read: the error page with the
        refusal's status and ``Connection: close`` (the rest of the body is not read); nothing
        for a client that went away (``ClientDisconnectedError``, or Starlette's
        ``ClientDisconnect`` from code that reads the body itself), logged in one line."""
        status = getattr(exc, "status", None)
        if status is None:
            if not isinstance(exc, BodyError):  # httpio logs its own
                log_disconnect(request.scope)
            return Response(status_code=499)  # never sent: the connection is gone
        response = self.error(request, "err_invalid_request", code=getattr(exc, "code", None), status=status)
        response.headers["connection"] = "close"
        return response

    # -- browser binding and CSRF ------------------------------------------------------------
    def browser_id(self, request: Request) -> str:
        """This browser's id: the one the gateway issued it (idgw.web.cookies drops any other
        value before a handler runs), or a new one to set with ``set_browser_cookie``."""
        value = request.cookies.get(BROWSER_COOKIE)
        if self.browser_ids.valid(value):
            return value
        return self.browser_ids.new()

    def set_browser_cookie(self, response, browser_id: str) -> None:
        response.set_cookie(BROWSER_COOKIE, browser_id, httponly=True, samesite="lax",
                            secure=self.settings.cookie_secure, path="/")

    def csrf_token(self, browser_id: str, purpose: str) -> str:
        return hmac.digest(self._csrf_key, f"{browser_id}|{purpose}".encode(), "sha256").hex()

    def check_csrf(self, request: Request, form, purpose: str) -> bool:
        browser = request.cookies.get(BROWSER_COOKIE)
        sent = form.get("csrf_token")
        if not browser or not isinstance(sent, str):
            return False
        return constant_time_equal(sent, self.csrf_token(browser, purpose))
