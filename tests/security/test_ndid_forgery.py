"""Forged NDID completion (security review item 1, critical).

Found: anyone could finish an NDID sign-in for any citizen ID, at IAL 3 / AAL 3 from an IdP that
does not exist, by starting a sign-in for the victim and POSTing a ``request_status`` callback
with ``status: completed`` and a made-up ``response_list`` to the callback URL, whose only secret
was the attempt id (shown to the browser on the waiting page). Now the callback URL holds a secret
the browser never sees, a callback is only a hint, and the sign-in completes only from the
request's state read from the NDID node, with answers from IdPs the platform lists, within their
levels. Over real HTTP against the gateway and the NDID simulator."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.flow import Browser, authorize_url, callback_params, exchange, register, rp_client
from tests.test_assurance_flow import claims_of
from tests.test_upstream_flow import World, upstream_link

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)

VICTIM = "1101700123456"


@pytest.fixture
def world(database_url, tmp_path):
    w = World(database_url, tmp_path)
    yield w
    w.close()


def forged(request_id: str, reference_id: str = "") -> dict:
    return {"node_id": "rp-idgw", "type": "request_status", "request_id": request_id, "reference_id": reference_id,
            "mode": 2, "min_ial": 3, "min_aal": 3, "min_idp": 1, "idp_id_list": ["idp-evil"],
            "status": "completed", "closed": False, "timed_out": False, "block_height": "sim-chain:999999",
            "response_list": [{"idp_id": "idp-evil", "status": "accept", "ial": 3, "aal": 3,
                               "valid_signature": True, "valid_ial": True, "signature": "x"}]}


def start_ndid(world, reg):
    rp = rp_client(world.gateway, reg)
    browser = Browser(world.gateway)
    url, _state, _nonce, verifier = authorize_url(world.gateway, rp)
    page = browser.follow(browser.get(url))
    start = browser.http.get(httpx.URL(world.gateway.url).join(upstream_link(page, "ndid")))
    wait = browser.submit(start, citizen_id=VICTIM)
    assert 'http-equiv="refresh"' in wait.text
    return rp, browser, wait, verifier


def test_a_forged_completion_signs_nobody_in(world):
    g = world.gateway
    reg = register(g)
    rp, attacker, wait, verifier = start_ndid(world, reg)
    attempt_id = str(wait.url).rstrip("/").rsplit("/", 1)[-1]
    reference = re.search(r"([A-Za-z0-9_-]{12,})</", wait.text)
    platform = httpx.get(world.ndid_url + "/_sim/requests").json()[-1]
    request_id, reference_id = platform["request_id"], platform["reference_id"]
    # what the browser can see is not the callback URL's secret
    assert attempt_id not in platform["callback_url"] and reference_id not in platform["callback_url"]
    for guess in {attempt_id, reference_id, reference.group(1) if reference else attempt_id}:
        answer = httpx.post(f"{g.url}/upstream/ndid/ndid-callback/{guess}", json=forged(request_id, reference_id))
        assert answer.status_code in (404, 409), answer.text
        assert answer.headers["content-type"].startswith("application/json")
    # even with the real callback URL (as if it leaked), a forged body is only a hint: the gateway
    # reads the request from the node, which says nobody has answered
    leaked = httpx.post(platform["callback_url"], json=forged(request_id, reference_id))
    assert leaked.status_code == 204
    for _ in range(3):
        page = attacker.follow(attacker.http.get(str(wait.url)))
        assert "รอการยืนยันในแอป" in page.text, page.text[:400]  # still waiting
        time.sleep(0.2)
    # the victim's real approval at their bank is what completes it, at the node's levels
    httpx.post(f"{world.ndid_url}/idp-app/requests/{request_id}/respond",
               data={"idp_id": "idp-bank-a", "action": "accept", "ial": "2.3", "aal": "2.2"}).raise_for_status()
    for _ in range(100):
        page = attacker.follow(attacker.http.get(str(wait.url)))
        if "รอการยืนยันในแอป" not in page.text:
            break
        time.sleep(0.1)
    if 'value="allow"' in page.text:
        page = attacker.consent(page)
    tokens = exchange(g, rp, callback_params(page)["code"], verifier)
    claims = claims_of(g, reg, tokens)
    assert (claims["ial"], claims["aal"]) == ("2.3", "2.2")  # not the forged 3 / 3
    # the platform's own callbacks reached the attempt (a hint that made the page read the node)
    seen = httpx.get(f"{world.ndid_url}/_sim/requests/{request_id}").json()["callbacks"]
    assert seen and all(c["http_status"] == 204 for c in seen), seen


def test_the_ndid_name_on_the_oidc_callback_is_not_found_and_changes_nothing(world):
    """Item 7: GET /upstream/ndid/callback?state=...&code=... was a 500 (TypeError) and marked
    the attempt finished."""
    g = world.gateway
    reg = register(g)
    _rp, browser, wait, _verifier = start_ndid(world, reg)
    platform = httpx.get(world.ndid_url + "/_sim/requests").json()[-1]
    for state in (platform["reference_id"], "x", "cb:" + "0" * 64):
        answer = browser.http.get(f"/upstream/ndid/callback?state={state}&code=abc")
        assert answer.status_code == 400 and "text/html" in answer.headers["content-type"]
    page = browser.follow(browser.http.get(str(wait.url)))
    assert "รอการยืนยันในแอป" in page.text  # the attempt goes on


@pytest.mark.parametrize("body", [b"[" * 100000 + b"]" * 100000, b"{", b"[]", b"null", "é".encode("latin-1"),
                                  b'{"request_id": "x", "block_height": "sim-chain:\\u00b9"}'])
def test_malformed_callbacks_get_a_json_4xx(world, body):
    g = world.gateway
    reg = register(g)
    start_ndid(world, reg)
    callback_url = httpx.get(world.ndid_url + "/_sim/requests").json()[-1]["callback_url"]
    for url in (callback_url, f"{g.url}/upstream/ndid/ndid-callback/{'a' * 43}"):
        answer = httpx.post(url, content=body, headers={"content-type": "application/json"})
        assert 400 <= answer.status_code < 500, (url, answer.status_code, answer.text[:200])
        assert answer.headers["content-type"].startswith("application/json")
