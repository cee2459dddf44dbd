"""A small demo e-service: an OIDC relying party that signs in through the gateway (code flow +
PKCE S256, state, nonce, RFC 9207 iss check), shows the verified ID token claims, and has one
operation ("submit a request") whose API needs AAL 2.1. That API uses the resource-server kit
(``idgw.rs``): with a weaker sign-in it answers the RFC 9470 challenge, and the demo then asks
the gateway to step up with the ``acr_values`` and ``max_age`` the challenge names.

It honours OpenID Connect Back-Channel Logout 1.0: when the person signs out at the gateway (or
anywhere else that ends their gateway session), the gateway POSTs a signed logout token to
``/backchannel-logout`` and the demo ends its own sessions with that ``sid``."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idgw.httpio import BodyError, parse_form, read_body
from idgw.rs import TokenValidator, parse_challenge, require_token

PAGE = """<!doctype html><html lang="th"><head><meta charset="utf-8"><title>Demo e-service</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}}</style></head>
<body><h1>บริการตัวอย่าง / Demo e-service</h1>{body}</body></html>"""
SUBMIT_ACR = "urn:idgw:aal:2.1"
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(body=body), status_code=status)


def create_demo_app(*, issuer: str, client_id: str, client_secret: str, base_url: str) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    pending: dict[str, dict] = {}
    sessions: dict[str, dict] = {}
    seen_logout_jti: set = set()
    redirect_uri = base_url + "/callback"
    state_cache: dict = {}
    validator = TokenValidator(issuer=issuer, audience=client_id)

    async def metadata() -> dict:
        if "meta" not in state_cache:
            async with httpx.AsyncClient(timeout=5) as http:
                state_cache["meta"] = (await http.get(issuer + "/.well-known/openid-configuration")).json()
        return state_cache["meta"]

    async def start_login(*, return_to: str = "/", acr_values: str | None = None, max_age: str | None = None):
        meta = await metadata()
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state, nonce, key = secrets.token_urlsafe(16), secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        pending[key] = {"verifier": verifier, "state": state, "nonce": nonce, "return_to": return_to}
        params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                  "scope": "openid profile email offline_access", "state": state, "nonce": nonce,
                  "code_challenge": challenge, "code_challenge_method": "S256"}
        if acr_values:
            params["acr_values"] = acr_values
        if max_age is not None:
            params["max_age"] = max_age
        response = RedirectResponse(f"{meta['authorization_endpoint']}?{httpx.QueryParams(params)}", status_code=303)
        response.set_cookie("demo_rp", key, httponly=True, samesite="lax")
        return response

    async def keyset(*, refresh: bool = False) -> KeySet:
        if refresh or "keys" not in state_cache:
            meta = await metadata()
            async with httpx.AsyncClient(timeout=5) as http:
                state_cache["keys"] = KeySet.import_key_set((await http.get(meta["jwks_uri"])).json())
        return state_cache["keys"]

    async def verify_logout_token(token: str) -> dict:
        """Back-Channel Logout 1.0 §2.6: signature, typ, iss, aud, iat/exp, events, no nonce, sid or sub."""
        try:
            decoded = jwt.decode(token, await keyset(), algorithms=["ES256", "RS256", "PS256"])
        except (JoseError, ValueError):
            decoded = jwt.decode(token, await keyset(refresh=True), algorithms=["ES256", "RS256", "PS256"])
        claims = decoded.claims
        if decoded.header.get("typ") != "logout+jwt":
            raise ValueError("not a logout token")
        jwt.JWTClaimsRegistry(leeway=60, iss={"essential": True, "value": issuer},
                              aud={"essential": True, "value": client_id}, iat={"essential": True},
                              exp={"essential": True}).validate(claims)
        if not isinstance(claims.get("events"), dict) or BACKCHANNEL_EVENT not in claims["events"]:
            raise ValueError("no back-channel logout event")
        if "nonce" in claims or not (claims.get("sid") or claims.get("sub")):
            raise ValueError("malformed logout token")
        if claims.get("jti") in seen_logout_jti:
            raise ValueError("logout token replayed")
        seen_logout_jti.add(claims.get("jti"))
        return claims

    async def call_api(tokens: dict) -> httpx.Response:
        async with httpx.AsyncClient(timeout=5) as http:
            return await http.post(base_url + "/api/requests",
                                   headers={"Authorization": f"Bearer {tokens['access_token']}"})

    async def submit_with(request_session: dict):
        """Call the protected API; on an RFC 9470 challenge, step up at the gateway and come back."""
        resp = await call_api(request_session["tokens"])
        if resp.status_code == 401:
            params = parse_challenge(resp.headers.get("www-authenticate", ""))
            if params.get("error") == "insufficient_user_authentication":
                return await start_login(return_to="/submit", acr_values=params.get("acr_values"),
                                         max_age=params.get("max_age"))
        if resp.status_code != 200:
            return page(f"<p>ส่งคำขอไม่สำเร็จ / Request failed: {resp.status_code}</p>", 502)
        receipt = resp.json()
        return page(f"<p>ได้รับคำขอแล้ว / Request received: <strong>{html.escape(receipt['reference'])}</strong> "
                    f"({html.escape(receipt['acr'])})</p><p><a href='/'>กลับ / Back</a></p>")

    @app.get("/", response_class=HTMLResponse)
    async def index(request: Request):
        if request.cookies.get("demo_session") in sessions:
            return page("<p>ท่านเข้าสู่ระบบแล้ว / You are signed in.</p>"
                        "<form method='post' action='/submit'><button>ยื่นคำขอ (ต้องใช้ AAL 2.1) / "
                        "Submit a request (needs AAL 2.1)</button></form>")
        return page('<p>กรุณาเข้าสู่ระบบก่อนยื่นคำขอ / Please sign in before submitting a request.</p>'
                    '<p><a href="/login">เข้าสู่ระบบด้วย idgw / Sign in with idgw</a></p>')

    @app.get("/login")
    async def login():
        return await start_login()

    @app.post("/submit")
    async def submit(request: Request):
        current = sessions.get(request.cookies.get("demo_session", ""))
        if current is None:
            return await start_login(return_to="/submit")
        return await submit_with(current)

    @app.post("/api/requests")
    async def api_requests(claims: dict = Depends(require_token(validator, acr=SUBMIT_ACR))):
        return {"status": "received", "reference": "REQ-" + secrets.token_hex(4).upper(), "acr": claims["acr"]}

    @app.post("/backchannel-logout")
    async def backchannel_logout(request: Request):
        no_store = {"Cache-Control": "no-store"}
        try:
            form = parse_form(await read_body(request, limit=16 * 1024, timeout=10))
            claims = await verify_logout_token(form.get("logout_token", ""))
        except BodyError as exc:
            if exc.status is None:
                raise
            return JSONResponse({"error": exc.code}, status_code=exc.status, headers=no_store)
        except (JoseError, ValueError, httpx.HTTPError) as exc:
            return JSONResponse({"error": "invalid_request", "error_description": str(exc)[:200]},
                                status_code=400, headers=no_store)
        ended = [key for key, s in sessions.items()
                 if (claims.get("sid") and s["claims"].get("sid") == claims["sid"])
                 or (not claims.get("sid") and s["claims"].get("sub") == claims.get("sub"))]
        for key in ended:
            sessions.pop(key, None)
        return Response(status_code=200, headers=no_store)

    @app.get("/logout")
    async def logout(request: Request):
        """Sign out here and at the gateway (RP-initiated logout)."""
        current = sessions.pop(request.cookies.get("demo_session", ""), None)
        meta = await metadata()
        if current is None:
            return RedirectResponse("/", status_code=303)
        query = httpx.QueryParams({"id_token_hint": current["tokens"]["id_token"],
                                   "post_logout_redirect_uri": base_url + "/"})
        response = RedirectResponse(f"{meta['end_session_endpoint']}?{query}", status_code=303)
        response.delete_cookie("demo_session")
        return response

    @app.get("/callback", response_class=HTMLResponse)
    async def callback(request: Request):
        params = request.query_params
        flow = pending.pop(request.cookies.get("demo_rp", ""), None)
        if flow is None or params.get("state") != flow["state"]:
            return page("<p>state ไม่ตรงกัน / state mismatch</p>", 400)
        if params.get("iss") != issuer:
            return page("<p>iss ไม่ถูกต้อง / wrong iss (RFC 9207)</p>", 400)
        if "error" in params:
            return page(f"<p>ไม่สามารถเข้าสู่ระบบได้ / Sign-in did not complete: "
                        f"<code>{html.escape(params['error'])}</code></p>"
                        f"<p>{html.escape(params.get('error_description', ''))}</p>")
        meta = await metadata()
        async with httpx.AsyncClient(timeout=5) as http:
            tokens = (await http.post(meta["token_endpoint"], auth=(client_id, client_secret), data={
                "grant_type": "authorization_code", "code": params.get("code", ""),
                "redirect_uri": redirect_uri, "code_verifier": flow["verifier"]})).json()
            if "id_token" not in tokens:
                return page(f"<pre>{html.escape(json.dumps(tokens))}</pre>", 400)
            keys = KeySet.import_key_set((await http.get(meta["jwks_uri"])).json())
        token = jwt.decode(tokens["id_token"], keys, algorithms=["ES256", "RS256", "PS256"])
        claims = token.claims
        jwt.JWTClaimsRegistry(iss={"essential": True, "value": issuer}, aud={"essential": True, "value": client_id},
                              nonce={"essential": True, "value": flow["nonce"]}).validate(claims)
        key = secrets.token_urlsafe(16)
        sessions[key] = {"tokens": tokens, "claims": claims}
        if flow["return_to"] == "/submit":
            response = await submit_with(sessions[key])
        else:
            rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(json.dumps(v, ensure_ascii=False))}</td>"
                           "</tr>" for k, v in claims.items())
            response = page(f"<p>ลงชื่อเข้าใช้สำเร็จ / Signed in. ID token (verified, "
                            f"{html.escape(token.header['alg'])}):</p><table>{rows}</table>"
                            "<form method='post' action='/submit'><button>ยื่นคำขอ (ต้องใช้ AAL 2.1) / "
                            "Submit a request (needs AAL 2.1)</button></form>"
                            "<p><a href='/logout'>ออกจากระบบ / Sign out</a></p>")
        response.set_cookie("demo_session", key, httponly=True, samesite="lax")
        return response

    return app
