"""Shared helpers for the admin console's tests: staff accounts, an httpx client signed in at
AAL 2.2 (password, then a passkey stand-in: tests.stepup), posting a page's form with its hidden
fields (the CSRF token), and a Chromium context that carries an httpx client's session.

Generic only: a test module's own world (services, requests, ...) stays in that module."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from idgw.admin import add_user
from idgw.storage.models import Account
from tests.flow import PASSWORD
from tests.stepup import FIXTURE_CODE, enable_second_factor

__all__ = ["PASSWORD", "account_id", "browser_context", "form_post", "make_staff", "signed_in",
           "staff_client"]


def make_staff(gateway, username: str, roles=("admin",), *, passkey: bool = True) -> str:
    """A staff account with ``roles``; ``passkey``: with a second factor that reaches AAL 2.2."""
    with gateway.db() as db:
        add_user(db, username=username, password=PASSWORD, now=gateway.clock.now(), roles=list(roles))
        db.commit()
    if passkey:
        enable_second_factor(gateway, username, factor="hwk_uv")
    return username


def account_id(gateway, username: str) -> str:
    with gateway.db() as db:
        return db.scalar(select(Account.id).where(Account.username == username))


def form_post(http: httpx.Client, page: httpx.Response, form: str | None = None, **fields) -> httpx.Response:
    """Submit a form of ``page`` with its hidden inputs (CSRF token) and ``fields``. ``form``: a
    substring of the wanted form's action (default: the first form)."""
    forms = re.findall(r"<form\b[^>]*>.*?</form>", page.text, flags=re.S)
    chosen = next((f for f in forms if form is None or re.search(r'action="[^"]*' + re.escape(form), f)), None)
    assert chosen is not None, f"no form with action containing {form!r} on {page.url}"
    action = re.search(r'action="([^"]+)"', chosen).group(1).replace("&amp;", "&")
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', chosen))
    return http.post(httpx.URL(str(page.url)).join(action), data={**hidden, **fields})


def signed_in(gateway, http: httpx.Client, username: str, *, path: str = "/admin/services") -> httpx.Response:
    """Sign ``username`` in (again) through /signin at AAL 2.2, landing on ``path``."""
    page = http.get(gateway.url + path)
    assert page.url.path == "/signin", page.url
    page = form_post(http, page, username=username, password=PASSWORD)
    assert page.url.path.startswith("/signin/factor/"), page.url  # AAL 1 is not enough: step up
    page = form_post(http, page, code=FIXTURE_CODE)
    assert page.url.path == path, (page.url, page.text[:300])
    return page


def staff_client(gateway, username: str, roles=("admin",), *, path: str = "/admin/services") -> httpx.Client:
    """A new staff account with ``roles`` and an httpx client signed in as them at AAL 2.2 (Thai
    pages; add ``?lang=en`` for English). Close it when done: ``with closing(staff_client(...)) as http``."""
    make_staff(gateway, username, roles)
    http = httpx.Client(follow_redirects=True, timeout=20)
    signed_in(gateway, http, username, path=path)
    return http


def browser_context(browser, gateway, http: httpx.Client, *, locale: str = "en", width: int | None = None):
    """A Chromium context holding ``http``'s cookies (its session and browser id), in ``locale``
    (``"th"`` or ``"en"``), at ``width`` CSS pixels if given (tests.a11y.a11y_context)."""
    from tests.a11y import a11y_context

    context = a11y_context(browser, locale=locale, width=width)
    context.add_cookies([{"name": c.name, "value": c.value, "url": gateway.url} for c in http.cookies.jar])
    context.add_cookies([{"name": "idgw_lang", "value": locale, "url": gateway.url}])
    return context
