"""Upstream brokering over real HTTP between the gateway and both simulators: ThaiD-style OIDC
and NDID logins for an e-service, account linking by citizen ID, and every fault."""

import re
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from sqlalchemy import select

from idgw.storage.models import Account, AccountLink, AuditEvent
from providers.simulators.ndid import create_ndid_app
from providers.simulators.server import ServerThread, free_port
from providers.simulators.thaid import create_thaid_app
from tests.conftest import start_gateway
from tests.flow import PASSWORD, Browser, authorize_url, callback_params, exchange, register, rp_client
from tests.test_assurance_flow import claims_of

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


class World:
    """The gateway, a ThaiD-style IdP and an NDID-style platform, each on its own loopback port."""

    def __init__(self, database_url, tmp_path, *, ndid_timeout=60, thaid_faults=None, broken_thaid=False):
        gw_port = free_port()
        self.gateway_url = f"http://127.0.0.1:{gw_port}"
        thaid_port, ndid_port = free_port(), free_port()
        self.thaid_url = f"http://127.0.0.1:{thaid_port}"
        self.thaid = ServerThread(create_thaid_app(
            issuer=self.thaid_url, client_id="idgw", client_secret="thaid-secret-for-tests",
            redirect_uris=[self.gateway_url + "/upstream/thaid/callback"], control=True,
            faults=thaid_faults), port=thaid_port).start()
        self.ndid_app = create_ndid_app(control=True)
        self.ndid = ServerThread(self.ndid_app, port=ndid_port).start()
        self.ndid_url = f"http://127.0.0.1:{ndid_port}"
        config = {"providers": [
            {"name": "thaid", "type": "oidc", "display_name": {"th": "ไทยดี", "en": "ThaiD"},
             "issuer": f"http://127.0.0.1:{free_port()}" if broken_thaid else self.thaid_url,
             "client_id": "idgw", "client_secret": "thaid-secret-for-tests", "trusted_aal": "2.2",
             "timeout_seconds": 3},
            {"name": "ndid", "type": "ndid", "display_name": {"th": "เอ็นดีไอดี", "en": "NDID"},
             "api_base": self.ndid_url, "request_timeout": ndid_timeout, "timeout_seconds": 3,
             "idp_id_list": ["idp-bank-a"]},
        ]}
        path = tmp_path / "providers.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        self.gateway = start_gateway(database_url, port=gw_port, providers_file=str(path))

    def close(self):
        self.gateway.stop()
        self.gateway.gw.engine.dispose()
        self.thaid.stop()
        self.ndid.stop()

    def thaid_fault(self, **faults):
        httpx.post(self.thaid_url + "/_sim/faults", json=faults).raise_for_status()


@pytest.fixture
def world(database_url, tmp_path):
    w = World(database_url, tmp_path)
    yield w
    w.close()


def upstream_link(page, name):
    match = re.search(rf'href="(/interaction/[^"]+/upstream/{name})"', page.text)
    assert match, page.text[:600]
    return match.group(1)


def thaid_login(b: Browser, page, pid: str):
    """From the gateway login page, through the ThaiD simulator's page, back to the gateway."""
    sim = b.http.get(httpx.URL(b.gateway.url).join(upstream_link(page, "thaid")))
    assert sim.status_code == 302
    sim_page = httpx.get(sim.headers["location"], follow_redirects=False)
    txn = re.search(r'name="txn" value="([^"]+)"', sim_page.text).group(1)
    login_url = httpx.URL(sim.headers["location"]).join("login")
    back = httpx.post(login_url, data={"txn": txn, "pid": pid}, follow_redirects=False)
    assert back.status_code in (302, 303), back.text[:300]
    return b.follow(b.http.get(back.headers["location"]))


def ndid_login(w: World, b: Browser, page, pid: str, *, action="accept", idp="idp-bank-a"):
    start = b.http.get(httpx.URL(b.gateway.url).join(upstream_link(page, "ndid")))
    assert 'name="citizen_id"' in start.text
    wait = b.submit(start, citizen_id=pid)
    assert "รอการยืนยันในแอป" in wait.text and 'http-equiv="refresh"' in wait.text
    requests = httpx.get(w.ndid_url + "/_sim/requests").json()
    request_id = requests[-1]["request_id"] if isinstance(requests, list) else list(requests)[-1]
    form = {"idp_id": idp, "action": action, "ial": "2.3", "aal": "2.2"}
    answered = httpx.post(f"{w.ndid_url}/idp-app/requests/{request_id}/respond", data=form)
    assert answered.status_code == 200, (answered.text[-400:], requests)
    here = str(wait.url)
    for _ in range(100):
        page = b.follow(b.http.get(here))
        if "รอการยืนยันในแอป" not in page.text:
            return page, request_id
        import time
        time.sleep(0.1)
    raise AssertionError("the NDID answer never arrived")


def test_thaid_login_reaches_the_e_service_with_the_upstream_ial(world):
    g = world.gateway
    reg = register(g, policy={"min_ial": "2.2", "min_aal": "2.2"})
    rp = rp_client(g, reg, scope="openid profile")
    url, _, _, verifier = authorize_url(g, rp)
    b = Browser(g)
    page = b.follow(b.get(url))
    assert "เข้าสู่ระบบด้วย ไทยดี" in page.text and "เข้าสู่ระบบด้วย เอ็นดีไอดี" in page.text
    page = thaid_login(b, page, "1345951597671")
    params = callback_params(b.consent(page))
    claims = claims_of(g, reg, exchange(g, rp, params["code"], verifier))
    assert claims["ial"] == "2.3" and claims["aal"] == "2.2" and claims["acr"] == "urn:idgw:ial:2.3:aal:2.2"
    with g.db() as db:
        account = db.scalar(select(Account).where(Account.citizen_id == "1345951597671"))
        assert account.given_name_th == "สมชาย" and account.ial == "2.3"
        link = db.scalar(select(AccountLink).where(AccountLink.account_id == account.id))
        assert link.provider == "thaid" and link.raw_levels
        names = [e.name for e in db.scalars(select(AuditEvent))]
    assert "account.created" in names and "account.linked" in names


def test_ndid_login_sends_the_policy_floors_and_completes(world):
    g = world.gateway
    reg = register(g, policy={"min_ial": "2.3", "min_aal": "2.1"})
    rp = rp_client(g, reg, scope="openid")
    url, _, _, verifier = authorize_url(g, rp, acr_values="urn:idgw:aal:2.2")
    b = Browser(g)
    page = b.follow(b.get(url))
    page, request_id = ndid_login(world, b, page, "1101700123456")
    params = callback_params(b.consent(page))
    claims = claims_of(g, reg, exchange(g, rp, params["code"], verifier))
    assert claims["ial"] == "2.3" and claims["aal"] == "2.2"
    seen = httpx.get(f"{world.ndid_url}/_sim/requests/{request_id}").json()
    assert str(seen["min_ial"]) == "2.3" and str(seen["min_aal"]) == "2.2"  # policy floor raised by acr_values
    assert seen["closed"] is True and "idgw" in seen["request_message"]


@pytest.mark.parametrize("action,code", [("reject", "rejected"), ("error", "errored")])
def test_ndid_rejection_and_error_end_in_clear_errors(world, action, code):
    g = world.gateway
    reg = register(g, policy={"min_ial": "2.1"})
    url, *_ = authorize_url(g, rp_client(g, reg))
    b = Browser(g)
    page, _ = ndid_login(world, b, b.follow(b.get(url)), "3100600456785", action=action)
    assert page.status_code == 400 and code in page.text and "ลองใหม่อีกครั้ง" in page.text
    with g.db() as db:
        assert not db.scalars(select(Account).where(Account.citizen_id == "3100600456785")).all()
        failed = db.scalars(select(AuditEvent).where(AuditEvent.name == "upstream.failed")).all()
        assert failed and failed[-1].detail["code"] == code


def test_ndid_timeout(database_url, tmp_path):
    w = World(database_url, tmp_path, ndid_timeout=1)
    try:
        g = w.gateway
        reg = register(g, policy={"min_ial": "2.1"})
        url, *_ = authorize_url(g, rp_client(g, reg))
        b = Browser(g)
        page = b.follow(b.get(url))
        start = b.http.get(httpx.URL(g.url).join(upstream_link(page, "ndid")))
        wait = b.submit(start, citizen_id="3100600456785")
        import time
        for _ in range(80):
            page = b.follow(b.http.get(str(wait.url)))
            if "รอการยืนยันในแอป" not in page.text:
                break
            time.sleep(0.1)
        assert page.status_code == 400 and "timed_out" in page.text
    finally:
        w.close()


def test_linking_across_upstreams_by_citizen_id(world):
    g = world.gateway
    reg = register(g, policy={"min_ial": "2.1"})
    url, *_ = authorize_url(g, rp_client(g, reg))
    b = Browser(g)
    callback_params(b.consent(thaid_login(b, b.follow(b.get(url)), "5701200987653")))
    b2 = Browser(g)
    url, *_ = authorize_url(g, rp_client(g, reg))
    page, _ = ndid_login(world, b2, b2.follow(b2.get(url)), "5701200987653")
    assert "code" in callback_params(page)  # the same account, which already consented: straight back
    with g.db() as db:
        accounts = db.scalars(select(Account).where(Account.citizen_id == "5701200987653")).all()
        assert len(accounts) == 1
        links = db.scalars(select(AccountLink).where(AccountLink.account_id == accounts[0].id)).all()
        assert {link.provider for link in links} == {"thaid", "ndid"}


def test_a_low_ial_upstream_must_not_take_over_an_existing_account(world):
    g = world.gateway
    # a local account already holds this citizen ID
    reg = register(g, citizen_id="1209900345611", policy={"min_ial": "1.1"})
    world.thaid_fault(ial="1.2")  # the upstream asserts the ID at IAL 1.2 only
    url, *_ = authorize_url(g, rp_client(g, reg))
    b = Browser(g)
    page = thaid_login(b, b.follow(b.get(url)), "1209900345611")
    assert page.status_code == 400 and "เข้าสู่ระบบบัญชีเดิมก่อน" in page.text
    with g.db() as db:
        assert not db.scalars(select(AccountLink)).all()
    # after signing in to the existing account, the same upstream login links it
    page = b.follow(b.get(authorize_url(g, rp_client(g, reg))[0]))
    page = b.login(page, reg.username, PASSWORD)
    params = callback_params(b.consent(page))
    assert "code" in params
    url, *_ = authorize_url(g, rp_client(g, reg), prompt="login")
    page = thaid_login(b, b.follow(b.get(url)), "1209900345611")
    assert "code" in callback_params(page if page.status_code in (302, 303) else b.consent(page))
    with g.db() as db:
        link = db.scalars(select(AccountLink)).one()
        assert link.account_id == reg.account_id
        linked = db.scalars(select(AuditEvent).where(AuditEvent.name == "account.linked")).one()
        assert linked.detail["confirmed_by_sign_in"] is True


@pytest.mark.parametrize("fault,code", [
    ({"token_error": True}, "upstream_error"), ({"bad_signature": True}, "invalid_signature"),
    ({"wrong_nonce": True}, "nonce_mismatch"), ({"wrong_issuer": True}, "invalid_issuer"),
    ({"invalid_citizen_id": True}, "invalid_citizen_id"), ({"token_delay": 5}, "upstream_timeout"),
])
def test_thaid_faults_change_nothing_and_issue_nothing(world, fault, code):
    g = world.gateway
    reg = register(g, policy={"min_ial": "2.1"})
    world.thaid_fault(**fault)
    url, *_ = authorize_url(g, rp_client(g, reg))
    b = Browser(g)
    page = thaid_login(b, b.follow(b.get(url)), "1345951597671")
    assert page.status_code == 400 and code in page.text, page.text[:500]
    assert "ลองใหม่อีกครั้ง" in page.text  # a retry
    with g.db() as db:
        assert not db.scalars(select(Account).where(Account.citizen_id == "1345951597671")).all()
        assert db.scalars(select(AuditEvent).where(AuditEvent.name == "upstream.failed")).all()
        assert not db.scalars(select(AuditEvent).where(AuditEvent.name == "authorization.granted")).all()


def test_unreachable_upstream_and_forged_state(database_url, tmp_path):
    w = World(database_url, tmp_path, broken_thaid=True)
    try:
        g = w.gateway
        reg = register(g, policy={"min_ial": "2.1"})
        url, *_ = authorize_url(g, rp_client(g, reg))
        b = Browser(g)
        page = b.follow(b.get(url))
        r = b.http.get(httpx.URL(g.url).join(upstream_link(page, "thaid")))
        assert r.status_code == 400 and "upstream_unreachable" in r.text
        forged = b.http.get("/upstream/thaid/callback?code=abc&state=not-ours")
        assert forged.status_code == 400 and "state_mismatch" in forged.text
        assert urlsplit(str(forged.url)).path == "/upstream/thaid/callback"
    finally:
        w.close()


def test_account_page_lists_and_unlinks_sources(world):
    g = world.gateway
    reg = register(g, policy={"min_ial": "2.1"})
    url, *_ = authorize_url(g, rp_client(g, reg))
    b = Browser(g)
    callback_params(b.consent(thaid_login(b, b.follow(b.get(url)), "1345951597671")))
    account = b.follow(b.http.get("/account"))
    link_id = re.search(r'action="/account/links/([^/]+)/remove"', account.text).group(1)
    assert "ไทยดี" in account.text or "thaid" in account.text
    # ThaiD is this account's only way in: unlinking it is refused, nothing removed
    confirm = b.http.get(f"/account/links/{link_id}/remove")
    assert confirm.status_code == 409 and "วิธีเดียว" in confirm.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', account.text).group(1)
    assert b.http.post(f"/account/links/{link_id}/remove", data={"csrf_token": csrf}).status_code == 409
    with g.db() as db:
        link = db.scalars(select(AccountLink)).one()
        # with a password as another way in, the link can go
        db.get(Account, link.account_id).password_hash = "argon2-placeholder-not-used-to-sign-in"
        db.commit()
    b.http.post(f"/account/links/{link_id}/remove", data={"csrf_token": csrf})
    with g.db() as db:
        assert not db.scalars(select(AccountLink)).all()
        unlinked = db.scalars(select(AuditEvent).where(AuditEvent.name == "account.unlinked")).one()
        assert unlinked.detail["provider"] == "thaid"
