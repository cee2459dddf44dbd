"""The simulators hold the connectors to the protocols: they refuse what the real services refuse
(missing PKCE, wrong client authentication, unknown redirect URIs, NDID levels as strings) and
escape what they show the citizen."""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx

from .conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, sim_request


def authorize_params(**overrides) -> dict:
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": "openid pid",
            "state": "st", "nonce": "no", "code_challenge": challenge, "code_challenge_method": "S256", **overrides}


def code_for(thaid_url: str, **overrides) -> str:
    with httpx.Client(base_url=thaid_url) as browser:
        page = browser.get("/authorize?" + urlencode(authorize_params(**overrides)))
        txn = re.search(r'name="txn" value="([^"]+)"', page.text).group(1)
        location = browser.post("/login", data={"txn": txn, "pid": "3100600456785"}).headers["location"]
    return parse_qs(urlsplit(location).query)["code"][0]


def test_thaid_discovery_and_jwks(thaid_sim):
    meta = httpx.get(thaid_sim.url + "/.well-known/openid-configuration").json()
    assert meta["issuer"] == thaid_sim.url and meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["token_endpoint_auth_methods_supported"] == ["client_secret_basic"]
    keys = httpx.get(meta["jwks_uri"]).json()["keys"]
    assert keys and all("d" not in key for key in keys)  # public parts only


def test_thaid_authorize_refuses_unknown_redirect_and_requires_pkce(thaid_sim):
    bad = httpx.get(thaid_sim.url + "/authorize?" + urlencode(authorize_params(redirect_uri="https://evil.example/")))
    assert bad.status_code == 400 and "location" not in bad.headers
    no_pkce = httpx.get(thaid_sim.url + "/authorize?" + urlencode(authorize_params(code_challenge="")))
    assert no_pkce.status_code == 303
    assert parse_qs(urlsplit(no_pkce.headers["location"]).query)["error"] == ["invalid_request"]


def test_thaid_token_endpoint_checks_basic_auth_pkce_and_single_use(thaid_sim):
    token_url = thaid_sim.url + "/token"
    form = {"grant_type": "authorization_code", "redirect_uri": REDIRECT_URI, "code_verifier": "v" * 50}
    code = code_for(thaid_sim.url)
    assert httpx.post(token_url, data={**form, "code": code, "client_id": CLIENT_ID,
                                       "client_secret": CLIENT_SECRET}).status_code == 401  # not in the body
    auth = (CLIENT_ID, quote(CLIENT_SECRET, safe=""))  # RFC 6749 §2.3.1: form-urlencoded, then Basic
    code = code_for(thaid_sim.url)
    wrong_verifier = httpx.post(token_url, data={**form, "code": code, "code_verifier": "w" * 50}, auth=auth)
    assert wrong_verifier.json()["error"] == "invalid_grant"
    code = code_for(thaid_sim.url)
    answer = httpx.post(token_url, data={**form, "code": code}, auth=auth)
    assert answer.status_code == 200 and answer.json()["token_type"] == "Bearer"
    assert httpx.post(token_url, data={**form, "code": code}, auth=auth).json()["error"] == "invalid_grant"
    # Userinfo releases what the scope asked for: pid, not the names.
    info = httpx.get(thaid_sim.url + "/userinfo", headers={"Authorization": "Bearer " + answer.json()["access_token"]})
    assert info.json()["pid"] == "3100600456785" and "given_name" not in info.json()


def test_thaid_control_refuses_unknown_faults(thaid_sim):
    assert httpx.post(thaid_sim.url + "/_sim/faults", json={"explode": True}).status_code == 400


def test_ndid_platform_validates_like_the_rp_api(ndid_sim, receiver):
    url = ndid_sim.url + "/rp/requests/citizen_id/1345951597671"
    body = {"mode": 2, "reference_id": "v-1", "callback_url": receiver.callback_url("v-1"), "idp_id_list": [],
            "request_message": "x", "min_ial": 2.3, "min_aal": 2.1, "min_idp": 1, "request_timeout": 5,
            "data_request_list": []}
    for change in ({"min_ial": "2.3"}, {"min_aal": 2.0}, {"mode": 4}, {"request_timeout": 0},
                   {"idp_id_list": ["nobody"]}, {"mode": 1}):
        answer = httpx.post(url, json={**body, **change})
        assert answer.status_code == 400 and answer.json()["error"]["code"], change
    assert httpx.post(ndid_sim.url + "/rp/requests/citizen_id/3712644096692", json=body).status_code == 400
    assert httpx.post(ndid_sim.url + "/rp/request_close", json={"request_id": "nope", "reference_id": "x",
                                                                "callback_url": "http://x/"}).status_code == 404


def test_ndid_idp_app_escapes_the_request_message(ndid_sim, receiver):
    body = {"mode": 2, "reference_id": "xss-1", "callback_url": receiver.callback_url("xss-1"),
            "request_message": "<script>alert(1)</script>", "min_ial": 2.3, "min_aal": 2.1, "min_idp": 1,
            "request_timeout": 5}
    created = httpx.post(ndid_sim.url + "/rp/requests/citizen_id/1345951597671", json=body)
    assert created.status_code == 202 and set(created.json()) == {"request_id", "initial_salt"}
    request_id = created.json()["request_id"]
    page = httpx.get(f"{ndid_sim.url}/idp-app/requests/{request_id}").text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    close = httpx.post(ndid_sim.url + "/rp/request_close",
                       json={"request_id": request_id, "reference_id": "xss-1", "callback_url": body["callback_url"]})
    assert close.status_code == 202 and sim_request(ndid_sim.url, request_id)["closed"] is True
    again = httpx.post(ndid_sim.url + "/rp/request_close",
                       json={"request_id": request_id, "reference_id": "xss-1", "callback_url": body["callback_url"]})
    assert again.status_code == 400


def test_simulators_run_on_their_own():
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from providers.simulators.server import free_port

    thaid_port, ndid_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "providers.simulators", "--thaid-port", str(thaid_port), "--ndid-port", str(ndid_port),
         "--gateway-callback-base", "http://127.0.0.1:8000"],
        cwd=Path(__file__).resolve().parents[2], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                # both simulators start one after the other: wait for each
                meta = httpx.get(f"http://127.0.0.1:{thaid_port}/.well-known/openid-configuration").json()
                httpx.get(f"http://127.0.0.1:{ndid_port}/idp-app")
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and process.poll() is None, process.stderr.read()
                time.sleep(0.05)
        assert meta["issuer"] == f"http://127.0.0.1:{thaid_port}"
        assert httpx.get(f"http://127.0.0.1:{ndid_port}/idp-app").status_code == 200
        # No control endpoints unless asked for.
        assert httpx.post(f"http://127.0.0.1:{thaid_port}/_sim/faults", json={}).status_code in (404, 405)
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=15)
    assert process.returncode == 0
    assert "1345951597671" in out and "/upstream/thaid/callback" in out
