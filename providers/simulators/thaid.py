"""A ThaiD-style OpenID Connect identity provider for demos and tests (domain brief §3).

Speaks plain OIDC authorization code flow: discovery, JWKS, an authorization endpoint that shows
its own login page listing the demo citizens, PKCE S256 (required), a token endpoint with HTTP
Basic client authentication returning an ID token (iss, aud, exp, iat, auth_time, nonce, sub, pid,
ial), and userinfo (sub, pid, Thai and English names, birthdate, ial, per scope). ``sub`` is an
opaque per-citizen value, as at ThaiD; the citizen ID is the ``pid`` claim.

One client is configured at construction. State is in memory. Misbehaviour for tests comes from
``faults`` (constructor) or, when ``control=True``, ``POST /_sim/faults`` (see ``FAULTS``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import html
import secrets
import threading
import time
from typing import Any
from urllib.parse import unquote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from providers.simulators.citizens import DEMO_CITIZENS, citizen_by_pid

# name -> what it does (documented in docs/providers.md)
FAULTS = {
    "discovery_error": "discovery answers HTTP 500",
    "authorize_error": "the login redirects back with error=server_error",
    "token_error": "token endpoint answers 400 {error: invalid_request}",
    "token_delay": "seconds the token endpoint waits before answering (a slow upstream)",
    "bad_signature": "ID token signed with a key that is not in the JWKS (same kid)",
    "wrong_nonce": "ID token carries another nonce",
    "wrong_issuer": "ID token iss is another issuer",
    "wrong_audience": "ID token aud is another client",
    "expired_id_token": "ID token exp is an hour ago",
    "invalid_citizen_id": "pid fails the checksum (3712644096692)",
    "ial": "report this ial value instead of the citizen's",
    "userinfo_error": "userinfo answers HTTP 500",
}
INVALID_PID = "3712644096692"  # domain brief §4: fails the checksum
SCOPE_CLAIMS = {
    "pid": ("pid",), "given_name": ("given_name",), "family_name": ("family_name",),
    "given_name_en": ("given_name_en",), "family_name_en": ("family_name_en",), "birthdate": ("birthdate",),
    "title": ("title",), "title_en": ("title_en",), "gender": ("gender",), "ial": ("ial",),
}
CODE_LIFETIME = 60
TOKEN_LIFETIME = 600


class ThaiDSimulator:
    """In-memory ThaiD-style provider state; ``app`` is the FastAPI application serving it."""

    def __init__(self, *, issuer: str, client_id: str, client_secret: str, redirect_uris: list[str],
                 alg: str = "ES256", control: bool = False, faults: dict | None = None,
                 citizens: tuple[dict, ...] = DEMO_CITIZENS) -> None:
        if alg not in ("ES256", "RS256"):
            raise ValueError("alg must be ES256 or RS256")
        self.issuer = issuer.rstrip("/")
        self.client_id, self.client_secret = client_id, client_secret
        self.redirect_uris = list(redirect_uris)
        self.alg = alg
        self.control = control
        self.faults: dict[str, Any] = dict(faults or {})
        self.citizens = citizens
        self._lock = threading.Lock()
        self._keys = [self._new_key()]
        self._transactions: dict[str, dict] = {}
        self._codes: dict[str, dict] = {}
        self._tokens: dict[str, dict] = {}
        self.token_requests = 0  # seen by tests
        self.app = self._build_app()

    # -- keys --------------------------------------------------------------------------------------------

    def _new_key(self):
        kid = secrets.token_hex(8)
        if self.alg == "ES256":
            return ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig", "alg": "ES256"})
        return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})

    def rotate_keys(self) -> None:
        """Publish a new signing key (first in the JWKS) and keep the old one published."""
        with self._lock:
            self._keys.insert(0, self._new_key())

    def jwks(self) -> dict:
        return KeySet(self._keys).as_dict(private=False)

    def _sign(self, claims: dict) -> str:
        key = self._keys[0]
        if self.faults.get("bad_signature"):
            # Same kid as the published key, different key material: the signature cannot verify.
            return jwt.encode({"alg": self.alg, "kid": key.kid, "typ": "JWT"}, claims, self._new_key())
        return jwt.encode({"alg": self.alg, "kid": key.kid, "typ": "JWT"}, claims, key)

    # -- protocol ---------------------------------------------------------------------------------------

    def discovery(self) -> dict:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "userinfo_endpoint": self.issuer + "/userinfo",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.alg],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", *SCOPE_CLAIMS],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce",
                                 *[c for claims in SCOPE_CLAIMS.values() for c in claims]],
        }

    def _subject(self, pid: str) -> str:
        # ThaiD's sub is not the citizen ID: an opaque, stable value per citizen.
        return hashlib.sha256(f"{self.issuer}|{pid}".encode()).hexdigest()[:32]

    def _authorize(self, request: Request) -> Response:
        q = dict(request.query_params)
        # RFC 6749 §4.1.2.1: with a bad client or redirect URI, never redirect; show an error.
        if q.get("client_id") != self.client_id or q.get("redirect_uri") not in self.redirect_uris:
            return _page(("ข้อผิดพลาด", "Error"), "<p>client_id หรือ redirect_uri ไม่ถูกต้อง / "
                                                  '<span lang="en">Unknown client or redirect URI.</span></p>',
                         status=400)
        problem = None
        if q.get("response_type") != "code":
            problem = ("unsupported_response_type", "response_type must be code")
        elif "openid" not in q.get("scope", "").split():
            problem = ("invalid_scope", "scope must include openid")
        elif q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            problem = ("invalid_request", "PKCE S256 is required")
        elif not q.get("state") or not q.get("nonce"):
            problem = ("invalid_request", "state and nonce are required")
        if problem:
            return _redirect(q["redirect_uri"], error=problem[0], error_description=problem[1], state=q.get("state"))
        txn = secrets.token_urlsafe(16)
        with self._lock:
            # A long-running demo: forget abandoned logins and unused codes and tokens.
            now = time.time()
            for store, field, limit in ((self._transactions, "created", now - 900), (self._codes, "expires", now),
                                        (self._tokens, "expires", now)):
                for key in [k for k, v in store.items() if v[field] < limit]:
                    del store[key]
            self._transactions[txn] = {**q, "created": now}
        rows = "".join(
            f'<li><button type="submit" name="pid" value="{html.escape(c["pid"])}">'
            f'{html.escape(c["title"] + c["given_name"] + " " + c["family_name"])}'
            f' (<span lang="en">{html.escape(c["given_name_en"] + " " + c["family_name_en"])}</span>)'
            f' · {html.escape(_masked(c["pid"]))} · IAL {html.escape(c["thaid_ial"])}</button></li>'
            for c in self.citizens)
        body = (
            f'<form method="post" action="login"><input type="hidden" name="txn" value="{html.escape(txn)}">'
            f"<fieldset><legend>เลือกผู้ใช้ตัวอย่างเพื่อเข้าสู่ระบบด้วย ThaiD (จำลอง) / "
            f'<span lang="en">Choose a demo citizen to sign in with ThaiD (simulated)</span></legend>'
            f'<ul class="citizens">{rows}</ul></fieldset>'
            f'<button type="submit" name="action" value="cancel" class="secondary">'
            f'ยกเลิก / <span lang="en">Cancel</span></button></form>'
        )
        return _page(("เข้าสู่ระบบ", "Sign in"), body)

    async def _login(self, request: Request) -> Response:
        form = await request.form()
        with self._lock:
            txn = self._transactions.pop(str(form.get("txn", "")), None)
        if txn is None:
            return _page(("ข้อผิดพลาด", "Error"), '<p>คำขอหมดอายุ / <span lang="en">This sign-in has expired.</span>'
                         "</p>", status=400)
        if form.get("action") == "cancel":
            return _redirect(txn["redirect_uri"], error="access_denied", error_description="cancelled by the user",
                             state=txn["state"])
        if self.faults.get("authorize_error"):
            return _redirect(txn["redirect_uri"], error="server_error", error_description="simulated failure",
                             state=txn["state"])
        citizen = citizen_by_pid(str(form.get("pid", "")))
        if citizen is None or citizen not in self.citizens:
            return _page(("ข้อผิดพลาด", "Error"), '<p>ไม่พบผู้ใช้ / <span lang="en">Unknown citizen.</span></p>',
                         status=400)
        code = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[code] = {"txn": txn, "citizen": citizen, "auth_time": int(time.time()),
                                 "expires": time.time() + CODE_LIFETIME}
        return _redirect(txn["redirect_uri"], code=code, state=txn["state"])

    def _client_authenticated(self, request: Request) -> bool:
        # Domain brief §3: HTTP Basic (RFC 6749 §2.3.1: both parts form-urlencoded before encoding).
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return (hmac.compare_digest(unquote(user).encode(), self.client_id.encode())
                and hmac.compare_digest(unquote(password).encode(), self.client_secret.encode()))

    async def _token(self, request: Request) -> Response:
        with self._lock:
            self.token_requests += 1
        delay = self.faults.get("token_delay")
        if delay:
            await asyncio.sleep(float(delay))
        if not self._client_authenticated(request):
            return JSONResponse({"error": "invalid_client"}, status_code=401,
                                headers={"WWW-Authenticate": 'Basic realm="thaid"'})
        if self.faults.get("token_error"):
            return JSONResponse({"error": "invalid_request", "error_description": "simulated failure"},
                                status_code=400)
        form = await request.form()
        if form.get("grant_type") != "authorization_code":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        with self._lock:
            grant = self._codes.pop(str(form.get("code", "")), None)  # single use
        if grant is None or grant["expires"] < time.time():
            return JSONResponse({"error": "invalid_grant", "error_description": "unknown or used code"},
                                status_code=400)
        txn = grant["txn"]
        if form.get("redirect_uri") != txn["redirect_uri"]:
            return JSONResponse({"error": "invalid_grant", "error_description": "redirect_uri"}, status_code=400)
        verifier = str(form.get("code_verifier", ""))
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if not verifier or not hmac.compare_digest(challenge, txn["code_challenge"]):
            return JSONResponse({"error": "invalid_grant", "error_description": "PKCE verification failed"},
                                status_code=400)
        citizen = grant["citizen"]
        pid = INVALID_PID if self.faults.get("invalid_citizen_id") else citizen["pid"]
        ial = self.faults.get("ial", citizen["thaid_ial"])
        now = int(time.time())
        claims = {
            "iss": "https://wrong-issuer.example" if self.faults.get("wrong_issuer") else self.issuer,
            "aud": "another-client" if self.faults.get("wrong_audience") else self.client_id,
            "sub": self._subject(citizen["pid"]),
            "iat": now - 7200 if self.faults.get("expired_id_token") else now,
            "exp": now - 3600 if self.faults.get("expired_id_token") else now + TOKEN_LIFETIME,
            "auth_time": grant["auth_time"],
            "nonce": secrets.token_urlsafe(16) if self.faults.get("wrong_nonce") else txn["nonce"],
            "pid": pid,
            "ial": ial,
        }
        access_token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[access_token] = {"citizen": citizen, "pid": pid, "ial": ial, "scope": txn["scope"],
                                          "expires": now + TOKEN_LIFETIME}
        return JSONResponse({"access_token": access_token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME,
                             "scope": txn["scope"], "id_token": self._sign(claims)},
                            headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _userinfo(self, request: Request) -> Response:
        if self.faults.get("userinfo_error"):
            return JSONResponse({"error": "server_error"}, status_code=500)
        header = request.headers.get("authorization", "")
        with self._lock:
            grant = self._tokens.get(header[7:]) if header.lower().startswith("bearer ") else None
        if grant is None or grant["expires"] < time.time():
            return JSONResponse({"error": "invalid_token"}, status_code=401,
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        citizen = grant["citizen"]
        values = {**citizen, "pid": grant["pid"], "ial": grant["ial"]}
        claims: dict[str, Any] = {"sub": self._subject(citizen["pid"])}
        for scope in grant["scope"].split():
            for claim in SCOPE_CLAIMS.get(scope, ()):
                claims[claim] = values[claim]
        return JSONResponse(claims)

    # -- app -----------------------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="ThaiD simulator", docs_url=None, redoc_url=None, openapi_url=None)
        app.state.simulator = self

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Response:
            if self.faults.get("discovery_error"):
                return JSONResponse({"error": "server_error"}, status_code=500)
            return JSONResponse(self.discovery())

        @app.get("/jwks")
        def jwks() -> Response:
            return JSONResponse(self.jwks())

        @app.get("/authorize")
        def authorize(request: Request) -> Response:
            return self._authorize(request)

        @app.post("/login")
        async def login(request: Request) -> Response:
            return await self._login(request)

        @app.post("/token")
        async def token(request: Request) -> Response:
            return await self._token(request)

        @app.get("/userinfo")
        def userinfo(request: Request) -> Response:
            return self._userinfo(request)

        @app.get("/")
        def home() -> Response:
            return _page(("หน้าแรก", "Home"),
                         f'<p lang="en">Issuer: {html.escape(self.issuer)}</p><p lang="en">Discovery: '
                         f'<a href="/.well-known/openid-configuration">/.well-known/openid-configuration</a></p>')

        @app.get("/sim.css", include_in_schema=False)
        def stylesheet() -> Response:
            return Response(_CSS, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})

        if self.control:
            @app.post("/_sim/faults")
            async def set_faults(request: Request) -> Response:
                faults = await request.json()
                unknown = sorted(set(faults) - set(FAULTS)) if isinstance(faults, dict) else ["<not a mapping>"]
                if unknown:
                    return JSONResponse({"error": f"unknown faults {unknown}", "known": FAULTS}, status_code=400)
                self.faults = faults
                return JSONResponse({"faults": self.faults})

            @app.get("/_sim/faults")
            def get_faults() -> Response:
                return JSONResponse({"faults": self.faults, "known": FAULTS})

            @app.post("/_sim/rotate-keys")
            def rotate() -> Response:
                self.rotate_keys()
                return JSONResponse({"kids": [k.kid for k in self._keys]})

        return app


def create_thaid_app(*, issuer: str, client_id: str, client_secret: str, redirect_uris: list[str],
                     alg: str = "ES256", control: bool = False, faults: dict | None = None) -> FastAPI:
    """A ThaiD-style provider for one client; ``app.state.simulator`` is its ``ThaiDSimulator``."""
    return ThaiDSimulator(issuer=issuer, client_id=client_id, client_secret=client_secret,
                          redirect_uris=redirect_uris, alg=alg, control=control, faults=faults).app


def _masked(pid: str) -> str:
    return f"{pid[0]}-{pid[1:5]}-xxxxx-{pid[10:12]}-{pid[12]}"


def _redirect(uri: str, **params: str | None) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return RedirectResponse(uri + ("&" if "?" in uri else "?") + query, status_code=303)


# The simulator's pages: Thai with English parts marked, landmarks, one stylesheet (no inline
# style: the pages carry a CSP like a real provider's). Focus ring: dark #111 outside white, one
# of the two contrasts 3:1 or more with any background here (WCAG 1.4.11, technique C40).
_CSS = """* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 "Sarabun", "Noto Sans Thai", "Loma", sans-serif; color: #1b1f24; background: #f4f4f6; }
:focus-visible { outline: 3px solid #111; outline-offset: 3px; box-shadow: 0 0 0 3px #fff; }
header { padding: .75rem 1.25rem; background: #2b2a6b; color: #fff; font-weight: 700; }
header p { margin: 0; }
main { max-width: 40rem; margin: 1.5rem auto; padding: 1.25rem; background: #fff; border-radius: 8px; }
h1 { font-size: 1.5rem; margin: 0 0 1rem; }
fieldset { border: 0; margin: 0; padding: 0; }
legend { font-weight: 600; margin-bottom: .5rem; }
ul { list-style: none; padding: 0; margin: 0; }
button { display: block; width: 100%; min-height: 2.75rem; margin: .4rem 0; padding: .6rem .8rem; font: inherit;
         text-align: left; border: 1px solid #2b2a6b; border-radius: 4px; background: #fff; color: #1b1f24;
         cursor: pointer; }
button.secondary { width: auto; background: #e4e7eb; border-color: #59616b; }
@media (max-width: 40rem) { main { margin: 0; border-radius: 0; } }
"""
_CSP = "default-src 'none'; style-src 'self'; base-uri 'none'; frame-ancestors 'none'"


def _page(title: tuple[str, str], body: str, *, status: int = 200) -> HTMLResponse:
    """A page titled ``title`` (Thai, English) in <title> and <h1>, inside the simulator's landmarks."""
    th, en = (html.escape(part) for part in title)
    return HTMLResponse(
        f'<!doctype html><html lang="th"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{th} / {en} · ThaiD (จำลอง) / ThaiD simulator</title>"
        f'<link rel="stylesheet" href="sim.css"></head><body>'
        f'<header><p>ThaiD (จำลอง) / <span lang="en">ThaiD simulator</span></p></header>'
        f'<main><h1>{th} / <span lang="en">{en}</span></h1>{body}</main></body></html>',
        status_code=status, headers={"Cache-Control": "no-store", "Content-Security-Policy": _CSP,
                                     "X-Content-Type-Options": "nosniff"})
