"""The gateway's outermost middleware: trusted proxy headers, the request id, request metrics, the
access line, and ``/metrics``.

It is on every request, the token endpoint's included, so it is plain ASGI (no BaseHTTPMiddleware
task), looks labels up in dictionaries it fills once, and allocates little: the request id, one
wrapped ``send`` and the access record.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
from os import urandom
from threading import current_thread
from time import perf_counter, time

from idgw.observe.forwarded import TrustedProxies, forwarded_request_id
from idgw.observe.logs import PLAIN, REQUEST_ID
from idgw.observe.metrics import METHODS, Metrics
from idgw.observe.routes import OTHER, RouteNames

ACCESS = logging.getLogger("idgw.access")
log = logging.getLogger("idgw.observe")

METRICS_PATH = "/metrics"
#: Polled by proxies, orchestrators and Prometheus every few seconds: their successful answers are
#: counted but get no access line (thousands of identical lines an hour per instance); a failure
#: (a 503 from /readyz, a 401 at /metrics) is logged like any request.
QUIET_PATHS = frozenset({"/healthz", "/readyz", METRICS_PATH})
_UNAUTHORISED = (401, [(b"content-type", b"text/plain; charset=utf-8"), (b"www-authenticate", b"Bearer"),
                       (b"cache-control", b"no-store")], b"Unauthorized\n")
_NOT_ALLOWED = (405, [(b"content-type", b"text/plain; charset=utf-8"), (b"allow", b"GET")], b"Method Not Allowed\n")


class Observe:
    """``trusted``: the proxies whose X-Forwarded-* and X-Request-ID are believed; ``metrics`` and
    ``routes``: where requests are counted (None: not counted); ``metrics_token``: the bearer token
    of ``/metrics`` (empty: ``/metrics`` is not served and falls through to the app's 404)."""

    def __init__(self, app, *, trusted: TrustedProxies | None = None, metrics: Metrics | None = None,
                 routes: RouteNames | None = None, metrics_token: str = "") -> None:
        self.app = app
        self.trusted = trusted or TrustedProxies("")
        self.metrics = metrics
        self.routes = routes or RouteNames()
        self.token_digest = hashlib.sha256(metrics_token.encode()).digest() if metrics_token else None
        self.in_flight = metrics.in_flight if metrics is not None else None

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind != "http":
            if kind == "websocket":
                self.trusted.apply(scope)
            return await self.app(scope, receive, send)
        request_id = forwarded_request_id(scope["headers"]) if self.trusted.apply(scope) else None
        if request_id is None:
            request_id = urandom(16).hex()  # 128 random bits, like a uuid4's hex (a quarter of its cost)
        context = REQUEST_ID.set(request_id)
        rid_header = (b"x-request-id", request_id.encode())
        status = 0  # until a response starts
        path = scope["path"]

        async def sending(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        start = perf_counter()
        in_flight = self.in_flight
        if in_flight is not None:
            in_flight.inc()
        try:
            if path == METRICS_PATH and self.token_digest is not None:
                await self._metrics(scope, sending)
            else:
                await self.app(scope, receive, sending)
        except BaseException:
            if not status:
                status = 500  # escaping to the server's own 500 answer
            raise
        finally:
            if not status:
                status = 499  # nginx's "client closed request": the client went away before an answer
            seconds = perf_counter() - start
            if in_flight is not None:
                in_flight.dec()
            route = METRICS_PATH if path == METRICS_PATH and self.token_digest is not None else self.routes.name(path)
            method = METHODS.get(scope["method"], OTHER)
            if self.metrics is not None:
                self.metrics.observe(route, method, status, seconds)
            if ACCESS.isEnabledFor(logging.INFO) and not (path in QUIET_PATHS and 200 <= status < 300):
                client = scope.get("client")
                ip = client[0] if client else None
                duration_ms = round(seconds * 1000, 2)
                ACCESS.handle(access_record(method, route, status, duration_ms, ip))
            REQUEST_ID.reset(context)

    async def _metrics(self, scope, send) -> None:
        """The scrape: ``Authorization: Bearer <IDGW_METRICS_TOKEN>`` (compared as SHA-256 digests in
        constant time) or 401, nothing else said."""
        presented = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                presented = value
                break
        scheme, _, token = presented.partition(b" ")
        ok = scheme.lower() == b"bearer" and hmac.compare_digest(hashlib.sha256(token.strip()).digest(),
                                                                 self.token_digest)
        if not ok:
            return await _answer(send, *_UNAUTHORISED)
        if scope["method"] != "GET":
            return await _answer(send, *_NOT_ALLOWED)
        body, content_type = await asyncio.to_thread(self.metrics.scrape)  # reads the proofing queue
        await _answer(send, 200, [(b"content-type", content_type.encode()), (b"cache-control", b"no-store")], body)


_ACCESS_FORMAT = "%s %s %d %.2f ms %s"
_template: tuple[int, dict] = (0, {})


def access_record(method: str, route: str, status: int, duration_ms: float, ip: str | None) -> logging.LogRecord:
    """The access line's record, as ``ACCESS.makeRecord`` would make it (every attribute of a
    LogRecord, the access fields and ``PLAIN``), for a fraction of its cost: what is the same on
    every line (logger, level, source, process) is copied from a record made once per process, not
    worked out again (``Logger.info`` would also walk the stack for the caller's file and line).
    A sixth of a JWKS request's CPU was making this record."""
    global _template
    pid = os.getpid()
    if _template[0] != pid:  # the first line of this process (a worker of --workers N: its own)
        base = logging.LogRecord("idgw.access", logging.INFO, __file__, 0, _ACCESS_FORMAT, (), None)
        _template = (pid, {**base.__dict__, PLAIN: True})
    record = _bare_record(logging.LogRecord)
    fields = record.__dict__
    fields.update(_template[1])
    now = time()
    thread = current_thread()
    fields.update(created=now, msecs=int((now - int(now)) * 1000) + 0.0,
                  relativeCreated=(now - logging._startTime) * 1000, thread=thread.ident, threadName=thread.name,
                  args=(method, route, status, duration_ms, ip), method=method, route=route, status=status,
                  duration_ms=duration_ms, client_ip=ip)
    return record


_bare_record = object.__new__


async def _answer(send, status: int, headers: list, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [*headers, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
