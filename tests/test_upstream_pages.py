"""Upstream sign-in pages without dead ends (issue 12), over real HTTP between the gateway and both
simulators, on SQLite and PostgreSQL: the NDID waiting page and its JSON status endpoint (every
refusal), Cancel (CSRF, the node's request closed), IdP rejections and errors ending with a clear
page that offers another way, failure pages that always link on (the sign-in choices while the
interaction is open, the service once it is not), the HTML 404, and sign-ins through ThaiD and NDID
for the gateway's own pages (interactions without a client)."""

from __future__ import annotations

import html
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from idgw.security import random_token, sha256_hex
from idgw.storage.models import Account, Interaction, LoginSession
from idgw.web.errors import back_to_service
from providers.ndid import short_reference
from tests.flow import REDIRECT_URI, Browser, authorize_url, form_fields, register, rp_client
from tests.upstream_world import CHOOSE_ANOTHER, WAITING, Upstreams, upstream_href, wait_until

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)

CITIZEN = "3100600456785"


@pytest.fixture
def world(database_url, tmp_path):
    u = Upstreams(database_url, tmp_path)
    yield u
    u.close()


@dataclass
class Started:
    browser: Browser
    iid: str
    state: str
    wait: httpx.Response
    path: str  # the waiting page's path
    attempt_id: str
    request_id: str
    reference_id: str

    @property
    def status_path(self) -> str:
        return self.path + "/status"


def start_ndid(u: Upstreams, *, pid: str = CITIZEN, policy=None, waiting: bool = True) -> Started:
    g = u.gateway
    reg = register(g, policy=policy or {"min_ial": "2.1"})
    url, state, _nonce, _verifier = authorize_url(g, rp_client(g, reg))
    b = Browser(g)
    page = b.follow(b.get(url))
    href = upstream_href(page.text, "ndid")
    start = b.http.get(href)
    assert start.status_code == 200 and CHOOSE_ANOTHER in start.text  # a way back from the form too
    wait = b.submit(start, citizen_id=pid)
    assert not waiting or (wait.status_code == 200 and WAITING in wait.text), wait.text[:400]
    path = wait.url.path
    platform = u.requests()[-1]
    return Started(b, href.split("/")[2], state, wait, path, path.rsplit("/", 1)[-1], platform["request_id"],
                   platform["reference_id"])


def poll_status(s: Started, *, until="done") -> httpx.Response:
    def look():
        answer = s.browser.http.get(s.status_path)
        return answer if answer.status_code != 200 or answer.json()["state"] == until else None
    return wait_until(look)


def links_of(html: str) -> list[str]:
    return [m.replace("&amp;", "&") for m in re.findall(r'<a[^>]*href="([^"]+)"', html)]


def test_the_waiting_page_shows_a_short_reference_minutes_cancel_and_another_way(world):
    s = start_ndid(world)
    html = s.wait.text
    # no quick refresh: the script polls; a slow refresh only for browsers without script
    assert '<script src="/static/ndid_wait.js" defer></script>' in html
    assert re.search(r'<noscript><meta http-equiv="refresh" content="15"></noscript>', html)
    assert html.count("http-equiv") == 1
    # the short reference, the same on the platform's side (in the request message the IdP app shows)
    reference = re.search(r'id="ndid-reference">([A-Z2-9]{6})<', html).group(1)
    assert reference == short_reference(s.reference_id)
    assert reference in world.request(s.request_id)["request_message"]
    assert re.search(r"เหลือเวลาประมาณ \d นาที", html) and "วินาที</p>" not in html  # minutes, not seconds
    assert 'role="status" aria-live="polite"' in html
    assert f'action="{s.path}/cancel"' in html
    assert f'href="/interaction/{s.iid}"' in html and CHOOSE_ANOTHER in html
    script = s.browser.http.get("/static/ndid_wait.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    # English too
    english = s.browser.http.get(s.path + "?lang=en")
    assert "Choose another way to sign in" in english.text and re.search(r"About \d minutes left", english.text)


def test_the_status_endpoint_answers_pending_then_signs_in_with_the_node_s_answer(world):
    s = start_ndid(world)
    pending = s.browser.http.get(s.status_path)
    assert pending.status_code == 200 and pending.headers["content-type"] == "application/json"
    assert pending.headers["cache-control"] == "no-store"
    body = pending.json()
    assert body["state"] == "pending" and body["next"] is None and body["others_can_answer"] is False
    assert 0 < body["seconds_left"] <= 120 and "นาที" in body["time_left"] and body["message"]
    # a forged callback body is still only a hint: the node says nobody answered
    callback_url = world.request(s.request_id)["callback_url"]
    forged = {"type": "request_status", "request_id": s.request_id, "status": "completed", "response_list": []}
    assert httpx.post(callback_url, json=forged).status_code == 204
    assert s.browser.http.get(s.status_path).json()["state"] == "pending"
    world.answer(s.request_id)
    done = poll_status(s)
    assert done.json() == {"state": "done", "next": f"/interaction/{s.iid}"}
    cookie = world.gateway.gw.settings.cookie_name
    assert cookie in done.headers.get("set-cookie", "")  # the session comes with the answer
    consent = s.browser.follow(s.browser.http.get(done.json()["next"]))
    assert 'value="allow"' in consent.text
    # after the end: the same answer again, and the page goes on to the interaction
    assert s.browser.http.get(s.status_path).json() == {"state": "done", "next": f"/interaction/{s.iid}"}
    page = s.browser.http.get(s.path)
    assert page.status_code == 302 and page.headers["location"] == f"/interaction/{s.iid}"
    assert world.request(s.request_id)["closed"] is True
    assert world.attempt(s.attempt_id).state["gateway_outcome"] == {"code": "signed_in"}


def test_the_status_endpoint_refuses_unknown_attempts_and_other_browsers(world):
    s = start_ndid(world)
    unknown = [s.status_path.replace(s.attempt_id, random_token(24)),
               s.status_path.replace(s.attempt_id, "x" * 100),
               s.status_path.replace(s.iid, random_token(24)),
               s.status_path.replace("/upstream/ndid/", "/upstream/thaid/"),
               s.status_path.replace("/upstream/ndid/", "/upstream/nope/")]
    for path in unknown:
        answer = s.browser.http.get(path)
        assert answer.status_code == 404 and answer.json() == {"error": "not_found"}, path
        assert answer.headers["content-type"] == "application/json"
    # another browser: without a browser id, and with one of its own
    strangers = [Browser(world.gateway), Browser(world.gateway)]
    strangers[1].http.cookies.set("idgw_browser", world.gateway.gw.pages.browser_ids.new())
    for other in strangers:
        answer = other.http.get(s.status_path)
        assert answer.status_code == 404 and answer.json() == {"error": "not_found"}
        page = other.http.get(s.path)
        assert page.status_code == 400 and "หมดอายุ" in page.text
        # nothing of the owner's (the language switch only repeats the address the stranger asked for)
        assert f'href="/interaction/{s.iid}"' not in page.text and s.state not in page.text
        assert 'href="/"' in page.text  # but not a dead end
    # a wrong method is JSON too (the poll's path is a machine path)
    assert s.browser.http.post(s.status_path).headers["content-type"] == "application/json"
    # nothing changed for the owner
    assert s.browser.http.get(s.status_path).json()["state"] == "pending"
    assert world.attempt(s.attempt_id).finished_at is None
    assert world.request(s.request_id)["closed"] is False


def test_polling_fast_or_many_at_once_reads_the_node_once_per_poll_interval(world):
    """The status endpoint is not a way to hammer the NDID node: while one poll of an attempt reads
    the node (here a slow one), its other polls answer from the last view instead of reading it too
    (they used to read it once each), and a poll that needs no read does not touch the node."""
    world.ndid_faults(drop_callbacks=True)  # no hints but the test's own
    s = start_ndid(world)
    assert world.request(s.request_id)["status_queries"] == 1  # the waiting page's first look
    for _ in range(3):  # within poll_interval (3 s) of that read: no read at all
        assert s.browser.http.get(s.status_path).json()["state"] == "pending"
    assert world.request(s.request_id)["status_queries"] == 1
    # a callback (a hint) asks for a read; many polls at once, while the node takes a second to answer
    callback_url = world.request(s.request_id)["callback_url"]
    hint = {"type": "request_status", "request_id": s.request_id, "status": "pending"}
    assert httpx.post(callback_url, json=hint).status_code == 204
    world.ndid_faults(drop_callbacks=True, status_query_delay=1)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: s.browser.http.get(s.status_path), range(8)))
    assert [a.status_code for a in answers] == [200] * 8
    assert {a.json()["state"] for a in answers} == {"pending"}
    assert world.request(s.request_id)["status_queries"] == 2
    # the read was stored: the next poll has nothing to read, and the sign-in still completes
    world.ndid_faults(drop_callbacks=True)
    assert s.browser.http.get(s.status_path).json()["state"] == "pending"
    assert world.request(s.request_id)["status_queries"] == 2
    world.ndid_faults()
    world.answer(s.request_id)
    assert poll_status(s).json() == {"state": "done", "next": f"/interaction/{s.iid}"}


@pytest.mark.parametrize("action,code,words", [
    ("reject", "rejected", "ปฏิเสธในแอปธนาคาร"),
    ("error", "errored", "ยืนยันตัวตนของท่านไม่ได้"),
])
def test_an_idp_rejection_or_error_ends_the_wait_with_a_clear_page_offering_another_way(world, action, code, words):
    s = start_ndid(world)
    world.answer(s.request_id, action=action, error_code=10101)
    done = poll_status(s)
    assert done.json() == {"state": "done", "next": s.path}  # the page says what happened
    for _ in range(2):  # a reload shows the same page, and nothing happens twice
        page = s.browser.http.get(s.path)
        assert page.status_code == 400 and words in page.text and code in page.text
        links = links_of(page.text)
        assert f"/interaction/{s.iid}/upstream/ndid" in links and f"/interaction/{s.iid}" in links
        assert CHOOSE_ANOTHER in page.text
    failed = world.audit("upstream.failed")
    assert [e.detail["code"] for e in failed] == [code]
    if action == "error":
        assert "10101" in failed[0].detail["detail"]  # the IdP's own error code, for the operators
    assert world.request(s.request_id)["closed"] is True
    choices = s.browser.follow(s.browser.http.get(f"/interaction/{s.iid}"))
    assert 'name="password"' in choices.text and upstream_href(choices.text, "ndid")


def test_the_simulated_platform_can_be_told_to_reject_or_error(world):
    """The ``idp_answers`` fault: the IdP answers as soon as the request exists (the first look at
    the waiting page may already show the end)."""
    for answer, pid, words in (("reject", CITIZEN, "ปฏิเสธ"), (10101, "1101700123456", "errored")):
        world.ndid_faults(idp_answers={"idp-bank-a": answer})
        s = start_ndid(world, pid=pid, waiting=False)
        assert poll_status(s).json() == {"state": "done", "next": s.path}
        page = s.browser.http.get(s.path)
        assert page.status_code == 400 and words in page.text
        first = world.request(s.request_id)["response_list"][0]
        assert first["idp_id"] == "idp-bank-a" and (first.get("status"), first.get("error_code")) == \
            (("reject", None) if answer == "reject" else (None, 10101))


def test_cancel_needs_the_form_s_token_closes_the_request_and_returns_to_the_choices(world):
    s = start_ndid(world)
    cancel = s.path + "/cancel"
    _action, hidden = form_fields(s.wait.text)
    start_token = form_fields(s.browser.http.get(f"/interaction/{s.iid}/upstream/ndid").text)[1]["csrf_token"]
    for token in (None, "x" * 64, start_token):  # missing, wrong, another form's
        answer = s.browser.http.post(cancel, data={"csrf_token": token} if token else {})
        assert answer.status_code == 403, token
        assert s.path in links_of(answer.text) and f"/interaction/{s.iid}" in links_of(answer.text)
    other = Browser(world.gateway)
    other.http.cookies.set("idgw_browser", world.gateway.gw.pages.browser_ids.new())
    answer = other.http.post(cancel, data=hidden)  # the owner's token, from another browser
    assert answer.status_code in (400, 403) and f'href="/interaction/{s.iid}"' not in answer.text
    assert world.attempt(s.attempt_id).finished_at is None and world.request(s.request_id)["close_attempts"] == []
    assert not world.audit("upstream.failed")

    answer = s.browser.http.post(cancel, data=hidden)
    assert answer.status_code == 303 and answer.headers["location"] == f"/interaction/{s.iid}"
    seen = world.request(s.request_id)
    assert seen["closed"] is True and len(seen["close_attempts"]) == 1
    assert world.attempt(s.attempt_id).state["gateway_outcome"] == {"code": "cancelled"}
    failed = world.audit("upstream.failed")
    assert [e.detail["code"] for e in failed] == ["cancelled"]
    assert "closed at the node: True" in failed[0].detail["detail"]
    assert s.browser.http.get(s.status_path).json() == {"state": "done", "next": f"/interaction/{s.iid}"}
    assert s.browser.http.get(s.path).headers["location"] == f"/interaction/{s.iid}"
    # a second cancel changes nothing
    assert s.browser.http.post(cancel, data=hidden).headers["location"] == f"/interaction/{s.iid}"
    assert len(world.audit("upstream.failed")) == 1
    choices = s.browser.follow(s.browser.http.get(f"/interaction/{s.iid}"))
    assert 'name="password"' in choices.text


def test_an_expired_interaction_links_back_to_the_service_and_closes_the_request(world):
    s = start_ndid(world)
    g = world.gateway
    g.clock.advance(g.gw.settings.interaction_ttl + 1)
    try:
        assert s.browser.http.get(s.status_path).json() == {"state": "done", "next": s.path}
        page = s.browser.http.get(s.path)
        assert page.status_code == 400 and "หมดอายุ" in page.text
        back = [u for u in links_of(page.text) if u.startswith(REDIRECT_URI)]
        assert len(back) == 1, links_of(page.text)
        query = parse_qs(urlsplit(back[0]).query)
        assert query["error"] == ["access_denied"] and query["state"] == [s.state]
        assert query["iss"] == [g.url]
        assert "กลับไปที่ บริการทดสอบ Test service" in page.text
        assert world.request(s.request_id)["closed"] is True  # the bank app stops offering it
        start = s.browser.http.get(f"/interaction/{s.iid}/upstream/ndid")
        assert start.status_code == 400 and back[0] in links_of(start.text)
    finally:
        g.clock.advance(-(g.gw.settings.interaction_ttl + 1))


def test_back_to_service_for_each_kind_of_interaction(world):
    g = world.gateway.gw
    service = Interaction(id="a", client_id="c", params={"request": {"redirect_uri": REDIRECT_URI, "state": "s 1"}},
                          created_at=0, expires_at=0)
    url = back_to_service(g, service)
    assert url.startswith(REDIRECT_URI + "?") and parse_qs(urlsplit(url).query)["state"] == ["s 1"]
    local = Interaction(id="b", client_id=None, params={"request": {}, "local": {"next": "/account", "aal": "2.1"}},
                        created_at=0, expires_at=0)
    assert back_to_service(g, local) == "/signin?next=/account"
    for bad in ("//evil.example", "https://evil.example", "\\\\evil", None):
        local.params = {"request": {}, "local": {"next": bad}}
        assert back_to_service(g, local) == "/signin"
    assert back_to_service(g, None) is None


def test_upstream_failure_pages_offer_another_way_and_a_retry(world):
    g = world.gateway
    reg = register(g, policy={"min_ial": "2.1"})
    b = Browser(g)
    page = b.follow(b.get(authorize_url(g, rp_client(g, reg))[0]))
    iid = upstream_href(page.text, "ndid").split("/")[2]
    # ThaiD answers with an error at its token endpoint
    httpx.post(world.thaid_url + "/_sim/faults", json={"token_error": True}).raise_for_status()
    sim = b.http.get(upstream_href(page.text, "thaid"))
    login = httpx.get(sim.headers["location"])
    txn = re.search(r'name="txn" value="([^"]+)"', login.text).group(1)
    back = httpx.post(httpx.URL(sim.headers["location"]).join("login"), data={"txn": txn, "pid": CITIZEN})
    failed = b.http.get(back.headers["location"])
    assert failed.status_code == 400 and "upstream_error" in failed.text
    assert {f"/interaction/{iid}/upstream/thaid", f"/interaction/{iid}"} <= set(links_of(failed.text))
    # the NDID platform refuses to create the request
    world.ndid_faults(create_error=True)
    start = b.http.get(upstream_href(page.text, "ndid"))
    failed = b.submit(start, citizen_id=CITIZEN)
    assert failed.status_code == 400 and "upstream_error" in failed.text
    assert {f"/interaction/{iid}/upstream/ndid", f"/interaction/{iid}"} <= set(links_of(failed.text))
    # a citizen ID the checksum refuses stays on the form, which links back too
    world.ndid_faults()
    form = b.submit(b.http.get(upstream_href(page.text, "ndid")), citizen_id="1234567890123")
    assert form.status_code == 400 and f"/interaction/{iid}" in links_of(form.text)
    # a callback this browser never started: no interaction to go back to, but the home page
    stranger = Browser(g)
    forged = stranger.http.get("/upstream/thaid/callback?code=x&state=not-ours")
    assert forged.status_code == 400 and "state_mismatch" in forged.text
    assert links_of(forged.text) and f"/interaction/{iid}" not in forged.text and 'href="/"' in forged.text
    # a wrong token on the start form: retry the form, or choose another way
    refused = b.http.post(upstream_href(page.text, "ndid"), data={"csrf_token": "x", "citizen_id": CITIZEN})
    assert refused.status_code == 403
    assert {f"/interaction/{iid}/upstream/ndid", f"/interaction/{iid}"} <= set(links_of(refused.text))


def test_sign_in_to_the_gateway_s_own_pages_through_thaid_and_ndid(world):
    """An interaction without a client (/signin): every configured upstream is offered, NDID is asked
    for IAL 1.1 and the page's AAL, the request names the gateway, and the sign-in ends back at
    the interaction (the /signin handler then goes on to ``next``)."""
    g = world.gateway
    gw = g.gw
    for provider, pid in (("thaid", "1345951597671"), ("ndid", "5701200987653")):
        b = Browser(g)
        browser_id = gw.pages.browser_ids.new()
        b.http.cookies.set("idgw_browser", browser_id)
        iid = random_token(24)
        now = g.clock.now()
        with g.db() as db:
            db.add(Interaction(id=iid, client_id=None, params={
                "request": {"ui_locales": "th"}, "local": {"next": "/account", "aal": "2.1"}, "progress": {},
                "browser": sha256_hex(browser_id)}, created_at=now, expires_at=now + 600))
            db.commit()
        if provider == "thaid":
            sim = b.http.get(f"/interaction/{iid}/upstream/thaid")
            assert sim.status_code == 302 and sim.headers["location"].startswith(world.thaid_url)
            login = httpx.get(sim.headers["location"])
            txn = re.search(r'name="txn" value="([^"]+)"', login.text).group(1)
            back = httpx.post(httpx.URL(sim.headers["location"]).join("login"), data={"txn": txn, "pid": pid})
            done = b.http.get(back.headers["location"])
        else:
            start = b.http.get(f"/interaction/{iid}/upstream/ndid")
            assert start.status_code == 200 and f'href="/interaction/{iid}"' in start.text
            wait = b.submit(start, citizen_id=pid)
            assert WAITING in wait.text
            platform = world.requests()[-1]
            assert (str(platform["min_ial"]), str(platform["min_aal"])) == ("1.1", "2.1")
            assert "ระบบยืนยันตัวตนภาครัฐ (idgw)" in platform["request_message"]
            assert "Government identity gateway (idgw)" in platform["request_message"]
            world.answer(platform["request_id"], ial="2.3", aal="2.2")
            done = wait_until(lambda b=b, path=wait.url.path: (r := b.http.get(path)).status_code == 302 and r)
        assert done.status_code in (302, 303) and done.headers["location"] == f"/interaction/{iid}", done.text[:300]
        assert gw.settings.cookie_name in done.headers["set-cookie"]
        with g.db() as db:
            account = db.scalar(select(Account).where(Account.citizen_id == pid))
            session = db.scalar(select(LoginSession).where(LoginSession.account_id == account.id))
            assert session.provider == provider
            assert db.get(Interaction, iid).params["progress"]["session_id"] == session.id
        created = [e for e in world.audit("session.created") if e.session_id == session.id]
        assert len(created) == 1 and created[0].client_id is None
        assert not world.audit("upstream.failed")


def test_the_html_404_for_browsers_and_json_for_apis(world):
    g = world.gateway
    for lang, title, home in (("th", "ไม่พบหน้านี้", "ไปที่หน้าแรกของระบบ"), ("en", "Page not found",
                                                                            "Go to the gateway's home page")):
        page = httpx.get(g.url + "/no-such-page", headers={"accept": "text/html,*/*", "accept-language": lang})
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        text = html.unescape(page.text)
        assert f"<h1>{title}</h1>" in text and f"<title>{title} · " in text
        assert f'<a class="button" href="/">{home}</a>' in text
        assert g.gw.settings.help_desk in text
    for path, accept in (("/no-such-page", "application/json"), ("/token/x", "*/*"), ("/.well-known/x", "text/html")):
        answer = httpx.get(g.url + path, headers={"accept": accept})
        assert answer.status_code == 404 and answer.headers["content-type"] == "application/json", path
        assert answer.json()["error"] == "not_found"
