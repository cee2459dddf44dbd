"""The account pages never leave a person who proves control with nowhere to go (real HTTP, on
SQLite and PostgreSQL): a ThaiD account whose passkey is lost, asked for a fresh sign-in."""

from __future__ import annotations

from idgw.storage.models import AccountAuthenticator
from tests.account.journeys import (
    add_passkey_row,
    post_form,
    upstream_browser,
    upstream_session,
)
from tests.flow import Browser


def follow(b: Browser, response, *, hops: int = 6) -> list:
    """Every answer on the way (the gateway's redirects), the last one included."""
    seen = [response]
    while response.status_code == 303 and len(seen) <= hops:
        response = b.get(response.headers["location"])
        seen.append(response)
    return seen


def test_a_lost_passkey_can_be_removed_after_a_new_thaid_sign_in(gateway):
    b, account_id, _link_id = upstream_browser(gateway, aal="1")
    lost = add_passkey_row(gateway, account_id, name="Lost phone")
    assert b.get("/account").status_code == 200  # the ThaiD sign-in proves control
    gateway.clock.advance(301)
    # removing needs a fresh sign-in: a new one through ThaiD, on the sign-in page (not a step-up
    # that offers only the passkey the person no longer has)
    path = f"/account/factors/{lost.id}/remove"
    stale = b.get(path)
    assert stale.status_code == 303 and stale.headers["location"] == f"/signin?next={path}&aal=1"
    *_, landed = follow(b, stale)
    assert landed.status_code == 200 and 'name="password"' in landed.text, landed.url
    assert "/signin/factor/webauthn" not in str(landed.url)
    # signing in again through ThaiD (as its callback does) lets the removal through
    cookie, same_account, _ = upstream_session(gateway, aal="1")
    assert same_account == account_id
    b.http.cookies.set(gateway.gw.settings.cookie_name, cookie, domain="127.0.0.1", path="/")
    ask = b.get(path)
    assert ask.status_code == 200, ask.headers.get("location")
    done = post_form(b, ask, path)
    assert done.status_code == 200
    with gateway.db() as db:
        assert db.get(AccountAuthenticator, lost.id) is None

