"""The staff, keys and upstreams pages of the admin console in Chromium, in Thai at desk width
and in English at phone width: axe finds nothing, the browser logs nothing (no CSP refusal), and
"Rotate now" works from the page."""

from __future__ import annotations

from contextlib import closing

import pytest

from tests.a11y import PHONE_WIDTH, check_a11y
from tests.console.world import browser_context, staff_client

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

PAGES = ("/admin/staff", "/admin/keys", "/admin/upstreams")


@pytest.mark.parametrize(("locale", "width"), [("th", None), ("en", PHONE_WIDTH)])
def test_staff_keys_and_upstreams_pages_are_accessible(browser, gateway, locale, width):
    problems: list[str] = []
    with closing(staff_client(gateway, f"admin.{locale}")) as http:
        context = browser_context(browser, gateway, http, locale=locale, width=width)
        try:
            page = context.new_page()
            page.on("console", lambda msg: problems.append(f"{page.url}: {msg.text}")
                    if msg.type in ("error", "warning") else None)
            for path in PAGES:
                page.goto(gateway.url + path)
                assert page.url.endswith(path), page.url
                check_a11y(page, context=f"{path}, {locale}")
            page.goto(gateway.url + "/admin/keys")
            before = page.locator("table").first.inner_text()
            page.locator("form[action$='/rotate'] button").click()
            page.wait_for_url(lambda url: "done=rotated" in url)
            assert page.locator("table").first.inner_text() != before
            check_a11y(page, context=f"/admin/keys after a rotation, {locale}")
        finally:
            context.close()
    assert problems == []
