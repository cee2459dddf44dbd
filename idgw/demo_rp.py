"""A small demo e-service: an OIDC relying party that signs in through the gateway (code flow +
PKCE S256, state, nonce, RFC 9207 iss check) and shows the verified ID token claims."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import KeySet

PAGE = """<!doctype html><html lang="th"><head><meta charset="utf-8"><title>Demo e-service</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}}</style></head>
<body><h1>บริการตัวอย่าง / Demo e-service</h1>{body}</body></html>"""


def create_demo_app(*, issuer: str, client_id: str, client_secret: str, base_url: str) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    pending: dict[str, dict] = {}
    redirect_uri = base_url + "/callback"
    state_cache: dict = {}

    async def metadata() -> dict:
        if "meta" not in state_cache:
            async with httpx.AsyncClient(timeout=5) as http:
                state_cache["meta"] = (await http.get(issuer + "/.well-known/openid-configuration")).json()
        return state_cache["meta"]

    @app.get("/", response_class=HTMLResponse)
    async def index():
        return PAGE.format(body='<p>กรุณาเข้าสู่ระบบก่อนยื่นคำขอ / Please sign in before submitting a request.</p>'
                                '<p><a href="/login">เข้าสู่ระบบด้วย idgw / Sign in with idgw</a></p>')

    @app.get("/login")
    async def login():
        meta = await metadata()
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state, nonce, key = secrets.token_urlsafe(16), secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        pending[key] = {"verifier": verifier, "state": state, "nonce": nonce}
        query = httpx.QueryParams({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                                   "scope": "openid profile email offline_access", "state": state,
                                   "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256",
                                   "prompt": "consent"})
        response = RedirectResponse(f"{meta['authorization_endpoint']}?{query}", status_code=302)
        response.set_cookie("demo_rp", key, httponly=True, samesite="lax")
        return response

    @app.get("/callback", response_class=HTMLResponse)
    async def callback(request: Request):
        params = request.query_params
        flow = pending.pop(request.cookies.get("demo_rp", ""), None)
        if flow is None or params.get("state") != flow["state"]:
            return HTMLResponse(PAGE.format(body="<p>state ไม่ตรงกัน / state mismatch</p>"), status_code=400)
        if params.get("iss") != issuer:
            return HTMLResponse(PAGE.format(body="<p>iss ไม่ถูกต้อง / wrong iss (RFC 9207)</p>"), status_code=400)
        if "error" in params:
            return HTMLResponse(PAGE.format(body=f"<p>{html.escape(params['error'])}: "
                                                 f"{html.escape(params.get('error_description', ''))}</p>"))
        meta = await metadata()
        async with httpx.AsyncClient(timeout=5) as http:
            tokens = (await http.post(meta["token_endpoint"], auth=(client_id, client_secret), data={
                "grant_type": "authorization_code", "code": params.get("code", ""),
                "redirect_uri": redirect_uri, "code_verifier": flow["verifier"]})).json()
            if "id_token" not in tokens:
                return HTMLResponse(PAGE.format(body=f"<pre>{html.escape(json.dumps(tokens))}</pre>"), 400)
            keys = KeySet.import_key_set((await http.get(meta["jwks_uri"])).json())
        token = jwt.decode(tokens["id_token"], keys, algorithms=["ES256", "RS256", "PS256"])
        claims = token.claims
        jwt.JWTClaimsRegistry(iss={"essential": True, "value": issuer}, aud={"essential": True, "value": client_id},
                              nonce={"essential": True, "value": flow["nonce"]}).validate(claims)
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(json.dumps(v, ensure_ascii=False))}</td></tr>"
                       for k, v in claims.items())
        logout = httpx.QueryParams({"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": base_url + "/"})
        body = (f"<p>ลงชื่อเข้าใช้สำเร็จ / Signed in. ID token (verified, {html.escape(token.header['alg'])}):</p>"
                f"<table>{rows}</table><p><a href='{html.escape(meta['end_session_endpoint'])}?{logout}'>"
                "ออกจากระบบ / Sign out</a></p>")
        return HTMLResponse(PAGE.format(body=body))

    return app
