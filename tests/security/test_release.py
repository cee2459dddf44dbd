"""Nothing is released outside consent (security review item 3).

Found: with ``scope=openid`` and a ``claims`` request for ``verified_claims``, the ID token and
userinfo carried Thai and English names although the consent page showed only the service
identifier; a service allowed the citizen ID got it in the ID token without the ``citizen_id``
scope. Now one function (``idgw.release``) decides what is released; the consent page shows it;
the ID token, userinfo and introspection answer from what was agreed."""

from __future__ import annotations

import json

import httpx
from jose import jwt as jose_jwt

from idgw.storage.models import Account
from tests.flow import Browser, authorize_url, callback_params, exchange, register, rp_client, set_policy

CID = "1345951597671"


def proofed(gateway, **policy):
    reg = register(gateway, citizen_id=CID, policy=policy or None)
    with gateway.db() as db:
        account = db.get(Account, reg.account_id)
        account.ial, account.ial_verified_at, account.ial_evidence = "2.2", 1_790_000_000, "dopa_face_match"
        db.commit()
    return reg


def consent_page(gateway, reg, browser=None, **extra):
    rp = rp_client(gateway, reg, scope=extra.pop("scope", "openid"))
    browser = browser or Browser(gateway)
    url, _state, _nonce, verifier = authorize_url(gateway, rp, **extra)
    page = browser.follow(browser.get(url))
    if 'name="password"' in page.text:
        page = browser.login(page, reg.username)
    return rp, browser, page, verifier


def finish(gateway, rp, browser, page, verifier):
    if 'value="allow"' in page.text:
        page = browser.consent(page)
    tokens = exchange(gateway, rp, callback_params(page)["code"], verifier)
    id_claims = jose_jwt.get_unverified_claims(tokens["id_token"])
    info = httpx.get(gateway.url + "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    intro = httpx.post(gateway.url + "/introspect", auth=(rp.client_id, rp.client_secret),
                       data={"token": tokens["access_token"]}).json()
    return id_claims, info, intro


VERIFIED_NAMES = {"id_token": {"verified_claims": {"verification": {"trust_framework": None},
                                                   "claims": {"given_name": None, "th_given_name": None,
                                                              "citizen_id": None}}}}


def test_verified_names_asked_with_scope_openid_are_shown_on_the_consent_page(gateway):
    reg = proofed(gateway)
    rp, browser, page, verifier = consent_page(gateway, reg, claims=json.dumps(VERIFIED_NAMES),
                                               ui_locales="en")
    assert 'value="allow"' in page.text
    # the page names what will be released, with the level it was proofed at
    assert "IAL 2.2" in page.text and "Given name (English)" in page.text and "Given name (Thai)" in page.text
    id_claims, info, intro = finish(gateway, rp, browser, page, verifier)
    vc = id_claims["verified_claims"]["claims"]
    assert vc == {"given_name": "Somsri", "th_given_name": "สมศรี"}  # no citizen ID without its scope
    assert set(info) == {"sub"} and "given_name" not in intro  # nothing asked for userinfo


def test_the_citizen_id_needs_its_scope_and_the_legal_basis_everywhere(gateway):
    reg = proofed(gateway)  # the default test policy records a legal basis
    rp, browser, page, verifier = consent_page(gateway, reg, scope="openid profile",
                                               claims=json.dumps({"id_token": {"citizen_id": None},
                                                                  "userinfo": {"citizen_id": None},
                                                                  **VERIFIED_NAMES}))
    id_claims, info, intro = finish(gateway, rp, browser, page, verifier)
    for where in (id_claims, info, intro):
        assert CID not in json.dumps(where, ensure_ascii=False), where
    # with the scope it is released (in userinfo, by the scope; in the ID token, as asked)
    rp, browser, page, verifier = consent_page(gateway, reg, browser=browser, scope="openid profile citizen_id",
                                               claims=json.dumps(VERIFIED_NAMES))
    id_claims, info, intro = finish(gateway, rp, browser, page, verifier)
    assert id_claims["verified_claims"]["claims"]["citizen_id"] == CID
    assert info["citizen_id"] == CID and intro["citizen_id"] == CID
    # the legal basis withdrawn: the same token stops carrying it at once
    set_policy(gateway, reg.client_id, release_citizen_id=False, citizen_id_legal_basis=None)
    tokens = exchange(gateway, *_fresh_code(gateway, reg, browser, scope="openid profile"))
    info = httpx.get(gateway.url + "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert "citizen_id" not in info


def _fresh_code(gateway, reg, browser, *, scope):
    rp, browser, page, verifier = consent_page(gateway, reg, browser=browser, scope=scope)
    if 'value="allow"' in page.text:
        page = browser.consent(page)
    return rp, callback_params(page)["code"], verifier


def test_a_claim_asked_outside_the_scopes_is_shown_then_released(gateway):
    reg = register(gateway)
    rp, browser, page, verifier = consent_page(gateway, reg, ui_locales="en",
                                               claims=json.dumps({"userinfo": {"email": None}}))
    assert "E-mail address" in page.text
    _id, info, intro = finish(gateway, rp, browser, page, verifier)
    assert info["email"].endswith("@example.test") and intro["email"] == info["email"]
    assert "name" not in info  # profile was not asked for


def test_a_policy_that_releases_verified_claims_releases_only_what_the_scopes_cover(gateway):
    reg = proofed(gateway, release_verified_claims=True)
    rp, browser, page, verifier = consent_page(gateway, reg)  # scope=openid, no claims request
    id_claims, info, _intro = finish(gateway, rp, browser, page, verifier)
    assert "verified_claims" not in id_claims and "verified_claims" not in info
    rp, browser, page, verifier = consent_page(gateway, reg, browser=browser, scope="openid profile")
    id_claims, info, _intro = finish(gateway, rp, browser, page, verifier)
    assert set(id_claims["verified_claims"]["claims"]) == {"given_name", "family_name", "th_given_name",
                                                          "th_family_name"}


def test_an_earlier_consent_does_not_cover_new_claims(gateway):
    reg = proofed(gateway)
    rp, browser, page, verifier = consent_page(gateway, reg, scope="openid profile")
    finish(gateway, rp, browser, page, verifier)
    # same scopes again: no consent page
    rp, browser, page, verifier = consent_page(gateway, reg, browser=browser, scope="openid profile")
    assert page.status_code == 302
    # the same scopes plus verified claims: asked again
    rp, browser, page, verifier = consent_page(gateway, reg, browser=browser, scope="openid profile",
                                               claims=json.dumps(VERIFIED_NAMES))
    assert 'value="allow"' in page.text
    # and prompt=none cannot release them silently
    url, *_ = authorize_url(gateway, rp_client(gateway, reg, scope="openid profile"), prompt="none",
                            claims=json.dumps({"userinfo": {"email": None}}))
    assert callback_params(browser.get(url))["error"] == "consent_required"


def test_allow_records_what_the_page_showed_not_what_the_policy_says_later(gateway):
    """The consent records the release the page showed; if the policy then releases more before
    the person presses Allow, the code does not carry it: the page comes again and shows it."""
    reg = proofed(gateway)
    rp, browser, page, verifier = consent_page(gateway, reg, scope="openid profile", ui_locales="en")
    assert "Verified identity" not in page.text
    set_policy(gateway, reg.client_id, release_verified_claims=True)  # while the page is open
    again = browser.consent(page)
    assert 'value="allow"' in again.text and "Verified identity" in again.text
    id_claims, _info, _intro = finish(gateway, rp, browser, again, verifier)
    assert "verified_claims" in id_claims
