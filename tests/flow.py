"""Helpers that act as the e-service (Authlib's OAuth 2 client) and as the citizen's browser
(httpx with a cookie jar, submitting the real HTML forms)."""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client

PASSWORD = "correct horse battery staple"
REDIRECT_URI = "https://rp.example.test/cb"
#: Where the citizen's browser leaves the gateway for an e-service (any host named rp.*).
RP_PREFIXES = ("https://rp.", "http://rp.")
POST_LOGOUT = "https://rp.example.test/bye"


@dataclass
class Registered:
    client_id: str
    client_secret: str | None
    username: str
    account_id: str


NO_IMPACT = {c: "none" for c in ("reputation", "financial", "programmes", "sensitive_information",
                                  "personal_safety", "civil_criminal")}
LEGAL_BASIS = "ทดสอบ: พ.ร.บ. การบริหารงานและการให้บริการภาครัฐผ่านระบบดิจิทัล พ.ศ. 2562 มาตรา 12"


def set_policy(gateway, client_id: str, **overrides):
    """Set the service's policy (default: a risk assessment with no impact -> IAL 1.1 / AAL 1)."""
    from idgw.assurance import PolicyInput
    from idgw.assurance import set_policy as store

    data = {"needs_verified_identity": True, "proofing_impacts": dict(NO_IMPACT), "release_citizen_id": True,
            "citizen_id_legal_basis": LEGAL_BASIS}
    data.update(overrides)
    with gateway.db() as db:
        row = store(db, client_id=client_id, data=PolicyInput(**data), actor="test-admin", now=gateway.clock.now())
        db.commit()
        return row


def register(gateway, *, auth_method="client_secret_basic", id_token_alg="ES256", scope=None, jwks=None,
             username=None, citizen_id=None, subject_type="pairwise", policy: dict | None = None,
             redirect_uris: list[str] | None = None, **client_options) -> Registered:
    """A client with a policy (default: no impact -> IAL 1.1 / AAL 1; ``policy=False`` for a client
    that has none; otherwise overrides for ``set_policy``) and a password account."""
    from idgw.admin import DEFAULT_SCOPE, add_client, add_user

    username = username or f"user{generate_token(6).lower()}"
    with gateway.db() as db:
        now = gateway.clock.now()
        new = add_client(db, name="บริการทดสอบ Test service", redirect_uris=redirect_uris or [REDIRECT_URI],
                         post_logout_redirect_uris=[POST_LOGOUT], auth_method=auth_method,
                         scope=scope or (DEFAULT_SCOPE + " citizen_id"), id_token_alg=id_token_alg, jwks=jwks,
                         subject_type=subject_type, now=now, **client_options)
        account = add_user(db, username=username, password=PASSWORD, now=now, email=f"{username}@example.test",
                           given_name="Somsri", family_name="Rakthai", given_name_th="สมศรี",
                           family_name_th="รักไทย", citizen_id=citizen_id)
        db.commit()
    if policy is not False:
        set_policy(gateway, new.client_id, **(policy or {}))
    return Registered(new.client_id, new.client_secret, username, account.id)


def rp_client(gateway, reg: Registered, **kw) -> OAuth2Client:
    method = kw.pop("token_endpoint_auth_method", None) or (
        "none" if reg.client_secret is None else "client_secret_basic")
    return OAuth2Client(client_id=reg.client_id, client_secret=reg.client_secret,
                        redirect_uri=kw.pop("redirect_uri", REDIRECT_URI),
                        scope=kw.pop("scope", "openid profile email offline_access"),
                        code_challenge_method="S256", token_endpoint_auth_method=method, **kw)


def form_fields(page: str) -> tuple[str, dict]:
    """(action, hidden inputs) of the first form on the page."""
    form = re.search(r"<form[^>]*action=\"([^\"]+)\"[^>]*>(.*?)</form>", page, re.S)
    assert form, f"no form in page: {page[:500]}"
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(2)))
    return html.unescape(form.group(1)), {k: html.unescape(v) for k, v in hidden.items()}


class Browser:
    """The citizen's browser: follows redirects inside the gateway, stops at the client."""

    def __init__(self, gateway) -> None:
        self.gateway = gateway
        self.http = httpx.Client(base_url=gateway.url, follow_redirects=False, timeout=20)

    def get(self, url: str) -> httpx.Response:
        return self.http.get(url)

    def follow(self, response: httpx.Response) -> httpx.Response:
        while response.status_code in (302, 303) and not response.headers["location"].startswith(RP_PREFIXES):
            response = self.http.get(response.headers["location"])
        return response

    def submit(self, page: httpx.Response, **fields) -> httpx.Response:
        action, hidden = form_fields(page.text)
        return self.follow(self.http.post(action, data={**hidden, **fields}))

    def login(self, page: httpx.Response, username: str, password: str = PASSWORD) -> httpx.Response:
        assert 'name="password"' in page.text, page.text[:400]
        return self.submit(page, username=username, password=password)

    def consent(self, page: httpx.Response, decision: str = "allow") -> httpx.Response:
        assert 'value="allow"' in page.text, page.text[:400]
        return self.submit(page, decision=decision)


def callback_params(response: httpx.Response) -> dict:
    assert response.status_code in (302, 303), (response.status_code, response.text[:500])
    location = response.headers["location"]
    assert location.startswith(RP_PREFIXES), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def unmet_params(page: httpx.Response) -> dict:
    """The "you cannot use this service yet" page (nothing here reaches the level): it explains
    first, and its link back to the service carries the error; returns that link's parameters."""
    assert page.status_code == 403 and 'class="needs"' in page.text, (page.status_code, page.text[:500])
    link = re.search(r'<a class="button" href="([^"]+)"', page.text)
    assert link, page.text[:800]
    location = html.unescape(link.group(1))
    assert location.startswith(RP_PREFIXES), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def raise_page(page: httpx.Response) -> dict:
    """The "raise my sign-in" page: {label: (method, action/href)} of the routes it offers."""
    assert page.status_code == 200 and 'class="needs"' in page.text, (page.status_code, page.text[:500])
    routes = {}
    for href, label in re.findall(r'<a class="button" href="([^"]+)">([^<]+)</a>', page.text):
        routes[html.unescape(label)] = ("get", html.unescape(href))
    for action, body in re.findall(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', page.text, re.S):
        label = re.search(r"<button[^>]*>([^<]+)</button>", body)
        if label and not action.endswith("/cancel"):
            routes[html.unescape(label.group(1))] = ("post", html.unescape(action))
    return routes


def authorize_url(gateway, rp: OAuth2Client, **extra) -> tuple[str, str, str, str]:
    """(url, state, nonce, code_verifier)."""
    verifier = generate_token(48)
    nonce = extra.pop("nonce", None) or generate_token(16)
    url, state = rp.create_authorization_url(gateway.url + "/authorize", code_verifier=verifier, nonce=nonce,
                                             **extra)
    return url, state, nonce, verifier


def login_flow(gateway, reg: Registered, *, browser: Browser | None = None, scope=None, **extra):
    """A whole front-channel flow: returns (callback params, state, nonce, verifier, rp, browser)."""
    rp = rp_client(gateway, reg, **({"scope": scope} if scope else {}))
    browser = browser or Browser(gateway)
    url, state, nonce, verifier = authorize_url(gateway, rp, **extra)
    page = browser.follow(browser.get(url))
    if 'name="password"' in page.text:
        page = browser.login(page, reg.username)
    if 'value="allow"' in page.text:
        page = browser.consent(page)
    return callback_params(page), state, nonce, verifier, rp, browser


def exchange(gateway, rp: OAuth2Client, code: str, verifier: str) -> dict:
    return rp.fetch_token(gateway.url + "/token", grant_type="authorization_code", code=code,
                          code_verifier=verifier)


def wait_until(predicate, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def add_service(gateway, *, like: Registered | None = None, policy: dict | None = None, **options) -> Registered:
    """Another e-service (client + default policy); ``like``: reuse that registration's account."""
    from idgw.admin import DEFAULT_SCOPE, add_client

    with gateway.db() as db:
        new = add_client(db, name="บริการที่สอง Second service", redirect_uris=options.pop("redirect_uris", None)
                         or [REDIRECT_URI], post_logout_redirect_uris=[POST_LOGOUT],
                         scope=options.pop("scope", DEFAULT_SCOPE + " citizen_id"), now=gateway.clock.now(), **options)
        db.commit()
    set_policy(gateway, new.client_id, **(policy or {}))
    return Registered(new.client_id, new.client_secret, like.username if like else "", like.account_id if like else "")


def demo_service(gateway, *, name: str = "บริการทดสอบ Test service", **policy):
    """The demo e-service (a real RP served on loopback) registered with a policy; returns (base URL,
    server); stop it with ``server.should_exit = True``."""
    import threading

    import uvicorn

    from idgw.admin import add_client
    from idgw.demo_rp import create_demo_app
    from tests.conftest import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with gateway.db() as db:
        new = add_client(db, name=name, redirect_uris=[base + "/callback"], post_logout_redirect_uris=[base + "/"],
                         now=gateway.clock.now())
        db.commit()
    set_policy(gateway, new.client_id, **policy)
    app = create_demo_app(issuer=gateway.url, client_id=new.client_id, client_secret=new.client_secret, base_url=base)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return base, server
