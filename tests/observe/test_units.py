"""The pieces of idgw.observe on their own: labels from closed sets, /metrics switched off, the audit
listener hook, and dead workers' live gauges in multiprocess mode."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys

import httpx

from idgw.audit import sinks
from idgw.observe.metrics import Metrics, forget_dead_workers, signin_method
from idgw.observe.middleware import Observe
from idgw.observe.routes import RouteNames
from tests.observe.serving import samples, value


def _scraped(metrics: Metrics) -> dict:
    return samples(metrics.scrape()[0].decode())


def test_domain_counters_clamp_every_label_to_a_closed_set():
    metrics = Metrics(upstreams=["thaid"])
    metrics.on_audit([
        {"name": "session.created", "detail": {"amr": ["pwd"]}},
        {"name": "session.created", "detail": {"amr": ["hwk", "user"]}},
        {"name": "session.created", "detail": {"factor": "upstream:thaid", "amr": ["pwd"]}},
        {"name": "session.created", "detail": {"factor": "<script>"}},
        {"name": "authenticator.failed", "detail": {"reason": "factor_rejected", "factor": "totp"}},
        {"name": "authenticator.failed", "detail": {"reason": "passkey_rejected"}},
        {"name": "authenticator.failed", "detail": {"reason": "enrolment_code_rejected", "kind": "totp"}},
        {"name": "upstream.failed", "detail": {"provider": "thaid", "code": "upstream_timeout"}},
        {"name": "upstream.failed", "detail": {"provider": "x" * 500, "code": "made-up"}},
        {"name": "session.stepped_up", "detail": {"before": "1", "after": "2.2"}},
        {"name": "session.stepped_up", "detail": {"after": "9; drop"}},
        {"name": "authorization.unmet", "detail": {"error": "unmet_authentication_requirements",
                                                   "reason": "free text from a policy"}},
        {"name": "authorization.unmet", "detail": {"error": "whatever"}},
        {"name": "token.exchanged", "detail": {}},
        {"name": "account.created", "detail": {}},  # not counted
    ])
    got = _scraped(metrics)
    assert value(got, "idgw_signins_total", method="password", outcome="success") == 1
    assert value(got, "idgw_signins_total", method="passkey", outcome="success") == 1
    assert value(got, "idgw_signins_total", method="upstream", outcome="success") == 1
    assert value(got, "idgw_signins_total", method="other", outcome="success") == 1
    assert value(got, "idgw_signins_total", method="totp", outcome="failure") == 1
    assert value(got, "idgw_signins_total", method="passkey", outcome="failure") == 1
    assert value(got, "idgw_signins_total", method="upstream", outcome="failure") == 2
    assert value(got, "idgw_upstream_errors_total", provider="thaid", code="upstream_timeout") == 1
    assert value(got, "idgw_upstream_errors_total", provider="other", code="other") == 1
    assert value(got, "idgw_stepups_total", reason="aal2.2") == 1
    assert value(got, "idgw_stepups_total", reason="unmet_authentication_requirements") == 1
    assert value(got, "idgw_stepups_total", reason="other") == 2
    assert value(got, "idgw_tokens_issued_total", grant="token_exchange") == 1
    labels = {v for (_name, pairs) in got for _k, v in pairs}
    assert not any("script" in v or "drop" in v or "free text" in v or "x" * 50 in v for v in labels)


def test_the_method_of_a_session_comes_from_its_factor_then_its_amr():
    assert signin_method({"factor": "pwd", "amr": ["hwk"]}) == "password"
    # The factors sign-ins record (idgw.authn: TOTP and recovery codes are "otp", passkeys "hwk...").
    assert signin_method({"factor": "otp", "amr": ["otp"]}) == "totp"
    for factor in ("hwk", "hwk_uv", "hwk_uv_attested"):
        assert signin_method({"factor": factor, "amr": ["hwk", "user"]}) == "passkey"
    assert signin_method({"factor": "upstream:thaid", "amr": ["pwd"]}) == "upstream"
    assert signin_method({"amr": ["otp", "pwd"]}) == "password"
    assert signin_method({"amr": ["swk"]}) == "passkey"
    assert signin_method({}) == "other"


async def _not_found(scope, receive, send):
    await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"detail":"Not Found"}'})


def test_without_a_metrics_token_there_is_no_metrics_endpoint():
    async def scrape():
        app = Observe(_not_found, metrics=Metrics(), metrics_token="")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
            for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
                r = await client.get("/metrics", headers=headers)
                assert r.status_code == 404 and "idgw_" not in r.text
                assert "x-request-id" in r.headers

    asyncio.run(scrape())


def test_a_request_that_raises_counts_as_a_500_and_one_never_answered_as_499():
    async def broken(scope, receive, send):
        raise RuntimeError("boom")

    async def call():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                                     base_url="http://gw") as client:
            await client.get("/x")

    async def silent(scope, receive, send):
        return None  # what the app does for a client that went away mid-request: nothing to answer

    metrics = Metrics()
    app = Observe(broken, metrics=metrics)
    asyncio.run(call())
    async def discard(message):
        return None

    async def disconnected():
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [], "client": ("127.0.0.1", 1)}
    asyncio.run(Observe(silent, metrics=metrics)(scope, disconnected, discard))
    assert value(_scraped(metrics), "idgw_http_requests_total", route="other", method="GET", status="500") == 1
    assert value(_scraped(metrics), "idgw_http_requests_total", route="other", method="GET", status="499") == 1
    assert value(_scraped(metrics), "idgw_http_requests_in_flight") == 0


def test_a_failing_audit_listener_is_logged_and_never_raised(caplog):
    engine = type("Engine", (), {})()
    heard = []

    def broken(rows):
        raise ValueError("listener bug")

    sinks.listen(engine, broken)
    sinks.listen(engine, heard.extend)
    with caplog.at_level(logging.ERROR, logger="idgw.audit"):
        sinks.send(engine, [{"name": "token.issued"}])
    assert heard == [{"name": "token.issued"}]  # the next listener still ran
    assert "audit listener" in caplog.text


def test_the_live_gauges_of_dead_workers_are_dropped(tmp_path):
    worker = ("from prometheus_client import Gauge, Counter\n"
              "Gauge('g', 'g', multiprocess_mode='livesum').inc()\nCounter('c', 'c').inc()\n")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    subprocess.run([sys.executable, "-c", worker], env=env, check=True, timeout=60)
    assert any(tmp_path.glob("gauge_livesum_*.db"))
    forget_dead_workers(str(tmp_path))
    assert not any(tmp_path.glob("gauge_livesum_*.db"))
    assert any(tmp_path.glob("counter_*.db"))  # what it counted stays counted


def test_probes_answered_well_leave_no_access_line_but_failures_do(caplog):
    """/healthz, /readyz and /metrics are polled every few seconds: a 2xx answer is counted, not
    logged; a failed probe or an unauthorised scrape is logged; any other path always is."""
    statuses = {"/healthz": 200, "/readyz": 503, "/jwks": 200, "/nowhere": 404}

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": statuses.get(scope["path"], 200), "headers": []})
        await send({"type": "http.response.body", "body": b""})

    metrics = Metrics()
    observe = Observe(app, metrics=metrics, metrics_token="t" * 32,
                      routes=RouteNames(extra_paths=("/healthz", "/readyz", "/jwks")))

    async def call(path, headers=()):
        sent = []

        async def send(message):
            sent.append(message)

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        await observe({"type": "http", "method": "GET", "path": path, "headers": list(headers),
                       "client": ("127.0.0.1", 1234), "scheme": "http"}, receive, send)
        return sent[0]["status"]

    async def scenario():
        assert await call("/healthz") == 200
        assert await call("/readyz") == 503
        assert await call("/jwks") == 200
        assert await call("/nowhere") == 404
        assert await call("/metrics") == 401
        assert await call("/metrics", [(b"authorization", b"Bearer " + b"t" * 32)]) == 200

    with caplog.at_level(logging.INFO, logger="idgw.access"):
        asyncio.run(scenario())
    logged = [(r.route, r.status) for r in caplog.records if r.name == "idgw.access"]
    assert ("/readyz", 503) in logged and ("/metrics", 401) in logged and ("other", 404) in logged
    assert all(route != "/healthz" for route, _ in logged)
    assert ("/metrics", 200) not in logged
    assert ("/jwks", 200) in logged  # only the probes are quiet
    scraped = _scraped(metrics)  # ...and still counted
    assert value(scraped, "idgw_http_requests_total", route="/healthz", method="GET", status="200") == 1
    assert value(scraped, "idgw_http_requests_total", route="/metrics", method="GET", status="200") == 1
