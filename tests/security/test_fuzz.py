"""The fuzzer in the test suite (security review: "Add the fuzzer to the test suite: schemathesis
(or hypothesis) over an OpenAPI document of the machine endpoints, plus a property-based test of
the form endpoints, bounded to fit CI, asserting no 5xx"; "every endpoint answers malformed input
with a 4xx in its own format (JSON for APIs, a page for people), and the back-channel endpoints
never return HTML").

Over real HTTP against one gateway per database (``world``), in three parts:

* **The contract** (``test_every_documented_answer_is_what_comes_back``): each status code that
  /openapi.json documents for each operation is provoked once and checked against the document
  (status, content type, headers, body schema), and the set of provoked answers must equal the
  set documented, so the document stays true in both directions.
* **schemathesis over /openapi.json** (``test_machine_endpoint_fuzz``, one test per operation):
  positive and negative generation; part of the examples carry valid credentials (the registered
  client's Basic authorization or client_secret_post fields, a fresh code with its verifier, a
  live access or refresh token, an ID token, the browser cookie with its CSRF token, a live NDID
  attempt's callback URL) so the fuzzing gets past authentication. Checked: not_a_server_error,
  status_code_conformance, content_type_conformance, response_headers_conformance,
  response_schema_conformance, and that a back-channel endpoint never answers HTML.
* **hypothesis over the forms people post** (``test_*_form_fuzz``): /authorize's parameters (query
  and form), /interaction/{id}/login, /passkey and /upstream/{name} (the NDID start),
  /interaction/{id}/consent, /signin, /logout (POST) and the account forms, with arbitrary text
  (NUL, RTL, combining marks, lone surrogates sent as their CESU bytes, very long values), repeated
  and missing fields, other media types, with and without a valid CSRF token and browser cookie;
  passkey answers also structure-aware (answers to challenges the gateway really issued, naming a
  registered passkey, each part broken in turn). Asserted: never a 5xx, a page (or a redirect
  that stays where it may go) for people, and nothing changed when the request was refused for
  its CSRF token or its media type.
* **What the fuzzer found** (the last tests): each finding as a plain regression test.

Bounds: every hypothesis run is derandomized (the same examples on every run, so CI is
deterministic) with ``MACHINE_EXAMPLES`` examples per operation and generation mode and
``FORM_EXAMPLES`` per form test (``IDGW_FUZZ_SCALE`` multiplies both for a longer run by hand).
The whole file takes about 65 s on 2 cores (90 s on a busy machine): the schemathesis part on
SQLite only (see ``DATABASES``), the rest on both databases. The fuzz world relaxes the per-IP
budgets and the password throttle (walked by tests/security/test_bad_input.py and the login
tests) so that thousands of requests from 127.0.0.1 keep reaching the code behind them.
Failures are collected, not shrunk (the server keeps state between examples), and reported
together with the request that caused each.
"""

from __future__ import annotations

import base64
import datetime
import html
import json
import os
import re
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, quote, quote_from_bytes, urlsplit

import cbor2
import httpx
import hypothesis
import pytest
import schemathesis
import yaml
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from jose import jwt as jose_jwt
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, select

from idgw.oidc.openapi import OPENAPI_PATH, openapi_document
from idgw.security import random_token
from idgw.storage.models import (
    AccountAuthenticator,
    AuditEvent,
    Consent,
    Interaction,
    LoginSession,
    RecoveryCode,
    UpstreamAttempt,
)
from idgw.web.errors import machine_path
from idgw.web.upstream import callback_lookup
from tests.conftest import start_gateway
from tests.flow import (
    PASSWORD,
    POST_LOGOUT,
    REDIRECT_URI,
    Browser,
    authorize_url,
    callback_params,
    exchange,
    login_flow,
    register,
    rp_client,
)

#: IDGW_FUZZ_SCALE=10 multiplies the examples for a longer run by hand (CI runs the default, 1).
SCALE = float(os.environ.get("IDGW_FUZZ_SCALE", "1"))
MACHINE_EXAMPLES = int(60 * SCALE)
FORM_EXAMPLES = int(80 * SCALE)
#: The contract, the form fuzz and the regressions run on both databases (PostgreSQL refuses what
#: SQLite stores: NUL in text, over-long strings); the schemathesis fuzz runs on SQLite only: on
#: both it adds about 20 s (40 s on a busy machine), past the CI budget of 60-90 s for this file.
DATABASES = ["sqlite", "postgresql"]


def bounded(max_examples: int) -> settings:
    """Derandomized (the same examples on every run), no example database, no deadline, and no
    shrinking: the server keeps state between examples, so failures are collected and reported
    with their requests instead (``Fuzzed``)."""
    return settings(max_examples=max_examples, derandomize=True, database=None, deadline=None, print_blob=False,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])


FORM = "application/x-www-form-urlencoded"
NDID_REQUEST = "req-fuzz-0001"
PASSKEY_ID = "ZnV6ei1jcmVkZW50aWFs"  # base64url("fuzz-credential")
#: The fuzz world: budgets and throttles out of the fuzzer's way (see the module docstring).
RELAXED = dict(rate_per_ip=10**6, ip_max_failures_per_window=10**6, throttle_free_attempts=10**6,
               max_failed_logins=10**6)


# -- the world ------------------------------------------------------------------------------------

class World:
    """A gateway with an NDID upstream (never contacted: callbacks only record a hint) and one open
    attempt, two registered clients (client_secret_basic and client_secret_post), a passkey of the
    first client's account, and a browser that signed in and consented, so /authorize answers it
    with a code at once."""

    def __init__(self, database_url: str, tmp) -> None:
        providers = tmp / "providers.yaml"
        providers.write_text(yaml.safe_dump({"providers": [
            {"name": "ndid", "type": "ndid", "display_name": {"th": "เอ็นดีไอดี", "en": "NDID"},
             "api_base": "http://127.0.0.1:9", "timeout_seconds": 1, "idp_id_list": ["idp-bank-a"]}]},
            allow_unicode=True))
        self.g = start_gateway(database_url, providers_file=str(providers), **RELAXED)
        self.url = self.g.url
        self.pages = self.g.gw.pages
        self.reg = register(self.g)
        self.reg_post = register(self.g, auth_method="client_secret_post")
        self.rp = rp_client(self.g, self.reg)
        _params, _s, _n, _v, _rp, self.browser = login_flow(self.g, self.reg)
        self.browser_id = self.browser.http.cookies["idgw_browser"]
        self.session_cookie = self.browser.http.cookies["idgw_session"]
        self.ndid_secret = random_token(32)
        with self.g.db() as db:
            now = self.g.clock.now()
            # A passkey of reg's account, so that answers naming it reach the assertion's verification.
            point = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
            cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: point.x.to_bytes(32, "big"), -3: point.y.to_bytes(32, "big")})
            db.add(AccountAuthenticator(id=random_token(16), account_id=self.reg.account_id, kind="webauthn",
                                        name="fuzz", created_at=now, confirmed_at=now, credential_id=PASSKEY_ID,
                                        public_key=b64url(cose), sign_count=0, discoverable=True))
            db.add(UpstreamAttempt(id=random_token(24), provider="ndid", interaction_id=None,
                                   browser_hash="0" * 64, lookup=callback_lookup("ndid", self.ndid_secret),
                                   state={"provider": "ndid", "request_id": NDID_REQUEST, "reference_id": "ref-fuzz"},
                                   created_at=now, expires_at=now + 3600))
            db.commit()

    def close(self) -> None:
        self.g.stop()
        self.g.gw.engine.dispose()

    def basic(self, reg=None) -> str:
        reg = reg or self.reg
        raw = f"{quote(reg.client_id, safe='')}:{quote(reg.client_secret, safe='')}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def code(self) -> tuple[str, str]:
        """A fresh authorization code of ``reg`` and its verifier."""
        url, _state, _nonce, verifier = authorize_url(self.g, self.rp)
        return callback_params(self.browser.http.get(url))["code"], verifier

    def tokens(self) -> dict:
        """A fresh grant of ``reg``: access, refresh and ID token."""
        code, verifier = self.code()
        return exchange(self.g, self.rp, code, verifier)

    def count(self, model, *where) -> int:
        with self.g.db() as db:
            return db.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture(scope="module", params=DATABASES)
def world(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp}/idgw.db"
    else:
        url = request.getfixturevalue("postgres").create_database()
    w = World(url, tmp)
    yield w
    w.close()


# -- hostile text ---------------------------------------------------------------------------------

SPECIAL = [
    "\x00", "\x01", "\x7f", "\u202e", "\u200f", "\u061c", "العربية", "עברית", "e\u0301", "ก\u0e34\u0e4a",
    "\u0301" * 64, "\ufeff", "\ud800", "\udfff", "\U0010ffff", "\ufffd", "\u2028", "%00", "%ff", "%", "&", "=",
    "+", ";", "\r\n", "\n", "\t", " ", "'", '"', "<script>", "\\", "/", "../", "//evil.test", "https://evil.test/",
    "javascript:alert(1)", "{", "[", "null", "0", "-1", "1e309", "9" * 40, "ก" * 3000, "x" * 40_000,
]
hostile = st.lists(st.one_of(st.text(max_size=12), st.sampled_from(SPECIAL)), max_size=4).map("".join)


def encode(text: str, *, raw: bool = False) -> bytes:
    """Text as bytes on the wire: percent-encoded UTF-8 (``raw``: unescaped), lone surrogates as
    their CESU-8 bytes (not UTF-8: the gateway must refuse them, not fail on them)."""
    data = text.encode("utf-8", "surrogatepass")
    return data if raw else quote_from_bytes(data, safe="").encode()


def form_body(fields: list[tuple[str, str]], *, raw: bool = False) -> bytes:
    return b"&".join(encode(k, raw=raw) + b"=" + encode(v, raw=raw) for k, v in fields)


MEDIA_TYPES = [FORM] * 8 + [FORM + "; charset=UTF-8", FORM + "; charset=latin-1", "text/plain",
                            "multipart/form-data; boundary=x", "application/json", None]


@st.composite
def fields_of(draw, known: dict[str, st.SearchStrategy]) -> list[tuple[str, str]]:
    """Each known field missing, once or repeated, with a useful or a hostile value; then a few
    fields of any name; in any order."""
    out = []
    for name, useful in known.items():
        for _ in range(draw(st.sampled_from([0, 1, 1, 1, 1, 2]))):
            out.append((name, draw(st.one_of(useful, useful, hostile))))
    out += draw(st.lists(st.tuples(hostile.filter(lambda k: k != "csrf_token"), hostile), max_size=2))
    return draw(st.permutations(out))


#: (browser cookie, CSRF token values in order): the last value counts; valid only with the own cookie.
CSRF_PLANS = st.tuples(st.sampled_from(["own", "own", "own", "none", "forged", "other"]),
                       st.lists(st.sampled_from(["valid", "valid", "wrong", "other-purpose"]), max_size=2))


class Fuzzed:
    """Collects what the properties found, so that one run reports every distinct failure."""

    def __init__(self) -> None:
        self.failures: dict[str, str] = {}  # the first example of each kind
        self.counts: dict[str, int] = {}

    def check(self, ok: bool, what: str, detail: str) -> None:
        if not ok:
            # lone surrogates (decoded from the fuzzed bytes) would break pytest's report
            what, detail = (text.encode("utf-8", "backslashreplace").decode() for text in (what, detail))
            self.failures.setdefault(what, detail)
            self.counts[what] = self.counts.get(what, 0) + 1

    def assert_none(self) -> None:
        assert not self.failures, "\n\n".join(f"{k} ({self.counts[k]} examples), the first:\n{v}"
                                                for k, v in self.failures.items())


def describe(response: httpx.Response) -> str:
    request = response.request
    body = request.content[:300] if request.content else b""
    return (f"{request.method} {str(request.url)[:400]} cookie={request.headers.get('cookie', '')[:200]!r} "
            f"content-type={request.headers.get('content-type')!r} body={body!r}... -> {response.status_code} "
            f"{response.headers.get('content-type')} {response.headers.get('location', '')[:200]} "
            f"{response.text[:300]!r}")


def people_answer(fuzzed: Fuzzed, response: httpx.Response | None, *, where: Callable[[str], bool]) -> bool:
    """A page for people: never a 5xx; a page (text/html) unless a redirect, and a redirect only
    to where ``where(location)`` allows. False when there was no response (already recorded)."""
    if response is None:
        return False
    status = response.status_code
    fuzzed.check(status < 500, f"5xx {status} {response.request.url.path[:60]}", describe(response))
    if status in (301, 302, 303, 307, 308):
        location = response.headers.get("location", "")
        fuzzed.check(where(location), f"redirect to {location[:80]}", describe(response))
    else:
        kind = response.headers.get("content-type", "")
        fuzzed.check(kind.startswith("text/html"), f"not a page: {status} {kind}", describe(response))
    return True


def local(location: str) -> bool:
    return location.startswith("/") and not location.startswith("//") and "\\" not in location


def cookie_header(world: World, plan: str, *, session: str | None = None, browser_id: str | None = None) -> str:
    own = browser_id or world.browser_id
    value = {"own": own, "none": None, "forged": "forged" + own[6:], "other": world.pages.browser_ids.new()}[plan]
    parts = ([f"idgw_browser={value}"] if value else []) + ([f"idgw_session={session}"] if session else [])
    return "; ".join(parts)


def csrf_fields(world: World, plan, purpose: str, *, browser_id: str | None = None) -> tuple[list, bool]:
    """The csrf_token fields of a plan, and whether the gateway should accept them."""
    cookie, values = plan
    own = browser_id or world.browser_id
    tokens = {"valid": world.pages.csrf_token(own, purpose), "wrong": "0" * 64,
              "other-purpose": world.pages.csrf_token(own, purpose + "-not")}
    fields = [("csrf_token", tokens[v]) for v in values]
    return fields, cookie == "own" and bool(values) and values[-1] == "valid"


def send(fuzzed: Fuzzed, http: httpx.Client, method: str, url: str, **kw) -> httpx.Response | None:
    """The response, or None (recorded as a finding) when the server dropped the connection."""
    http.cookies.clear()  # only the cookies the example sends
    try:
        return http.request(method, url, **kw)
    except httpx.TransportError as exc:
        fuzzed.check(False, f"connection dropped: {type(exc).__name__}", f"{method} {url[:200]}: {exc!r}")
        return None


def unreadable(media_type: str | None) -> bool:
    """Whether page forms of this media type are refused (415) before anything else is looked at."""
    return media_type is None or not media_type.lower().startswith(FORM) or "latin" in media_type


def post_form(fuzzed: Fuzzed, http: httpx.Client, url: str, fields, *, raw: bool, media_type: str | None,
              cookie: str, query: str = "") -> httpx.Response | None:
    headers = {"cookie": cookie} if cookie else {}
    if media_type:
        headers["content-type"] = media_type
    return send(fuzzed, http, "POST", url + (("?" + query[:60_000]) if query else ""),  # httpx's limit on a URL
                content=form_body(fields, raw=raw), headers=headers)


# -- the contract ---------------------------------------------------------------------------------

CONTRACT_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
                   response_headers_conformance, response_schema_conformance]


def stall(url: str, path: str, *, content_type: str, headers: str = "") -> httpx.Response:
    """A POST whose body never comes (Content-Length 10, nothing sent): the answer, as a response."""
    split = urlsplit(url)
    with socket.create_connection((split.hostname, split.port), timeout=30) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: {split.netloc}\r\nContent-Type: {content_type}\r\n{headers}"
                  f"Content-Length: 10\r\n\r\n".encode())
        data = b""
        while True:
            head, sep, body = data.partition(b"\r\n\r\n")
            length = re.search(rb"(?im)^content-length: *([0-9]+)", head)
            if sep and len(body) >= (int(length.group(1)) if length else 0):
                break
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    lines = head.decode("latin-1").split("\r\n")
    fields = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
    response = httpx.Response(int(lines[0].split()[1]), headers=fields, content=body,
                              request=httpx.Request("POST", url + path))
    response.elapsed = datetime.timedelta(0)
    return response


def test_every_documented_answer_is_what_comes_back(world, tmp_path):
    # from_dict of the served document: from_url leaves out the document's own path.
    schema = schemathesis.openapi.from_dict(httpx.get(world.url + OPENAPI_PATH).json())
    documented = {(op.method.upper() + " " + op.path, int(code))
                  for op in (r.ok() for r in schema.get_all_operations())
                  for code in op.definition.raw["responses"]}
    u, reg = world.url, world.reg
    tiny = start_gateway(f"sqlite:///{tmp_path}/tiny.db", rate_per_ip=1, body_timeout=1,
                         providers_file=world.g.gw.settings.providers_file)
    try:
        t = tiny.url
        tiny_browser = httpx.get(t + "/signin").cookies["idgw_browser"]
        tiny_reg = register(tiny)
        tiny_query = authorize_url(tiny, rp_client(tiny, tiny_reg))[0].split("?", 1)[1]
        query = authorize_url(world.g, world.rp)[0].split("?", 1)[1]
        authorize_form = dict(parse_qs(query))
        authorize_form = {k: v[0] for k, v in authorize_form.items()}
        tokens = world.tokens()
        webauthn = {"cookie": f"idgw_browser={world.browser_id}",
                    "x-csrf-token": world.pages.csrf_token(world.browser_id, "webauthn")}
        tiny_webauthn = {"cookie": f"idgw_browser={tiny_browser}",
                         "x-csrf-token": tiny.gw.pages.csrf_token(tiny_browser, "webauthn")}
        ndid = f"/upstream/ndid/ndid-callback/{world.ndid_secret}"
        basic = {"authorization": world.basic()}
        big = {"x": "y" * 70_000}

        def code_form():
            code, verifier = world.code()
            return {"grant_type": "authorization_code", "code": code, "code_verifier": verifier,
                    "redirect_uri": REDIRECT_URI}

        def twice(send):
            send()
            return send()

        recipes: dict[tuple[str, int], Callable[[], httpx.Response]] = {
            ("GET /.well-known/openid-configuration", 200): lambda: httpx.get(u + "/.well-known/openid-configuration"),
            ("GET /jwks.json", 200): lambda: httpx.get(u + "/jwks.json"),
            ("GET /openapi.json", 200): lambda: httpx.get(u + OPENAPI_PATH),
            ("GET /authorize", 200): lambda: httpx.get(u + "/authorize?" + query),
            ("GET /authorize", 302): lambda: httpx.get(u + "/authorize?" + query + "&prompt=none"),
            ("GET /authorize", 400): lambda: httpx.get(u + "/authorize?client_id=nobody&response_type=code"),
            ("GET /authorize", 429): lambda: twice(lambda: httpx.get(t + "/authorize?" + tiny_query)),
            ("POST /authorize", 200): lambda: httpx.post(u + "/authorize", data=authorize_form),
            ("POST /authorize", 302): lambda: httpx.post(u + "/authorize", data={**authorize_form, "prompt": "none"}),
            ("POST /authorize", 400): lambda: httpx.post(u + "/authorize", data={"client_id": "nobody"}),
            ("POST /authorize", 413): lambda: httpx.post(u + "/authorize", data=big),
            ("POST /authorize", 429): lambda: twice(lambda: httpx.post(t + "/authorize", content=tiny_query,
                                                                       headers={"content-type": FORM})),
            ("POST /token", 200): lambda: httpx.post(u + "/token", data=code_form(), headers=basic),
            ("POST /token", 400): lambda: httpx.post(u + "/token", data={"grant_type": "refresh_token",
                                                                        "refresh_token": "x"}, headers=basic),
            ("POST /token", 401): lambda: httpx.post(u + "/token", data=code_form(), auth=(reg.client_id, "wrong")),
            ("POST /token", 408): lambda: stall(t, "/token", content_type=FORM),
            ("POST /token", 413): lambda: httpx.post(u + "/token", data=big, headers=basic),
            ("POST /introspect", 200): lambda: httpx.post(u + "/introspect", data={"token": tokens["access_token"]},
                                                          headers=basic),
            ("POST /introspect", 400): lambda: httpx.post(u + "/introspect", data={}, headers=basic),
            ("POST /introspect", 401): lambda: httpx.post(u + "/introspect", data={"token": "x"},
                                                          auth=(reg.client_id, "wrong")),
            ("POST /introspect", 408): lambda: stall(t, "/introspect", content_type=FORM),
            ("POST /introspect", 413): lambda: httpx.post(u + "/introspect", data=big, headers=basic),
            ("POST /revoke", 200): lambda: httpx.post(u + "/revoke", data={"token": "unknown"}, headers=basic),
            ("POST /revoke", 400): lambda: httpx.post(u + "/revoke", data={"token_type_hint": "x"}, headers=basic),
            ("POST /revoke", 401): lambda: httpx.post(u + "/revoke", data={"token": "x"},
                                                      auth=(reg.client_id, "wrong")),
            ("POST /revoke", 408): lambda: stall(t, "/revoke", content_type=FORM),
            ("POST /revoke", 413): lambda: httpx.post(u + "/revoke", data=big, headers=basic),
            ("GET /userinfo", 200): lambda: httpx.get(u + "/userinfo",
                                                      headers={"authorization": "Bearer " + tokens["access_token"]}),
            ("GET /userinfo", 400): lambda: httpx.get(u + "/userinfo", headers=basic),
            ("GET /userinfo", 401): lambda: httpx.get(u + "/userinfo"),
            ("POST /userinfo", 200): lambda: httpx.post(u + "/userinfo",
                                                        headers={"authorization": "Bearer " + tokens["access_token"]}),
            ("POST /userinfo", 400): lambda: httpx.post(u + "/userinfo", headers=basic),
            ("POST /userinfo", 401): lambda: httpx.post(u + "/userinfo", headers={"authorization": "Bearer x.y.z"}),
            ("GET /logout", 200): lambda: httpx.get(u + "/logout"),
            ("GET /logout", 302): lambda: httpx.get(u + "/logout", params={
                "client_id": reg.client_id, "post_logout_redirect_uri": POST_LOGOUT, "state": "s"}),
            ("GET /logout", 400): lambda: httpx.get(u + "/logout", params={"id_token_hint": "x"}),
            ("POST /webauthn/options", 200): lambda: httpx.post(u + "/webauthn/options", json={"purpose": "login"},
                                                                headers=webauthn),
            ("POST /webauthn/options", 400): lambda: httpx.post(u + "/webauthn/options", json={"purpose": "x"},
                                                                headers=webauthn),
            ("POST /webauthn/options", 401): lambda: httpx.post(u + "/webauthn/options", json={"purpose": "stepup"},
                                                                headers=webauthn),
            ("POST /webauthn/options", 403): lambda: httpx.post(u + "/webauthn/options", json={"purpose": "login"}),
            ("POST /webauthn/options", 408): lambda: stall(
                t, "/webauthn/options", content_type="application/json",
                headers="".join(f"{k}: {v}\r\n" for k, v in tiny_webauthn.items())),
            ("POST /webauthn/options", 413): lambda: httpx.post(u + "/webauthn/options", json=big, headers=webauthn),
            ("POST /webauthn/options", 429): lambda: twice(lambda: httpx.post(
                t + "/webauthn/options", json={"purpose": "login"}, headers=tiny_webauthn)),
            ("POST /upstream/{name}/ndid-callback/{secret}", 204): lambda: httpx.post(
                u + ndid, json={"request_id": NDID_REQUEST, "type": "request_status", "status": "pending"}),
            ("POST /upstream/{name}/ndid-callback/{secret}", 400): lambda: httpx.post(
                u + ndid, json={"request_id": "another"}),
            ("POST /upstream/{name}/ndid-callback/{secret}", 404): lambda: httpx.post(
                u + f"/upstream/thaid/ndid-callback/{world.ndid_secret}", json={}),
            ("POST /upstream/{name}/ndid-callback/{secret}", 408): lambda: stall(
                t, ndid, content_type="application/json"),
            ("POST /upstream/{name}/ndid-callback/{secret}", 409): lambda: httpx.post(
                u + "/upstream/ndid/ndid-callback/" + "x" * 40, json={}),
            ("POST /upstream/{name}/ndid-callback/{secret}", 413): lambda: httpx.post(u + ndid, json=big),
        }
        assert set(recipes) == documented, (
            f"documented but not provoked: {sorted(documented - set(recipes))}; "
            f"provoked but not documented: {sorted(set(recipes) - documented)}")
        with ThreadPoolExecutor(8) as pool:  # the stalled uploads wait IDGW_BODY_TIMEOUT each: together
            stalled = {key: pool.submit(send) for key, send in recipes.items() if key[1] == 408}
        for (label, status), send in sorted(recipes.items()):
            method, path = label.split(" ", 1)
            response = stalled[label, status].result() if (label, status) in stalled else send()
            assert response.status_code == status, (label, status, describe(response))
            case = schema[path][method].Case(path_parameters={"name": "ndid", "secret": "x" * 20} if "{" in path
                                             else None)
            case.validate_response(response, checks=CONTRACT_CHECKS)
            if machine_path(response.request.url.path) and label.split(" ")[1] not in ("/authorize", "/logout"):
                assert not response.headers.get("content-type", "").startswith("text/html"), label
    finally:
        tiny.stop()
        tiny.gw.engine.dispose()


# -- schemathesis over /openapi.json ----------------------------------------------------------------

def never_html_from_machines(ctx, response, case):
    """Back-channel endpoints answer JSON, never a page (only a browser's entry and exit may)."""
    if case.operation.path in ("/authorize", "/logout"):
        return None
    kind = " ".join(response.headers.get("content-type", []))
    assert not kind.startswith("text/html"), f"{case.operation.label} answered {response.status_code} {kind}"
    return None


MACHINE_CHECKS = [*CONTRACT_CHECKS, never_html_from_machines]
_DOCUMENT = openapi_document(issuer="http://127.0.0.1", https=False)
#: Every operation of the document but the document itself (schemathesis.openapi.from_url leaves it out).
OPERATIONS = [f"{method.upper()} {path}" for path, item in _DOCUMENT["paths"].items() for method in item
              if path != OPENAPI_PATH]
#: Credentials given to part of the examples (the first plan, "generated", sends them as generated).
PLANS = {
    "POST /token": ["generated", "basic", "post", "basic+code", "basic+code+verifier", "basic+refresh",
                    "post+refresh"],
    "POST /introspect": ["generated", "basic", "basic+access", "basic+refresh", "post+access"],
    "POST /revoke": ["generated", "basic", "basic+access", "basic+refresh", "post+access"],
    "GET /userinfo": ["generated", "bearer", "bearer", "bearer-id-token"],
    "POST /userinfo": ["generated", "bearer", "bearer", "bearer-id-token"],
    "GET /authorize": ["generated", "client", "client+session", "client+session"],
    "POST /authorize": ["generated", "client", "client+session", "client+session"],
    "GET /logout": ["generated", "hint", "hint+post_logout", "client+post_logout"],
    "POST /webauthn/options": ["generated", "browser", "browser+session", "browser+session"],
    "POST /upstream/{name}/ndid-callback/{secret}": ["generated", "attempt", "attempt+request"],
}


def give_credentials(world: World, case, plan: str, kept: dict) -> None:
    """Put the plan's real credentials into a generated case (``kept``: tokens minted once per test
    for the endpoints that do not use them up)."""
    label = case.operation.label
    form = case.body if isinstance(case.body, dict) else None
    parts = set(plan.split("+"))
    if "basic" in parts:
        case.headers["Authorization"] = world.basic()
    if "post" in parts and form is not None:
        form.update(client_id=world.reg_post.client_id, client_secret=world.reg_post.client_secret)
    if label == "POST /token" and form is not None:
        if parts & {"verifier", "refresh"} and "basic" in parts:
            # a request that should succeed: only the plan's client authentication
            for name in ("client_id", "client_secret", "client_assertion", "client_assertion_type"):
                form.pop(name, None)
        if "code" in parts:
            code, verifier = world.code()
            form.update(grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI)
            if "verifier" in parts:
                form["code_verifier"] = verifier
        if "refresh" in parts:
            form.update(grant_type="refresh_token", refresh_token=world.tokens()["refresh_token"])
    if label in ("POST /introspect", "POST /revoke") and form is not None and parts & {"access", "refresh"}:
        form["token"] = world.tokens()["access_token" if "access" in parts else "refresh_token"]
    if plan.startswith("bearer"):
        case.headers["Authorization"] = "Bearer " + kept["id_token" if plan == "bearer-id-token" else "access_token"]
    if label.endswith("/authorize") and "client" in parts:
        params = case.query if case.method == "GET" else form
        if params is not None:
            scope = params.get("scope")
            params.update(client_id=world.reg.client_id, redirect_uri=REDIRECT_URI, response_type="code",
                          code_challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method="S256",
                          scope="openid " + (scope if isinstance(scope, str) else ""))
        if "session" in parts:
            case.cookies.update(idgw_browser=world.browser_id, idgw_session=world.session_cookie)
    if label == "GET /logout":
        if "hint" in parts:
            case.query["id_token_hint"] = kept["id_token"]
        if "client" in parts:
            case.query["client_id"] = world.reg.client_id
        if "post_logout" in parts:
            case.query["post_logout_redirect_uri"] = POST_LOGOUT
    if label == "POST /webauthn/options" and "browser" in parts:
        case.cookies["idgw_browser"] = world.browser_id
        case.headers["X-CSRF-Token"] = world.pages.csrf_token(world.browser_id, "webauthn")
        if "session" in parts:
            case.cookies["idgw_session"] = world.session_cookie
    if label.endswith("ndid-callback/{secret}") and "attempt" in parts:
        case.path_parameters.update(name="ndid", secret=world.ndid_secret)
        if "request" in parts and form is not None:
            form["request_id"] = NDID_REQUEST


@pytest.mark.parametrize("world", ["sqlite"], indirect=True)  # see DATABASES
@pytest.mark.parametrize("label", OPERATIONS)
def test_machine_endpoint_fuzz(world, label):
    schema = schemathesis.openapi.from_url(world.url + OPENAPI_PATH)
    method, path = label.split(" ", 1)
    operation = schema[path][method]
    kept = world.tokens()
    fuzzed = Fuzzed()
    plans = PLANS.get(label, ["generated"])

    def run(mode: GenerationMode) -> None:
        @bounded(MACHINE_EXAMPLES)
        @given(case=operation.as_strategy(generation_mode=mode), plan=st.sampled_from(plans))
        def fuzz(case, plan):
            if case.query is None:
                case.query = {}
            give_credentials(world, case, plan, kept)
            try:
                response = case.call(base_url=world.url, timeout=30, allow_redirects=False)
            except Exception as exc:  # noqa: BLE001 - a dropped connection is a finding too
                fuzzed.check(False, f"{label} {mode.value}: {type(exc).__name__}", f"{plan}: {exc}"[:2000])
                return
            try:
                case.validate_response(response, checks=MACHINE_CHECKS)
            except FailureGroup as group:
                titles = ", ".join(sorted({f.title for f in group.exceptions}))
                fuzzed.check(False, f"{label} {mode.value} {response.status_code}: {titles} ({plan})",
                             str(group)[:3000])

        try:
            fuzz()
        except hypothesis.errors.Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing to negate (no parameters, no body)

    run(GenerationMode.POSITIVE)
    run(GenerationMode.NEGATIVE)
    fuzzed.assert_none()


# -- hypothesis over the forms people post ----------------------------------------------------------

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def page_form(page: str) -> tuple[str, str]:
    """(action, csrf_token) of the page's first form with a CSRF token."""
    action = re.search(r'<form[^>]*action="([^"]+)"', page).group(1)
    return html.unescape(action), re.search(r'name="csrf_token" value="([^"]*)"', page).group(1)


def path_segment(value: str) -> str:
    return quote_from_bytes(value.encode("utf-8", "surrogatepass"), safe="")


#: What a passkey page could post as ``credential`` (JSON text), besides arbitrary text: the
#: structure the gateway reads (rawId, response.clientDataJSON and its challenge), broken in turn.
CREDENTIALS = [
    "{}", "[]", "null", '{"rawId": 1}', '{"rawId": "x"}', '{"rawId": "x", "response": "x"}',
    '{"rawId": "x", "response": {"clientDataJSON": 5}}', '{"rawId": "x", "response": {"clientDataJSON": "!!"}}',
    '{"rawId": "x", "response": {"clientDataJSON": "' + b64url(b"\xff\xfe") + '"}}',
    '{"rawId": "x", "response": {"clientDataJSON": "' + b64url(b"[1]") + '"}}',
    '{"rawId": "x", "response": {"clientDataJSON": "' + b64url(b'{"challenge": 7}') + '"}}',
    '{"rawId": "x", "response": {"clientDataJSON": "' + b64url(b"[" * 5000 + b"]" * 5000) + '"}}',
    "[" * 20 + "]" * 20,
]


def challenge_answer(world: World, browser_id: str, purpose: str, *, session: str | None = None,
                     raw_id: str = PASSKEY_ID, kind: str = "webauthn.get", origin: str | None = None,
                     blob: object = "", client_data: bytes | None = None, extensions: object = None,
                     **members: object) -> str:
    """A credential answering a challenge the gateway really issued to this browser (so the request
    gets past the challenge lookup), the rest as given (``blob``: every binary member of
    ``response`` not in ``members``)."""
    answer = httpx.post(world.url + "/webauthn/options", json={"purpose": purpose},
                        headers={"cookie": f"idgw_browser={browser_id}" + (f"; idgw_session={session}" if session
                                                                           else ""),
                                 "x-csrf-token": world.pages.csrf_token(browser_id, "webauthn")})
    challenge = answer.json().get("challenge", "") if answer.status_code == 200 else ""
    client_data = client_data or json.dumps({"type": kind, "challenge": challenge,
                                             "origin": world.url if origin is None else origin}).encode()
    return json.dumps({"id": raw_id, "rawId": raw_id, "type": "public-key",
                       "response": {"clientDataJSON": b64url(client_data), "authenticatorData": blob,
                                    "signature": blob, "userHandle": blob, "attestationObject": blob,
                                    "transports": ["usb"], **members},
                       "clientExtensionResults": extensions or {}})


@st.composite
def real_challenge_credential(draw, world: World, purpose: str, who: Callable[[], tuple[str, str | None]]) -> str:
    """``challenge_answer`` with arbitrary parts; ``who()``: the browser id and session (if any) now."""
    browser_id, session = who()
    blobs = st.sampled_from(["", b64url(b"\x00" * 37), b64url(b"\xff" * 300), 5, None]) | hostile
    return challenge_answer(
        world, browser_id, purpose, session=session,
        raw_id=draw(st.sampled_from([PASSKEY_ID, PASSKEY_ID, "\x00", "a+b/c=", "x" * 2000]) | hostile),
        kind=draw(st.sampled_from(["webauthn.get", "webauthn.create"]) | hostile),
        origin=draw(st.sampled_from([world.url, "https://evil.test"]) | hostile), blob=draw(blobs),
        extensions=draw(st.sampled_from([{}, {"credProps": {"rk": True}}, {"credProps": "x"}])),
        **draw(st.dictionaries(st.sampled_from(["authenticatorData", "signature", "userHandle", "attestationObject",
                                                "transports"]), blobs, max_size=3)))


def seeded_credentials(world: World, browser_id: str, purpose: str, session: str | None = None) -> list[str]:
    """The seeded credentials and answers to real challenges that break one thing each: tried once
    every run, whatever the random examples draw."""
    def real(**kw):
        return lambda: challenge_answer(world, browser_id, purpose, session=session, **kw)

    return [*(lambda c=c: c for c in CREDENTIALS),
            real(raw_id="\x00"), real(raw_id="x" * 2000), real(raw_id="a+b/c="), real(blob=b64url(b"\xff" * 300)),
            real(blob=5), real(kind="x"), real(origin="https://evil.test"),
            real(client_data=b"[" * 3000 + b"]" * 3000), real(extensions={"credProps": "x"}),
            real(blob=b64url(b"\x00" * 37), userHandle="ก"), real(blob=b64url(b"\x00" * 37), userHandle="a=b")]


def test_authorize_form_fuzz(world):
    useful = {
        "response_type": st.sampled_from(["code", "code id_token", "token"]),
        "client_id": st.sampled_from([world.reg.client_id, world.reg_post.client_id]),
        "redirect_uri": st.sampled_from([REDIRECT_URI, REDIRECT_URI + "/x", "https://evil.test/cb"]),
        "scope": st.sampled_from(["openid", "openid profile email offline_access citizen_id", "profile"]),
        "state": st.sampled_from(["s", "s" * 1025]),
        "nonce": st.just("n"),
        "code_challenge": st.sampled_from([CHALLENGE, "short"]),
        "code_challenge_method": st.sampled_from(["S256", "plain"]),
        "prompt": st.sampled_from(["none", "login", "consent", "login consent", "select_account"]),
        "max_age": st.sampled_from(["0", "600", "999999999", "1e3", "٣"]),
        "login_hint": st.just(world.reg.username),
        "ui_locales": st.sampled_from(["th", "en", "en th", "fr"]),
        "acr_values": st.sampled_from(["urn:idgw:aal:1", "urn:idgw:aal:2.1 urn:idgw:ial:2.1", "urn:idgw:aal:9"]),
        "claims": st.sampled_from([
            '{"id_token":{"acr":{"essential":true,"values":["urn:idgw:aal:1"]}}}', '{"id_token":{"acr":null}}',
            '{"userinfo":{"verified_claims":{"verification":{"trust_framework":null},"claims":{"given_name":null}}}}',
            '{"id_token":{"acr":{"essential":true}}}', '{"id_token":{"x\\u0000":null}}', "[]", "{" * 10]),
        "response_mode": st.sampled_from(["query", "fragment", "form_post"]),
        "request": st.just("eyJhbGciOiJub25lIn0.e30."),
        "request_uri": st.just("https://evil.test/r"),
    }
    fuzzed = Fuzzed()
    sessions = world.count(LoginSession)

    @bounded(FORM_EXAMPLES)
    @given(fields=fields_of(useful), method=st.sampled_from(["GET", "GET", "POST"]),
           cookies=st.sampled_from(["none", "browser", "session", "forged"]), media_type=st.sampled_from(MEDIA_TYPES),
           raw=st.booleans())
    def fuzz(fields, method, cookies, media_type, raw):
        cookie = {"none": "", "browser": f"idgw_browser={world.browser_id}", "forged": "idgw_browser=forged.x",
                  "session": f"idgw_browser={world.browser_id}; idgw_session={world.session_cookie}"}[cookies]
        before = world.count(Interaction)
        with httpx.Client(timeout=30) as http:
            if method == "GET":
                query = form_body(fields).decode()[:60_000]  # httpx's limit on a URL
                response = send(fuzzed, http, "GET", world.url + "/authorize?" + query,
                                headers={"cookie": cookie} if cookie else {})
            else:
                response = post_form(fuzzed, http, world.url + "/authorize", fields, raw=raw, media_type=media_type,
                                     cookie=cookie)
        # Back to the registered redirect URI only, never anywhere a request names.
        if not people_answer(fuzzed, response, where=lambda loc: loc.startswith(REDIRECT_URI + "?")):
            return
        if response.status_code != 200:
            fuzzed.check(world.count(Interaction) == before, "a refused or answered request kept an interaction",
                         describe(response))

    fuzz()
    fuzzed.check(world.count(LoginSession) == sessions, "/authorize created a session", "")
    fuzzed.assert_none()


def test_login_form_fuzz(world):
    """/interaction/{id}/login (username and password), /interaction/{id}/passkey (usernameless) and
    /interaction/{id}/upstream/{name} (the NDID start: a citizen ID; the node is unreachable here)."""
    reg = register(world.g)
    browser = Browser(world.g)
    page = browser.follow(browser.get(authorize_url(world.g, rp_client(world.g, reg))[0]))
    iid = re.search(r"/interaction/([^/\"]+)/login", page.text).group(1)
    browser_id = browser.http.cookies["idgw_browser"]
    useful = {"username": st.just(reg.username), "password": st.just(PASSWORD),
              "credential": st.sampled_from(CREDENTIALS) | real_challenge_credential(
                  world, "login", lambda: (browser_id, None)),
              "citizen_id": st.sampled_from(["1345951597671", "1-3459-51597-67-1", "1345951597670"])}
    fuzzed = Fuzzed()
    with httpx.Client(timeout=30) as http:
        for credential in seeded_credentials(world, browser_id, "login"):
            tokens, _ok = csrf_fields(world, ("own", ["valid"]), f"login:{iid}", browser_id=browser_id)
            response = post_form(fuzzed, http, f"{world.url}/interaction/{iid}/passkey",
                                 [("credential", credential()), *tokens], raw=False, media_type=FORM,
                                 cookie=f"idgw_browser={browser_id}")
            people_answer(fuzzed, response, where=lambda loc: loc == f"/interaction/{iid}")

    @bounded(FORM_EXAMPLES)
    @given(target=st.sampled_from(["login", "login", "passkey", "upstream/ndid", "upstream/thaid"]),
           iid_plan=st.sampled_from(["real"] * 5 + ["other"]), other=hostile, fields=fields_of(useful), plan=CSRF_PLANS,
           media_type=st.sampled_from(MEDIA_TYPES), raw=st.booleans())
    def fuzz(target, iid_plan, other, fields, plan, media_type, raw):
        at = iid if iid_plan == "real" else path_segment(other)
        purpose = f"upstream:{iid}" if target.startswith("upstream") else f"login:{iid}"
        tokens, csrf_ok = csrf_fields(world, plan, purpose, browser_id=browser_id)
        refused = not (csrf_ok and iid_plan == "real") or unreadable(media_type)
        before = (world.count(LoginSession), world.count(AuditEvent))
        with httpx.Client(timeout=30) as http:
            response = post_form(fuzzed, http, f"{world.url}/interaction/{at}/{target}", fields + tokens, raw=raw,
                                 media_type=media_type, cookie=cookie_header(world, plan[0], browser_id=browser_id))
        if not people_answer(fuzzed, response, where=lambda loc: loc == f"/interaction/{iid}"):
            return
        if refused:
            fuzzed.check((world.count(LoginSession), world.count(AuditEvent)) == before,
                         "a refused sign-in changed sessions or the audit log", describe(response))

    fuzz()
    fuzzed.assert_none()


def test_consent_form_fuzz(world):
    reg = register(world.g)
    browser = Browser(world.g)
    rp = rp_client(world.g, reg)
    browser.login(browser.follow(browser.get(authorize_url(world.g, rp)[0])), reg.username)
    browser_id = browser.http.cookies["idgw_browser"]
    session = browser.http.cookies["idgw_session"]
    fuzzed = Fuzzed()

    @bounded(FORM_EXAMPLES)
    @given(iid_plan=st.sampled_from(["real"] * 5 + ["other"]), other=hostile,
           fields=fields_of({"decision": st.sampled_from(["allow", "deny"])}), plan=CSRF_PLANS,
           media_type=st.sampled_from(MEDIA_TYPES), raw=st.booleans())
    def fuzz(iid_plan, other, fields, plan, media_type, raw):
        page = browser.follow(browser.get(authorize_url(world.g, rp)[0]))
        assert 'value="allow"' in page.text, page.text[:300]
        iid = re.search(r"/interaction/([^/\"]+)/consent", page.text).group(1)
        at = iid if iid_plan == "real" else path_segment(other)
        tokens, csrf_ok = csrf_fields(world, plan, f"consent:{iid}", browser_id=browser_id)
        refused = not (csrf_ok and iid_plan == "real") or unreadable(media_type)
        with httpx.Client(timeout=30) as http:
            response = post_form(fuzzed, http, f"{world.url}/interaction/{at}/consent", fields + tokens, raw=raw,
                                 media_type=media_type,
                                 cookie=cookie_header(world, plan[0], session=session, browser_id=browser_id))
        back = (REDIRECT_URI + "?", f"/interaction/{iid}")
        if not people_answer(fuzzed, response, where=lambda loc: loc.startswith(back)):
            return
        consents = world.count(Consent, Consent.client_id == reg.client_id)
        with world.g.db() as db:
            completed = db.get(Interaction, iid).completed_at
        if refused:
            fuzzed.check(consents == 0 and completed is None, "a refused consent changed something",
                         describe(response))
        if consents:
            with world.g.db() as db:  # ask again next time
                db.query(Consent).filter(Consent.client_id == reg.client_id).delete()
                db.commit()

    fuzz()
    fuzzed.assert_none()


def test_signin_form_fuzz(world):
    reg = register(world.g)
    browser_id = httpx.get(world.url + "/signin").cookies["idgw_browser"]
    fuzzed = Fuzzed()

    @bounded(FORM_EXAMPLES)
    @given(next_path=st.sampled_from(["/account", "/admin/services", "//evil.test", "https://evil.test", "/\\evil.test",
                                      "/%2F%2Fevil.test", ""]) | hostile,
           fields=fields_of({"username": st.just(reg.username), "password": st.just(PASSWORD)}), plan=CSRF_PLANS,
           media_type=st.sampled_from(MEDIA_TYPES), raw=st.booleans())
    def fuzz(next_path, fields, plan, media_type, raw):
        tokens, csrf_ok = csrf_fields(world, plan, "signin", browser_id=browser_id)
        refused = not csrf_ok or unreadable(media_type)
        before = world.count(LoginSession)
        with httpx.Client(timeout=30) as http:
            response = post_form(fuzzed, http, world.url + "/signin", fields + tokens, raw=raw, media_type=media_type,
                                 cookie=cookie_header(world, plan[0], browser_id=browser_id),
                                 query="next=" + encode(next_path).decode())
        if not people_answer(fuzzed, response, where=local):  # never an open redirect
            return
        if refused:
            fuzzed.check(world.count(LoginSession) == before, "a refused sign-in created a session",
                         describe(response))

    fuzz()
    fuzzed.assert_none()


def test_logout_form_fuzz(world):
    reg = register(world.g)
    state = {}

    def sign_in():
        params, _s, _n, verifier, rp, browser = login_flow(world.g, reg)
        tokens = exchange(world.g, rp, params["code"], verifier)
        sid = jose_jwt.get_unverified_claims(tokens["id_token"])["sid"]
        state.update(id_token=tokens["id_token"], sid=sid, browser_id=browser.http.cookies["idgw_browser"],
                     session=browser.http.cookies["idgw_session"])

    def session_ended() -> bool:
        with world.g.db() as db:
            return db.get(LoginSession, state["sid"]).ended_at is not None

    sign_in()
    fuzzed = Fuzzed()
    useful = {"id_token_hint": st.sampled_from(["id_token"]), "post_logout_redirect_uri": st.sampled_from(
        [POST_LOGOUT, "https://evil.test/"]), "state": st.just("s"), "client_id": st.sampled_from(
        [reg.client_id, world.reg.client_id]), "ui_locales": st.sampled_from(["th", "en"]),
        "logout": st.sampled_from(["yes", "no"])}

    @bounded(FORM_EXAMPLES)
    @given(fields=fields_of(useful), plan=CSRF_PLANS, with_session=st.sampled_from([True, True, False]),
           media_type=st.sampled_from(MEDIA_TYPES), raw=st.booleans())
    def fuzz(fields, plan, with_session, media_type, raw):
        fields = [(k, state["id_token"] if v == "id_token" else v) for k, v in fields]
        tokens, csrf_ok = csrf_fields(world, plan, "logout", browser_id=state["browser_id"])
        refused = not csrf_ok or unreadable(media_type)
        with httpx.Client(timeout=30) as http:
            response = post_form(fuzzed, http, world.url + "/logout", fields + tokens, raw=raw, media_type=media_type,
                                 cookie=cookie_header(world, plan[0], browser_id=state["browser_id"],
                                                      session=state["session"] if with_session else None))
        if not people_answer(fuzzed, response, where=lambda loc: loc.split("?")[0] == POST_LOGOUT):
            return
        ended = session_ended()
        if refused:
            fuzzed.check(not ended, "a refused sign-out ended the session", describe(response))
        if ended:
            sign_in()

    fuzz()
    fuzzed.assert_none()


def test_account_forms_fuzz(world):
    reg = register(world.g)
    state = {}

    def sign_in():
        browser = Browser(world.g)
        page = browser.get("/signin?next=/account")
        answer = browser.submit(page, username=reg.username, password=PASSWORD)
        assert answer.status_code == 200 and "/account/totp" in answer.text, answer.text[:300]
        csrf = world.pages.csrf_token(browser.http.cookies["idgw_browser"], "account")
        pending = browser.http.post("/account/totp", data={"csrf_token": csrf})
        state.update(browser_id=browser.http.cookies["idgw_browser"], session=browser.http.cookies["idgw_session"],
                     pending=re.search(r"/account/totp/([^/\"]+)/confirm", pending.text).group(1))

    def counts() -> tuple:
        return (world.count(AccountAuthenticator, AccountAuthenticator.account_id == reg.account_id),
                world.count(RecoveryCode, RecoveryCode.account_id == reg.account_id),
                world.count(LoginSession, LoginSession.account_id == reg.account_id, LoginSession.ended_at.is_(None)))

    sign_in()
    fuzzed = Fuzzed()
    with httpx.Client(timeout=30) as http:
        for credential in seeded_credentials(world, state["browser_id"], "register", session=state["session"]):
            tokens, _ok = csrf_fields(world, ("own", ["valid"]), "account", browser_id=state["browser_id"])
            response = post_form(fuzzed, http, world.url + "/account/passkeys", [("credential", credential()), *tokens],
                                 raw=False, media_type=FORM, cookie=cookie_header(
                                     world, "own", browser_id=state["browser_id"], session=state["session"]))
            people_answer(fuzzed, response, where=local)
    useful = {"name": st.sampled_from(["My phone", "ก" * 200]), "code": st.sampled_from(["000000", "12345678"]),
              "credential": st.sampled_from(CREDENTIALS) | real_challenge_credential(
                  world, "register", lambda: (state["browser_id"], state["session"]))}
    actions = ["/account/totp", "/account/totp/{id}/confirm", "/account/passkeys", "/account/recovery",
               "/account/factors/{id}/remove", "/account/links/{id}/remove", "/account/sessions/end-all"]

    @bounded(FORM_EXAMPLES)
    @given(action=st.sampled_from(actions), id_plan=st.sampled_from(["real", "real", "other"]), other=hostile,
           fields=fields_of(useful), plan=CSRF_PLANS, media_type=st.sampled_from(MEDIA_TYPES), raw=st.booleans())
    def fuzz(action, id_plan, other, fields, plan, media_type, raw):
        path = action.replace("{id}", state["pending"] if id_plan == "real" else path_segment(other))
        tokens, csrf_ok = csrf_fields(world, plan, "account", browser_id=state["browser_id"])
        refused = not csrf_ok or unreadable(media_type)
        before = counts()
        with httpx.Client(timeout=30) as http:
            response = post_form(fuzzed, http, world.url + path, fields + tokens, raw=raw, media_type=media_type,
                                 cookie=cookie_header(world, plan[0], browser_id=state["browser_id"],
                                                      session=state["session"]))
        if not people_answer(fuzzed, response, where=local):
            return
        if refused:
            fuzzed.check(counts() == before, "a refused account form changed something", describe(response))
        if counts()[2] == 0:
            sign_in()

    fuzz()
    fuzzed.assert_none()


# -- what the fuzzer found: each stays fixed --------------------------------------------------------

def test_an_unknown_token_type_hint_is_a_400_not_a_401(world):
    """Authlib answered unsupported_token_type with 401 and no WWW-Authenticate (idgw.oidc.provider)."""
    for path in ("/introspect", "/revoke"):
        answer = httpx.post(world.url + path, data={"token": "x", "token_type_hint": "__not_in_enum__"},
                            headers={"authorization": world.basic()})
        assert answer.status_code == 400, (path, answer.status_code)
        assert answer.json()["error"] == "unsupported_token_type" and "www-authenticate" not in answer.headers


@pytest.mark.parametrize("method,path,kind,status", [
    ("POST", "/interaction//login", "page", 404), ("POST", "/interaction/a%2Fb/consent", "page", 404),
    ("POST", "/account/totp//confirm", "page", 404), ("GET", "/interaction/x/login", "page", 405),
    ("PUT", "/authorize", "page", 405), ("GET", "/no-such-page", "page", 404),
    ("PUT", "/userinfo", "json", 405), ("GET", "/webauthn/options", "json", 405),
    ("DELETE", OPENAPI_PATH, "json", 405), ("GET", "/upstream/ndid/ndid-callback/" + "x" * 20, "json", 405),
])
def test_no_route_and_a_wrong_method_answer_in_the_endpoints_format(world, method, path, kind, status):
    """FastAPI answered both with {"detail": ...} JSON, also on people's pages (idgw.web.errors.http_error)."""
    answer = httpx.request(method, world.url + path)
    assert answer.status_code == status
    if kind == "page":
        assert answer.headers["content-type"].startswith("text/html")
    else:
        assert answer.headers["content-type"] == "application/json" and answer.json()["error"]
    if status == 405:
        assert answer.headers["allow"]


def passkey_login_page(world):
    reg = register(world.g)
    browser = Browser(world.g)
    page = browser.follow(browser.get(authorize_url(world.g, rp_client(world.g, reg))[0]))
    iid = re.search(r"/interaction/([^/\"]+)/login", page.text).group(1)
    browser_id = browser.http.cookies["idgw_browser"]
    return browser, iid, browser_id, world.pages.csrf_token(browser_id, f"login:{iid}")


def test_deeply_nested_client_data_json_is_refused_not_a_500(world):
    """RecursionError in the clientDataJSON parser (idgw.authn.webauthn._client_challenge)."""
    browser, iid, browser_id, csrf = passkey_login_page(world)
    deep = b"[" * 3000 + b"]" * 3000
    for credential in (json.dumps({"rawId": "eA", "response": {"clientDataJSON": b64url(deep)}}),
                       challenge_answer(world, browser_id, "login", client_data=deep)):
        answer = browser.http.post(f"/interaction/{iid}/passkey", data={"csrf_token": csrf, "credential": credential})
        assert answer.status_code == 401 and answer.headers["content-type"].startswith("text/html")


def test_a_passkey_raw_id_that_is_not_base64url_is_refused(world):
    """A NUL in rawId reached the credential lookup: a 500 on PostgreSQL (idgw.authn.webauthn.parse_credential)."""
    browser, iid, browser_id, csrf = passkey_login_page(world)
    for raw_id in ("\x00", "a\x00b", "a+b/c=", "x" * 2000):
        credential = challenge_answer(world, browser_id, "login", raw_id=raw_id)
        answer = browser.http.post(f"/interaction/{iid}/passkey", data={"csrf_token": csrf, "credential": credential})
        assert answer.status_code == 401 and answer.headers["content-type"].startswith("text/html"), raw_id


def test_a_malformed_answer_to_a_real_challenge_is_refused_not_a_500(world):
    """py_webauthn refuses a malformed credential with InvalidJSONStructure (not the Invalid*Response
    the gateway caught): a 500 at passkey sign-in for anyone naming a registered passkey, and at
    passkey registration (idgw.authn.webauthn)."""
    browser, iid, browser_id, csrf = passkey_login_page(world)
    for blob in ("", 5, b64url(b"\xff" * 300)):
        credential = challenge_answer(world, browser_id, "login", raw_id=PASSKEY_ID, blob=blob)
        answer = browser.http.post(f"/interaction/{iid}/passkey", data={"csrf_token": csrf, "credential": credential})
        assert answer.status_code == 401 and answer.headers["content-type"].startswith("text/html"), blob
    reg = register(world.g)
    account = Browser(world.g)
    account.submit(account.get("/signin?next=/account"), username=reg.username, password=PASSWORD)
    browser_id, session = account.http.cookies["idgw_browser"], account.http.cookies["idgw_session"]
    for blob in ("", 5, b64url(b"\xff" * 300)):
        credential = challenge_answer(world, browser_id, "register", session=session, kind="webauthn.create",
                                      blob=blob)
        answer = account.http.post("/account/passkeys", data={
            "csrf_token": world.pages.csrf_token(browser_id, "account"), "credential": credential})
        assert answer.status_code == 400 and answer.headers["content-type"].startswith("text/html"), blob
    assert world.count(AccountAuthenticator, AccountAuthenticator.account_id == reg.account_id) == 0


def test_a_passkey_user_handle_that_is_not_base64url_is_refused(world):
    """py_webauthn decodes userHandle outside its error handling: non-base64url text was a ValueError,
    a 500 at sign-in for anyone naming a registered passkey (idgw.authn.webauthn.parse_credential)."""
    browser, iid, browser_id, csrf = passkey_login_page(world)
    for handle in ("ก", "a=b", "!!", 5):
        credential = challenge_answer(world, browser_id, "login", raw_id=PASSKEY_ID, blob=b64url(b"\x00" * 37),
                                      userHandle=handle)
        answer = browser.http.post(f"/interaction/{iid}/passkey", data={"csrf_token": csrf, "credential": credential})
        assert answer.status_code == 401 and answer.headers["content-type"].startswith("text/html"), handle
