"""Resource-server kit for e-services: validate a gateway access token in a FastAPI dependency
and, when the sign-in behind it is not strong or recent enough, answer with the RFC 9470 step-up
challenge:

    WWW-Authenticate: Bearer error="insufficient_user_authentication",
        error_description="...", acr_values="urn:idgw:aal:2.1", max_age=300

Usage::

    validator = TokenValidator(issuer="https://id.example.go.th", audience="my-client-id")
    require_aal21 = require_token(validator, acr="urn:idgw:aal:2.1")

    @app.post("/api/requests")
    async def submit(claims: dict = Depends(require_aal21)): ...
"""

from __future__ import annotations

import time

import httpx
from fastapi import HTTPException, Request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from policies import AAL, IAL, LevelError, parse_acr

ALGORITHMS = ["ES256", "RS256", "PS256"]


class InvalidTokenError(Exception):
    pass


class TokenValidator:
    """Checks signature (keys from the gateway's JWKS, cached and re-fetched on an unknown kid),
    ``typ`` at+jwt, issuer, audience and expiry of RFC 9068 access tokens."""

    def __init__(self, *, issuer: str, audience: str, jwks_uri: str | None = None, leeway: int = 30,
                 cache_seconds: int = 300, timeout: float = 3.0) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_uri = jwks_uri or issuer + "/jwks.json"
        self.leeway = leeway
        self.cache_seconds = cache_seconds
        self.timeout = timeout
        self._keys: KeySet | None = None
        self._fetched = 0.0

    async def _keyset(self, *, refresh: bool = False) -> KeySet:
        if refresh or self._keys is None or time.monotonic() - self._fetched > self.cache_seconds:
            async with httpx.AsyncClient(timeout=self.timeout) as http:
                resp = await http.get(self.jwks_uri)
                resp.raise_for_status()
            self._keys = KeySet.import_key_set(resp.json())
            self._fetched = time.monotonic()
        return self._keys

    async def validate(self, token: str) -> dict:
        try:
            keys = await self._keyset()
            try:
                decoded = jwt.decode(token, keys, algorithms=ALGORITHMS)
            except (JoseError, ValueError):
                decoded = jwt.decode(token, await self._keyset(refresh=True), algorithms=ALGORITHMS)
        except (JoseError, ValueError, TypeError, httpx.HTTPError) as exc:
            raise InvalidTokenError("signature or format invalid") from exc
        if decoded.header.get("typ") != "at+jwt":
            raise InvalidTokenError("not an access token")
        try:
            jwt.JWTClaimsRegistry(leeway=self.leeway, iss={"essential": True, "value": self.issuer},
                                  aud={"essential": True, "value": self.audience},
                                  exp={"essential": True}).validate(decoded.claims)
        except JoseError as exc:
            raise InvalidTokenError(exc.description or "claims invalid") from exc
        return decoded.claims


def _challenge(error: str, description: str, **params) -> dict:
    parts = [f'error="{error}"', f'error_description="{description}"']
    parts += [f'{k}="{v}"' if isinstance(v, str) else f"{k}={v}" for k, v in params.items() if v is not None]
    return {"WWW-Authenticate": "Bearer " + ", ".join(parts)}


def meets(claims: dict, *, acr: str | None, max_age: int | None, now: int | None = None) -> str | None:
    """None if the token's authentication satisfies ``acr`` (an idgw acr value: IAL, AAL or both,
    compared by level against the token's ``ial`` and ``aal`` claims) and ``max_age``; otherwise
    the reason."""
    now = int(time.time()) if now is None else now
    if acr is not None:
        try:
            wanted = parse_acr(acr)
            ok = wanted is not None and wanted.satisfied_by(ial=IAL.parse(str(claims.get("ial"))),
                                                            aal=AAL.parse(str(claims.get("aal"))))
        except LevelError:
            ok = False
        if not ok:
            return f"this operation needs {acr}"
    if max_age is not None and now - int(claims.get("auth_time", 0)) > max_age:
        return f"this operation needs a sign-in within the last {max_age} seconds"
    return None


def require_token(validator: TokenValidator, *, acr: str | None = None, max_age: int | None = None):
    """A FastAPI dependency returning the token's claims, or raising 401 (RFC 6750 / RFC 9470)."""
    if acr is not None and parse_acr(acr) is None:  # a typo fails at start-up (LevelError or this)
        raise LevelError(f"{acr!r} is not an idgw acr value")

    async def dependency(request: Request) -> dict:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
        try:
            claims = await validator.validate(token.strip())
        except InvalidTokenError as exc:
            raise HTTPException(401, str(exc), headers=_challenge("invalid_token", str(exc))) from None
        reason = meets(claims, acr=acr, max_age=max_age)
        if reason:
            raise HTTPException(401, reason, headers=_challenge("insufficient_user_authentication", reason,
                                                                acr_values=acr, max_age=max_age))
        return claims

    return dependency


def parse_challenge(header: str) -> dict:
    """The parameters of a Bearer challenge (for clients reacting to RFC 9470)."""
    import re

    _, _, rest = header.partition(" ")
    return {k: (v1 if v1 else v2) for k, v1, v2 in re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,]+))', rest)}
