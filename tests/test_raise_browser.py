"""Raise my sign-in in place, as a citizen does it in Chromium (issue 12): a password-only citizen
reaches an AAL 2.1 service by setting up an authenticator app inside the sign-in; a citizen reaches
an IAL 2.2 service by choosing ThaiD after a password sign-in; a ThaiD-only citizen opens the
account page from /signin. Every page state passes the axe check (Thai, English, phone width)."""

import re

import pyotp
import pytest
import yaml
from sqlalchemy import select

from idgw.storage.models import AccountAuthenticator, AuditEvent, LoginSession
from providers.simulators.server import ServerThread, free_port
from providers.simulators.thaid import create_thaid_app
from tests.a11y import a11y_context, check_a11y
from tests.conftest import start_gateway
from tests.flow import PASSWORD, demo_service, register

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def world(database_url, tmp_path):
    """The gateway with a ThaiD-style simulator (IAL 2.3 citizens, trusted AAL 2.2)."""
    gw_port, thaid_port = free_port(), free_port()
    thaid_url = f"http://127.0.0.1:{thaid_port}"
    thaid = ServerThread(create_thaid_app(issuer=thaid_url, client_id="idgw", client_secret="thaid-secret-for-tests",
                                          redirect_uris=[f"http://127.0.0.1:{gw_port}/upstream/thaid/callback"]),
                         port=thaid_port).start()
    path = tmp_path / "providers.yaml"
    path.write_text(yaml.safe_dump({"providers": [
        {"name": "thaid", "type": "oidc", "display_name": {"th": "ไทยดี", "en": "ThaiD"}, "issuer": thaid_url,
         "client_id": "idgw", "client_secret": "thaid-secret-for-tests", "trusted_aal": "2.2", "max_ial": "2.3"},
    ]}, allow_unicode=True))
    gateway = start_gateway(database_url, port=gw_port, providers_file=str(path))
    yield gateway
    gateway.stop()
    gateway.gw.engine.dispose()
    thaid.stop()


def start_at_service(page, base):
    page.goto(base + "/login")


def password_sign_in(page, username, *, lang="th"):
    page.get_by_label("ชื่อผู้ใช้" if lang == "th" else "Username").fill(username)
    page.get_by_label("รหัสผ่าน" if lang == "th" else "Password").fill(PASSWORD)
    page.get_by_role("button", name="เข้าสู่ระบบ" if lang == "th" else "Sign in", exact=True).click()


def thaid_sign_in(page, pid):
    """On the ThaiD simulator's page: choose the demo citizen."""
    page.locator(f"button[value='{pid}']").first.click()


def test_password_only_citizen_sets_up_an_app_inside_the_sign_in_and_reaches_aal_2_1(browser, gateway):
    reg = register(gateway)
    base, server = demo_service(gateway, min_aal="2.1")
    context = a11y_context(browser, locale="th")
    page = context.new_page()
    start_at_service(page, base)
    password_sign_in(page, reg.username)
    # Not sent back with an error: the service's need in words and the ways to reach it
    page.get_by_role("heading", name="ยืนยันตัวตนเพิ่มเติมเพื่อใช้บริการต่อ").wait_for()
    assert "การเข้าสู่ระบบสองขั้นตอน" in page.locator("main").inner_text()
    check_a11y(page, context="raise page (th)")
    page.get_by_role("button", name="ตั้งค่าแอปยืนยันตัวตน (เช่น Google Authenticator)").click()
    secret = page.locator("#totp-secret").inner_text().strip()
    check_a11y(page, context="app set-up in the sign-in")
    page.get_by_label("รหัส 6 หลัก").fill("000000")
    page.get_by_role("button", name="ดำเนินการต่อ").click()
    assert page.get_by_role("alert").inner_text() == "รหัสไม่ถูกต้อง กรุณาลองใหม่"
    page.get_by_label("รหัส 6 หลัก").fill(pyotp.TOTP(secret).at(gateway.clock.now()))
    page.get_by_role("button", name="ดำเนินการต่อ").click()
    # Enrolled, the step-up already counts; recovery codes shown once; then on to the service
    assert len(page.locator("#recovery-codes li").all()) == 10
    check_a11y(page, context="app enrolled, recovery codes")
    page.get_by_role("link", name=re.compile("ไปต่อที่")).click()
    page.get_by_role("button", name="อนุญาต", exact=True).click()
    page.wait_for_url(base + "/callback*")
    text = page.locator("body").inner_text()
    assert "urn:idgw:ial:1.1:aal:2.1" in text and '"otp"' in text
    with gateway.db() as db:
        row = db.scalar(select(AccountAuthenticator).where(AccountAuthenticator.account_id == reg.account_id))
        assert row.kind == "totp" and row.confirmed_at is not None
        added = db.scalar(select(AuditEvent).where(AuditEvent.name == "authenticator.added"))
        assert added.detail["during_sign_in"] is True
    context.close()
    server.should_exit = True


def test_a_reused_app_code_says_wait_for_the_next_one(browser, gateway):
    reg = register(gateway)
    base, server = demo_service(gateway, min_aal="2.1")
    context = a11y_context(browser, locale="en")
    page = context.new_page()
    start_at_service(page, base)
    password_sign_in(page, reg.username, lang="en")
    page.get_by_role("button", name="Set up an authenticator app (such as Google Authenticator)").click()
    secret = page.locator("#totp-secret").inner_text().strip()
    code = pyotp.TOTP(secret).at(gateway.clock.now())
    page.get_by_label("6-digit code").fill(code)
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("link", name=re.compile("Continue to")).click()
    page.get_by_role("button", name="Allow", exact=True).click()
    page.wait_for_url(base + "/callback*")
    # Another sign-in at once with the same code: told to wait, not that it is wrong
    context.clear_cookies()
    start_at_service(page, base)
    password_sign_in(page, reg.username, lang="en")
    page.get_by_label("6-digit code").fill(code)
    page.get_by_role("button", name="Continue").click()
    assert "already used" in page.get_by_role("alert").inner_text()
    check_a11y(page, context="factor page, code reused (en)")
    context.close()
    server.should_exit = True


def test_ial_2_2_service_is_reached_by_choosing_thaid_after_a_password_sign_in(browser, world):
    gateway = world
    reg = register(gateway, citizen_id="1345951597671")
    base, server = demo_service(gateway, min_ial="2.2", justification=None)
    context = a11y_context(browser, locale="en", width=390)
    page = context.new_page()
    start_at_service(page, base)
    password_sign_in(page, reg.username, lang="en")
    page.get_by_role("heading", name="Confirm your identity to continue").wait_for()
    assert "A verified identity, proven at level IAL 2.2" in page.locator("main").inner_text()
    # a password-only account cannot prove identity with an app: only ThaiD is offered
    assert page.get_by_role("button", name=re.compile("authenticator app")).count() == 0
    check_a11y(page, context="raise page, IAL (en, 390 px)")
    page.get_by_role("link", name="Sign in with ThaiD").click()
    thaid_sign_in(page, "1345951597671")
    page.get_by_role("button", name="Allow", exact=True).click()
    page.wait_for_url(base + "/callback*")
    text = page.locator("body").inner_text()
    assert '"ial": "2.3"' in text or "urn:idgw:ial:2.3" in text, text[:800]
    context.close()
    server.should_exit = True


def test_a_service_above_every_route_explains_first_then_returns_unmet(browser, gateway):
    reg = register(gateway)
    base, server = demo_service(gateway, min_ial="2.2", justification=None)
    context = a11y_context(browser, locale="th")
    page = context.new_page()
    start_at_service(page, base)
    password_sign_in(page, reg.username)
    page.get_by_role("heading", name="ยังไม่สามารถเข้าใช้บริการนี้ได้").wait_for()
    assert "IAL 2.2" in page.locator("main").inner_text()
    check_a11y(page, context="unmet page (th)")
    page.get_by_role("link", name=re.compile("กลับไปที่")).click()
    page.wait_for_url(base + "/callback*")
    assert "unmet_authentication_requirements" in page.content() or "ระดับ" in page.content()
    context.close()
    server.should_exit = True


def test_a_thaid_only_citizen_opens_the_account_page_from_signin(browser, world):
    gateway = world
    context = a11y_context(browser, locale="th")
    page = context.new_page()
    page.goto(gateway.url + "/")
    page.get_by_role("link", name="บัญชีของฉัน").click()
    assert page.url.startswith(gateway.url + "/signin")
    check_a11y(page, context="/signin (th)")
    page.get_by_role("link", name="เข้าสู่ระบบด้วย ไทยดี").click()
    thaid_sign_in(page, "1101700123456")
    page.wait_for_url(gateway.url + "/account*")
    assert "สมหญิง" in page.locator("main").inner_text()
    check_a11y(page, context="account page of a ThaiD-only citizen")
    with gateway.db() as db:
        session = db.scalar(select(LoginSession).order_by(LoginSession.auth_time.desc()))
        assert session.provider == "thaid" and session.client_id is None
    context.close()


@pytest.fixture
def localhost_gateway(database_url):
    """WebAuthn needs a domain name as its RP ID: the gateway on http://localhost."""
    g = start_gateway(database_url, host="localhost")
    yield g
    g.stop()
    g.gw.engine.dispose()


def test_a_passkey_added_inside_the_sign_in_counts_at_once_for_an_aal_2_2_service(browser, localhost_gateway):
    gateway = localhost_gateway
    reg = register(gateway)
    base, server = demo_service(gateway, min_aal="2.2")
    context = a11y_context(browser, locale="en")
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    start_at_service(page, base)
    password_sign_in(page, reg.username, lang="en")
    main = page.locator("main").inner_text()
    # AAL 2.2 needs a phishing-resistant authenticator: an app is not offered, a passkey is
    assert "resists phishing" in main and "authenticator app" not in main
    page.get_by_role("button", name="Add a passkey on this device").click()
    page.get_by_role("heading", name="All set: your sign-in now counts as the stronger one.").wait_for()
    page.get_by_role("link", name=re.compile("Continue to")).click()
    page.get_by_role("button", name="Allow", exact=True).click()
    page.wait_for_url(base + "/callback*")
    text = page.locator("body").inner_text()
    assert "urn:idgw:ial:1.1:aal:2.2" in text and '"hwk"' in text
    context.close()
    server.should_exit = True


def test_enrolment_routes_refuse_what_the_sign_in_does_not_offer(gateway):
    """Setting up a factor inside a sign-in is only for an account without a second factor, for
    the browser and session of that sign-in, with its CSRF token."""
    import httpx

    from tests.flow import Browser, authorize_url, rp_client
    from tests.stepup import enable_second_factor

    reg = register(gateway, policy={"min_aal": "2.1"})
    rp = rp_client(gateway, reg)
    b = Browser(gateway)
    url, *_ = authorize_url(gateway, rp)
    page = b.login(b.follow(b.get(url)), reg.username)
    action = re.search(r'action="(/interaction/[^"]+/enrol/totp)"', page.text).group(1)
    token = re.search(r'action="[^"]+/enrol/totp">\s*<input type="hidden" name="csrf_token" value="([^"]+)"',
                      page.text).group(1)
    # CSRF token missing or from another purpose: refused, nothing enrolled
    assert b.http.post(action, data={"csrf_token": "x"}).status_code == 403
    # another browser (no cookies): the sign-in is not theirs
    assert httpx.post(gateway.url + action, data={"csrf_token": token}).status_code in (400, 403, 404)
    # once the account has a second factor, a password alone may not bind another: back to the sign-in
    enable_second_factor(gateway, reg.username)
    r = b.http.post(action, data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"].endswith(action.rsplit("/enrol", 1)[0])
    with gateway.db() as db:
        assert db.scalar(select(AccountAuthenticator).where(AccountAuthenticator.kind == "totp",
                                                            AccountAuthenticator.confirmed_at.is_(None))) is None


def test_restarting_an_app_set_up_keeps_one_pending_row(gateway):
    """Each start of an authenticator-app set-up replaces the previous unconfirmed one."""
    from tests.flow import Browser, authorize_url, rp_client

    reg = register(gateway, policy={"min_aal": "2.1"})
    b = Browser(gateway)
    url, *_ = authorize_url(gateway, rp_client(gateway, reg))
    page = b.login(b.follow(b.get(url)), reg.username)
    action = re.search(r'action="(/interaction/[^"]+/enrol/totp)"', page.text).group(1)
    token = re.search(r'action="[^"]+/enrol/totp">\s*<input type="hidden" name="csrf_token" value="([^"]+)"',
                      page.text).group(1)
    for _ in range(5):
        assert b.http.post(action, data={"csrf_token": token}).status_code == 200
    with gateway.db() as db:
        pending = db.scalars(select(AccountAuthenticator).where(AccountAuthenticator.account_id == reg.account_id,
                                                                AccountAuthenticator.confirmed_at.is_(None))).all()
        assert len(pending) == 1
