"""Attacks that held (security review): cross-site request forgery on every state-changing form,
and session fixation, over real HTTP.

CSRF defence (idgw.web.pages): every form carries HMAC(key, browser id | purpose), the browser id
being an HttpOnly cookie only the gateway issues (tests/security/test_cookies_and_hints.py). So a
forged POST is refused with 403 and changes nothing whether its ``csrf_token`` is missing, wrong,
another browser's for the same form, or this browser's for another form. Each probe below is
followed by the same POST with the right token, which does change something: the refusals were
the token's, not a form that could not have worked anyway.

"Nothing changed" is read from the database: the number of rows of every table (audit events
included: every change the gateway makes records one), throttle counters aside.

Already held elsewhere and not repeated here: the login form and the logout confirmation without
a token (tests/test_authorize.py, tests/test_session.py), the admin save without a token
(tests/test_admin_pages.py), a browser-chosen idgw_browser never adopted
(tests/security/test_cookies_and_hints.py), a new session id when signing in again
(tests/test_session.py), another person signing in on the same browser ending the first one's
session (tests/security/test_logout.py)."""

from __future__ import annotations

import re
import secrets

import httpx
import pytest
from sqlalchemy import func, select

from idgw.storage.models import AccountLink, Base
from tests.flow import (
    PASSWORD,
    Browser,
    authorize_url,
    callback_params,
    form_fields,
    login_flow,
    register,
    rp_client,
)
from tests.stepup import FIXTURE_CODE, enable_second_factor
from tests.test_admin_pages import make_admin, questionnaire
from tests.test_totp_account import current_code

CITIZEN_ID = "1345951597671"


def snapshot(gateway) -> dict[str, int]:
    with gateway.db() as db:
        return {t.name: db.scalar(select(func.count()).select_from(t))
                for t in Base.metadata.sorted_tables if t.name != "throttles"}


def browser_id(b: Browser) -> str:
    return b.http.cookies["idgw_browser"]


class Forger:
    """Sends a form with each kind of forged token, then with the right one."""

    def __init__(self, gateway) -> None:
        self.gateway = gateway
        self.pages = gateway.gw.pages
        stranger = Browser(gateway)
        stranger.get("/signin")  # the gateway issues it a browser id
        self.other_browser = browser_id(stranger)
        self.checked: list[str] = []

    def forged_tokens(self, victim: str, purpose: str, others: tuple[str, ...]) -> dict[str, str | None]:
        right = self.pages.csrf_token(victim, purpose)
        return {"missing": None, "empty": "", "wrong": secrets.token_hex(32), "upper-cased": right.upper(),
                "truncated": right[:-1], "another browser's, same form": self.pages.csrf_token(self.other_browser,
                                                                                              purpose),
                **{f"this browser's for {p!r}": self.pages.csrf_token(victim, p) for p in others}}

    def check(self, b: Browser, url: str, fields: dict, *, purpose: str, others: tuple[str, ...] = ("webauthn",),
              refused: tuple[int, ...] = (403,)) -> httpx.Response:
        """Every forged token: a ``refused`` status and no change. Then the right token: a change
        (and, unless it is a refused status too, another status). Returns that answer."""
        victim = browser_id(b)
        before = snapshot(self.gateway)
        for name, token in self.forged_tokens(victim, purpose, others).items():
            data = dict(fields) if token is None else {**fields, "csrf_token": token}
            r = b.http.post(url, data=data)
            assert r.status_code in refused, (url, name, r.status_code, r.headers.get("location"), r.text[:200])
            assert not any(c.startswith("idgw_session=") for c in r.headers.get_list("set-cookie")), (url, name)
        assert snapshot(self.gateway) == before, (url, "a refused request changed something")
        answer = b.http.post(url, data={**fields, "csrf_token": self.pages.csrf_token(victim, purpose)})
        assert answer.status_code not in refused or refused != (403,), (url, answer.status_code, answer.text[:300])
        assert snapshot(self.gateway) != before, (url, "the control request changed nothing: the probe proves nothing")
        self.checked.append(url.split("?")[0])
        return answer


def _iid(page: httpx.Response) -> str:
    return re.search(r'action="/interaction/([^/"]+)/', page.text).group(1)


def test_interaction_forms_refuse_forged_tokens(gateway):
    """/interaction/{id}/passkey, /login, /consent and /factor/{kind}, and the /logout confirmation."""
    forger = Forger(gateway)
    reg = register(gateway)
    b = Browser(gateway)
    url, *_ = authorize_url(gateway, rp_client(gateway, reg))
    page = b.follow(b.get(url))
    iid = _iid(page)
    others = ("webauthn", f"consent:{iid}", f"factor:{iid}", f"login:{iid}-x")
    # passkey sign-in: with the right token a made-up credential is rejected (and recorded)
    forger.check(b, f"/interaction/{iid}/passkey", {"credential": '{"id": "x"}'}, purpose=f"login:{iid}",
                 others=others)
    signed_in = forger.check(b, f"/interaction/{iid}/login", {"username": reg.username, "password": PASSWORD},
                             purpose=f"login:{iid}", others=others)
    consent = b.follow(signed_in)
    assert 'value="allow"' in consent.text
    others = ("webauthn", f"login:{iid}", "logout")
    answer = forger.check(b, f"/interaction/{iid}/consent", {"decision": "allow"}, purpose=f"consent:{iid}",
                          others=others)
    assert "code" in callback_params(answer)
    # a service that needs AAL 2.1: the same session is asked for a second factor
    strong = register(gateway, policy={"min_aal": "2.1"}, username=reg.username + "-2")
    enable_second_factor(gateway, strong.username)
    b2 = Browser(gateway)
    url, *_ = authorize_url(gateway, rp_client(gateway, strong))
    page = b2.login(b2.follow(b2.get(url)), strong.username)
    action, _hidden = form_fields(page.text)
    assert action.endswith("/factor/fixture-otp"), page.text[:300]
    iid2 = _iid(page)
    forger.check(b2, action, {"code": FIXTURE_CODE}, purpose=f"factor:{iid2}",
                 others=("webauthn", f"login:{iid2}", f"factor:{iid}"))
    # the logout confirmation (no id_token_hint, so the gateway asks)
    assert 'value="yes"' in b.get("/logout").text
    forger.check(b, "/logout", {"logout": "yes"}, purpose="logout", others=("webauthn", f"consent:{iid}"))
    assert len(forger.checked) == 5


def test_staff_sign_in_and_admin_forms_refuse_forged_tokens(gateway):
    """/signin, /signin/factor/{kind} and /admin/services/{client_id}."""
    forger = Forger(gateway)
    reg = register(gateway)
    admin = make_admin(gateway)
    enable_second_factor(gateway, admin, factor="hwk_uv")
    b = Browser(gateway)
    b.get("/signin?next=/admin/services")
    next_q = "?next=/admin/services"
    others = ("webauthn", "signin-factor", "logout", "account")
    r = forger.check(b, "/signin" + next_q, {"username": admin, "password": PASSWORD}, purpose="signin", others=others)
    assert r.status_code == 303 and r.headers["location"] == "/admin/services"
    step_up = b.get("/admin/services")
    assert step_up.status_code == 303 and "/signin/factor/fixture-hwk_uv" in step_up.headers["location"]
    action = step_up.headers["location"]
    assert b.get(action).status_code == 200
    others = ("webauthn", "signin", "account")
    r = forger.check(b, action, {"code": FIXTURE_CODE}, purpose="signin-factor", others=others)
    assert r.status_code == 303
    assert b.get(f"/admin/services/{reg.client_id}").status_code == 200
    fields = {"action": "save", **questionnaire(financial="moderate")}
    forger.check(b, f"/admin/services/{reg.client_id}", fields, purpose=f"admin:{reg.client_id}",
                 others=("webauthn", "signin", f"admin:{admin}", "account"))
    assert len(forger.checked) == 3


def test_account_forms_refuse_forged_tokens(gateway):
    """Every /account/* POST, with a fresh sign-in (so the right token does act). Recovery codes
    and a confirmed app raise what the account page needs (AAL 2.1), so each comes last for its
    account."""
    forger = Forger(gateway)
    reg, other = register(gateway), register(gateway)
    with gateway.db() as db:
        db.add(AccountLink(id="link-1", account_id=reg.account_id, provider="thaid", issuer="https://thaid.test",
                           subject="s-1", ial="2.3", aal="2.2", raw_levels={}, linked_at=gateway.clock.now()))
        db.commit()

    def signed_in(username: str, b: Browser | None = None) -> Browser:
        b = b or Browser(gateway)
        page = b.get("/signin?next=/account")
        r = b.http.post("/signin?next=/account", data={**form_fields(page.text)[1], "username": username,
                                                        "password": PASSWORD})
        assert r.status_code == 303 and b.get("/account").status_code == 200
        return b

    b = signed_in(reg.username)
    others = ("webauthn", "signin", "logout", "signin-factor")
    enrol = forger.check(b, "/account/totp", {}, purpose="account", others=others)  # a pending app
    pending = re.search(r'action="/account/totp/([^/"]+)/confirm"', enrol.text).group(1)
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', enrol.text).group(1)
    # (confirmed before another set-up starts: a new set-up replaces an unconfirmed one)
    forger.check(b, f"/account/totp/{pending}/confirm", {"name": "Phone", "code": current_code(gateway, secret)},
                 purpose="account", others=others)
    forger.check(b, "/account/passkeys", {"credential": '{"id": "x"}', "name": "Key"}, purpose="account",
                 others=others)
    forger.check(b, "/account/links/link-1/remove", {}, purpose="account", others=others)
    second = b.http.post("/account/totp", data={"csrf_token": gateway.gw.pages.csrf_token(browser_id(b), "account")})
    other_pending = re.search(r'action="/account/totp/([^/"]+)/confirm"', second.text).group(1)
    forger.check(b, f"/account/factors/{other_pending}/remove", {}, purpose="account", others=others)
    forger.check(b, "/account/sessions/end-all", {}, purpose="account", others=others)
    forger.check(signed_in(other.username), "/account/recovery", {}, purpose="account", others=others)
    assert len(set(forger.checked)) == 7


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the header check comes before any database access
def test_webauthn_options_need_the_header_token(gateway):
    """/webauthn/options: the token comes in X-CSRF-Token (the page's script sends it), nothing else counts."""
    forger = Forger(gateway)
    b = Browser(gateway)
    b.get("/signin")
    me = browser_id(b)
    pages = gateway.gw.pages
    before = snapshot(gateway)
    body = b'{"purpose": "login"}'
    for name, token in forger.forged_tokens(me, "webauthn", ("signin", "account", "login:x")).items():
        headers = {"content-type": "application/json"} | ({"x-csrf-token": token} if token is not None else {})
        r = b.http.post("/webauthn/options", content=body, headers=headers)
        assert r.status_code == 403 and r.json() == {"error": "csrf"}, (name, r.status_code, r.text[:200])
    # the right token in the body or the query string is not the header
    right = pages.csrf_token(me, "webauthn")
    r = b.http.post("/webauthn/options", content=f'{{"purpose": "login", "csrf_token": "{right}"}}'.encode(),
                    headers={"content-type": "application/json"})
    assert r.status_code == 403
    r = b.http.post("/webauthn/options?csrf_token=" + right, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 403
    # ...and from another browser (no cookie, or another browser's cookie) the header alone is nothing
    r = httpx.post(gateway.url + "/webauthn/options", content=body, headers={"x-csrf-token": right})
    assert r.status_code == 403
    assert snapshot(gateway) == before
    r = b.http.post("/webauthn/options", content=body, headers={"content-type": "application/json",
                                                                  "x-csrf-token": right})
    assert r.status_code == 200 and "challenge" in r.json(), r.text[:200]
    assert snapshot(gateway) != before


def _ndid_start_page(gateway) -> tuple[Browser, str]:
    """A sign-in at the NDID step (the citizen ID form); the NDID node is a port nobody listens on."""
    from providers import load_providers
    from tests.conftest import free_port

    gateway.gw.upstreams.update(load_providers(config=[{
        "name": "ndid", "type": "ndid", "display_name": {"th": "เอ็นดีไอดี", "en": "NDID"},
        "api_base": f"http://127.0.0.1:{free_port()}", "request_timeout": 60, "timeout_seconds": 1,
        "idp_id_list": ["idp-bank-a"]}]))
    reg = register(gateway)
    b = Browser(gateway)
    url, *_ = authorize_url(gateway, rp_client(gateway, reg))
    iid = _iid(b.follow(b.get(url)))
    assert 'name="citizen_id"' in b.get(f"/interaction/{iid}/upstream/ndid").text
    return b, iid


def test_the_upstream_start_form_refuses_forged_tokens(gateway):
    """/interaction/{id}/upstream/{name} POST. With the right token the NDID start is attempted,
    fails (nobody listens) and is recorded: the change the forged ones must not make."""
    forger = Forger(gateway)
    b, iid = _ndid_start_page(gateway)
    forger.check(b, f"/interaction/{iid}/upstream/ndid", {"citizen_id": CITIZEN_ID}, purpose=f"upstream:{iid}",
                 others=("webauthn", f"login:{iid}"), refused=(403,))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # a status code: no database in it
def test_the_upstream_start_form_refuses_forged_tokens_with_403(gateway):
    b, iid = _ndid_start_page(gateway)
    r = b.http.post(f"/interaction/{iid}/upstream/ndid", data={"citizen_id": CITIZEN_ID, "csrf_token": "0" * 64})
    assert r.status_code == 403, r.status_code


# -- session fixation ----------------------------------------------------------------------------------

def _has_session(gateway, reg, session_cookie: str) -> bool:
    """Does this idgw_session value alone sign a browser in? (prompt=none answers without a page)."""
    b = Browser(gateway)
    b.http.cookies.set("idgw_session", session_cookie, domain="127.0.0.1", path="/")
    url, *_ = authorize_url(gateway, rp_client(gateway, reg), prompt="none")
    return "code" in callback_params(b.get(url))


def test_a_session_cookie_planted_before_sign_in_is_replaced_and_dead(gateway):
    """Defence: a new session id at every sign-in, the previous session ended (replace_session);
    session ids are never taken from the browser. Through /authorize and through /signin."""
    victim = register(gateway)
    attacker = register(gateway)
    # the attacker's own, live session id
    _params, _s, _n, _v, _rp, a = login_flow(gateway, attacker)
    attackers = a.http.cookies["idgw_session"]
    assert _has_session(gateway, attacker, attackers)
    for planted in ("chosen-by-the-attacker-0123456789", attackers):
        b = Browser(gateway)
        b.http.cookies.set("idgw_session", planted, domain="127.0.0.1", path="/")
        url, *_ = authorize_url(gateway, rp_client(gateway, victim), prompt="login")
        after = b.login(b.follow(b.get(url)), victim.username)
        if 'value="allow"' in after.text:
            after = b.consent(after)
        assert "code" in callback_params(after)
        now = b.http.cookies["idgw_session"]
        assert now != planted
        assert not _has_session(gateway, attacker, planted), "the planted id still signs someone in"
        assert _has_session(gateway, victim, now)
    # the staff/account sign-in page too
    b = Browser(gateway)
    b.http.cookies.set("idgw_session", attackers, domain="127.0.0.1", path="/")
    page = b.get("/signin?next=/account")
    r = b.http.post("/signin?next=/account", data={**form_fields(page.text)[1], "username": victim.username,
                                                    "password": PASSWORD})
    assert r.status_code == 303
    assert b.http.cookies["idgw_session"] not in (attackers, "chosen-by-the-attacker-0123456789")
    # and the same person signing in again (prompt=login) leaves the previous id dead too
    before = b.http.cookies["idgw_session"]
    url, *_ = authorize_url(gateway, rp_client(gateway, victim), prompt="login")
    callback_params(b.login(b.follow(b.get(url)), victim.username))
    assert b.http.cookies["idgw_session"] != before and not _has_session(gateway, victim, before)
