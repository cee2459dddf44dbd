"""The simulators hold the connectors to the protocols: they refuse what the real services refuse
(missing PKCE, wrong client authentication, unknown redirect URIs, NDID levels as strings) and
escape what they show the citizen."""

from __future__ import annotations

import base64
import hashlib
import re
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx

from .conftest import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, idp_app_answer, sim_request


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


def test_ndid_status_query_answers_the_request_in_ndids_shape(ndid_sim, receiver):
    body = {"mode": 2, "reference_id": "q-1", "callback_url": receiver.callback_url("q-1"), "idp_id_list": [],
            "request_message": "x", "min_ial": 2.3, "min_aal": 2.1, "min_idp": 1, "request_timeout": 30}
    request_id = httpx.post(ndid_sim.url + "/rp/requests/citizen_id/1345951597671", json=body).json()["request_id"]
    detail = httpx.get(f"{ndid_sim.url}/utility/requests/{request_id}")
    assert detail.status_code == 200
    answer = detail.json()
    assert answer["request_id"] == request_id and answer["mode"] == 2 and answer["status"] == "pending"
    assert answer["min_ial"] == 2.3 and answer["min_aal"] == 2.1 and answer["min_idp"] == 1  # JSON numbers
    assert answer["idp_id_list"] == ["idp-bank-a", "idp-bank-b", "idp-mobile-c"]  # the platform filled it
    assert answer["closed"] is False and answer["timed_out"] is False and answer["response_list"] == []
    assert answer["requester_node_id"] == "rp-idgw" and answer["request_timeout"] == 30
    assert answer["data_request_list"] == [] and answer["request_message_hash"]
    chain, height = answer["creation_block_height"].split(":")
    assert chain and height.isdigit()
    # The path the domain brief names answers the same.
    assert httpx.get(f"{ndid_sim.url}/rp/requests/{request_id}").json() == answer
    idp_app_answer(ndid_sim.url, request_id, idp_id="idp-bank-b", ial="2.3", aal="2.1")
    answered = httpx.get(f"{ndid_sim.url}/utility/requests/{request_id}").json()
    assert answered["status"] == "completed"
    (response,) = answered["response_list"]
    assert {k: response[k] for k in ("idp_id", "ial", "aal", "status", "valid_signature", "valid_ial", "error_code")} \
        == {"idp_id": "idp-bank-b", "ial": 2.3, "aal": 2.1, "status": "accept", "valid_signature": True,
            "valid_ial": True, "error_code": None}
    assert response["signature"]
    for path in ("/utility/requests/unknown", "/rp/requests/unknown"):
        missing = httpx.get(ndid_sim.url + path)
        assert missing.status_code == 404 and missing.content == b""


def test_ndid_validity_is_on_the_chain_only_after_close(ndid_sim, receiver):
    ndid_sim.faults(validity_at_close=True)
    body = {"mode": 2, "reference_id": "v-close", "callback_url": receiver.callback_url("v-close"),
            "request_message": "x", "min_ial": 2.3, "min_aal": 2.1, "min_idp": 1, "request_timeout": 30}
    request_id = httpx.post(ndid_sim.url + "/rp/requests/citizen_id/1345951597671", json=body).json()["request_id"]
    idp_app_answer(ndid_sim.url, request_id)
    before = httpx.get(f"{ndid_sim.url}/utility/requests/{request_id}").json()["response_list"][0]
    assert before["valid_signature"] is None and before["valid_ial"] is None
    httpx.post(ndid_sim.url + "/rp/request_close",
               json={"request_id": request_id, "reference_id": "v-close", "callback_url": body["callback_url"]})
    after = httpx.get(f"{ndid_sim.url}/utility/requests/{request_id}").json()["response_list"][0]
    assert after["valid_signature"] is True and after["valid_ial"] is True


def test_ndid_idp_catalogue(ndid_sim):
    listed = httpx.get(ndid_sim.url + "/utility/idp").json()
    assert listed[0] == {"node_id": "idp-bank-a", "node_name": "Example Bank A", "max_ial": 2.3, "max_aal": 2.2,
                         "agent": False, "supported_request_message_data_url_type_list": []}
    assert [i["node_id"] for i in listed] == ["idp-bank-a", "idp-bank-b", "idp-mobile-c"]
    assert [i["node_id"] for i in httpx.get(ndid_sim.url + "/utility/idp?min_aal=2.2").json()] == ["idp-bank-a"]
    assert httpx.get(ndid_sim.url + "/utility/idp?min_ial=3").json() == []
    assert httpx.get(ndid_sim.url + "/utility/idp?min_ial=abc").status_code == 400
    ndid_sim.faults(unlisted_idps=["idp-bank-b"])
    assert [i["node_id"] for i in httpx.get(ndid_sim.url + "/utility/idp").json()] == ["idp-bank-a", "idp-mobile-c"]


def test_ndid_idp_app_refuses_answers_above_the_idps_registered_max(ndid_sim, receiver):
    body = {"mode": 2, "reference_id": "max-1", "callback_url": receiver.callback_url("max-1"),
            "request_message": "x", "min_ial": 2.1, "min_aal": 2.1, "min_idp": 1, "request_timeout": 30}
    request_id = httpx.post(ndid_sim.url + "/rp/requests/citizen_id/1345951597671", json=body).json()["request_id"]
    # idp-bank-b is registered up to AAL 2.1; the platform refuses an AAL 2.2 answer from it.
    idp_app_answer(ndid_sim.url, request_id, idp_id="idp-bank-b", ial="2.3", aal="2.2", expect_status=400)
    ndid_sim.faults(exceed_idp_max=True)
    idp_app_answer(ndid_sim.url, request_id, idp_id="idp-bank-b", ial="2.3", aal="2.2")
    assert sim_request(ndid_sim.url, request_id)["response_list"][0]["aal"] == 2.2


def test_ndid_errors_use_the_platforms_codes(ndid_sim, receiver):
    url = ndid_sim.url + "/rp/requests/citizen_id/1345951597671"
    body = {"mode": 2, "reference_id": "codes-1", "callback_url": receiver.callback_url("codes-1"),
            "request_message": "x", "min_ial": 2.3, "min_aal": 2.1, "min_idp": 1, "request_timeout": 30}
    assert httpx.post(url, json=body).status_code == 202
    for n, (change, code) in enumerate((({}, 20045), ({"min_ial": 2.0}, 20094), ({"min_aal": 1.5}, 20095),
                                         ({"mode": 1}, 20016), ({"idp_id_list": ["nobody"]}, 20058),
                                         ({"min_idp": 4}, 20004), ({"mode": "2"}, 20003))):
        reference_id = "codes-1" if not change else f"codes-1-{n}"
        answer = httpx.post(url, json={**body, "reference_id": reference_id, **change})
        assert answer.status_code == 400 and answer.json()["error"]["code"] == code, change
    bad_id = httpx.post(ndid_sim.url + "/rp/requests/citizen_id/3712644096692", json={**body, "reference_id": "c-2"})
    assert bad_id.json()["error"]["code"] == 20096
    ndid_sim.faults(status_query_error=True)
    assert httpx.get(ndid_sim.url + "/utility/requests/anything").json()["error"]["code"] == 10003


def test_free_port_never_promises_one_port_twice_before_it_is_bound():
    """A gateway and its two simulators take three ports before any is bound; the same port handed
    out twice made a simulator fail to start in CI. Within this worker's share, 300 ports in a row
    are all different, and all outside the kernel's ephemeral range."""
    from providers.simulators.server import free_port

    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    assert all(20000 <= port < 32768 for port in ports)
