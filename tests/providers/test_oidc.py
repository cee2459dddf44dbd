"""The OIDC connector against the ThaiD-style simulator over real HTTP: the citizen's browser is
driven with httpx through the simulator's login page; every fault becomes its UpstreamError code."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from providers.base import UpstreamError
from providers.oidc import OIDCUpstream
from providers.registry import load_providers
from providers.simulators.server import free_port

from .conftest import CLIENT_ID, REDIRECT_URI, oidc_config, thaid_login


def provider(issuer: str, **overrides):
    return load_providers(config=[oidc_config(issuer, **overrides)])["thaid"]


def login(upstream, *, pid="1345951597671", acr_values=None):
    redirect = upstream.begin(redirect_uri=REDIRECT_URI, acr_values=acr_values)
    params = thaid_login(redirect, pid=pid)
    return upstream.complete(state=redirect.state, params=params, redirect_uri=REDIRECT_URI)


def failure(upstream, *, pid="1345951597671") -> UpstreamError:
    with pytest.raises(UpstreamError) as caught:
        login(upstream, pid=pid)
    error = caught.value
    assert error.message_th and error.message_en
    return error


def test_happy_path_maps_pid_names_and_levels(thaid_sim):
    upstream = provider(thaid_sim.url)
    identity = login(upstream)
    assert identity.provider == "thaid" and identity.issuer == thaid_sim.url
    assert identity.citizen_id == "1345951597671"
    assert identity.subject != identity.citizen_id  # sub is ThaiD's opaque id; the citizen ID comes from pid
    assert identity.claims == {"th_given_name": "สมชาย", "th_family_name": "ใจดี", "given_name": "Somchai",
                               "family_name": "Jaidee", "birthdate": "1985-03-14"}
    assert identity.ial == "2.3" and identity.aal == "2.2" and identity.amr == ("mfa",)
    assert identity.raw_levels["ial"] == "2.3" and identity.raw_levels["aal_source"] == "configuration:trusted_aal"
    assert abs(identity.auth_time - time.time()) < 120


def test_begin_sends_pkce_state_nonce_and_keeps_them_server_side(thaid_sim):
    redirect = provider(thaid_sim.url).begin(redirect_uri=REDIRECT_URI)
    query = {k: v[0] for k, v in parse_qs(urlsplit(redirect.url).query).items()}
    assert redirect.url.startswith(thaid_sim.url + "/authorize?")
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["state"] == redirect.state["state"] and query["nonce"] == redirect.state["nonce"]
    assert "code_verifier" not in query and len(redirect.state["code_verifier"]) >= 43
    assert "pid" in query["scope"].split() and "ial" in query["scope"].split()
    assert "acr_values" not in query


def test_acr_values_are_translated_and_unmapped_ones_dropped(thaid_sim):
    upstream = provider(thaid_sim.url, acr_values_map={"urn:th:ial:2.3": "urn:thaid:face"})
    redirect = upstream.begin(redirect_uri=REDIRECT_URI, acr_values=["urn:th:ial:2.3", "urn:th:aal:3"])
    query = parse_qs(urlsplit(redirect.url).query)
    assert query["acr_values"] == ["urn:thaid:face"]


def test_ial_mapping_reaches_the_identity(thaid_sim):
    # A citizen whose ThaiD enrolment is IAL 1.3, and an operator mapping that lowers 2.3 to 2.2.
    assert login(provider(thaid_sim.url), pid="1209900345611").ial == "1.3"
    remapped = provider(thaid_sim.url, ial_mapping={"2.3": "2.2", "1.3": "1.3"})
    identity = login(remapped)
    assert identity.ial == "2.2" and identity.raw_levels["ial"] == "2.3"


def test_ial_without_mapping_is_ial_too_low(thaid_sim):
    assert failure(provider(thaid_sim.url, ial_mapping={"2.3": "2.3"}), pid="1209900345611").code == "ial_too_low"
    thaid_sim.faults(ial="IAL9")
    assert failure(provider(thaid_sim.url)).code == "ial_too_low"


def test_numeric_ial_claim_is_mapped(thaid_sim):
    thaid_sim.faults(ial=2.2)
    assert login(provider(thaid_sim.url)).ial == "2.2"


@pytest.mark.parametrize(("fault", "code"), [
    ("bad_signature", "invalid_signature"),
    ("wrong_nonce", "nonce_mismatch"),
    ("wrong_issuer", "invalid_issuer"),
    ("invalid_citizen_id", "invalid_citizen_id"),
    ("token_error", "upstream_error"),
    ("userinfo_error", "upstream_error"),
    ("wrong_audience", "upstream_error"),
    ("expired_id_token", "upstream_error"),
    ("authorize_error", "upstream_error"),
])
def test_faults_become_typed_errors(thaid_sim, fault, code):
    thaid_sim.faults(**{fault: True})
    error = failure(provider(thaid_sim.url))
    assert error.code == code, error.detail


def test_discovery_error(thaid_sim):
    thaid_sim.faults(discovery_error=True)
    with pytest.raises(UpstreamError) as caught:
        provider(thaid_sim.url).begin(redirect_uri=REDIRECT_URI)
    assert caught.value.code == "upstream_error"


def test_slow_token_endpoint_is_upstream_timeout(thaid_sim):
    thaid_sim.faults(token_delay=1.0)
    assert failure(provider(thaid_sim.url, timeout_seconds=0.3)).code == "upstream_timeout"


def test_unreachable_upstream():
    with pytest.raises(UpstreamError) as caught:
        provider(f"http://127.0.0.1:{free_port()}").begin(redirect_uri=REDIRECT_URI)
    assert caught.value.code == "upstream_unreachable"


def test_upstream_going_away_after_discovery_is_unreachable(thaid_sim):
    upstream = provider(thaid_sim.url)
    redirect = upstream.begin(redirect_uri=REDIRECT_URI)
    params = thaid_login(redirect)
    upstream._metadata = {**upstream._metadata, "token_endpoint": f"http://127.0.0.1:{free_port()}/token"}
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=redirect.state, params=params, redirect_uri=REDIRECT_URI)
    assert caught.value.code == "upstream_unreachable"


def test_state_mismatch_and_replay(thaid_sim):
    upstream = provider(thaid_sim.url)
    first = upstream.begin(redirect_uri=REDIRECT_URI)
    other = upstream.begin(redirect_uri=REDIRECT_URI)
    params = thaid_login(first)
    attempts = [(other.state, params, REDIRECT_URI), (first.state, {**params, "state": "x"}, REDIRECT_URI),
                (first.state, {"code": params["code"]}, REDIRECT_URI), (first.state, params, REDIRECT_URI + "x"),
                ({}, params, REDIRECT_URI)]
    for state, query, uri in attempts:
        with pytest.raises(UpstreamError) as caught:
            upstream.complete(state=state, params=query, redirect_uri=uri)
        assert caught.value.code == "state_mismatch"
    assert upstream.complete(state=first.state, params=params, redirect_uri=REDIRECT_URI).citizen_id
    with pytest.raises(UpstreamError) as caught:  # the code is single-use at the upstream
        upstream.complete(state=first.state, params=params, redirect_uri=REDIRECT_URI)
    assert caught.value.code == "upstream_error"


def test_expired_login_attempt_is_state_mismatch(thaid_sim):
    upstream = provider(thaid_sim.url)
    redirect = upstream.begin(redirect_uri=REDIRECT_URI)
    params = thaid_login(redirect)
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state={**redirect.state, "created_at": redirect.state["created_at"] - 3600}, params=params,
                          redirect_uri=REDIRECT_URI)
    assert caught.value.code == "state_mismatch"


def test_cancel_at_the_upstream_is_rejected(thaid_sim):
    upstream = provider(thaid_sim.url)
    redirect = upstream.begin(redirect_uri=REDIRECT_URI)
    params = thaid_login(redirect, action="cancel")
    assert params["error"] == "access_denied"
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=redirect.state, params=params, redirect_uri=REDIRECT_URI)
    assert caught.value.code == "rejected"


def test_rfc9207_iss_parameter_must_be_the_issuer(thaid_sim):
    upstream = provider(thaid_sim.url)
    redirect = upstream.begin(redirect_uri=REDIRECT_URI)
    params = thaid_login(redirect)
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=redirect.state, params={**params, "iss": "https://evil.example"},
                          redirect_uri=REDIRECT_URI)
    assert caught.value.code == "invalid_issuer"


def test_wrong_client_secret_is_refused_at_the_token_endpoint(thaid_sim):
    error = failure(provider(thaid_sim.url, client_secret="not-the-secret"))
    assert error.code == "upstream_error" and "401" in error.detail


def test_discovery_naming_another_issuer_is_invalid_issuer(thaid_sim):
    # The same server reached under another name: its discovery document names the configured issuer
    # differently, which OIDC Discovery §4.3 forbids.
    upstream = provider(thaid_sim.url.replace("127.0.0.1", "localhost"))
    with pytest.raises(UpstreamError) as caught:
        upstream.begin(redirect_uri=REDIRECT_URI)
    assert caught.value.code == "invalid_issuer"


def test_key_rotation_refetches_the_jwks_once(thaid_sim):
    upstream = provider(thaid_sim.url)
    login(upstream)
    old_kids = {key.kid for key in upstream._keys.keys}
    assert httpx.post(thaid_sim.url + "/_sim/rotate-keys").status_code == 200
    assert login(upstream).citizen_id == "1345951597671"
    assert {key.kid for key in upstream._keys.keys} > old_kids


@pytest.mark.parametrize(("offset", "skew", "ok"), [(3000, 60, False), (-600, 60, False), (-30, 60, True),
                                                    (650, 60, True)])
def test_clock_skew_is_bounded(thaid_sim, offset, skew, ok):
    # The gateway's clock `offset` seconds away from the upstream's; the ID token lives 600 s.
    upstream = OIDCUpstream(config=oidc_config(thaid_sim.url, max_clock_skew=skew),
                            clock=lambda: time.time() + offset)
    if ok:
        assert login(upstream).citizen_id
    else:
        assert failure(upstream).code == "upstream_error"


@pytest.mark.parametrize("garbled", [
    (200, {"content-encoding": "gzip"}, b"not gzip at all"),
    (200, {"content-type": "application/json"}, b"[" * 100000 + b"]" * 100000),
])
def test_undecodable_discovery_is_upstream_error(garbled):
    def answer(request: httpx.Request) -> httpx.Response:
        status, headers, body = garbled
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))

    upstream = OIDCUpstream(config=oidc_config("https://thaid.invalid"), transport=httpx.MockTransport(answer))
    with pytest.raises(UpstreamError) as caught:
        upstream.begin(redirect_uri=REDIRECT_URI)
    assert caught.value.code == "upstream_error"
