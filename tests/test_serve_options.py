"""`idgw serve` believes X-Forwarded-For only from IDGW_TRUSTED_PROXIES (real HTTP through uvicorn with
the options `idgw serve` gives it, and the gateway's outermost middleware, idgw.observe, which decides)."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
import uvicorn

from idgw.cli import proxy_options
from idgw.observe.forwarded import TrustedProxies
from idgw.observe.middleware import Observe
from idgw.settings import Settings
from tests.conftest import free_port


async def echo_client(scope, receive, send):
    if scope["type"] != "http":
        return
    body = (scope["client"][0] if scope.get("client") else "none").encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


def _serve(options: dict, trusted: str = ""):
    port = free_port()
    app = Observe(echo_client, trusted=TrustedProxies(trusted))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}/"


@pytest.mark.parametrize(("trusted", "expected"), [("", "127.0.0.1"), ("127.0.0.1", "203.0.113.9"),
                                                     ("10.0.0.0/8", "127.0.0.1")])
def test_forwarded_for_is_believed_only_from_trusted_proxies(trusted, expected):
    settings = Settings.from_env({}, dev=True, trusted_proxies=trusted)
    server, thread, url = _serve(proxy_options(settings), settings.trusted_proxies)
    try:
        r = httpx.get(url, headers={"X-Forwarded-For": "203.0.113.9"})
        assert r.text == expected
    finally:
        server.should_exit = True
        thread.join(timeout=10)
