"""Layers outside FastAPI's own (idgw.outer): the request id and the request's count and access
line wrap FastAPI's ServerErrorMiddleware too, so a 500 it answers is identified and counted."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from idgw.observe.metrics import Metrics
from idgw.observe.middleware import Observe
from idgw.outer import outermost
from tests.observe.serving import samples, value


def _app() -> FastAPI:
    app = FastAPI()

    @app.get("/boom")
    async def boom():
        raise RuntimeError("a bug")

    @app.get("/fine")
    async def fine():
        return {"ok": True}

    return app


def _get(app, path: str) -> httpx.Response:
    async def call():
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            return await client.get(path)

    return asyncio.run(call())


def test_a_500_from_fastapis_own_error_layer_carries_the_request_id_and_is_counted():
    app = _app()
    metrics = Metrics()
    outermost(app, Observe, metrics=metrics)
    r = _get(app, "/boom")
    assert r.status_code == 500 and len(r.headers["x-request-id"]) == 32
    scraped = samples(metrics.scrape()[0].decode())
    assert value(scraped, "idgw_http_requests_total", route="other", method="GET", status="500") == 1
    assert _get(app, "/fine").json() == {"ok": True}


class _Mark:
    """Adds its name to a response header, on the way out."""

    def __init__(self, app, *, name: str) -> None:
        self.app, self.name = app, name.encode()

    async def __call__(self, scope, receive, send):
        async def marking(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-layers", self.name)]
            await send(message)

        await self.app(scope, receive, marking)


def test_outer_layers_wrap_the_added_ones_the_first_outermost():
    app = _app()
    app.add_middleware(_Mark, name="inner")
    outermost(app, _Mark, name="first")
    outermost(app, _Mark, name="second")
    r = _get(app, "/fine")
    # A layer nearer the app sees the response first: inner, then second, then first (outermost).
    assert r.headers.get_list("x-layers") == ["inner", "second", "first"]


def test_no_layer_is_added_once_the_application_has_started():
    app = _app()
    outermost(app, _Mark, name="first")
    _get(app, "/fine")
    with pytest.raises(RuntimeError):
        outermost(app, _Mark, name="late")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_gateway_asks_opentelemetry_nothing_per_request(gateway, monkeypatch):
    """FastAPI 0.16x's native telemetry looks up OpenTelemetry's providers on every request; the
    gateway's telemetry is its own (idgw.observe), so FastAPI's is off (idgw.app.NO_NATIVE_TELEMETRY)."""
    from opentelemetry import trace

    asked = []
    real = trace.get_tracer_provider

    def counted():
        asked.append(1)
        return real()

    monkeypatch.setattr(trace, "get_tracer_provider", counted)
    assert httpx.get(gateway.url + "/healthz").status_code == 200
    assert asked == []
