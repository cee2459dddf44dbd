"""The gateway's cookies on the wire (security review item 12).

* The browser id (``idgw_browser``), on which CSRF tokens and the binding of a sign-in to its
  browser depend, is only ever one the gateway issued: its value carries an HMAC tag under a key
  derived from the secret key, and a value without a valid tag is dropped before any handler sees
  it (the handler then issues a new one). A browser-chosen value is never adopted.
* With an https issuer every gateway cookie carries the ``__Host-`` prefix on the wire (RFC 6265bis
  §4.1.3.2: Secure, Path=/, no Domain), so a sibling subdomain or a plain-http response cannot
  plant one; an unprefixed copy sent by the browser is ignored.

Handlers keep using the plain names (``idgw_session``, ``idgw_browser``, ``idgw_lang``): this ASGI
middleware translates the ``Cookie`` request header and the ``Set-Cookie`` response headers.
"""

from __future__ import annotations

import hmac

from idgw.security import b64url, derive_key, random_token

NAMES = ("idgw_session", "idgw_browser", "idgw_lang")
BROWSER = "idgw_browser"
HOST_PREFIX = "__Host-"


class BrowserIds:
    """Browser ids the gateway issued: ``<random>.<tag>``, tag = HMAC(key, random) truncated."""

    def __init__(self, secret_key: str) -> None:
        self._key = derive_key(secret_key, "browser-id")

    def _tag(self, value: str) -> str:
        mac = hmac.digest(self._key, value.encode(), "sha256")[:16]
        return b64url(mac).decode()

    def new(self) -> str:
        value = random_token(24)
        return f"{value}.{self._tag(value)}"

    def valid(self, value: str | None) -> bool:
        if not value or len(value) > 80 or value.count(".") != 1:
            return False
        random_part, tag = value.split(".")
        return hmac.compare_digest(tag.encode(), self._tag(random_part).encode())


def _parse(header: str) -> list[tuple[str, str]]:
    pairs = []
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            pairs.append((name.strip(), value.strip()))
    return pairs


class Cookies:
    """ASGI middleware: see the module docstring."""

    def __init__(self, app, *, https: bool, browser_ids: BrowserIds) -> None:
        self.app = app
        self.https = https
        self.ids = browser_ids

    def _incoming(self, header: str) -> str:
        kept = []
        for name, value in _parse(header):
            if self.https and name in NAMES:
                continue  # only the __Host- copies count
            if self.https and name.startswith(HOST_PREFIX) and name[len(HOST_PREFIX):] in NAMES:
                name = name[len(HOST_PREFIX):]
            if name == BROWSER and not self.ids.valid(value):
                continue
            kept.append(f"{name}={value}")
        return "; ".join(kept)

    @staticmethod
    def _outgoing(value: bytes) -> bytes:
        name = value.split(b"=", 1)[0].strip().decode("latin-1")
        return HOST_PREFIX.encode() + value.lstrip() if name in NAMES else value

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = []
        for key, value in scope["headers"]:
            if key == b"cookie":
                cleaned = self._incoming(value.decode("latin-1"))
                if cleaned:
                    headers.append((key, cleaned.encode("latin-1")))
            else:
                headers.append((key, value))
        scope = {**scope, "headers": headers}

        async def sending(message):
            if message["type"] == "http.response.start" and self.https:
                message["headers"] = [(k, self._outgoing(v) if k.lower() == b"set-cookie" else v)
                                      for k, v in message.get("headers", [])]
            await send(message)

        return await self.app(scope, receive, sending)


def set_session_cookie(settings, response, cookie: str) -> None:
    """The sign-in session's cookie (``settings.cookie_name``): HttpOnly, SameSite=Lax, Path=/,
    Secure with an https issuer (and then ``__Host-`` prefixed on the wire, by ``Cookies``)."""
    response.set_cookie(settings.cookie_name, cookie, httponly=True, samesite="lax",
                        secure=settings.cookie_secure, path="/")


def clear_session_cookie(settings, response) -> None:
    """Tell the browser to forget the session's cookie (signed out), with the attributes it was set with."""
    response.delete_cookie(settings.cookie_name, path="/", httponly=True, samesite="lax",
                           secure=settings.cookie_secure)
