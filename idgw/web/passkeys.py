"""The one JSON endpoint the passkey pages call: WebAuthn options for registration, usernameless
sign-in or step-up. The ceremony's result comes back through an ordinary form POST (CSRF token,
server-side verification) on the page that asked.

The handler checks the CSRF header and reads the JSON body; ``options_step`` decides, in one
transaction, whether this request may have options and makes them (a plain function of the
gateway and the request's inputs, so tests can call it)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from idgw import jsontext
from idgw.depends import gateway_of
from idgw.httpio import PASSKEY_OPTIONS_MAX, BodyError, read_body
from idgw.login.interaction import open_interaction
from idgw.login.raising import Route
from idgw.login.sessions import load_session
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.ratelimit import spend
from idgw.security import constant_time_equal, sha256_hex
from idgw.storage.models import Account
from idgw.web.account import account_access
from idgw.web.raising import decide_for

MAX_OPTIONS_BODY = PASSKEY_OPTIONS_MAX

router = APIRouter()


@router.post("/webauthn/options", include_in_schema=False)
async def options(request: Request, gw=Depends(gateway_of)) -> Response:
    browser = request.cookies.get("idgw_browser") or ""
    sent = request.headers.get("x-csrf-token", "")
    if not browser or not constant_time_equal(sent, gw.pages.csrf_token(browser, "webauthn")):
        return JSONResponse({"error": "csrf"}, status_code=403)
    try:
        body = await read_body(request, limit=MAX_OPTIONS_BODY, timeout=gw.settings.body_timeout)
    except BodyError as exc:
        if exc.status is None:  # the client went away: the app's handler ends it quietly
            raise
        return JSONResponse({"error": exc.code}, status_code=exc.status, headers={"Connection": "close"})
    try:
        document = jsontext.loads(body or b"{}", max_bytes=MAX_OPTIONS_BODY, max_depth=4)
    except jsontext.JSONTextError:
        return JSONResponse({"error": "invalid_request"}, status_code=400)
    purpose = document.get("purpose") if isinstance(document, dict) else None
    context = document.get("context") if isinstance(document, dict) else None
    result = await in_transaction(gw.sessionmaker, gw.client_ip(request), options_step, gw, request, purpose,
                                  context, browser)
    if isinstance(result, tuple):
        return JSONResponse({"error": "rate_limited"}, status_code=429, headers={"Retry-After": str(result[1])})
    if result == "invalid":
        return JSONResponse({"error": "invalid_request"}, status_code=400)
    if result is None:
        return JSONResponse({"error": "login_required"}, status_code=401)
    return Response(result, media_type="application/json", headers={"Cache-Control": "no-store"})


def options_step(gw, request: Request, purpose, context, browser: str):
    """The options for ``purpose`` (the JSON text), within the IP's budget: ``("rate_limited",
    seconds)`` past it, None when the purpose needs a session (or an interaction offering it)
    this request does not have, ``"invalid"`` for an unknown purpose."""
    webauthn = gw.authenticators.get("webauthn")
    browser_hash = sha256_hex(browser)
    db = current_db.get()
    now = gw.clock.now()
    # Each answer stores a challenge row: budgeted per IP (security review item 15).
    wait = spend(db, bucket="webauthn", ip=gw.client_ip(request), limit=gw.settings.rate_per_ip,
                 window=gw.settings.rate_window, now=now)
    if wait:
        return ("rate_limited", wait)
    if purpose == "login":
        return webauthn.authentication_options(db, account=None, session_id=None, browser_hash=browser_hash,
                                               now=now)
    if purpose == "stepup":
        session = load_session(db, cookie=request.cookies.get(gw.settings.cookie_name), now=now)
        if session is None:
            return None
        return webauthn.authentication_options(db, account=db.get(Account, session.account_id),
                                               session_id=session.id, browser_hash=browser_hash, now=now)
    if purpose == "enrol":
        # A passkey set up inside a sign-in (idgw.web.raising): only where that interaction
        # offers it now, to the session signed in for it.
        return enrol_options(gw, db, request, context, browser, now)
    if purpose == "register":
        session, account, redirect = account_access(gw, db, request, now, fresh=True)
        if redirect:
            return None
        return webauthn.registration_options(db, account=account, session_id=session.id,
                                             browser_hash=browser_hash, now=now)
    return "invalid"


def enrol_options(gw, db, request: Request, context, browser: str, now: int):
    """Registration options for a passkey set up inside the sign-in ``context`` names (an
    interaction of this browser), when that sign-in offers it now; else None."""
    session = load_session(db, cookie=request.cookies.get(gw.settings.cookie_name), now=now)
    ia = open_interaction(db, iid=context, browser=browser, now=now)[0] if isinstance(context, str) else None
    if session is None or ia is None:
        return None
    account = db.get(Account, session.account_id)
    if Route("enrol", "webauthn") not in decide_for(gw, db, ia, session, account, now).routes:
        return None
    return gw.authenticators.get("webauthn").registration_options(db, account=account, session_id=session.id,
                                                                  browser_hash=sha256_hex(browser), now=now)
