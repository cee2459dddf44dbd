"""The account journeys of issue 12 in Chromium: a lost passkey removed by signing in with a
password and a recovery code, and withdrawing a consent through the pages (after which the
service's refresh token fails). The axe check runs over every page state, in Thai and English,
and at a phone's 390 px."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy import select

from idgw.storage.models import AccountAuthenticator, AuditEvent, Consent
from tests.a11y import PHONE_WIDTH, a11y_context, check_a11y
from tests.conftest import start_gateway
from tests.flow import PASSWORD, authorize_url, callback_params, exchange, register, rp_client

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def localhost_gateway(database_url):
    """WebAuthn needs a domain for the RP ID, not an IP address."""
    g = start_gateway(database_url, host="localhost")
    yield g
    g.stop()
    g.gw.engine.dispose()


def with_authenticator(context):
    """A page with a CDP virtual authenticator (ctap2, internal, resident keys, user verification)."""
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    return page


def password_sign_in(page, username, *, lang):
    page.get_by_label("ชื่อผู้ใช้" if lang == "th" else "Username").fill(username)
    page.get_by_label("รหัสผ่าน" if lang == "th" else "Password").fill(PASSWORD)
    page.get_by_role("button", name="เข้าสู่ระบบ" if lang == "th" else "Sign in", exact=True).click()


def test_a_lost_passkey_is_removed_by_signing_in_with_password_and_a_recovery_code(browser, localhost_gateway):
    gateway = localhost_gateway
    reg = register(gateway)
    # -- on the laptop (English): a passkey, then recovery codes -------------------------------------
    laptop = a11y_context(browser, locale="en")
    page = with_authenticator(laptop)
    page.goto(gateway.url + "/account")
    page.wait_for_url(re.compile(r"/signin\?"))
    check_a11y(page, context="sign-in for the account page, en")
    password_sign_in(page, reg.username, lang="en")
    page.wait_for_url(gateway.url + "/account")
    check_a11y(page, context="account page, password only, en")
    page.get_by_label("Passkey name").fill("Laptop")
    page.get_by_role("button", name="Add a passkey or security key").click()
    page.get_by_text("Passkey added.").wait_for()
    check_a11y(page, context="account page, passkey added, en")
    # the account now reaches a passkey's level: changing it asks for two-step sign-in, which the passkey gives
    page.get_by_role("button", name="Make new recovery codes").click()
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url(gateway.url + "/account")
    page.get_by_role("button", name="Make new recovery codes").click()
    page.locator("#recovery-codes").wait_for()
    check_a11y(page, context="recovery codes, en")
    codes = re.findall(r"[a-z2-9]{5}-[a-z2-9]{5}", page.locator("#recovery-codes").inner_text())
    assert len(codes) == 10
    laptop.close()

    # -- the laptop is lost: a phone (Thai, 390 px) without the passkey ---------------------------------
    phone = a11y_context(browser, locale="th", width=PHONE_WIDTH)
    page = phone.new_page()
    page.goto(gateway.url + "/account")
    page.wait_for_url(re.compile(r"/signin\?"))
    password_sign_in(page, reg.username, lang="th")
    # the password is not enough for an account with a passkey: the sign-in asks for more, and offers
    # every other way (the passkey is gone: a recovery code)
    page.wait_for_url(re.compile(r"/signin/factor/"))
    check_a11y(page, context="raise the sign-in for the account page, th, 390 px")
    if "/signin/factor/recovery" not in page.url:
        page.get_by_role("link", name="ใช้รหัสกู้คืน").click()
        page.wait_for_url(re.compile(r"/signin/factor/recovery"))
        check_a11y(page, context="recovery code, th, 390 px")
    page.get_by_label("รหัสกู้คืน").fill(codes[0])
    page.get_by_role("button", name="ดำเนินการต่อ").click()
    page.wait_for_url(gateway.url + "/account")
    check_a11y(page, context="account page after a recovery code, th, 390 px")
    # remove the lost passkey, confirming first
    page.get_by_role("button", name="ลบ Laptop").click()
    page.wait_for_url(re.compile(r"/account/factors/[^/]+/remove"))
    assert "ต้องการลบ" in page.locator("main").inner_text()
    check_a11y(page, context="confirm removing the passkey, th, 390 px")
    page.get_by_role("button", name="ลบ Laptop").click()
    page.get_by_text("ลบวิธียืนยันตัวตนแล้ว").wait_for()
    check_a11y(page, context="passkey removed, th, 390 px")
    phone.close()
    with gateway.db() as db:
        assert db.scalars(select(AccountAuthenticator).where(AccountAuthenticator.kind == "webauthn")).all() == []
        names = [e.name for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert "recovery_code.used" in names and names.index("authenticator.removed") > names.index("recovery_code.used")


def test_withdrawing_a_consent_through_the_pages(browser, gateway):
    reg = register(gateway)
    rp = rp_client(gateway, reg, scope="openid profile email citizen_id offline_access")
    url, _state, _nonce, verifier = authorize_url(gateway, rp)
    context = a11y_context(browser, locale="th")
    # the e-service's callback is not a real site here: answer it in the browser and keep its URL
    context.route("https://rp.example.test/**", lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>rp</title><main>rp</main>"))
    page = context.new_page()
    page.goto(url)
    password_sign_in(page, reg.username, lang="th")
    page.get_by_role("button", name="อนุญาต", exact=True).wait_for()
    check_a11y(page, context="consent, th")
    page.get_by_role("button", name="อนุญาต", exact=True).click()
    page.wait_for_url("https://rp.example.test/**")
    params = callback_params(httpx.Response(303, headers={"location": page.url}))
    tokens = exchange(gateway, rp, params["code"], verifier)

    # My account -> Connected services -> withdraw, confirming first
    page.goto(gateway.url + "/")
    page.get_by_role("link", name="บัญชีของฉัน").first.click()
    page.wait_for_url(gateway.url + "/account")
    check_a11y(page, context="account page, th")
    page.get_by_role("link", name="ดูบริการที่ท่านยินยอมให้รับข้อมูล และถอนความยินยอม").click()
    page.wait_for_url(gateway.url + "/account/services")
    text = page.locator("main").inner_text()
    assert "บริการทดสอบ Test service" in text and "เลขประจำตัวประชาชน 13 หลัก" in text and "30 วัน" in text
    check_a11y(page, context="connected services, th")
    page.goto(gateway.url + "/account/services?lang=en")
    check_a11y(page, context="connected services, en")
    page.get_by_role("link", name=re.compile("^Receipt of")).first.click()  # (the consent's receipt)
    page.wait_for_url(re.compile(r"/account/receipts/[^/]+$"))
    assert "Legal basis" in page.locator("main").inner_text()
    check_a11y(page, context="consent receipt, en")
    page.goto(gateway.url + "/account/services?lang=th")
    page.get_by_role("link", name="ถอนความยินยอม ให้ บริการทดสอบ Test service").click()
    page.wait_for_url(re.compile(r"/withdraw$"))
    check_a11y(page, context="confirm withdrawing, th")
    page.get_by_role("button", name="ถอนความยินยอมให้ บริการทดสอบ Test service").click()
    page.get_by_text("ถอนความยินยอมให้ บริการทดสอบ Test service แล้ว").wait_for()
    check_a11y(page, context="consent withdrawn, th")
    assert "ท่านยังไม่ได้ยินยอมให้บริการใดรับข้อมูล" in page.locator("main").inner_text()
    # the other pages a citizen reaches from here
    page.goto(gateway.url + "/account/sessions/end-all")
    check_a11y(page, context="confirm signing out everywhere, th")
    for lang in ("th", "en"):
        page.goto(gateway.url + f"/privacy?lang={lang}")
        check_a11y(page, context=f"privacy notice, {lang}")
    context.close()

    # the service's refresh token fails, and its access token is no longer active
    answer = httpx.post(gateway.url + "/token", auth=(reg.client_id, reg.client_secret),
                        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    intro = httpx.post(gateway.url + "/introspect", auth=(reg.client_id, reg.client_secret),
                       data={"token": tokens["access_token"]})
    assert intro.json() == {"active": False}
    with gateway.db() as db:
        assert db.get(Consent, (reg.account_id, reg.client_id)) is None


def test_a_thaid_only_citizen_sets_a_password(browser, gateway):
    """The account page of a citizen without a password (no password row, "Set a password"), and
    the password page with its rule said before it is broken, on a phone in English."""
    from tests.account.journeys import upstream_session

    cookie, _account_id, _link_id = upstream_session(gateway)
    context = a11y_context(browser, locale="en", width=PHONE_WIDTH)
    context.add_cookies([{"name": gateway.gw.settings.cookie_name, "value": cookie, "url": gateway.url}])
    page = context.new_page()
    page.goto(gateway.url + "/account?lang=en")
    assert "You have no password." in page.locator("main").inner_text()
    check_a11y(page, context="account page without a password, en, 390 px")
    page.get_by_role("link", name="Set a password").click()
    page.wait_for_url(gateway.url + "/account/password")
    assert "Use 15 to 1024 characters" in page.locator("main").inner_text()
    check_a11y(page, context="set a password, en, 390 px")
    page.get_by_label("New password", exact=True).fill("too short")
    page.get_by_label("Type the new password again").fill("too short")
    page.locator("form[action='/account/password'] button").evaluate("b => b.form.noValidate = true")
    page.locator("form[action='/account/password'] button").click()
    page.get_by_text("That password is too short").wait_for()
    check_a11y(page, context="set a password, refused, en, 390 px")
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("Type the new password again").fill(PASSWORD)
    page.locator("form[action='/account/password'] button").click()
    page.get_by_text("Password set.").wait_for()
    assert "Password · Username for signing in with a password: thaid-" in page.locator("main").inner_text()
    check_a11y(page, context="account page with a password, en, 390 px")
    context.close()
