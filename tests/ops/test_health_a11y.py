"""The "temporarily unavailable" page in Chromium: axe finds nothing in Thai and English, at desk
and phone width; the other language's words are marked with their own ``lang``."""

from __future__ import annotations

from sqlalchemy import event

from tests import flow
from tests.a11y import PHONE_WIDTH, a11y_context, check_a11y
from tests.conftest import start_gateway


def test_the_unavailable_page_is_accessible(browser, tmp_path):
    running = start_gateway(f"sqlite:///{tmp_path}/idgw.db")
    try:
        reg = flow.register(running)
        url, *_ = flow.authorize_url(running, flow.rp_client(running, reg))

        def read_only(dbapi_conn, _record):
            dbapi_conn.execute("PRAGMA query_only = 1")

        event.listen(running.gw.engine, "connect", read_only)
        running.gw.engine.dispose()
        for locale, width in [("th", None), ("en", PHONE_WIDTH)]:
            context = a11y_context(browser, locale=locale, width=width)
            page = context.new_page()
            problems: list[str] = []
            page.on("console", _watch(page, problems))
            response = page.goto(url)
            assert response.status == 503 and response.headers["retry-after"].isdigit()
            other = "en" if locale == "th" else "th"
            assert page.locator(f"main [lang={other}] h2").count() == 1
            assert page.get_by_role("link", name="ลองใหม่อีกครั้ง" if locale == "th" else "Try again").count() == 1
            check_a11y(page, context=f"unavailable page, {locale}, {width or 'desktop'}")
            assert not problems, problems
            context.close()
    finally:
        running.stop()
        running.gw.engine.dispose()


def _watch(page, problems: list[str]):
    """Console errors and warnings, except the page's own 503 (the point of visiting it)."""

    def seen(message) -> None:
        if message.type in ("error", "warning") and message.location.get("url") != page.url:
            problems.append(f"{message.text} ({message.location.get('url')})")

    return seen
