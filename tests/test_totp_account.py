"""TOTP (RFC 6238 vectors, window, replay), recovery codes, the account page, and the flow where
an AAL 2.1 service receives acr=urn:idgw:aal:2.1 and amr [pwd, otp] after TOTP step-up."""

import base64
import re

import httpx
import pytest
from sqlalchemy import select

from idgw.authn.totp import matching_step, normalise_recovery, totp_code
from idgw.storage.models import AuditEvent
from tests.flow import PASSWORD, Browser, authorize_url, callback_params, exchange, register, rp_client
from tests.test_assurance_flow import claims_of

# RFC 6238 appendix B, SHA-1 seed "12345678901234567890"; our codes are the last 6 digits.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()
VECTORS = [(59, "94287082"), (1111111109, "07081804"), (1111111111, "14050471"), (1234567890, "89005924"),
           (2000000000, "69279037"), (20000000000, "65353130")]


@pytest.mark.parametrize("t,code8", VECTORS)
def test_rfc6238_vectors(t, code8):
    assert totp_code(RFC_SECRET, step=t // 30) == code8[-6:]


def test_window_edges_and_replay_order():
    now = 1111111111  # step 37037037, 1 s into... whatever: use steps directly
    step = now // 30
    for offset, ok in ((-2, False), (-1, True), (0, True), (1, True), (2, False)):
        code = totp_code(RFC_SECRET, step=step + offset)
        assert (matching_step(RFC_SECRET, code, now=now, after=None) is not None) is ok, offset
    current = totp_code(RFC_SECRET, step=step)
    assert matching_step(RFC_SECRET, current, now=now, after=step) is None  # already used this step
    assert matching_step(RFC_SECRET, current, now=now, after=step - 1) == step
    assert matching_step(RFC_SECRET, "12345", now=now, after=None) is None
    assert matching_step(RFC_SECRET, "abcdef", now=now, after=None) is None


def test_recovery_code_normalisation():
    assert normalise_recovery(" ABCDE-fghjk ") == "abcdefghjk"
    assert normalise_recovery("0o1l") == ""


def form_post(http, page, action=None, **fields):
    action = action or re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    return http.post(httpx.URL(str(page.url)).join(action), data={**hidden, **fields})


def current_code(gateway, secret, offset=0):
    return totp_code(secret, step=gateway.clock.now() // 30 + offset)


def enrol_totp(gateway, http, username):
    """Sign in on the account page and enrol a TOTP; returns (secret, recovery codes, page)."""
    page = http.get(gateway.url + "/account")
    page = form_post(http, page, username=username, password=PASSWORD)
    assert page.url.path == "/account", page.url
    page = form_post(http, page, action="/account/totp")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text).group(1)
    assert 'src="data:image/svg+xml' in page.text  # the QR code, rendered on the server
    wrong = form_post(http, page, name="Phone", code="000000")
    assert wrong.status_code == 400
    page = form_post(http, wrong, name="Phone", code=current_code(gateway, secret))
    codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", page.text)
    assert len(codes) == 10
    return secret, codes, page


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_enrol_totp_then_an_aal21_service_gets_acr_and_amr(gateway):
    reg = register(gateway, policy={"min_aal": "2.1"})
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        secret, codes, _ = enrol_totp(gateway, http, reg.username)
    with gateway.db() as db:
        names = [e.name for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
        assert "authenticator.added" in names and "recovery_codes.generated" in names
    gateway.clock.advance(60)  # a new time step
    rp = rp_client(gateway, reg)
    url, _, _, verifier = authorize_url(gateway, rp)
    b = Browser(gateway)
    page = b.login(b.follow(b.get(url)), reg.username)
    assert "แอปยืนยันตัวตน" in page.text  # the TOTP step-up page
    params = callback_params(b.consent(b.submit(page, code=current_code(gateway, secret))))
    claims = claims_of(gateway, reg, exchange(gateway, rp, params["code"], verifier))
    assert claims["acr"] == "urn:idgw:ial:1.1:aal:2.1" and set(claims["amr"]) == {"pwd", "otp"}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_totp_code_is_single_use_across_sessions_and_recovery_codes_work_once(gateway):
    reg = register(gateway, policy={"min_aal": "2.1"})
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        secret, codes, _ = enrol_totp(gateway, http, reg.username)
    gateway.clock.advance(60)
    code = current_code(gateway, secret)

    def step_up_with(value):
        with httpx.Client(follow_redirects=True, timeout=20) as http:
            page = http.get(gateway.url + "/account")
            page = form_post(http, page, username=reg.username, password=PASSWORD)
            return form_post(http, page, code=value)

    assert step_up_with(code).url.path == "/account"          # accepted
    assert step_up_with(code).status_code == 401               # the same code in another session: replay
    # a recovery code via its own route works once
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        page = http.get(gateway.url + "/account")
        page = form_post(http, page, username=reg.username, password=PASSWORD)
        page = http.get(gateway.url + "/signin/factor/recovery?next=/account&aal=2.1")
        assert form_post(http, page, code=codes[0].upper()).url.path == "/account"
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        page = http.get(gateway.url + "/account")
        page = form_post(http, page, username=reg.username, password=PASSWORD)
        page = http.get(gateway.url + "/signin/factor/recovery?next=/account&aal=2.1")
        assert form_post(http, page, code=codes[0]).status_code == 401
    with gateway.db() as db:
        assert db.scalars(select(AuditEvent).where(AuditEvent.name == "recovery_code.used")).first() is not None
        assert db.scalars(select(AuditEvent).where(AuditEvent.name == "authenticator.failed")).first() is not None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_removing_the_last_strong_factor_is_refused_when_a_service_needs_it(gateway):
    reg = register(gateway, policy={"min_aal": "2.1"})
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        secret, codes, page = enrol_totp(gateway, http, reg.username)
    # the person uses the AAL 2.1 service (has consented to it)
    with gateway.db() as db:
        from idgw.storage.models import Consent, RecoveryCode
        db.add(Consent(account_id=reg.account_id, client_id=reg.client_id, scope="openid", granted_at=0))
        for row in db.scalars(select(RecoveryCode)):  # without recovery codes the TOTP is the only 2nd factor
            db.delete(row)
        db.commit()
    gateway.clock.advance(60)
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        page = form_post(http, http.get(gateway.url + "/account"), username=reg.username, password=PASSWORD)
        account = form_post(http, page, code=current_code(gateway, secret))  # viewing needs the account's AAL
        assert account.url.path == "/account"
        factor_id = re.search(r'action="/account/factors/([^/]+)/remove"', account.text).group(1)
        refused = form_post(http, account, action=f"/account/factors/{factor_id}/remove")
        assert refused.status_code == 409 and "AAL 2.1" in refused.text
        with gateway.db() as db:
            assert not db.scalars(select(AuditEvent).where(AuditEvent.name == "authenticator.removed")).all()
        # with fresh recovery codes the service's AAL stays reachable, so the TOTP may go
        codes_page = form_post(http, refused, action="/account/recovery")
        assert len(re.findall(r"<code>[a-z2-9]{5}-[a-z2-9]{5}</code>", codes_page.text)) == 10
        removed = form_post(http, http.get(gateway.url + "/account"), action=f"/account/factors/{factor_id}/remove")
        assert removed.status_code == 200 and "ลบวิธียืนยันตัวตนแล้ว" in removed.text
        with gateway.db() as db:
            assert db.scalars(select(AuditEvent).where(AuditEvent.name == "authenticator.removed")).first()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_account_page_changes_need_a_fresh_sign_in_and_sign_out_everywhere(gateway):
    reg = register(gateway)
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        page = http.get(gateway.url + "/account")
        page = form_post(http, page, username=reg.username, password=PASSWORD)
        assert "การเข้าสู่ระบบล่าสุด" in page.text and "เข้าสู่ระบบ" in page.text
        gateway.clock.advance(301)
        stale = form_post(http, page, action="/account/totp")
        assert stale.url.path == "/signin"  # not fresh: sign in again first
        with httpx.Client(follow_redirects=True, timeout=20) as other:
            p2 = other.get(gateway.url + "/account")
            form_post(other, p2, username=reg.username, password=PASSWORD)
            page = form_post(http, form_post(http, stale, username=reg.username, password=PASSWORD),
                             action="/account/sessions/end-all")
            assert page.url.path == "/"
            assert other.get(gateway.url + "/account").url.path == "/signin"  # the other device is out too
    with gateway.db() as db:
        assert db.scalars(select(AuditEvent).where(AuditEvent.name == "sessions.ended_everywhere")).first()
