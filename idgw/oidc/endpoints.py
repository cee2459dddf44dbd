"""The back-channel OAuth endpoints (token, introspection, revocation) as one small ASGI app,
ahead of FastAPI's routing.

These are the endpoints e-services call most after discovery, machine to machine, with a form
body and a JSON answer: no page, no cookie, no dependency injection. Served here they skip the
router's walk over every route, the request and response objects and the exception layers
(measured: about a sixth of the CPU per token request). What they keep is what matters:

* the body is read with ``idgw.httpio.receive_body``: up to ``MAX_BODY`` bytes, refused with 413
  beyond it without reading on, and 408 when it does not arrive within ``IDGW_BODY_TIMEOUT``; a
  client that goes away mid-body is one INFO line and gets no answer;
* only ``application/x-www-form-urlencoded`` bodies are parsed (``idgw.oidc.adapter.build_request``:
  strict UTF-8, at most 64 fields), and a repeated parameter is ``invalid_request`` (RFC 6749 §3.2);
* the Authlib call runs in a worker thread inside one transaction (``idgw.oidc.adapter``);
* every answer is JSON with ``Cache-Control: no-store`` (RFC 6749 §5.1), and the security headers
  are still added by the middleware around this one.
"""

from __future__ import annotations

from starlette.datastructures import Headers

from idgw.httpio import BodyError, receive_body
from idgw.jsontext import compact
from idgw.oidc.adapter import (
    AdaptedRequest,
    InvalidParametersError,
    build_request,
    in_short_transaction,
    in_transaction,
)
from idgw.oidc.provider import ENDPOINT_PATHS

MAX_BODY = 64 * 1024
NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]


async def send_json(send, status: int, body, headers: list[tuple[bytes, bytes]] = ()) -> None:
    data = compact(body)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *NO_STORE, *headers]})
    await send({"type": "http.response.body", "body": data})


class OAuthEndpoints:
    """ASGI middleware: answers POST /token, /introspect and /revoke; passes everything else on."""

    def __init__(self, app, *, gateway) -> None:
        self.app = app
        self.gw = gateway
        provider = gateway.provider
        self.calls = {
            ENDPOINT_PATHS["token"]: provider.create_token_response,
            ENDPOINT_PATHS["introspection"]: lambda areq: provider.create_endpoint_response("introspection", areq),
            ENDPOINT_PATHS["revocation"]: lambda areq: provider.create_endpoint_response("revocation", areq),
        }

    async def __call__(self, scope, receive, send):
        call = self.calls.get(scope["path"]) if scope["type"] == "http" else None
        if call is None:
            return await self.app(scope, receive, send)
        if scope["method"] != "POST":
            return await send_json(send, 405, {"error": "invalid_request", "error_description": "use POST"},
                                   [(b"allow", b"POST")])
        try:
            areq = await self._request(scope, receive)
        except BodyError as exc:
            if exc.status is None:  # the client went away (logged by httpio): nobody to answer
                return None
            # Connection: close, so the rest of a refused body is not read.
            return await send_json(send, exc.status, {"error": "invalid_request", "error_description": str(exc)},
                                   [(b"connection", b"close")])
        except InvalidParametersError as exc:
            return await send_json(send, 400, {"error": "invalid_request", "error_description": str(exc)})
        client_ip = scope["client"][0] if scope.get("client") else "unknown"
        # private_key_jwt may read the client's jwks_uri over the network: not on the event loop.
        run = in_transaction if "client_assertion" in areq.form else in_short_transaction
        status, body, headers = await run(self.gw.sessionmaker, client_ip, call, areq)
        extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers or []
                 if k.lower() not in ("content-type", "cache-control", "pragma")]
        await send_json(send, status, body, extra)

    async def _request(self, scope, receive) -> AdaptedRequest:
        body = await receive_body(scope, receive, limit=MAX_BODY, timeout=self.gw.settings.body_timeout)
        return build_request(issuer=self.gw.settings.issuer, method="POST", path=scope["path"],
                             query_string=scope.get("query_string", b""), headers=Headers(scope=scope), body=body)
