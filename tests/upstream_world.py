"""The gateway with both upstream simulators over real HTTP, with the NDID connector's IdP list
and timeout chosen per test (tests/test_upstream_flow.py's World asks idp-bank-a alone), plus the
helpers the NDID page tests share."""

from __future__ import annotations

import re
import time

import httpx
import yaml
from sqlalchemy import select

from idgw.storage.models import AuditEvent, UpstreamAttempt
from providers.simulators.ndid import create_ndid_app
from providers.simulators.server import ServerThread, free_port
from providers.simulators.thaid import create_thaid_app
from tests.conftest import start_gateway

#: The gateway's Thai words the tests look for.
WAITING = "รอการยืนยันในแอป"
CHOOSE_ANOTHER = "เลือกวิธีเข้าสู่ระบบอื่น"


class Upstreams:
    """The gateway, a ThaiD-style IdP and an NDID-style platform on loopback ports. ``idp_ids``:
    the NDID connector's ``idp_id_list`` (empty: every IdP holding the identity)."""

    def __init__(self, database_url: str, tmp_path, *, idp_ids=("idp-bank-a",), min_idp: int = 1,
                 ndid_timeout: int = 120, **gateway_options) -> None:
        gw_port, thaid_port, ndid_port = free_port(), free_port(), free_port()
        self.gateway_url = f"http://127.0.0.1:{gw_port}"
        self.thaid_url = f"http://127.0.0.1:{thaid_port}"
        self.ndid_url = f"http://127.0.0.1:{ndid_port}"
        self.thaid = ServerThread(create_thaid_app(
            issuer=self.thaid_url, client_id="idgw", client_secret="thaid-secret-for-tests",
            redirect_uris=[self.gateway_url + "/upstream/thaid/callback"], control=True), port=thaid_port).start()
        self.ndid_app = create_ndid_app(control=True)
        self.sim = self.ndid_app.state.simulator
        self.ndid = ServerThread(self.ndid_app, port=ndid_port).start()
        config = {"providers": [
            {"name": "thaid", "type": "oidc", "display_name": {"th": "ไทยดี", "en": "ThaiD"}, "issuer": self.thaid_url,
             "client_id": "idgw", "client_secret": "thaid-secret-for-tests", "trusted_aal": "2.2",
             "timeout_seconds": 3},
            {"name": "ndid", "type": "ndid", "display_name": {"th": "เอ็นดีไอดี", "en": "NDID"},
             "api_base": self.ndid_url, "request_timeout": ndid_timeout, "timeout_seconds": 3,
             "idp_id_list": list(idp_ids), "min_idp": min_idp},
        ]}
        path = tmp_path / "providers.yaml"
        path.write_text(yaml.safe_dump(config, allow_unicode=True))
        self.gateway = start_gateway(database_url, port=gw_port, providers_file=str(path), **gateway_options)

    def close(self) -> None:
        self.gateway.stop()
        self.gateway.gw.engine.dispose()
        self.thaid.stop()
        self.ndid.stop()

    def ndid_faults(self, **faults) -> None:
        httpx.post(self.ndid_url + "/_sim/faults", json=faults).raise_for_status()

    def requests(self) -> list[dict]:
        return httpx.get(self.ndid_url + "/_sim/requests").json()

    def request(self, request_id: str) -> dict:
        return httpx.get(f"{self.ndid_url}/_sim/requests/{request_id}").json()

    def answer(self, request_id: str, *, action: str = "accept", idp: str = "idp-bank-a", ial: str = "2.3",
               aal: str = "2.1", error_code: int = 1000) -> None:
        """As the citizen in the simulated bank app."""
        answered = httpx.post(f"{self.ndid_url}/idp-app/requests/{request_id}/respond",
                              data={"idp_id": idp, "action": action, "ial": ial, "aal": aal,
                                    "error_code": str(error_code)})
        assert answered.status_code == 200, answered.text[-400:]

    def audit(self, name: str) -> list:
        with self.gateway.db() as db:
            return list(db.scalars(select(AuditEvent).where(AuditEvent.name == name).order_by(AuditEvent.id)))

    def attempt(self, attempt_id: str) -> UpstreamAttempt:
        with self.gateway.db() as db:
            return db.get(UpstreamAttempt, attempt_id)


def upstream_href(html: str, name: str) -> str:
    match = re.search(rf'href="(/interaction/[^"]+/upstream/{name})"', html)
    assert match, html[:600]
    return match.group(1)


def wait_until(condition, *, timeout: float = 10, every: float = 0.1, what: str = "condition"):
    """``condition()``'s first truthy value, polled every ``every`` s; AssertionError naming ``what``
    after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what} not met in time" if what == "condition" else f"timed out waiting for {what}")
