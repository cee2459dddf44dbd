"""/metrics of a running gateway: who may scrape it, and that its counters move with real sign-ins,
failures, a lockout, a token and a refresh, labelled by route template only."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest

from tests.flow import Browser, authorize_url, exchange, login_flow, register, rp_client, wait_until
from tests.observe.conftest import MAX_FAILED
from tests.observe.serving import METRICS_TOKEN, samples, scrape, value


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-0123456789abcdef0123456789",
                                           f"Basic {METRICS_TOKEN}", f"Bearer {METRICS_TOKEN}x", "Bearer",
                                           METRICS_TOKEN])
def test_a_scrape_without_the_token_is_refused_and_told_nothing(observed, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    r = httpx.get(observed.url + "/metrics", headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "idgw_" not in r.text and r.text == "Unauthorized\n"


def test_a_scrape_with_the_token_answers_the_exposition_format(observed):
    r = httpx.get(observed.url + "/metrics", headers={"Authorization": f"bearer {METRICS_TOKEN}"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=")
    assert r.headers["cache-control"] == "no-store"
    scraped = samples(r.text)
    assert value(scraped, "idgw_build_info", version=__import__("idgw").__version__) == 1
    assert value(scraped, "idgw_proofing_queue_length", state="queued") == 0
    assert ("idgw_proofing_queue_oldest_wait_seconds", ()) in scraped
    # Only GET: the token does not make /metrics a place to send anything to.
    posted = httpx.post(observed.url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert posted.status_code == 405 and posted.headers["allow"] == "GET"


def _failed_password(gateway, reg) -> httpx.Response:
    rp = rp_client(gateway, reg)
    browser = Browser(gateway)
    url, *_ = authorize_url(gateway, rp)
    return browser.login(browser.follow(browser.get(url)), reg.username, password="not the password at all")


def test_counters_follow_sign_ins_failures_a_lockout_tokens_and_refreshes(observed):
    before = scrape(observed.url)
    reg = register(observed)
    params, _state, _nonce, verifier, rp, _browser = login_flow(observed, reg)
    token = exchange(observed, rp, params["code"], verifier)
    rp.refresh_token(observed.url + "/token", refresh_token=token["refresh_token"])
    victim = register(observed)
    for _ in range(MAX_FAILED):
        _failed_password(observed, victim)
    # A request is counted once its answer has gone out: wait until the last one has landed.
    assert wait_until(lambda: value(scrape(observed.url), "idgw_http_request_duration_seconds_count",
                                    route="/interaction/{iid}/login", method="POST") >=
                      value(before, "idgw_http_request_duration_seconds_count", route="/interaction/{iid}/login",
                            method="POST") + 1 + MAX_FAILED)
    after = scrape(observed.url)

    def moved(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("idgw_signins_total", method="password", outcome="success") == 1
    assert moved("idgw_signins_total", method="password", outcome="failure") == MAX_FAILED
    assert moved("idgw_lockouts_total") == 1
    assert moved("idgw_tokens_issued_total", grant="authorization_code") == 1
    assert moved("idgw_tokens_issued_total", grant="refresh_token") == 1
    assert moved("idgw_http_requests_total", route="/token", method="POST", status="200") == 2
    assert moved("idgw_http_request_duration_seconds_count", route="/token", method="POST") == 2
    assert moved("idgw_http_requests_total", route="/interaction/{iid}/login", method="POST", status="303") == 1
    assert moved("idgw_http_requests_total", route="/interaction/{iid}/login", method="POST",
                 status="401") == MAX_FAILED
    assert moved("idgw_http_requests_total", route="/authorize", method="GET", status="200") == 1 + MAX_FAILED
    assert moved("idgw_http_requests_total", route="/metrics", method="GET", status="200") >= 1  # the scrapes


def test_route_labels_are_templates_and_unknown_paths_add_no_series(observed):
    reg = register(observed)
    login_flow(observed, reg)
    text = httpx.get(observed.url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    routes = set(re.findall(r'route="([^"]*)"', text))
    assert routes <= observed.app.state.route_names.names
    assert {"/authorize", "/interaction/{iid}/login", "/interaction/{iid}/consent"} <= routes
    before = len(samples(text))

    junk = [secrets.token_hex(8) for _ in range(6)]
    for word in junk:
        for path in (f"/{word}", f"/interaction/{word}/nothing/here", f"/static/../{word}", f"/admin/{word}/x/y/z"):
            httpx.get(observed.url + path)
        httpx.request("BREW", observed.url + f"/{word}")
    text = httpx.get(observed.url + "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    assert not any(word in text for word in junk)
    assert set(re.findall(r'route="([^"]*)"', text)) <= observed.app.state.route_names.names
    methods = {dict(labels).get("method") for name, labels in samples(text) if name.startswith("idgw_http_")}
    assert methods - {None} <= {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
                                                          "other"}
    # Thirty requests to paths never seen before: a handful of new series (route "other" and the
    # 404 of a known template, by method and status), never one per path.
    assert len(samples(text)) - before <= 3 * 16
    assert 'route="other"' in text
