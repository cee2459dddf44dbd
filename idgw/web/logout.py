"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) and the home page.

Each handler reads the request (query or form, cookies) and runs one step function in one
transaction: ``logout_step`` decides between asking, signing out and where to go next;
``home_name`` reads who is signed in. The steps are plain functions of the gateway and the
request's inputs, using the transaction's session (``current_db``), so tests can call them."""

from __future__ import annotations

from authlib.common.urls import add_params_to_uri
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from idgw.depends import gateway_of
from idgw.login.sessions import load_session, sign_out
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.storage.models import Account, Client
from idgw.web.steps import Outcome, display_name, respond

router = APIRouter()

#: The parameters the confirmation page carries over to its form.
CARRIED = ("id_token_hint", "post_logout_redirect_uri", "state", "client_id", "ui_locales")


def hint_and_client(gw, data) -> tuple[dict | None, str | None, str | None]:
    """The ``id_token_hint``'s claims (None without one) and the client the request names,
    checked against the hint's audience; the third value says what is wrong, for the error page
    (None when nothing is)."""
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
            return None, None, f"invalid id_token_hint: {exc}"
    client_id = data.get("client_id")
    if hint_claims is not None:
        aud = hint_claims.get("aud")
        if client_id and client_id != aud:
            return hint_claims, client_id, "client_id does not match id_token_hint"
        client_id = aud if isinstance(aud, str) else client_id
    return hint_claims, client_id, None


@router.api_route("/logout", methods=["GET", "POST"], include_in_schema=False)
async def logout(request: Request, gw=Depends(gateway_of)) -> Response:
    pages = gw.pages
    if request.method == "POST":
        data = await pages.read_form(request)
    else:
        data = dict(request.query_params)
    hint_claims, client_id, problem = hint_and_client(gw, data)
    if problem is not None:
        return pages.error(request, "err_invalid_request", code=problem)
    csrf_ok = request.method == "POST" and pages.check_csrf(request, data, "logout")
    response = respond(gw, request, await in_transaction(gw.sessionmaker, gw.client_ip(request), logout_step, gw,
                                                         request, data, hint_claims, client_id, csrf_ok))
    gw.backchannel.wake()
    if request.method == "GET":
        browser = pages.browser_id(request)
        if request.cookies.get("idgw_browser") != browser:
            pages.set_browser_cookie(response, browser)
    return response


def logout_step(gw, request: Request, data, hint_claims: dict | None, client_id: str | None,
                csrf_ok: bool) -> Outcome:
    """A logout request's outcome: refused (an unregistered post-logout URI, a failed CSRF check),
    the question "sign out?" (asked unless the RP proved this very session or the person said
    yes), or the session group ended and the person sent on (or told it is done)."""
    post_logout = data.get("post_logout_redirect_uri")
    state = data.get("state")
    confirmed = request.method == "POST" and data.get("logout") == "yes" and csrf_ok
    if request.method == "POST" and not csrf_ok:  # a forged form is refused before anything it says is weighed
        return Outcome(error_key="err_csrf", status=403)
    db = current_db.get()
    now = gw.clock.now()
    if post_logout:
        client = db.get(Client, client_id) if client_id else None
        # Exact match against the registered list; otherwise no redirect at all.
        if client is None or post_logout not in (client.post_logout_redirect_uris or []):
            return Outcome(error_key="err_redirect_uri", code="invalid post_logout_redirect_uri", status=400,
                           ui_locales=data.get("ui_locales"))
    session = load_session(db, cookie=request.cookies.get(gw.settings.cookie_name), now=now)
    # The RP proved it holds an ID token for this very session: no need to ask.
    proven = session is not None and hint_claims is not None and hint_claims.get("sid") == session.id
    if session is not None and not (proven or confirmed):
        if request.method == "POST":  # answered "no"
            return Outcome(page="home.html", context={"account_name": None})
        carry = [(k, v) for k, v in data.items() if k in CARRIED]
        browser = request.cookies.get("idgw_browser") or ""
        return Outcome(page="logout.html", ui_locales=data.get("ui_locales"),
                       context=dict(done=False, carry=carry, csrf_token=gw.pages.csrf_token(browser, "logout")))
    if session is not None:
        sign_out(db, session=session, now=now, ip=gw.client_ip(request), reason="logout", client_id=client_id)
    if post_logout:
        target = add_params_to_uri(post_logout, [("state", state)]) if state else post_logout
        return Outcome(redirect=target, clear_cookie=True)
    return Outcome(page="logout.html", context=dict(done=True), clear_cookie=True,
                   ui_locales=data.get("ui_locales"))


@router.get("/", include_in_schema=False)
async def home(request: Request, gw=Depends(gateway_of)) -> Response:
    name = await in_transaction(gw.sessionmaker, gw.client_ip(request), home_name, gw, request,
                                request.cookies.get(gw.settings.cookie_name))
    return gw.pages.render(request, "home.html", account_name=name)


def home_name(gw, request: Request, cookie_value: str | None) -> str | None:
    """The signed-in person's name for the home page's greeting (None when nobody is)."""
    db = current_db.get()
    session = load_session(db, cookie=cookie_value, now=gw.clock.now())
    account = db.get(Account, session.account_id) if session else None
    return display_name(account, gw.pages.locale(request)) if account else None
