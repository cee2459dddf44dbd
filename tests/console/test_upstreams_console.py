"""The console's upstreams page (/admin/upstreams) against the real simulators: the configured
sources with their kind, levels, masked settings and the services that accept them; what is wrong
with the configuration; the live health check (page and /admin/upstreams/health.json): a running
ThaiD-style simulator and NDID platform are healthy, a stopped simulator fails at the step named;
a disabled account is refused at upstream sign-in; non-admins and strangers are refused."""

from __future__ import annotations

import asyncio
import time
from contextlib import closing
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import select

from idgw.console import staff
from idgw.storage.models import Account, AuditEvent
from providers.simulators.ndid import create_ndid_app
from providers.simulators.server import ServerThread, free_port
from providers.simulators.thaid import create_thaid_app
from tests.conftest import start_gateway
from tests.console.world import staff_client
from tests.flow import Browser, add_service, authorize_url, register, rp_client
from tests.test_upstream_flow import thaid_login

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SECRET = "thaid-secret-for-tests"
PID = "1345951597671"


class World:
    """The gateway with three upstreams: a running ThaiD-style simulator, a running NDID platform,
    and a second ThaiD-style simulator that was started and then stopped."""

    def __init__(self, database_url, tmp_path) -> None:
        gw_port, thaid_port, ndid_port, down_port = free_port(), free_port(), free_port(), free_port()
        self.gateway_url = f"http://127.0.0.1:{gw_port}"
        self.thaid_url, self.ndid_url = f"http://127.0.0.1:{thaid_port}", f"http://127.0.0.1:{ndid_port}"
        down_url = f"http://127.0.0.1:{down_port}"
        self.thaid = ServerThread(create_thaid_app(
            issuer=self.thaid_url, client_id="idgw", client_secret=SECRET,
            redirect_uris=[self.gateway_url + "/upstream/thaid/callback"], control=True), port=thaid_port).start()
        self.ndid = ServerThread(create_ndid_app(control=True), port=ndid_port).start()
        ServerThread(create_thaid_app(issuer=down_url, client_id="idgw", client_secret=SECRET,
                                      redirect_uris=[self.gateway_url + "/upstream/thaid-b/callback"]),
                     port=down_port).start().stop()
        self.config = {"providers": [
            {"name": "thaid", "type": "oidc", "display_name": {"th": "ไทยดี", "en": "ThaiD"}, "issuer": self.thaid_url,
             "client_id": "idgw", "client_secret": SECRET, "trusted_aal": "2.2", "timeout_seconds": 3},
            {"name": "ndid", "type": "ndid", "display_name": {"th": "เอ็นดีไอดี", "en": "NDID"},
             "api_base": self.ndid_url, "timeout_seconds": 3, "idp_id_list": ["idp-bank-a"]},
            {"name": "thaid-b", "type": "oidc", "display_name": {"th": "ไทยดี สำรอง", "en": "ThaiD backup"},
             "issuer": down_url, "client_id": "idgw", "client_secret": SECRET, "trusted_aal": "2.2",
             "timeout_seconds": 3, "ial_mapping": {"2.3": "2.3", "low": "1.2"}},
        ]}
        self.path = tmp_path / "providers.yaml"
        self.path.write_text(yaml.safe_dump(self.config, allow_unicode=True))
        self.gateway = start_gateway(database_url, port=gw_port, providers_file=str(self.path))

    def close(self) -> None:
        self.gateway.stop()
        self.gateway.gw.engine.dispose()
        self.thaid.stop()
        self.ndid.stop()


@pytest.fixture
def world(database_url, tmp_path):
    w = World(database_url, tmp_path)
    yield w
    w.close()


def test_the_page_shows_each_source_its_levels_and_services_and_never_a_secret(world):
    g = world.gateway
    narrow = register(g, policy={"allowed_providers": ["thaid", "dopa"]})  # dopa is not configured
    add_service(g, like=narrow)  # no allowed_providers: any source
    with closing(staff_client(g, "admin.somsak", path="/admin/upstreams")) as http:
        page = http.get(g.url + "/admin/upstreams", params={"lang": "en"})
        assert page.status_code == 200 and "Identity sources" in page.text and str(world.path) in page.text
        assert SECRET not in page.text and "client_secret" in page.text and "••••" in page.text
        for name in ("upstream-thaid", "upstream-ndid", "upstream-thaid-b"):
            assert f'id="{name}"' in page.text
        assert "ThaiD-style OpenID Connect" in page.text and "At most IAL 2.3, AAL 2.2" in page.text
        assert "low → 1.2" in page.text and "AAL 2.2 as configured" in page.text
        ndid = page.text.split('id="upstream-ndid"')[1].split("</section>")[0]
        thaid = page.text.split('id="upstream-thaid"')[1].split("</section>")[0]
        assert "บริการที่สอง Second service" in ndid and "บริการทดสอบ Test service" not in ndid  # not allowed
        assert "บริการทดสอบ Test service" in thaid and "(accepts any source)" in thaid
        problems = page.text.split('id="problems"')[1].split("</ul>")[0]
        assert "accepts “dopa”, which is not configured" in problems
        assert 'id="health-thaid"' not in page.text  # no check until asked
        thai = http.get(g.url + "/admin/upstreams", params={"lang": "th"})
        assert "แหล่งยืนยันตัวตน" in thai.text and "ซึ่งไม่ได้ตั้งค่าไว้" in thai.text


def test_the_health_check_names_the_failing_step(world):
    g = world.gateway
    with closing(staff_client(g, "admin.somsak", path="/admin/upstreams")) as http:
        page = http.get(g.url + "/admin/upstreams", params={"lang": "en"})
        started = time.monotonic()
        checked = http.get(g.url + "/admin/upstreams", params={"check": "1"})
        assert time.monotonic() - started < 6  # concurrently, each request bounded
        assert 'id="health-thaid" data-ok="true"' in checked.text and 'id="health-ndid" data-ok="true"' in checked.text
        down = checked.text.split('id="health-thaid-b"')[1].split("</div>")[0]
        assert 'data-ok="false"' in down and "Not working" in down
        assert 'data-step="discovery" data-status="failed"' in down and "Could not connect" in down
        assert 'data-step="jwks" data-status="skipped"' in down
        healthy = checked.text.split('id="health-thaid"')[1].split("</div>")[0]
        assert "signing key(s), fetched" in healthy
        assert "Registered: idp-bank-a" in checked.text
        assert page.status_code == 200
        answer = http.get(g.url + "/admin/upstreams/health.json")
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
        health = {u["name"]: u for u in answer.json()["upstreams"]}
        assert answer.json()["ok"] is False
        assert health["thaid"]["ok"] and [c["status"] for c in health["thaid"]["checks"]] == ["ok"] * 4
        assert health["ndid"]["ok"] and [c["check"] for c in health["ndid"]["checks"]] == ["node", "idps"]
        failed = health["thaid-b"]["checks"][0]
        assert not health["thaid-b"]["ok"] and failed["check"] == "discovery" and failed["problem"] == "unreachable"
        assert failed["message"].startswith("Could not connect")
        assert SECRET not in answer.text


def test_each_failing_step_is_named_in_words(database_url):
    """Against answers the simulators do not give: another issuer, a JWKS without keys, an IdP the
    platform does not list, a slow answer (the checks' own functions, with a mock transport)."""
    from idgw.console.upstreams_health import check_all
    from idgw.console.upstreams_texts import check_text
    from idgw.upstream import load_upstreams

    answers = {"/a/.well-known/openid-configuration": {"issuer": "https://elsewhere.example", "jwks_uri": "x"},
               "/b/.well-known/openid-configuration": {"issuer": "https://idp.example/b",
                                                       "jwks_uri": "https://idp.example/b/jwks"},
               "/b/jwks": {"keys": []}, "/utility/idp": [{"node_id": "idp-bank-b"}]}

    async def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/slow/.well-known/openid-configuration":
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json=answers[request.url.path])

    def oidc(name):
        return {"name": name, "type": "oidc", "display_name": {"th": name, "en": name},
                "issuer": f"https://idp.example/{name}", "client_id": "c", "client_secret": SECRET,
                "trusted_aal": "2.2"}

    path = Path(database_url.removeprefix("sqlite:///")).with_name("providers-mock.yaml")
    path.write_text(yaml.safe_dump({"providers": [oidc("a"), oidc("b"), oidc("slow"), {
        "name": "n", "type": "ndid", "display_name": {"th": "n", "en": "n"}, "api_base": "https://node.example",
        "idp_id_list": ["idp-bank-a"]}]}))
    results = asyncio.run(check_all(load_upstreams(str(path)), now=0, transport=httpx.MockTransport(handler)))
    words = {h.name: [(c.step, c.status, check_text(c, "en")) for c in h.checks] for h in results}
    assert words["a"][1] == ("issuer", "failed", "The document names issuer “https://elsewhere.example”; "
                                                 "the configuration says “https://idp.example/a”")
    assert words["b"][3] == ("keys", "failed", "It holds no usable signing key")
    assert words["slow"][0] == ("discovery", "failed", "No answer within 3 s")
    assert words["n"] == [("node", "ok", "Reachable; 1 IdP(s) registered"),
                          ("idps", "failed", "These IdPs are not registered on the platform: idp-bank-a")]
    assert check_text(results[0].checks[2], "th") == "ไม่ได้ตรวจ (ขั้นก่อนหน้าไม่ผ่าน)"


def test_a_changed_file_that_no_longer_loads_is_shown(world):
    g = world.gateway
    broken = dict(world.config)
    broken["providers"] = [dict(world.config["providers"][0]), *world.config["providers"][1:]]
    del broken["providers"][0]["trusted_aal"]
    world.path.write_text(yaml.safe_dump(broken, allow_unicode=True))
    with closing(staff_client(g, "admin.somsak", path="/admin/upstreams")) as http:
        page = http.get(g.url + "/admin/upstreams", params={"lang": "en"})
        assert "as it is now does not load" in page.text and "providers[0].trusted_aal: missing" in page.text
        world.path.write_text(yaml.safe_dump({"providers": world.config["providers"][:2]}, allow_unicode=True))
        changed = http.get(g.url + "/admin/upstreams")
        assert "differs from what runs now" in changed.text and "thaid, ndid" in changed.text


def test_a_disabled_account_cannot_sign_in_through_an_upstream(world):
    g = world.gateway
    reg = register(g, policy={"min_ial": "2.2", "min_aal": "2.2"})
    rp = rp_client(g, reg, scope="openid profile")
    b = Browser(g)
    page = thaid_login(b, b.follow(b.get(authorize_url(g, rp)[0])), PID)  # the first sign-in makes the account
    assert page.status_code == 200
    with g.db() as db:
        citizen = db.scalar(select(Account).where(Account.citizen_id == PID))
        admin = Account(id="admin-id", username="admin.direct", roles=["admin"], created_at=g.clock.now())
        db.add(admin)
        staff.disable(db, account=citizen, actor=admin, now=g.clock.now(), ip=None)
        db.commit()
    b = Browser(g)
    refused = thaid_login(b, b.follow(b.get(authorize_url(g, rp)[0])), PID)
    assert refused.status_code == 403 and "บัญชีนี้ถูกปิดใช้งานโดยผู้ดูแลระบบ" in refused.text
    with g.db() as db:
        failed = db.scalars(select(AuditEvent).where(AuditEvent.name == "upstream.failed")).all()
    assert [e.detail["code"] for e in failed] == ["account_disabled"]


def test_strangers_and_non_admins_are_refused(world):
    g = world.gateway
    with httpx.Client(timeout=20) as anonymous:
        for path in ("/admin/upstreams", "/admin/upstreams/health.json"):
            assert anonymous.get(g.url + path).headers["location"].startswith("/signin?next=")
    with closing(staff_client(g, "officer.anan", ("officer",), path="/account")) as officer:
        assert officer.get(g.url + "/admin/upstreams").status_code == 403
        assert officer.get(g.url + "/admin/upstreams/health.json").status_code == 403
