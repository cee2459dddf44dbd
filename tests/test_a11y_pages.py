"""axe-core over the gateway's own pages, the demo e-service and the ThaiD simulator, in Thai and
English and at a 390-pixel phone width (tests/a11y.py). One browser per test, many page states."""

import hashlib
from base64 import urlsafe_b64encode
from urllib.parse import urlencode

import pytest

from providers.simulators.server import ServerThread
from providers.simulators.thaid import create_thaid_app
from tests.a11y import PHONE_WIDTH, a11y_context, check_a11y
from tests.conftest import free_port
from tests.flow import PASSWORD, register

# (locale, width): desktop Thai and English, and a phone in each language
LAYOUTS = [("th", None), ("en", None), ("th", PHONE_WIDTH), ("en", PHONE_WIDTH)]
WORDS = {  # the few visible words the journeys click or look for
    "th": {"username": "ชื่อผู้ใช้", "password": "รหัสผ่าน", "sign_in": "เข้าสู่ระบบ", "allow": "อนุญาต",
           "deny": "ไม่อนุญาต", "cancel": "ยกเลิก", "sign_out": "ออกจากระบบ", "account": "บัญชีของฉัน",
           "skip": "ข้ามไปยังเนื้อหาหลัก"},
    "en": {"username": "Username", "password": "Password", "sign_in": "Sign in", "allow": "Allow", "deny": "Deny",
           "cancel": "Cancel", "sign_out": "Sign out", "account": "My account", "skip": "Skip to main content"},
}


def watch_console(page, problems: list) -> None:
    """Console errors and warnings (a CSP refusal, a missing stylesheet or icon), except the
    status of an error page itself (404, 400), which is the point of visiting it."""

    def seen(message) -> None:
        own_status = (message.text.startswith("Failed to load resource: the server responded with a status")
                      and message.location.get("url") == page.url)
        if message.type in ("error", "warning") and not own_status:
            problems.append(f"{page.url}: {message.text} ({message.location.get('url')})")

    page.on("console", seen)


def label(locale, width):
    return f"{locale}, {width or 'desktop'}"


@pytest.fixture
def thaid_simulator():
    port = free_port()
    redirect = "http://127.0.0.1:9/upstream/thaid/callback"  # never reached: the test stops at the login page
    server = ServerThread(create_thaid_app(issuer=f"http://127.0.0.1:{port}", client_id="idgw", client_secret="s",
                                           redirect_uris=[redirect]), port=port).start()
    verifier = "v" * 50
    challenge = urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    yield server.url + "/authorize?" + urlencode({
        "response_type": "code", "client_id": "idgw", "redirect_uri": redirect, "scope": "openid pid",
        "state": "st", "nonce": "no", "code_challenge": challenge, "code_challenge_method": "S256"})
    server.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_gateway_layout_error_pages_and_thaid_simulator_are_accessible(browser, gateway, thaid_simulator):
    problems = []
    for locale, width in LAYOUTS:
        where = label(locale, width)
        words = WORDS[locale]
        context = a11y_context(browser, locale=locale, width=width)
        page = context.new_page()
        watch_console(page, problems)

        page.goto(gateway.url + "/")
        assert page.locator("html").get_attribute("lang") == locale
        assert page.title() == page.locator("header .brand").inner_text()  # home: the gateway's name alone
        for role in ("banner", "navigation", "main", "contentinfo"):
            assert page.get_by_role(role).count() == 1, (role, where)
        assert page.get_by_role("link", name=words["account"]).get_attribute("href") == "/account"
        check_a11y(page, context=f"home, {where}")
        # The skip link is the first stop and moves focus to main
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == words["skip"]
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "main"

        page.goto(gateway.url + "/no-such-page")
        assert page.title().endswith(" · " + page.locator("header .brand").inner_text())
        check_a11y(page, context=f"404, {where}")

        page.goto(gateway.url + "/authorize?client_id=no-such-service&response_type=code")
        assert page.get_by_role("alert").count() == 1
        check_a11y(page, context=f"error page, {where}")

        page.goto(gateway.url + "/logout")  # no session: the "signed out" page
        check_a11y(page, context=f"logout done, {where}")

        # /favicon.ico answers (browsers ask for it on their own)
        assert page.request.get(gateway.url + "/favicon.ico").headers["content-type"] == "image/x-icon"

        page.goto(thaid_simulator)
        assert page.title().startswith("เข้าสู่ระบบ / Sign in")
        check_a11y(page, context=f"ThaiD simulator sign-in, {where}")
        context.close()

    # Without JavaScript the passkey button cannot work: the page says so and points elsewhere
    context = a11y_context(browser, locale="en", java_script_enabled=False)
    page = context.new_page()
    page.goto(gateway.url + "/signin")
    hint = page.locator("form.passkey p.hint")
    assert hint.is_visible() and hint.inner_text().startswith("Passkeys need JavaScript")
    context.close()
    assert not problems, problems


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_demo_service_journey_is_accessible_and_has_no_dead_ends(browser, gateway, demo_rp):
    problems = []
    for locale, width in [("th", None), ("en", PHONE_WIDTH)]:
        where = label(locale, width)
        words = WORDS[locale]
        reg = register(gateway)
        context = a11y_context(browser, locale=locale, width=width)
        page = context.new_page()
        watch_console(page, problems)

        page.goto(demo_rp + "/")
        check_a11y(page, context=f"demo start, {where}")
        page.get_by_role("link", name="Sign in with idgw").click()
        page.get_by_label(words["username"]).fill(reg.username)
        check_a11y(page, context=f"gateway sign-in, {where}")
        page.get_by_label(words["password"]).fill(PASSWORD)
        page.get_by_role("button", name=words["sign_in"], exact=True).click()
        page.get_by_role("button", name=words["deny"], exact=True).wait_for()
        check_a11y(page, context=f"gateway consent, {where}")

        # Declining the consent: plain words at the service, nothing shared, a way to try again
        page.get_by_role("button", name=words["deny"], exact=True).click()
        page.wait_for_url(demo_rp + "/callback*")
        assert "Nothing was shared" in page.locator("h1").inner_text()
        assert "You did not allow" in page.get_by_role("alert").inner_text()
        assert "access_denied" in page.locator(".code").inner_text()
        check_a11y(page, context=f"demo declined consent, {where}")
        # Reloading the used answer: "already used", never "state mismatch"
        page.reload()
        assert "already used" in page.locator("h1").inner_text()
        assert "mismatch" not in page.content()
        check_a11y(page, context=f"demo used sign-in link, {where}")

        page.get_by_role("link", name="Sign in again").click()
        page.get_by_role("button", name=words["allow"], exact=True).click()  # still signed in at idgw
        page.wait_for_url(demo_rp + "/callback*")
        assert "Signed in" in page.get_by_role("status").inner_text()
        check_a11y(page, context=f"demo signed in, {where}")
        page.reload()  # the used callback again, now signed in: the signed-in page
        assert page.url == demo_rp + "/" and "Signed in" in page.get_by_role("status").inner_text()

        # The gateway's sign-out question, then "Cancel": the gateway's home page, still signed in
        page.goto(gateway.url + "/logout")
        check_a11y(page, context=f"gateway logout question, {where}")
        page.get_by_role("button", name=words["cancel"], exact=True).click()
        check_a11y(page, context=f"gateway home signed in, {where}")

        # Signing out of the demo says so and offers signing out of idgw too
        page.goto(demo_rp + "/")
        page.get_by_role("button", name="Sign out").click()
        assert "You have signed out of the demo e-service" in page.get_by_role("status").inner_text()
        check_a11y(page, context=f"demo signed out, {where}")
        page.get_by_role("button", name="Sign out of idgw too").click()
        page.wait_for_url(demo_rp + "/?state=*")
        assert "signed out of the demo e-service and of idgw" in page.get_by_role("status").inner_text()
        check_a11y(page, context=f"demo signed out of both, {where}")
        page.goto(gateway.url + "/account")  # no longer signed in at the gateway
        assert page.get_by_label(words["password"]).count() == 1 or "/signin" in page.url
        context.close()
    assert not problems, problems
