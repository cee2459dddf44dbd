"""The account pages never leave a person who proves control with nowhere to go (real HTTP, on
SQLite and PostgreSQL): a ThaiD account whose passkey is lost, asked for a fresh sign-in, and a
ThaiD sign-in to an account with a password and an app, which no factor can raise."""

from __future__ import annotations

from idgw.security import hash_password
from idgw.storage.models import Account, AccountAuthenticator
from tests.account.journeys import (
    add_passkey_row,
    enrol_totp,
    next_totp,
    post_form,
    raise_with,
    sign_in,
    upstream_browser,
    upstream_session,
)
from tests.flow import PASSWORD, Browser


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


def test_a_thaid_sign_in_to_an_account_with_a_password_and_an_app_is_sent_to_sign_in(gateway):
    b, account_id, _link_id = upstream_browser(gateway, aal="1")
    with gateway.db() as db:
        account = db.get(Account, account_id)
        account.password_hash = hash_password(PASSWORD)
        username = account.username
        db.commit()
    secret = enrol_totp(gateway, sign_in(gateway, username)[0])
    # ThaiD at AAL 1 does not prove control of an account whose password and app reach 2.1, and
    # no factor raises a ThaiD session: the sign-in page, not a step-up that had nothing to offer
    # (its "add a method on your account page" led back here)
    denied = b.get("/account")
    assert denied.status_code == 303 and denied.headers["location"] == "/signin?next=/account&aal=1"
    seen = follow(b, denied)
    assert [r.status_code for r in seen] == [303, 200] and 'name="password"' in seen[-1].text
    # the password there, then the app, open the page
    b, _ = sign_in(gateway, username, b)
    assert b.get("/account").headers["location"] == "/signin?next=/account&aal=2.1"
    page = raise_with(b, "totp", next_totp(gateway, secret))
    assert page.status_code == 200 and str(page.url).endswith("/account")
