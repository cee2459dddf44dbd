"""The delegation pages as people use them, in Debian's Chromium: a citizen on a phone (Thai)
makes a delegation through the form (a mistake first, shown in words with focus on the list of
mistakes), reviews and signs it; the delegate at a desk (English) accepts it from their list; the
citizen opens the revoke confirmation; someone below the identity level signing needs gets the
level page. Every page state passes axe (WCAG 2.1 A/AA), reflows at
390 px and logs nothing to the console (no CSP refusal: the pages have no inline script).

Set ``IDGW_SCREENSHOTS=<dir>`` to keep a PNG of each page state (for checking the layout by eye).
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest

from idgw.delegation import model as m
from idgw.delegation.page_logic import day_of
from idgw.storage.delegation import Mandate
from idgw.storage.models import Client
from tests.a11y import PHONE_WIDTH, a11y_context, check_a11y
from tests.delegation.world import MALEE, SOMCHAI, SOMYING, citizen, with_catalogue
from tests.flow import demo_service

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def a11y(page, what: str) -> None:
    check_a11y(page, context=what)
    folder = os.environ.get("IDGW_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / (re.sub(r"\W+", "-", what) + ".png")), full_page=True)


def signed_in_page(browser, gateway, person, *, locale: str, width: int | None, problems: list, ial: str = "2.3"):
    """A browser context holding ``person``'s fresh ThaiD session (IAL ``ial``, AAL 2.2)."""
    who = citizen(gateway, person, ial=ial)
    context = a11y_context(browser, locale=locale, width=width)
    context.add_cookies([{"name": gateway.gw.settings.cookie_name, "value": who.cookie, "url": gateway.url},
                         {"name": "idgw_lang", "value": locale, "url": gateway.url}])
    page = context.new_page()
    page.on("console", lambda msg: problems.append(f"{page.url}: {msg.text}") if msg.type in ("error", "warning")
            and "status of 4" not in msg.text else None)
    return context, page


def test_citizen_makes_and_signs_a_delegation_and_the_delegate_accepts_it_and_acts(browser, gateway):
    # The demo e-service (a real relying party on loopback) accepts delegation for its acts.
    rp_base, rp_server = demo_service(gateway, delegation_allowed=True)
    with gateway.db() as db:
        client_id = db.query(Client).one().client_id  # the only e-service
    with_catalogue(gateway, client_id)
    problems: list[str] = []
    today = day_of(gateway.clock.now())
    context, page = signed_in_page(browser, gateway, SOMCHAI, locale="th", width=PHONE_WIDTH, problems=problems)

    page.goto(gateway.url + "/delegations")
    a11y(page, "list (empty), th, phone")
    page.get_by_role("link", name="สร้างการมอบอำนาจ").click()
    page.get_by_role("heading", level=1, name="สร้างการมอบอำนาจ").wait_for()
    a11y(page, "create form, th, phone")

    # A mistake first: the list of mistakes gets the focus and links to the field
    page.get_by_label("เลขประจำตัวประชาชน 13 หลักของผู้รับมอบอำนาจ").fill(SOMCHAI[0])
    page.get_by_label("มอบอำนาจในบริการ บริการทดสอบ Test service").check()
    page.get_by_label("ยื่นแบบภาษีมูลค่าเพิ่ม").check()
    page.get_by_label("สิ้นสุดวันที่").fill((today + timedelta(days=30)).isoformat())
    page.get_by_role("button", name="ตรวจทานก่อนลงนาม").click()
    summary = page.locator("#error-summary")
    summary.wait_for()
    assert "ท่านมอบอำนาจให้ตนเองไม่ได้" in summary.inner_text()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert page.get_by_label("ยื่นแบบภาษีมูลค่าเพิ่ม").is_checked()  # what was chosen stays
    a11y(page, "create form with a mistake, th, phone")

    page.get_by_role("link", name="ท่านมอบอำนาจให้ตนเองไม่ได้").click()
    assert page.evaluate("document.activeElement.id") == "delegate_citizen_id"
    page.get_by_label("เลขประจำตัวประชาชน 13 หลักของผู้รับมอบอำนาจ").fill(SOMYING[0])
    page.get_by_role("button", name="ตรวจทานก่อนลงนาม").click()

    # The review page: the whole document in words, Buddhist-era dates, then sign
    page.get_by_role("heading", level=1, name="รายละเอียดการมอบอำนาจ").wait_for()
    main = page.locator("main").inner_text()
    assert "ร่าง รอลงนาม" in main and "1-10xx-xxxxx-x5-6" in main and str(today.year + 543) in main
    mandate_id = re.search(r"/delegations/([0-9a-f-]{36})", page.url).group(1)
    a11y(page, "review before signing, th, phone")
    page.get_by_role("button", name="ลงนาม", exact=True).click()
    page.get_by_role("status").wait_for()
    assert "ลงนามแล้ว รอผู้รับมอบอำนาจยอมรับ" in page.locator("main").inner_text()
    a11y(page, "signed, th, phone")
    with gateway.db() as db:
        assert db.get(Mandate, mandate_id).status == m.AWAITING_ACCEPTANCE

    # The delegate, at a desk in English, accepts from the list
    other, delegate_page = signed_in_page(browser, gateway, SOMYING, locale="en", width=None, problems=problems)
    delegate_page.goto(gateway.url + "/delegations")
    a11y(delegate_page, "list with one to accept, en, desktop")
    delegate_page.get_by_role("button", name=re.compile("^Accept")).click()
    delegate_page.get_by_role("status").wait_for()
    assert "In effect" in delegate_page.locator("main").inner_text()
    a11y(delegate_page, "accepted, en, desktop")
    with gateway.db() as db:
        assert db.get(Mandate, mandate_id).status == m.EFFECTIVE

    # ...and uses it: at the e-service, "File a VAT return" asks whom she acts for.
    delegate_page.goto(rp_base + "/login?act=vat_filing")
    delegate_page.get_by_role("heading", level=1, name="Who are you acting for?").wait_for()
    a11y(delegate_page, "acting choice, en, desktop")
    delegate_page.get_by_label(re.compile("^On behalf of Somchai Jaidee")).check()
    delegate_page.get_by_role("button", name="Continue").click()
    if delegate_page.get_by_role("button", name="Allow").count():
        assert "You are acting on behalf of Somchai Jaidee" in delegate_page.locator("main").inner_text()
        delegate_page.get_by_role("button", name="Allow").click()
    delegate_page.get_by_text("Acting on behalf of").wait_for()
    shown = delegate_page.locator("main").inner_text()
    assert "สมชาย ใจดี / Somchai Jaidee" in shown and "(vat_filing)" in shown
    # The verified ID token the service shows carries the act and delegation claims.
    claims = {row.locator("th").inner_text(): row.locator("td").inner_text()
              for row in delegate_page.locator("tbody tr").all()}
    assert mandate_id in claims["delegation"] and '"sub"' in claims["act"]
    rp_server.should_exit = True

    # The principal can end it, after a confirmation that says what stops
    page.goto(f"{gateway.url}/delegations/{mandate_id}")
    page.get_by_role("link", name="เพิกถอนการมอบอำนาจ").click()
    page.get_by_role("heading", level=1, name="ยืนยันการเพิกถอนการมอบอำนาจ").wait_for()
    a11y(page, "revoke confirmation, th, phone")
    page.get_by_role("link", name="ยกเลิก กลับไปหน้ารายละเอียด").click()
    page.get_by_role("heading", level=1, name="รายละเอียดการมอบอำนาจ").wait_for()
    other.close()
    context.close()

    # Someone whose sign-in is below the identity level signing needs gets the level page
    low, low_page = signed_in_page(browser, gateway, MALEE, locale="en", width=PHONE_WIDTH, problems=problems,
                                   ial="1.2")
    low_page.goto(gateway.url + "/delegations/new")
    low_page.get_by_label("The delegate's citizen ID (13 digits)").fill(SOMYING[0])
    low_page.get_by_label("File a VAT return").check()
    low_page.get_by_label("Valid until").fill((today + timedelta(days=3)).isoformat())
    low_page.get_by_role("button", name="Review before signing").click()
    low_page.get_by_role("button", name="Sign", exact=True).click()
    low_page.get_by_role("heading", level=1, name="A higher identity level is needed to sign").wait_for()
    assert "IAL 1.2" in low_page.locator("main").inner_text()
    a11y(low_page, "identity level too low, en, phone")
    low.close()
    assert not problems, problems
