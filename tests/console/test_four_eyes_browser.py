"""Four eyes in Chromium, two admins in two browser contexts: admin A lowers a service's floor on
its policy page and is told it waits for a second admin; admin B opens the console, finds the
request on the change requests page and approves it; the policy page then shows the lowered
floor. axe checks the console's home and the change requests page (the requester's view, the
approver's, and after the decision); nothing is logged on the console (no CSP refusal)."""

from __future__ import annotations

import re
from contextlib import closing

import pytest

from tests.a11y import PHONE_WIDTH, check_a11y
from tests.console.world import browser_context, staff_client
from tests.flow import NO_IMPACT, register

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

MODERATE = {**NO_IMPACT, "financial": "moderate"}  # computed floors: IAL 2.1, AAL 2.1
REASON = "Internal staff only; compensating controls in memo 12/2569"


def watched(context, problems: list):
    page = context.new_page()
    page.on("console", lambda msg: problems.append(f"{page.url}: {msg.text}")
            if msg.type in ("error", "warning") else None)
    return page


def test_a_second_admin_approves_a_lowered_floor(browser, gateway):
    client_id = register(gateway, policy={"proofing_impacts": dict(MODERATE),
                                          "authentication_impacts": dict(MODERATE)}).client_id
    policy_page = gateway.url + f"/admin/services/{client_id}"
    problems: list[str] = []
    with closing(staff_client(gateway, "admin.a")) as a_http, closing(staff_client(gateway, "admin.b")) as b_http:
        a_context = browser_context(browser, gateway, a_http, locale="th")
        b_context = browser_context(browser, gateway, b_http, locale="en", width=PHONE_WIDTH)
        try:
            # admin A lowers the AAL floor below the computed 2.1, with a justification
            a = watched(a_context, problems)
            a.goto(policy_page)
            a.select_option("#min_aal", "1")
            a.fill("#justification", REASON)
            a.click("button[name=action][value=save]")
            a.wait_for_selector("#pending-change")
            assert "รอผู้ดูแลระบบคนที่สอง" in a.locator("#policy-message").inner_text()
            assert a.locator("#pending-change h2").inner_text() == "รอผู้ดูแลระบบคนที่สองอนุมัติ"
            assert a.locator("#current-aal").inner_text() == "2.1"
            a.click("#pending-change-link")
            a.wait_for_url(re.compile(r"/admin/changes"))
            assert a.locator("#pending form[action$='/cancel']").count() == 1
            assert a.locator("#pending form[action$='/approve']").count() == 0  # not one's own
            check_a11y(a, context="change requests, the requester's view, th")

            # admin B: the console's home, then the change requests page
            b = watched(b_context, problems)
            b.goto(gateway.url + "/admin")
            assert b.locator("#changes-waiting").inner_text() == "(waiting: 1)"
            check_a11y(b, context="console home, en, 390 px")
            b.click("#section-changes")
            b.wait_for_url(re.compile(r"/admin/changes$"))
            card = b.locator("#pending > li")
            assert card.count() == 1
            text = card.inner_text()
            assert f"({client_id})" in text and "AAL 2.1 → 1" in text and "admin.a" in text and REASON in text
            check_a11y(b, context="change requests, the approver's view, en, 390 px")
            card.locator("form[action$='/approve'] button").click()
            b.wait_for_selector("#changes-message")
            assert b.locator("#changes-message").inner_text() == "Approved: the change has taken effect."
            assert b.locator("#recent tbody tr").count() == 1 and b.locator("#pending-none").is_visible()
            check_a11y(b, context="change requests after the approval, en, 390 px")

            # the policy page now shows the lowered floor, set by admin B
            a.goto(policy_page)
            assert a.locator("#current-aal").inner_text() == "1"
            assert a.locator("#pending-change").count() == 0
            assert "admin.b" in a.locator("table").last.inner_text()
        finally:
            a_context.close()
            b_context.close()
    assert problems == []
