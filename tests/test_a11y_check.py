"""The accessibility checker itself (tests/a11y.py): it fails a page with known violations, names
them, passes a clean page, and works under the gateway's Content-Security-Policy."""

import pytest

from idgw.app import SECURITY_HEADERS
from tests.a11y import PHONE_WIDTH, a11y_context, check_a11y

CSP = dict(SECURITY_HEADERS)[b"content-security-policy"].decode()
BAD = """<!doctype html><html><head><title>bad</title></head><body>
<div><img src="data:,"><button id="empty"></button><input id="nolabel" type="text">
<table width="2000"><tr><td>wide</td></tr></table></div></body></html>"""
GOOD = """<!doctype html><html lang="en"><head><meta name="viewport" content="width=device-width, initial-scale=1">
<title>good</title></head><body><header><p>Gateway</p></header><main><h1>Fine</h1>
<label for="x">Name</label><input id="x" type="text"><button type="submit">Send</button></main>
<footer><p>Help</p></footer></body></html>"""


def serve(page, html: str) -> None:
    page.route("http://a11y.test/", lambda route: route.fulfill(
        status=200, body=html, headers={"content-type": "text/html; charset=utf-8", "content-security-policy": CSP}))
    page.goto("http://a11y.test/")


def test_check_a11y_fails_known_violations_and_passes_a_clean_page(browser):
    context = a11y_context(browser, locale="en", width=PHONE_WIDTH)
    page = context.new_page()
    console = []
    page.on("console", lambda m: console.append(m.text) if m.type in ("error", "warning") else None)
    serve(page, BAD)
    with pytest.raises(AssertionError) as failure:
        check_a11y(page, context="bad page")
    message = str(failure.value)
    for expected in ("bad page", "image-alt", "button-name", "#empty", "label", "#nolabel", "html-has-lang",
                     "landmark-one-main", "region", "reflow: the page scrolls sideways"):
        assert expected in message, (expected, message)

    page.unroute("http://a11y.test/")
    serve(page, GOOD)
    check_a11y(page, context="good page")
    # Injected by page.evaluate: nothing was refused by the CSP
    assert not console, console
    context.close()
