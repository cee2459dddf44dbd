"""The service's floors on every login, step-up, and the standard signalling (acr, ial, aal,
unmet_authentication_requirements), over HTTP against the running gateway."""

import json
import re

import httpx
from jose import jwt as jose_jwt
from sqlalchemy import select

from idgw.storage.models import Account, AuditEvent
from tests.flow import (
    Browser,
    authorize_url,
    callback_params,
    exchange,
    login_flow,
    raise_page,
    register,
    rp_client,
    set_policy,
    unmet_params,
)
from tests.stepup import FIXTURE_CODE, enable_second_factor


def claims_of(gateway, reg, tok):
    jwks = httpx.get(gateway.url + "/jwks.json").json()
    return jose_jwt.decode(tok["id_token"], jwks, algorithms=["ES256"], audience=reg.client_id,
                           access_token=tok["access_token"])


def start(gateway, reg, browser=None, **extra):
    rp = rp_client(gateway, reg)
    b = browser or Browser(gateway)
    url, state, nonce, verifier = authorize_url(gateway, rp, **extra)
    return rp, b, b.follow(b.get(url)), verifier


def test_password_login_passes_an_ial_1_1_aal_1_service_and_tokens_say_so(gateway):
    reg = register(gateway)
    params, _, _, verifier, rp, _ = login_flow(gateway, reg)
    tok = exchange(gateway, rp, params["code"], verifier)
    claims = claims_of(gateway, reg, tok)
    assert claims["acr"] == "urn:idgw:ial:1.1:aal:1" and claims["ial"] == "1.1" and claims["aal"] == "1"
    assert claims["amr"] == ["pwd"] and "auth_time" in claims and "verified_claims" not in claims
    intro = httpx.post(gateway.url + "/introspect", auth=(reg.client_id, reg.client_secret),
                       data={"token": tok["access_token"]}).json()
    assert intro["acr"] == "urn:idgw:ial:1.1:aal:1" and intro["ial"] == "1.1" and intro["aal"] == "1"
    assert intro["auth_time"] == claims["auth_time"]


def test_no_policy_means_no_token(gateway):
    reg = register(gateway, policy=False)
    _, b, page, _ = start(gateway, reg)
    # refused before anyone is asked for a password
    params = callback_params(page)
    assert params["error"] == "access_denied" and "no_policy" in params["error_description"]
    assert "code" not in params


def test_raising_the_floor_to_aal_2_1_makes_the_same_request_step_up(gateway):
    reg = register(gateway, policy={"min_aal": "2.1"})
    # Without any second factor the person is offered to set one up here (never a token before).
    _, b, page, _ = start(gateway, reg)
    routes = raise_page(b.login(page, reg.username))
    assert set(routes) == {"ตั้งค่าแอปยืนยันตัวตน (เช่น Google Authenticator)", "เพิ่มพาสคีย์ในอุปกรณ์นี้"}
    assert "code=" not in str(routes)
    # With a second factor available the interaction asks for it, and then issues 2.1.
    enable_second_factor(gateway, reg.username)
    rp, b, page, verifier = start(gateway, reg)
    page = b.login(page, reg.username)
    assert 'name="code"' in page.text and "รหัสยืนยันทดสอบ" in page.text
    wrong = b.submit(page, code="000000")
    assert wrong.status_code == 401 and "ไม่ถูกต้อง" in wrong.text
    page = b.submit(wrong, code=FIXTURE_CODE)
    params = callback_params(b.consent(page))
    claims = claims_of(gateway, reg, exchange(gateway, rp, params["code"], verifier))
    assert claims["acr"] == "urn:idgw:ial:1.1:aal:2.1" and claims["aal"] == "2.1"
    assert set(claims["amr"]) == {"pwd", "otp"}
    names = [e.name for e in _events(gateway)]
    assert "session.stepped_up" in names and "authenticator.failed" in names


def test_existing_aal1_session_steps_up_without_a_new_password(gateway):
    reg = register(gateway)
    enable_second_factor(gateway, reg.username)
    _, _, _, _, _, b = login_flow(gateway, reg)
    set_policy(gateway, reg.client_id, min_aal="2.1")
    rp, b, page, verifier = start(gateway, reg, browser=b)
    assert 'name="password"' not in page.text and 'name="code"' in page.text
    params = callback_params(b.follow(b.submit(page, code=FIXTURE_CODE)))
    assert claims_of(gateway, reg, exchange(gateway, rp, params["code"], verifier))["aal"] == "2.1"


def test_asking_for_less_than_the_floor_still_gets_the_floor(gateway):
    reg = register(gateway, policy={"min_aal": "2.1"})
    enable_second_factor(gateway, reg.username)
    rp, b, page, verifier = start(gateway, reg, acr_values="urn:idgw:aal:1")
    page = b.login(page, reg.username)
    assert 'name="code"' in page.text
    params = callback_params(b.consent(b.submit(page, code=FIXTURE_CODE)))
    claims = claims_of(gateway, reg, exchange(gateway, rp, params["code"], verifier))
    # the floor was met (aal 2.1); acr is the requested value the sign-in satisfies (OIDC Core §5.5.1.1)
    assert claims["aal"] == "2.1" and claims["acr"] == "urn:idgw:aal:1"


def test_asking_for_more_gets_more_or_unmet(gateway):
    reg = register(gateway)
    rp, b, page, _ = start(gateway, reg, acr_values="urn:idgw:aal:2.1")
    assert "ตั้งค่าแอปยืนยันตัวตน (เช่น Google Authenticator)" in raise_page(b.login(page, reg.username))
    enable_second_factor(gateway, reg.username)
    rp, b, page, verifier = start(gateway, reg, acr_values="urn:idgw:aal:2.1")
    params = callback_params(b.consent(b.submit(b.login(page, reg.username), code=FIXTURE_CODE)))
    assert claims_of(gateway, reg, exchange(gateway, rp, params["code"], verifier))["aal"] == "2.1"
    # AAL 2.2 needs a phishing-resistant authenticator, which this account does not have
    # (and, having a second factor, may not set one up on a password alone)
    rp, b, page, _ = start(gateway, reg, acr_values="urn:idgw:aal:2.2")
    params = unmet_params(b.login(page, reg.username))
    assert params["error"] == "unmet_authentication_requirements" and "AAL 2.2" in params["error_description"]
    with gateway.db() as db:
        assert db.scalars(select(AuditEvent).where(AuditEvent.name == "authorization.unmet")).first() is not None


def test_essential_acr_in_the_claims_parameter(gateway):
    reg = register(gateway)
    enable_second_factor(gateway, reg.username)
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": ["urn:idgw:aal:2.2"]}}})
    rp, b, page, _ = start(gateway, reg, claims=claims)
    params = unmet_params(b.login(page, reg.username))
    assert params["error"] == "unmet_authentication_requirements"
    assert "essential_acr_unmet" in params["error_description"]
    with gateway.db() as db:
        unmet = db.scalars(select(AuditEvent).where(AuditEvent.name == "authorization.unmet")).first()
        assert "essential_acr_unmet" in unmet.detail["reason"] and unmet.client_id == reg.client_id


def test_malformed_assurance_requests_are_invalid_request(gateway):
    reg = register(gateway)
    for extra in ({"acr_values": "urn:idgw:aal:2"}, {"acr_values": "urn:idgw:ial:IAL2"},
                  {"claims": "{not json"}, {"claims": json.dumps({"id_token": "acr"})},
                  {"claims": json.dumps({"id_token": {"acr": {"essential": True, "values": ["gold"]}}})}):
        url, *_ = authorize_url(gateway, rp_client(gateway, reg), **extra)
        r = httpx.get(url, follow_redirects=False)
        params = callback_params(r)
        assert params["error"] == "invalid_request", extra


def test_ial_above_the_account_is_unmet_without_a_proofing_route(gateway):
    reg = register(gateway, policy={"min_ial": "2.2", "justification": None})
    _, b, page, _ = start(gateway, reg)
    params = unmet_params(b.login(page, reg.username))
    assert params["error"] == "unmet_authentication_requirements" and "IAL 2.2" in params["error_description"]


def test_proofed_account_gets_verified_claims_when_asked(gateway):
    reg = register(gateway, citizen_id="1345951597671", policy={"min_ial": "2.1"})
    with gateway.db() as db:
        account = db.get(Account, reg.account_id)
        account.ial, account.ial_verified_at, account.ial_evidence = "2.2", 1_790_000_000, "dopa_face_match"
        db.commit()
    claims = json.dumps({"id_token": {"verified_claims": {"verification": {"trust_framework": None},
                                                          "claims": {"given_name": None}}}})
    rp, b, page, verifier = start(gateway, reg, claims=claims, scope="openid profile citizen_id")
    params = callback_params(b.consent(b.login(page, reg.username)))
    tok = exchange(gateway, rp, params["code"], verifier)
    c = claims_of(gateway, reg, tok)
    assert c["ial"] == "2.2"
    vc = c["verified_claims"]
    assert vc["verification"]["trust_framework"] == "th_dga_digital_id"
    assert vc["verification"]["assurance_level"] == "2.2" and vc["claims"]["given_name"] == "Somsri"
    # asked for at userinfo too: something new to release, so the consent page asks again and names it
    claims = json.dumps({"userinfo": {"verified_claims": {"verification": {"trust_framework": None},
                                                          "claims": {"given_name": None, "citizen_id": None}}}})
    rp, b, page, verifier = start(gateway, reg, browser=b, claims=claims, scope="openid profile citizen_id")
    assert "IAL 2.2" in page.text and "citizen ID" in page.text or "เลขประจำตัวประชาชน" in page.text
    tok = exchange(gateway, rp, callback_params(b.consent(page))["code"], verifier)
    assert "verified_claims" not in claims_of(gateway, reg, tok)
    info = httpx.get(gateway.url + "/userinfo", headers={"Authorization": f"Bearer {tok['access_token']}"}).json()
    assert info["verified_claims"]["verification"]["assurance_level"] == "2.2"
    assert info["verified_claims"]["claims"]["citizen_id"] == "1345951597671"
    # not asked for -> not in the ID token
    rp, b, page, verifier = start(gateway, reg, browser=b, scope="openid profile citizen_id")
    params = callback_params(b.follow(page))
    assert "verified_claims" not in claims_of(gateway, reg, exchange(gateway, rp, params["code"], verifier))


def test_session_past_its_aal_idle_limit_reauthenticates(gateway):
    reg = register(gateway, policy={"min_aal": "2.1"})
    enable_second_factor(gateway, reg.username)
    rp, b, page, _ = start(gateway, reg)
    callback_params(b.consent(b.submit(b.login(page, reg.username), code=FIXTURE_CODE)))
    gateway.clock.advance(10 * 60)
    rp, b, page, _ = start(gateway, reg, browser=b)
    assert "code" in callback_params(page)  # within 30 minutes idle: no new sign-in
    gateway.clock.advance(31 * 60)
    rp, b, page, _ = start(gateway, reg, browser=b)
    assert 'name="password"' in page.text  # idle too long at AAL 2.1: sign in again


def test_prompt_none_with_a_needed_step_up_is_interaction_required(gateway):
    reg = register(gateway)
    enable_second_factor(gateway, reg.username)
    _, _, _, _, _, b = login_flow(gateway, reg)
    _, b, page, _ = start(gateway, reg, browser=b, prompt="none", acr_values="urn:idgw:aal:2.1")
    assert callback_params(page)["error"] == "interaction_required"


def test_citizen_id_released_only_with_a_legal_basis(gateway):
    reg = register(gateway, citizen_id="1345951597671",
                   policy={"release_citizen_id": False, "citizen_id_legal_basis": None})
    params, _, _, verifier, rp, _ = login_flow(gateway, reg, scope="openid profile citizen_id")
    tok = exchange(gateway, rp, params["code"], verifier)
    assert "citizen_id" not in tok["scope"].split()
    info = httpx.get(gateway.url + "/userinfo", headers={"Authorization": f"Bearer {tok['access_token']}"}).json()
    assert "citizen_id" not in info


def test_discovery_advertises_assurance(gateway):
    meta = httpx.get(gateway.url + "/.well-known/openid-configuration").json()
    assert meta["claims_parameter_supported"] is True and meta["verified_claims_supported"] is True
    assert "urn:idgw:ial:2.3" in meta["acr_values_supported"] and "urn:idgw:aal:3" in meta["acr_values_supported"]
    assert meta["trust_frameworks_supported"] == ["th_dga_digital_id"]


def _events(gateway):
    with gateway.db() as db:
        return list(db.scalars(select(AuditEvent).order_by(AuditEvent.id)))



def test_prompt_none_answers_at_once_interaction_required_when_a_way_exists_else_unmet(gateway):
    reg = register(gateway)
    _, _, _, _, _, b = login_flow(gateway, reg)  # an AAL 1 password session in this browser
    # a way exists (set up an app here): the service must ask with a page
    _, b, page, _ = start(gateway, reg, browser=b, prompt="none", acr_values="urn:idgw:aal:2.1")
    assert callback_params(page)["error"] == "interaction_required"
    # with a second factor the account may not set up another on a password alone, and none of its
    # factors reaches AAL 2.2: nothing here can, so unmet at once, without a page
    enable_second_factor(gateway, reg.username)
    _, b, page, _ = start(gateway, reg, browser=b, prompt="none", acr_values="urn:idgw:aal:2.2")
    params = callback_params(page)
    assert params["error"] == "unmet_authentication_requirements" and "AAL 2.2" in params["error_description"]


def test_cancel_on_a_sign_in_page_returns_access_denied_and_ends_the_sign_in(gateway):
    reg = register(gateway, policy={"min_aal": "2.1"})
    rp, b, page, _ = start(gateway, reg)
    page = b.login(page, reg.username)
    cancel = re.search(r'<form method="post" action="(/interaction/[^"]+/cancel)"><input type="hidden" '
                       r'name="csrf_token" value="([^"]+)"', page.text)
    assert cancel, page.text[-1500:]
    # a forged cancel (no token, or another form's token) changes nothing
    assert b.http.post(cancel.group(1), data={"csrf_token": "x"}).status_code == 403
    done = b.http.post(cancel.group(1), data={"csrf_token": cancel.group(2)})
    params = callback_params(done)
    assert params["error"] == "access_denied" and "state" in params
    # the sign-in is over: going back to it offers the way back to the service, never a code
    again = b.http.get(cancel.group(1).rsplit("/cancel", 1)[0])
    assert again.status_code in (302, 303) and "error=access_denied" in again.headers["location"]
    with gateway.db() as db:
        denied = db.scalars(select(AuditEvent).where(AuditEvent.name == "authorization.denied")).one()
        assert denied.detail["reason"] == "cancelled"


def test_setting_up_a_factor_inside_a_sign_in_needs_a_recent_sign_in(gateway):
    """An old session (an unattended browser) may not bind a new factor of its own: the person
    signs in again first, then setting one up is offered."""
    reg = register(gateway)
    _, _, _, _, _, b = login_flow(gateway, reg)
    set_policy(gateway, reg.client_id, min_aal="2.1")
    gateway.clock.advance(3600)  # an AAL 1 session still counts for 30 days, but is not recent
    _, b, page, _ = start(gateway, reg, browser=b, prompt="none")
    assert callback_params(page)["error"] == "login_required"
    _, b, page, _ = start(gateway, reg, browser=b)
    assert 'name="password"' in page.text and "/enrol/" not in page.text
    routes = raise_page(b.login(page, reg.username))
    assert "ตั้งค่าแอปยืนยันตัวตน (เช่น Google Authenticator)" in routes
