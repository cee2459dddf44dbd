"""Helpers for the account tests: a citizen's browser (tests.flow.Browser) signing in to the
gateway's own pages, raising the sign-in with a factor, enrolling a real authenticator app, and
reading the forms of a page."""

from __future__ import annotations

import html
import re
import uuid

from sqlalchemy import select

from idgw.authn.totp import totp_code
from idgw.storage.models import AccountAuthenticator, AccountLink
from tests.flow import PASSWORD, Browser, form_fields


def sign_in(gateway, username: str, b: Browser | None = None, *, next_path: str = "/account"):
    """Password sign-in at /signin; returns (browser, the page it lands on)."""
    b = b or Browser(gateway)
    page = b.get(f"/signin?next={next_path}")
    assert 'name="password"' in page.text, page.text[:300]
    action, hidden = form_fields(page.text)
    answer = b.http.post(action, data={**hidden, "username": username, "password": PASSWORD})
    assert answer.status_code == 303, (answer.status_code, answer.text[:300])
    return b, b.follow(answer)


def raise_with(b: Browser, kind: str, code: str, *, next_path: str = "/account", aal: str = "2.1"):
    """Add a factor to the browser's session (the gateway's own step-up page), then follow on."""
    url = f"/signin/factor/{kind}?next={next_path}&aal={aal}"
    page = b.get(url)
    assert page.status_code == 200, (page.status_code, page.headers.get("location"), page.text[:300])
    action, hidden = form_fields(page.text)
    answer = b.http.post(action, data={**hidden, "code": code})
    assert answer.status_code == 303, (answer.status_code, answer.text[:300])
    return b.follow(answer)


def forms(text: str) -> list[tuple[str, str, dict]]:
    """(method, action, hidden fields) of every form on a page."""
    found = []
    for m in re.finditer(r"<form([^>]*)>(.*?)</form>", text, re.S):
        attrs = m.group(1)
        declared = re.search(r'method="([^"]+)"', attrs)
        method = declared.group(1).lower() if declared else "get"
        action = html.unescape(re.search(r'action="([^"]+)"', attrs).group(1))
        hidden = {k: html.unescape(v) for k, v in
                  re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', m.group(2))}
        found.append((method, action, hidden))
    return found


def post_form(b: Browser, page, action_suffix: str, **fields):
    """Submit the form of ``page`` whose action ends with ``action_suffix`` (not following redirects)."""
    method, action, hidden = next(f for f in forms(page.text) if f[1].endswith(action_suffix))
    assert method == "post", (method, action)
    return b.http.post(action, data={**hidden, **fields})


def enrol_totp(gateway, b: Browser, *, name: str = "Phone") -> str:
    """A real authenticator app through the account page; returns its secret. (The confirmed code
    raises the session at once.)"""
    page = b.get("/account")
    assert page.status_code == 200, (page.status_code, page.headers.get("location"))
    enrol = post_form(b, page, "/account/totp")
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', enrol.text).group(1)
    done = post_form(b, enrol, "/confirm", name=name, code=totp_code(secret, step=gateway.clock.now() // 30))
    assert done.status_code == 200, done.text[:300]
    return secret


def recovery_codes(page_text: str) -> list[str]:
    return re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", page_text)


def next_totp(gateway, secret: str) -> str:
    """A code of the next time step (the enrolment used the current one)."""
    gateway.clock.advance(30)
    return totp_code(secret, step=gateway.clock.now() // 30)


def add_passkey_row(gateway, account_id: str, *, name: str = "Laptop", discoverable: bool = True):
    """A registered passkey as the table holds it (for tests of what the pages do with one; the
    ceremony itself is tests/test_webauthn_browser.py and tests/account/test_account_browser.py)."""
    with gateway.db() as db:
        row = AccountAuthenticator(id=str(uuid.uuid4()), account_id=account_id, kind="webauthn", name=name,
                                   created_at=gateway.clock.now(), confirmed_at=gateway.clock.now(),
                                   credential_id="cred-" + uuid.uuid4().hex, public_key="pk-" + uuid.uuid4().hex,
                                   sign_count=0, aaguid="00000000-0000-0000-0000-000000000000",
                                   transports=["internal"], discoverable=discoverable, attested=False)
        db.add(row)
        db.commit()
        db.refresh(row)
        db.expunge(row)
        return row


def factor_ids(gateway, account_id: str, kind: str) -> list[str]:
    with gateway.db() as db:
        return list(db.scalars(select(AccountAuthenticator.id).where(AccountAuthenticator.account_id == account_id,
                                                                     AccountAuthenticator.kind == kind)))


CITIZEN_ID = "1345951597671"


def upstream_session(gateway, *, aal: str = "1") -> tuple[str, str, str]:
    """An account made by a ThaiD sign-in (no password) and a session through it, by the gateway's
    own code (as the upstream callback calls it): (session cookie, account id, link id)."""
    from idgw.upstream import resolve_account, start_session
    from providers import UpstreamIdentity

    now = gateway.clock.now()
    identity = UpstreamIdentity(provider="thaid", issuer="https://thaid.example.test", subject="thaid-sub-1",
                                citizen_id=CITIZEN_ID, claims={"th_given_name": "สมชาย", "th_family_name": "ใจดี",
                                                               "given_name": "Somchai", "family_name": "Jaidee"},
                                ial="2.3", aal=aal, amr=("pwd",), auth_time=now, raw_levels={})
    with gateway.db() as db:
        account = resolve_account(db, identity=identity, now=now).account
        _session, cookie = start_session(db, old_cookie=None, account=account, identity=identity, now=now,
                                         ip="127.0.0.1", client_id=None, user_agent="test")
        link_id = db.scalar(select(AccountLink.id).where(AccountLink.account_id == account.id))
        account_id = account.id
        db.commit()
    return cookie, account_id, link_id


def upstream_browser(gateway, *, aal: str = "1") -> tuple[Browser, str, str]:
    """That citizen's browser, signed in: (browser, account id, link id)."""
    cookie, account_id, link_id = upstream_session(gateway, aal=aal)
    b = Browser(gateway)
    b.get("/signin")  # the gateway issues this browser its id (for the CSRF tokens)
    b.http.cookies.set(gateway.gw.settings.cookie_name, cookie, domain="127.0.0.1", path="/")
    return b, account_id, link_id
