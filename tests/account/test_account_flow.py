"""The account pages over real HTTP (uvicorn), on SQLite and PostgreSQL: who may open them (each
way of proving control), the only way in, setting a password, signing out of one session,
removing a factor a service needs, withdrawing a consent, receipts, and "download my data"."""

from __future__ import annotations

import json

import httpx
import pytest
from jose import jwt as jose_jwt
from sqlalchemy import select

from idgw.account.consents import record_receipt
from idgw.assurance import current_policy
from idgw.storage.models import (
    Account,
    AccountAuthenticator,
    AccountLink,
    AuditEvent,
    Consent,
    ConsentReceipt,
    LoginSession,
    LogoutDelivery,
    RecoveryCode,
)
from policies import AAL
from tests.account.journeys import (
    add_passkey_row,
    enrol_totp,
    factor_ids,
    forms,
    next_totp,
    post_form,
    raise_with,
    recovery_codes,
    sign_in,
    upstream_browser,
)
from tests.flow import (
    LEGAL_BASIS,
    PASSWORD,
    Browser,
    add_service,
    authorize_url,
    exchange,
    login_flow,
    register,
    rp_client,
    wait_until,
)
from tests.security.receiver import Receiver
from tests.security.test_logout import verified_logout_token
from tests.stepup import FIXTURE_CODE, enable_second_factor

SCOPE = "openid profile email citizen_id offline_access"


def events(gateway, name: str) -> list[AuditEvent]:
    with gateway.db() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.name == name).order_by(AuditEvent.id)))


def refresh(gateway, reg, tokens) -> httpx.Response:
    return httpx.post(gateway.url + "/token", auth=(reg.client_id, reg.client_secret),
                      data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})


def introspect(gateway, reg, token: str) -> dict:
    return httpx.post(gateway.url + "/introspect", auth=(reg.client_id, reg.client_secret),
                      data={"token": token}).json()


def tokens_for(gateway, reg, b: Browser, *, scope: str = SCOPE) -> dict:
    params, _state, _nonce, verifier, rp, _b = login_flow(gateway, reg, browser=b, scope=scope)
    return exchange(gateway, rp, params["code"], verifier)


def csrf_of(page) -> str:
    """The page's account-form CSRF token (every POST form of the account pages carries it)."""
    return next(h["csrf_token"] for _, _, h in forms(page.text) if "csrf_token" in h)


def test_the_account_page_opens_with_any_factors_that_prove_control(gateway):
    reg = register(gateway)
    # not signed in: to /signin, asking for the least that will do
    anonymous = Browser(gateway).get("/account")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/signin?next=/account&aal=1"
    # a password-only account: the password proves control
    b, page = sign_in(gateway, reg.username)
    assert page.status_code == 200 and str(page.url).endswith("/account"), page.text[:300]
    assert "เข้าสู่ระบบขั้นพื้นฐาน" in page.text  # this sign-in, in words
    assert "เบราว์เซอร์ที่ไม่รู้จัก · IP 127.0.0.1" in page.text and "เพื่อใช้ หน้าของระบบนี้" in page.text
    english = b.get("/account?lang=en").text
    assert "How you sign in" in english and "Unknown browser · IP 127.0.0.1" in english
    assert f"Password · Username for signing in with a password: {reg.username}" in english
    b.get("/account?lang=th")
    # it has a password already: none is set over it
    assert b.get("/account/password").headers["location"] == "/account"
    kept = b.http.post("/account/password", data={"csrf_token": csrf_of(page), "password": "x" * 20,
                                                  "password_again": "x" * 20})
    assert kept.headers["location"] == "/account" and not events(gateway, "account.password_set")
    # it adds an authenticator app: the code confirming it raises this session at once
    secret = enrol_totp(gateway, b)
    assert b.get("/account").status_code == 200
    assert events(gateway, "session.stepped_up")
    # now the password alone no longer proves control...
    b2, _ = sign_in(gateway, reg.username, next_path="/account/services")
    there = b2.get("/account/services")
    assert there.status_code == 303 and there.headers["location"] == "/signin?next=/account/services&aal=2.1"
    # ...the password with the app does
    assert raise_with(b2, "totp", next_totp(gateway, secret), next_path="/account/services").status_code == 200
    # ...and so does the password with a recovery code (the person lost the phone)
    b3, _ = sign_in(gateway, reg.username)
    fresh_codes = recovery_codes(post_form(b3, raise_with(b3, "totp", next_totp(gateway, secret)),
                                           "/account/recovery").text)
    assert len(fresh_codes) == 10
    b4, _ = sign_in(gateway, reg.username)
    assert b4.get("/account").status_code == 303
    assert raise_with(b4, "recovery", fresh_codes[0]).status_code == 200
    # changes need a fresh sign-in: viewing still works after 5 minutes, downloading does not
    gateway.clock.advance(301)
    assert b4.get("/account").status_code == 200
    stale = b4.get("/account/export.json")
    assert stale.status_code == 303 and stale.headers["location"] == "/signin?next=/account/export.json&aal=2.1"


def test_staff_roles_do_not_raise_what_the_account_page_asks(gateway):
    from tests.test_admin_pages import make_admin

    admin = make_admin(gateway, username="admin.account")
    b, page = sign_in(gateway, admin)
    assert page.status_code == 200 and "/account" in str(page.url)  # a password is all this account has
    staff = b.get("/admin/services")
    assert staff.status_code in (303, 403)  # the staff pages keep their AAL 2.2 (a passkey this account lacks)


def test_an_upstream_account_opens_its_page_and_keeps_its_only_way_in(gateway):
    b, account_id, link_id = upstream_browser(gateway, aal="1")
    page = b.get("/account")
    assert page.status_code == 200, page.headers.get("location")
    assert "รหัสผ่าน ·" not in page.text and "ท่านยังไม่มีรหัสผ่าน" in page.text
    assert 'href="/account/password"' in page.text  # local passwords are allowed here
    # its one link is the only way in: the confirmation page refuses, and so does a direct POST
    ask = b.get(f"/account/links/{link_id}/remove")
    assert ask.status_code == 409 and "วิธีเดียวที่ท่านใช้เข้าสู่ระบบได้" in ask.text
    assert not [f for f in forms(ask.text) if f[0] == "post"]
    csrf = csrf_of(page)
    refused = b.http.post(f"/account/links/{link_id}/remove", data={"csrf_token": csrf, "confirm": "yes"})
    assert refused.status_code == 409
    with gateway.db() as db:
        assert db.get(AccountLink, link_id) is not None
    assert not events(gateway, "account.unlinked")
    # setting a password: the only factor, so at least 15 characters, stated before it is broken
    form = b.get("/account/password")
    assert form.status_code == 200 and "15" in form.text
    short = post_form(b, form, "/account/password", password="x" * 14, password_again="x" * 14)
    assert short.status_code == 400 and "อย่างน้อย 15" in short.text
    mismatch = post_form(b, form, "/account/password", password="a long pass phrase", password_again="other one")
    assert mismatch.status_code == 400 and "ไม่ตรงกัน" in mismatch.text
    with gateway.db() as db:
        assert db.get(Account, account_id).password_hash is None
    # a passkey added later (and lost): the upstream sign-in still proves control, at AAL 1, without a password
    add_passkey_row(gateway, account_id)
    assert b.get("/account").status_code == 200
    done = post_form(b, form, "/account/password", password=PASSWORD, password_again=PASSWORD)
    assert done.status_code == 200 and "ตั้งรหัสผ่านแล้ว" in done.text
    assert events(gateway, "account.password_set")[0].actor == account_id
    # with a password the upstream's AAL 1 no longer proves control of an account that reaches 2.2
    again = b.get("/account")
    assert again.status_code == 303 and again.headers["location"] == "/signin?next=/account&aal=2.1"
    with gateway.db() as db:
        username = db.get(Account, account_id).username
    sign_in(gateway, username)  # the new password signs in
    # a second password is not set over the first
    assert b.get("/account/password").status_code == 303
    again = b.http.post("/account/password", data={"csrf_token": csrf, "password": "another long phrase",
                                                   "password_again": "another long phrase"})
    assert again.headers["location"] == "/signin?next=/account/password&aal=2.1"
    assert len(events(gateway, "account.password_set")) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_no_set_password_where_local_passwords_are_off(database_url):
    from tests.conftest import start_gateway

    g = start_gateway(database_url, local_passwords=False)
    try:
        b, _account_id, _link_id = upstream_browser(g)
        page = b.get("/account")
        assert page.status_code == 200 and 'href="/account/password"' not in page.text
        assert b.get("/account/password").headers["location"] == "/account"
        csrf = csrf_of(page)
        answer = b.http.post("/account/password", data={"csrf_token": csrf, "password": PASSWORD,
                                                         "password_again": PASSWORD})
        assert answer.status_code == 303 and answer.headers["location"] == "/account"
        assert not events(g, "account.password_set")
    finally:
        g.stop()
        g.gw.engine.dispose()


def test_signing_out_of_one_session(gateway):
    with Receiver() as receiver:
        reg = register(gateway, backchannel_logout_uri=receiver.url + "/bcl")
        here, there = Browser(gateway), Browser(gateway)
        mine, theirs = tokens_for(gateway, reg, here), tokens_for(gateway, reg, there)
        page = here.get("/account")
        assert page.status_code == 200
        assert page.text.count("/end\"") == 2 and "(อุปกรณ์นี้)" in page.text
        assert "บริการทดสอบ Test service" in page.text  # the service each session signed in for
        with gateway.db() as db:
            their_sid = jose_jwt.get_unverified_claims(theirs["id_token"])["sid"]
            assert db.get(LoginSession, their_sid).user_agent.startswith("python-httpx")
        done = post_form(here, page, f"/account/sessions/{their_sid}/end")
        assert done.status_code == 200 and "ออกจากระบบบน" in done.text
        # that device is signed out, its tokens revoked and its service told; this one is untouched
        assert refresh(gateway, reg, theirs).json()["error"] == "invalid_grant"
        assert introspect(gateway, reg, theirs["access_token"]) == {"active": False}
        assert there.get("/account").status_code == 303
        assert refresh(gateway, reg, mine).status_code == 200
        assert wait_until(lambda: len(receiver.received) == 1, timeout=10)
        assert verified_logout_token(gateway, receiver.tokens()[0], client_id=reg.client_id)["sid"] == their_sid
        # an ended session, or someone else's, cannot be "signed out" again
        again = post_form(here, page, f"/account/sessions/{their_sid}/end")
        assert again.status_code == 404
        stranger, _ = sign_in(gateway, register(gateway).username)
        stranger_page = stranger.get("/account")
        own = jose_jwt.get_unverified_claims(mine["id_token"])["sid"]
        csrf = csrf_of(stranger_page)
        assert stranger.http.post(f"/account/sessions/{own}/end", data={"csrf_token": csrf}).status_code == 404
        assert here.get("/account").status_code == 200
        # signing out of this very session signs this browser out
        page = here.get("/account")
        own_form = next(a for m, a, _ in forms(page.text) if a.endswith("/end") and own[:8] in a)
        out = post_form(here, page, own_form)
        assert out.status_code == 303 and out.headers["location"] == "/"
        assert here.get("/account").status_code == 303
        # confirmation before signing out everywhere
        b, _ = sign_in(gateway, reg.username)
        ask = b.get("/account/sessions/end-all")
        assert ask.status_code == 200 and any(a == "/account/sessions/end-all" and m == "post"
                                              for m, a, _ in forms(ask.text))


def test_removing_a_factor_a_service_needs_warns_and_staff_floors_refuse(gateway):
    reg = register(gateway, policy={"min_aal": "2.1"})
    b, _ = sign_in(gateway, reg.username)
    enrol_totp(gateway, b, name="Phone")
    tokens_for(gateway, reg, b, scope="openid profile")  # consents to the AAL 2.1 service
    with gateway.db() as db:
        for row in db.scalars(select(RecoveryCode).where(RecoveryCode.account_id == reg.account_id)):
            db.delete(row)  # the app is then the only second factor
        db.commit()
    (app_id,) = factor_ids(gateway, reg.account_id, "totp")
    page = b.get("/account")
    assert any(m == "get" and a == f"/account/factors/{app_id}/remove" for m, a, _ in forms(page.text))
    ask = b.get(f"/account/factors/{app_id}/remove")
    assert ask.status_code == 200
    assert "บริการทดสอบ Test service ต้องการ เข้าสู่ระบบสองขั้นตอน" in ask.text and "(AAL 2.1)" in ask.text
    # not confirmed: the warning again, nothing removed
    unconfirmed = b.http.post(f"/account/factors/{app_id}/remove",
                              data={"csrf_token": forms(ask.text)[0][2]["csrf_token"]})
    assert unconfirmed.status_code == 409 and "บริการทดสอบ Test service" in unconfirmed.text
    assert factor_ids(gateway, reg.account_id, "totp") == [app_id]
    removed = post_form(b, ask, f"/account/factors/{app_id}/remove")
    assert removed.status_code == 200 and "ลบวิธียืนยันตัวตนแล้ว" in removed.text
    assert factor_ids(gateway, reg.account_id, "totp") == []
    (event,) = events(gateway, "authenticator.removed")
    assert event.detail["services_warned"] == [reg.client_id]
    # a staff role's floor is never left unreachable: refused
    from tests.test_admin_pages import make_admin

    admin = make_admin(gateway, username="admin.floor")
    enable_second_factor(gateway, admin)
    with gateway.db() as db:
        admin_id = db.scalar(select(Account.id).where(Account.username == admin))
    key = add_passkey_row(gateway, admin_id, name="Office key")
    ab, _ = sign_in(gateway, admin)
    raise_with(ab, "fixture-otp", FIXTURE_CODE)
    ask = ab.get(f"/account/factors/{key.id}/remove")
    assert ask.status_code == 409 and "หน้าที่ของเจ้าหน้าที่" in ask.text
    csrf = csrf_of(ab.get("/account"))
    refused = ab.http.post(f"/account/factors/{key.id}/remove", data={"csrf_token": csrf, "confirm": "yes"})
    assert refused.status_code == 409 and factor_ids(gateway, admin_id, "webauthn") == [key.id]
    # someone else's factor, or link, is not found (the page, and a direct POST)
    assert ab.get(f"/account/factors/{app_id}/remove").status_code == 404
    assert ab.http.post(f"/account/factors/{app_id}/remove", data={"csrf_token": csrf}).status_code == 404
    assert ab.get("/account/links/no-such-link/remove").status_code == 404
    assert ab.http.post("/account/links/no-such-link/remove", data={"csrf_token": csrf}).status_code == 404


def receipt_of_grant(gateway, reg) -> str:
    """The receipt the consent handler kept for the grant just made (idgw.account.consents.record_receipt)."""
    with gateway.db() as db:
        (row,) = db.scalars(select(ConsentReceipt).where(ConsentReceipt.account_id == reg.account_id,
                                                         ConsentReceipt.client_id == reg.client_id)).all()
        consent = db.get(Consent, (reg.account_id, reg.client_id))
        assert row.scope == " ".join(sorted(consent.scope.split())) and row.claims == sorted(consent.claims)
        return row.id


def test_withdrawing_a_consent(gateway):
    with Receiver() as receiver:
        reg = register(gateway, backchannel_logout_uri=receiver.url + "/bcl")
        other = add_service(gateway, like=reg)
        b = Browser(gateway)
        tokens = tokens_for(gateway, reg, b)
        kept = tokens_for(gateway, other, b)
        receipt_id = receipt_of_grant(gateway, reg)
        listing = b.get("/account/services")
        assert listing.status_code == 200
        text = listing.text
        assert "บริการทดสอบ Test service" in text and "บริการที่สอง Second service" in text
        for words in ("ชื่อ-นามสกุล", "อีเมล", "เลขประจำตัวประชาชน 13 หลัก", "30 วัน", LEGAL_BASIS,
                      f"/account/receipts/{receipt_id}"):
            assert words in text, words
        english = b.get("/account/services?lang=en").text
        assert "Your name" in english and "up to 30 days at a time" in english
        b.get("/account/services?lang=th")  # (back to Thai: the switch is remembered)
        ask = b.get(f"/account/services/{reg.client_id}/withdraw")
        assert ask.status_code == 200 and "บริการทดสอบ Test service" in ask.text
        done = post_form(b, ask, f"/account/services/{reg.client_id}/withdraw")
        assert done.status_code == 200 and "ถอนความยินยอมให้ บริการทดสอบ Test service แล้ว" in done.text
        assert "บริการทดสอบ Test service</h2>" not in done.text and "บริการที่สอง Second service" in done.text
        # the service's refresh token fails, its access token is no longer active; the other service is untouched
        answer = refresh(gateway, reg, tokens)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
        assert introspect(gateway, reg, tokens["access_token"]) == {"active": False}
        assert refresh(gateway, other, kept).status_code == 200
        # it is told (back-channel logout for the session in which it received tokens)
        assert wait_until(lambda: len(receiver.received) == 1, timeout=10), receiver.received
        sid = jose_jwt.get_unverified_claims(tokens["id_token"])["sid"]
        assert verified_logout_token(gateway, receiver.tokens()[0], client_id=reg.client_id)["sid"] == sid
        with gateway.db() as db:
            assert db.get(Consent, (reg.account_id, reg.client_id)) is None
            assert db.get(Consent, (reg.account_id, other.client_id)) is not None
            withdrawn_at = db.get(ConsentReceipt, receipt_id).withdrawn_at
            assert db.scalar(select(LogoutDelivery).where(LogoutDelivery.client_id == reg.client_id)).reason \
                == "consent_withdrawn"
        (event,) = events(gateway, "consent.withdrawn")
        assert event.actor == reg.account_id and event.client_id == reg.client_id and event.at == withdrawn_at
        assert event.detail["revoked_tokens"] >= 2 and event.detail["receipts"] == 1
        # the receipt says so
        assert b.get(f"/account/receipts/{receipt_id}.json").json()["status"] == "withdrawn"
        # nothing left to withdraw: not found
        again = post_form(b, ask, f"/account/services/{reg.client_id}/withdraw")
        assert again.status_code == 404
        assert b.get(f"/account/services/{reg.client_id}/withdraw").status_code == 404
        assert b.get("/account/services/no-such-client/withdraw").status_code == 404
        assert b.http.post("/account/services/no-such-client/withdraw",
                           data={"csrf_token": csrf_of(ask)}).status_code == 404
        # the next sign-in at that service asks for consent again
        url, *_ = authorize_url(gateway, rp_client(gateway, reg, scope="openid profile"))
        assert 'value="allow"' in b.follow(b.get(url)).text


def test_receipts_are_the_owners_alone(gateway):
    reg = register(gateway)
    b = Browser(gateway)
    tokens_for(gateway, reg, b)
    receipt_id = receipt_of_grant(gateway, reg)
    page = b.get(f"/account/receipts/{receipt_id}")
    assert page.status_code == 200
    for words in ("สมศรี รักไทย", reg.account_id, "บริการทดสอบ Test service", "เลขประจำตัวประชาชน 13 หลัก",
                  LEGAL_BASIS, f"{gateway.url}/account/services/{reg.client_id}/withdraw", "มีผล"):
        assert words in page.text, words
    doc = b.get(f"/account/receipts/{receipt_id}.json")
    assert doc.status_code == 200 and doc.headers["cache-control"] == "no-store"
    receipt = doc.json()
    assert receipt["who"] == {"account_id": reg.account_id, "name": {"th": "สมศรี รักไทย", "en": "Somsri Rakthai"}}
    assert receipt["service"] == {"client_id": reg.client_id, "name": "บริการทดสอบ Test service"}
    assert receipt["citizen_id_legal_basis"] == LEGAL_BASIS and receipt["lawful_basis"] == "consent"
    assert {"userinfo/citizen_id", "userinfo/email"} <= {d["item"] for d in receipt["data"]}
    assert "บริการทดสอบ Test service" in receipt["purpose"]["en"]
    assert receipt["status"] == "active" and receipt["withdrawn_at"] is None
    assert receipt["how_to_withdraw"] == f"{gateway.url}/account/services/{reg.client_id}/withdraw"
    assert receipt["privacy_notice"] == gateway.url + "/privacy"
    # another person: exactly as if there were no such receipt
    stranger, _ = sign_in(gateway, register(gateway).username)
    assert stranger.get(f"/account/receipts/{receipt_id}").status_code == 404
    denied = stranger.get(f"/account/receipts/{receipt_id}.json")
    assert denied.status_code == 404 and denied.json() == {"error": "not_found"}
    assert b.get("/account/receipts/00000000-0000-0000-0000-000000000000").status_code == 404
    assert b.get("/account/receipts/" + "x" * 200 + ".json").status_code == 404
    # nobody signed in: to /signin
    anonymous = Browser(gateway).get(f"/account/receipts/{receipt_id}.json")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/signin?next=/account/receipts/")


def test_a_receipt_names_a_legal_basis_only_when_the_citizen_id_is_released(gateway):
    reg = register(gateway)
    with gateway.db() as db:
        policy = current_policy(db, reg.client_id)
        without = record_receipt(db, account_id=reg.account_id, client_id=reg.client_id, scope="openid email",
                                 release=("userinfo/email", "userinfo/email_verified"), now=5, policy=policy)
        with_id = record_receipt(db, account_id=reg.account_id, client_id=reg.client_id, scope="openid citizen_id",
                                 release=("id_token/verified_claims.citizen_id",), now=6, policy=policy)
        no_policy = record_receipt(db, account_id=reg.account_id, client_id=reg.client_id, scope="openid citizen_id",
                                   release=("userinfo/citizen_id",), now=7, policy=None)
        db.commit()
        assert without.legal_basis is None and with_id.legal_basis == LEGAL_BASIS and no_policy.legal_basis is None
        assert without.client_name == "บริการทดสอบ Test service" and without.claims == ["userinfo/email",
                                                                                        "userinfo/email_verified"]
        assert db.get(ConsentReceipt, with_id.id).granted_at == 6


def test_download_my_data_names_staff_by_role_never_by_account(gateway):
    # PDPA: the person learns what was done to their account and when, and that an administrator
    # did it; not which administrator (account id, username), from which session or address.
    from idgw.admin import add_user, unlock_account
    from idgw.console import staff

    reg = register(gateway)
    now = gateway.clock.now()
    with gateway.db() as db:
        admin = add_user(db, username="admin.somchai", password=PASSWORD, now=now, roles=["admin"])
        citizen = db.get(Account, reg.account_id)
        staff.disable(db, account=citizen, actor=admin, now=now, ip="192.0.2.7")
        staff.enable(db, account=citizen, actor=admin, now=now, ip="192.0.2.7")
        citizen.failed_logins = 3
        assert unlock_account(db, account=citizen, now=now, actor=admin.username)
        admin_id = admin.id
        db.commit()
    b, _ = sign_in(gateway, reg.username)
    answer = b.get("/account/export.json")
    events = json.loads(answer.text)["audit_events"]
    by_staff = [e for e in events if e["name"] in ("account.disabled", "account.enabled", "account.unlocked")]
    assert sorted(e["name"] for e in by_staff) == ["account.disabled", "account.enabled", "account.unlocked"]
    assert all(e["actor"] == "administrator" and e["on_behalf_of"] == reg.account_id
               and e["session_id"] is None and e["ip"] is None for e in by_staff)
    for staff_trace in ("admin.somchai", admin_id, "192.0.2.7"):
        assert staff_trace not in answer.text
    # the person's own events keep their own session; the gateway's own parts keep their name
    own = [e for e in events if e["name"] == "session.created"]
    assert own and all(e["actor"] == reg.account_id and e["session_id"] for e in own)


def test_download_my_data_has_no_secrets(gateway):
    reg = register(gateway)
    stranger = register(gateway)
    b, _ = sign_in(gateway, reg.username)
    enrol_totp(gateway, b)
    key = add_passkey_row(gateway, reg.account_id)
    tokens_for(gateway, reg, b)
    sign_in(gateway, stranger.username)
    answer = b.get("/account/export.json")
    assert answer.status_code == 200, answer.headers.get("location")
    assert answer.headers["content-disposition"].startswith('attachment; filename="idgw-my-data-')
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-type"].startswith("application/json")
    data = json.loads(answer.text)
    with gateway.db() as db:
        account = db.get(Account, reg.account_id)
        totp_row = db.scalar(select(AccountAuthenticator).where(AccountAuthenticator.kind == "totp",
                                                                AccountAuthenticator.account_id == reg.account_id))
        secrets = [account.password_hash, totp_row.secret_sealed, key.credential_id, key.public_key,
                   *db.scalars(select(LoginSession.cookie_hash).where(LoginSession.account_id == reg.account_id)),
                   *db.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.account_id == reg.account_id))]
    for secret in secrets:
        assert secret and secret not in answer.text
    for name in ("secret_sealed", "credential_id", "public_key", "password_hash", "cookie_hash", "code_hash",
                 "last_step"):
        assert f'"{name}"' not in answer.text
    assert data["account"]["id"] == reg.account_id and data["account"]["has_password"] is True
    assert data["account"]["citizen_id"] is None and data["account"]["given_name_th"] == "สมศรี"
    assert {f["kind"] for f in data["factors"]} == {"totp", "webauthn"}
    passkey = next(f for f in data["factors"] if f["kind"] == "webauthn")
    assert passkey["aaguid"] == key.aaguid and passkey["name"] == "Laptop" and passkey["created_at"]
    assert data["recovery_codes"] == {"issued": 10, "used": 0}
    assert [c["client_id"] for c in data["consents"]] == [reg.client_id]
    assert len(data["sessions"]) >= 1 and all(s["ip"] for s in data["sessions"])
    names = {e["name"] for e in data["audit_events"]}
    assert {"account.created", "session.created", "authenticator.added", "consent.granted"} <= names
    assert all(reg.account_id in (e["actor"], e["on_behalf_of"]) for e in data["audit_events"])
    assert stranger.account_id not in answer.text
    (exported,) = events(gateway, "account.exported")
    assert exported.actor == reg.account_id


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_new_account_forms_refuse_forged_tokens(gateway):
    """The POSTs added here, as tests/security/test_csrf_and_fixation.py holds the others."""
    from tests.security.test_csrf_and_fixation import Forger

    forger = Forger(gateway)
    reg = register(gateway)
    b = Browser(gateway)
    tokens_for(gateway, reg, b)
    other_device = Browser(gateway)
    theirs = tokens_for(gateway, reg, other_device)
    sid = jose_jwt.get_unverified_claims(theirs["id_token"])["sid"]
    others = ("webauthn", "signin", "logout", "signin-factor")
    forger.check(b, f"/account/sessions/{sid}/end", {}, purpose="account", others=others)
    forger.check(b, f"/account/services/{reg.client_id}/withdraw", {}, purpose="account", others=others)
    b2, account_id, _link = upstream_browser(gateway)
    forger.check(b2, "/account/password", {"password": PASSWORD, "password_again": PASSWORD}, purpose="account",
                 others=others)
    assert len(forger.checked) == 3


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_privacy_notice(gateway):
    for lang, words in (("th", ("ประกาศความเป็นส่วนตัว", "มาตรา 19", "ดาวน์โหลดข้อมูลของฉัน", "90 วัน")),
                        ("en", ("Privacy notice", "section 19", "Download my data", "90 days"))):
        page = httpx.get(f"{gateway.url}/privacy?lang={lang}")
        assert page.status_code == 200
        for w in (*words, gateway.gw.settings.help_desk):
            assert w in page.text, (lang, w)


def test_what_may_be_taken_away_with_a_real_database(gateway):
    """idgw.account.rules on stored rows: the only way in, the warning naming each consented
    service whose floor the rest cannot reach (upstream links count at their level)."""
    from idgw.account.rules import check_factor_removal, check_unlink

    registry = gateway.gw.authenticators
    reg = register(gateway, policy={"min_aal": "2.2"})
    low = add_service(gateway, like=reg, policy={"min_aal": "1"})
    b, account_id, link_id = upstream_browser(gateway, aal="2.2")
    key = add_passkey_row(gateway, account_id, name="Phone passkey")
    with gateway.db() as db:
        for client_id in (reg.client_id, low.client_id):
            db.add(Consent(account_id=account_id, client_id=client_id, scope="openid", granted_at=1, claims=[]))
        db.commit()
        account = db.get(Account, account_id)
        staff = AAL("2.2")
        # the passkey and the ThaiD link are each a way in: either may go, the other stays
        removal = check_factor_removal(db, registry, account, authenticator_id=key.id, staff_floor=staff)
        assert removal.refusal is None and removal.services == ()  # ThaiD still reaches 2.2
        unlinking = check_unlink(db, registry, account, link_id=link_id)
        assert unlinking.refusal is None and unlinking.services == ()  # the passkey still reaches 2.2
        # without the passkey, the link is the only way in
        db.delete(db.get(AccountAuthenticator, key.id))
        db.flush()
        assert check_unlink(db, registry, account, link_id=link_id).refusal == "only_way_in"
        # with a password instead, unlinking is allowed but the AAL 2.2 service is named
        account.password_hash = "set"
        warned = check_unlink(db, registry, account, link_id=link_id)
        assert warned.refusal is None and [s.client_id for s in warned.services] == [reg.client_id]
        assert warned.services[0].min_aal == AAL("2.2") and warned.services[0].name == "บริการทดสอบ Test service"
        db.rollback()
    # the page says it the same way
    ask = b.get(f"/account/factors/{key.id}/remove")
    assert ask.status_code == 200 and "คำเตือน" not in ask.text


def test_a_new_password_is_hashed_on_the_hashing_threads(gateway, monkeypatch):
    """Setting a password runs argon2id where checking one does (``Gateway.hashing``, one thread
    per core), not on the shared pool: a burst of password changes is bounded like a burst of sign-ins."""
    import threading

    import idgw.account.factors_routes as factors_routes

    threads: list[str] = []
    real_hash = factors_routes.hash_password

    def recorded_hash(password: str) -> str:
        threads.append(threading.current_thread().name)
        return real_hash(password)

    monkeypatch.setattr(factors_routes, "hash_password", recorded_hash)
    b, account_id, _link_id = upstream_browser(gateway, aal="1")
    form = b.get("/account/password")
    done = post_form(b, form, "/account/password", password=PASSWORD, password_again=PASSWORD)
    assert done.status_code == 200 and events(gateway, "account.password_set")[0].actor == account_id
    assert len(threads) == 1 and threads[0].startswith("argon2id"), threads
