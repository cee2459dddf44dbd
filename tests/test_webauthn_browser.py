"""Passkeys in Debian's Chromium with a CDP virtual authenticator (ctap2, internal, resident
keys, user verification): enrol, sign in usernameless, step up from a password session for an
e-service whose policy needs AAL 2.2; and the refusals (wrong origin, removed credential, user
verification off)."""

import re

import pytest
from sqlalchemy import select

from idgw.storage.models import AccountAuthenticator, AuditEvent
from tests.conftest import start_gateway
from tests.flow import PASSWORD, demo_service, register

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _gateway(database_url, **overrides):
    g = start_gateway(database_url, host="localhost", **overrides)
    return g


@pytest.fixture
def gw(database_url):
    g = _gateway(database_url)
    yield g
    g.stop()
    g.gw.engine.dispose()


def rp_for(gateway, min_aal):
    """The demo e-service (a real RP on loopback) registered with a policy at ``min_aal``."""
    return demo_service(gateway, name="บริการทดสอบพาสคีย์", min_aal=min_aal)


def new_page(browser, *, user_verified=True):
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    auth = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": user_verified, "automaticPresenceSimulation": True}})
    return context, page, cdp, auth["authenticatorId"]


def sign_in_password(page, url, username):
    page.goto(url)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()


def enrol_passkey(page, gateway, username):
    sign_in_password(page, gateway.url + "/account", username)
    page.get_by_label("Passkey name").fill("แล็ปท็อป")
    page.get_by_role("button", name="Add a passkey or security key").click()
    page.get_by_text("Passkey added.").wait_for()


def test_enrol_then_usernameless_sign_in_reaches_an_aal22_service(browser, gw):
    reg = register(gw)
    rp, server = rp_for(gw, "2.2")
    context, page, cdp, _ = new_page(browser)
    enrol_passkey(page, gw, reg.username)
    with gw.db() as db:
        row = db.scalars(select(AccountAuthenticator).where(AccountAuthenticator.kind == "webauthn")).one()
        assert row.name == "แล็ปท็อป" and row.discoverable and not row.attested
    context.clear_cookies()
    page.goto(rp + "/login")
    page.get_by_role("button", name="Sign in with a passkey").click()  # no username typed
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(rp + "/callback*")
    text = page.locator("body").inner_text()
    assert "urn:idgw:ial:1.1:aal:2.2" in text and '"hwk"' in text and '"pwd"' not in text
    server.should_exit = True
    context.close()


def test_step_up_from_a_password_session_with_a_passkey(browser, gw):
    reg = register(gw)
    rp, server = rp_for(gw, "2.2")
    context, page, cdp, _ = new_page(browser)
    enrol_passkey(page, gw, reg.username)
    context.clear_cookies()
    sign_in_password(page, rp + "/login", reg.username)
    page.get_by_role("button", name="Use a passkey").click()  # the step-up page
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(rp + "/callback*")
    assert "urn:idgw:ial:1.1:aal:2.2" in page.locator("body").inner_text()
    with gw.db() as db:
        names = [e.name for e in db.scalars(select(AuditEvent))]
    assert "authenticator.added" in names and "session.stepped_up" in names
    server.should_exit = True
    context.close()


def test_user_verification_off_cannot_reach_aal22(browser, gw):
    reg = register(gw)
    rp, server = rp_for(gw, "2.2")
    context, page, cdp, auth_id = new_page(browser)
    enrol_passkey(page, gw, reg.username)
    cdp.send("WebAuthn.setUserVerified", {"authenticatorId": auth_id, "isUserVerified": False})
    context.clear_cookies()
    sign_in_password(page, rp + "/login", reg.username)
    page.get_by_role("button", name="Use a passkey").click()
    page.get_by_text("The passkey did not work").wait_for()
    assert "/callback" not in page.url
    server.should_exit = True
    context.close()


def test_removed_credential_is_refused(browser, gw):
    reg = register(gw)
    context, page, cdp, _ = new_page(browser)
    enrol_passkey(page, gw, reg.username)
    page.get_by_role("button", name="Remove แล็ปท็อป").click()
    # the account now reaches AAL 2.2, so changing it needs a 2.2 sign-in first
    page.get_by_role("button", name="Use a passkey").click()
    # back on the confirmation page ("remove this passkey?"), now allowed to confirm
    page.wait_for_url(re.compile(r".*/account/factors/.*/remove"))
    page.get_by_role("button", name="Remove แล็ปท็อป").click()
    page.get_by_text("Sign-in method removed.").wait_for()
    context.clear_cookies()
    rp, server = rp_for(gw, "1")
    page.goto(rp + "/login")
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.get_by_text("not registered here").wait_for()
    with gw.db() as db:
        failed = db.scalars(select(AuditEvent).where(AuditEvent.name == "authenticator.failed")).all()
    assert failed
    server.should_exit = True
    context.close()


def test_wrong_origin_is_refused(browser, database_url):
    g = _gateway(database_url, webauthn_origin="http://localhost:1")
    try:
        reg = register(g)
        context, page, cdp, _ = new_page(browser)
        sign_in_password(page, g.url + "/account", reg.username)
        page.get_by_role("button", name="Add a passkey or security key").click()
        page.get_by_text(re.compile("This passkey cannot be used")).wait_for()
        assert "origin" in page.locator("[role=alert]").first.inner_text().lower()
        with g.db() as db:
            assert not db.scalars(select(AccountAuthenticator)).all()
        context.close()
    finally:
        g.stop()


def test_sign_counter_regression_flags_the_credential(browser, gw):
    reg = register(gw)
    context, page, cdp, _ = new_page(browser)
    enrol_passkey(page, gw, reg.username)
    with gw.db() as db:
        row = db.scalars(select(AccountAuthenticator).where(AccountAuthenticator.kind == "webauthn")).one()
        row.sign_count = 1_000_000  # as if a clone had been used more often than this authenticator
        db.commit()
    context.clear_cookies()
    rp, server = rp_for(gw, "1")
    page.goto(rp + "/login")
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.get_by_text("counter went backwards").wait_for()
    with gw.db() as db:
        row = db.scalars(select(AccountAuthenticator).where(AccountAuthenticator.kind == "webauthn")).one()
        assert row.flagged_at is not None
        assert db.scalars(select(AuditEvent).where(AuditEvent.name == "authenticator.flagged")).first()
    # and it stays blocked, even with a plausible counter again
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.get_by_text("blocked").wait_for()
    server.should_exit = True
    context.close()
