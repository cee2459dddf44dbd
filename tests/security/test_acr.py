"""acr answers what was asked (OIDC Core §5.5.1.1; security review item 5) and max_age=0 means
sign in again (item 8; OIDC Core §3.1.2.1).

Found: acr was always ``urn:idgw:aal:<n>``, so an essential request for an advertised
``urn:idgw:ial:*`` value could never be met, and a list of alternatives was treated as "the
strongest"; ``max_age=0`` within the second of the last sign-in returned a code without asking;
``max_age=²`` was a 500 and Thai digits were read as numbers."""

from __future__ import annotations

import json

import httpx
import pytest
from jose import jwt as jose_jwt

from tests.flow import Browser, authorize_url, callback_params, exchange, login_flow, register, rp_client, unmet_params


def essential(*values: str) -> str:
    return json.dumps({"id_token": {"acr": {"essential": True, "values": list(values)}}})


def acr_after_sign_in(gateway, reg, **extra) -> tuple[dict, str | None]:
    rp = rp_client(gateway, reg)
    browser = Browser(gateway)
    url, _state, _nonce, verifier = authorize_url(gateway, rp, **extra)
    page = browser.follow(browser.get(url))
    page = browser.login(page, reg.username)
    if 'value="allow"' in page.text:
        page = browser.consent(page)
    params = unmet_params(page) if page.status_code == 403 else callback_params(page)
    if "error" in params:
        return params, None
    tokens = exchange(gateway, rp, params["code"], verifier)
    return params, jose_jwt.get_unverified_claims(tokens["id_token"])["acr"]


@pytest.mark.parametrize("values,expected", [
    (["urn:idgw:ial:1.1"], "urn:idgw:ial:1.1"),
    (["urn:idgw:ial:1.1:aal:1"], "urn:idgw:ial:1.1:aal:1"),
    # alternatives: the first one this sign-in satisfies, not "the strongest"
    (["urn:idgw:aal:2.1", "urn:idgw:ial:1.1"], "urn:idgw:ial:1.1"),
    (["urn:example:other", "urn:idgw:aal:1"], "urn:idgw:aal:1"),
])
def test_an_essential_acr_is_answered_with_a_requested_value(gateway, values, expected):
    reg = register(gateway)
    _params, acr = acr_after_sign_in(gateway, reg, claims=essential(*values))
    assert acr == expected


def test_an_essential_acr_that_cannot_be_met_is_unmet(gateway):
    reg = register(gateway)
    params, _acr = acr_after_sign_in(gateway, reg, claims=essential("urn:idgw:ial:2.2", "urn:idgw:ial:1.3:aal:2.1"))
    assert params["error"] == "unmet_authentication_requirements"
    assert "essential_acr_unmet" in params["error_description"]


def test_without_a_request_acr_names_both_levels_reached(gateway):
    reg = register(gateway)
    _params, acr = acr_after_sign_in(gateway, reg)
    assert acr == "urn:idgw:ial:1.1:aal:1"


def test_discovery_advertises_single_and_combined_values_and_each_is_accepted(gateway):
    meta = httpx.get(gateway.url + "/.well-known/openid-configuration").json()
    values = meta["acr_values_supported"]
    assert "urn:idgw:ial:2.2" in values and "urn:idgw:aal:2.1" in values and "urn:idgw:ial:2.2:aal:2.1" in values
    reg = register(gateway)
    rp = rp_client(gateway, reg)
    for value in values:  # every advertised value is a valid request (never invalid_request)
        url, *_ = authorize_url(gateway, rp, claims=essential(value), prompt="none")
        answer = callback_params(httpx.get(url, follow_redirects=False))
        assert answer["error"] in ("login_required",), (value, answer)
    for bad in ("urn:idgw:aal:2.1:ial:2.2", "urn:idgw:ial:4", "urn:idgw:gold"):
        url, *_ = authorize_url(gateway, rp, acr_values=bad)
        assert callback_params(httpx.get(url, follow_redirects=False))["error"] == "invalid_request", bad


def test_max_age_zero_always_asks_to_sign_in_again(gateway):
    reg = register(gateway)
    _params, _s, _n, _v, rp, browser = login_flow(gateway, reg)
    url, *_ = authorize_url(gateway, rp, max_age="0")
    page = browser.follow(browser.get(url))  # within the same second as the sign-in
    assert 'name="password"' in page.text
    params = callback_params(browser.follow(browser.login(page, reg.username)))
    assert "code" in params
    # and with prompt=none it is login_required, not a code
    url, *_ = authorize_url(gateway, rp, max_age="0", prompt="none")
    assert callback_params(browser.get(url))["error"] == "login_required"


@pytest.mark.parametrize("value", ["²", "๑๒๐", "1e3", "-1", " 5", "1234567890"])
def test_max_age_takes_ascii_digits_only(gateway, value):
    reg = register(gateway)
    url, *_ = authorize_url(gateway, rp_client(gateway, reg), max_age=value)
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code == 302, answer.text[:200]
    assert callback_params(answer)["error"] == "invalid_request"
