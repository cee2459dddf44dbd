"""Registering a service and setting its policy from the console, in Chromium: an admin opens the
service list, follows "Register a service", makes a mistake first (a wildcard redirect URI: the
form comes back with the mistake linked to its field and what was typed kept), registers, sees
the secret once, follows the link to the service's policy page and saves a policy from the
questionnaire; the list then shows the service with its floors. axe checks the form (fresh and
refused), the page with the secret, the settings page and the new-secret confirmation; nothing is
logged on the console (no CSP refusal)."""

from __future__ import annotations

import re
from contextlib import closing

import pytest
from sqlalchemy import select

from idgw.storage.models import AuditEvent, Client
from tests.a11y import check_a11y
from tests.console.world import browser_context, staff_client

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

REDIRECT = "https://rp.example.test/callback"


def test_an_admin_registers_a_service_and_sets_its_policy(browser, gateway):
    problems: list[str] = []
    with closing(staff_client(gateway, "admin.somsak")) as http:
        context = browser_context(browser, gateway, http, locale="th")
        try:
            page = context.new_page()
            # (the refused form's own 400 is expected; a CSP refusal or a script error is not)
            page.on("console", lambda msg: problems.append(f"{page.url}: {msg.text}")
                    if msg.type in ("error", "warning") and "status of 400" not in msg.text else None)
            page.goto(gateway.url + "/admin/services")
            page.click("#register-link")
            page.wait_for_url(re.compile(r"/admin/services/new$"))
            client_id = page.input_value("#client_id")
            assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{21}", client_id)  # chosen for the admin
            check_a11y(page, context="register a service, th")

            # a mistake first: refused, linked to its field, what was typed kept
            page.fill("#name", "กรมตัวอย่าง บริการยื่นคำขอ")
            page.fill("#redirect_uris", "https://rp.example.test/*")
            page.click("#service-form button[type=submit]")
            page.wait_for_selector("#error-summary")
            assert page.locator("#redirect_uris").get_attribute("aria-invalid") == "true"
            assert page.input_value("#name") == "กรมตัวอย่าง บริการยื่นคำขอ"
            assert page.input_value("#client_id") == client_id
            check_a11y(page, context="register a service, refused, th")
            page.click("#error-summary a")
            assert page.evaluate("() => document.activeElement.id") == "redirect_uris"

            page.fill("#redirect_uris", REDIRECT)
            page.click("#service-form button[type=submit]")
            page.wait_for_selector("#client-secret")
            secret = page.input_value("#client-secret")
            assert page.input_value("#client-id") == client_id and len(secret) >= 40
            assert "แสดงเพียงครั้งเดียว" in page.locator("#secret-warning").inner_text()
            check_a11y(page, context="service registered, the secret once, th")

            # on to its policy page: the questionnaire, saved
            page.click("#policy-link")
            page.wait_for_url(re.compile(rf"/admin/services/{client_id}$"))
            page.check("input[name=p_financial][value=moderate]")
            page.check("input[name=a_financial][value=moderate]")
            page.click("button[name=action][value=save]")
            page.wait_for_selector("#current-aal")
            assert page.locator("#current-ial").inner_text() == "2.1"
            assert page.locator("#current-aal").inner_text() == "2.1"

            # the list shows it, with its floors and its settings
            page.goto(gateway.url + "/admin/services")
            row = page.locator("tbody tr", has_text=client_id)
            assert "กรมตัวอย่าง บริการยื่นคำขอ" in row.inner_text() and "2.1" in row.inner_text()
            row.locator(f"a[href='/admin/services/{client_id}/settings']").click()
            page.wait_for_url(re.compile(r"/settings$"))
            assert secret not in page.content()  # shown once only
            assert page.input_value("#redirect_uris") == REDIRECT
            check_a11y(page, context="service settings, th")
            page.click("#rotate-link")
            page.wait_for_url(re.compile(r"/secret$"))
            check_a11y(page, context="new secret confirmation, th")
        finally:
            context.close()
    assert problems == []
    with gateway.db() as db:
        assert db.get(Client, client_id).name == "กรมตัวอย่าง บริการยื่นคำขอ"
        created = db.scalar(select(AuditEvent).where(AuditEvent.name == "client.created"))
        assert created.actor == "admin.somsak" and created.client_id == client_id
