"""The pages in a real browser (Debian's Chromium via Playwright): the demo e-service signs a
citizen in through the gateway, with the CSP enforced and no console errors."""

import time

import pytest

from tests.flow import PASSWORD, register


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_citizen_signs_in_to_the_demo_service_in_chromium(browser, gateway, demo_rp):
    reg = register(gateway)
    context = browser.new_context(locale="th-TH")
    page = context.new_page()
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.goto(demo_rp + "/")
    page.get_by_role("link", name="เข้าสู่ระบบด้วย idgw / Sign in with idgw").click()
    # The gateway's login page, in Thai, with labelled fields
    page.get_by_label("ชื่อผู้ใช้").fill(reg.username)
    page.get_by_label("รหัสผ่าน").fill("wrong password")
    page.get_by_role("button", name="เข้าสู่ระบบ", exact=True).click()
    assert page.get_by_role("alert").inner_text() == "ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง"
    page.get_by_label("รหัสผ่าน").fill(PASSWORD)
    page.get_by_role("button", name="เข้าสู่ระบบ", exact=True).click()
    # Consent in Thai, the Buddhist-era sign-in time, then back to the service
    page.get_by_role("button", name="อนุญาต", exact=True).wait_for()
    body = page.locator("main").inner_text()
    assert "ชื่อ-นามสกุล" in body and str(time.gmtime().tm_year + 543) in body
    page.get_by_role("button", name="อนุญาต", exact=True).click()
    page.wait_for_url(demo_rp + "/callback*")
    text = page.locator("body").inner_text()
    assert "Signed in" in text and "urn:idgw:ial:1.1:aal:1" in text and '"pwd"' in text
    # Switching the gateway's language works from any page
    page.goto(gateway.url + "/")
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    context.close()
