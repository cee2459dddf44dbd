"""Fixtures for the provider tests: both simulators served by uvicorn on free loopback ports (one
instance per test module), a stand-in for the gateway's NDID callback endpoint, and a few helpers
that drive the simulators' pages with httpx the way a browser would."""

from __future__ import annotations

import json
import re
import threading
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response

from providers.base import UpstreamError
from providers.simulators.ndid import create_ndid_app
from providers.simulators.server import ServerThread, free_port
from providers.simulators.thaid import create_thaid_app

CLIENT_ID = "idgw-test"
CLIENT_SECRET = "test secret/with:odd=chars"
REDIRECT_URI = "http://127.0.0.1:9/upstream/thaid/callback"  # never fetched: the test reads the Location
DISPLAY = {"th": "ไทยดี", "en": "ThaiD"}


class RunningSimulator:
    def __init__(self, app, server: ServerThread) -> None:
        self.app, self.server, self.url = app, server, server.url
        self.sim = app.state.simulator

    def faults(self, **faults) -> None:
        """Switch misbehaviour on through the simulator's own control endpoint."""
        response = httpx.post(self.url + "/_sim/faults", json=faults)
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def thaid():
    port = free_port()
    app = create_thaid_app(issuer=f"http://127.0.0.1:{port}", client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                           redirect_uris=[REDIRECT_URI], control=True)
    server = ServerThread(app, port=port).start()
    yield RunningSimulator(app, server)
    server.stop()


@pytest.fixture
def thaid_sim(thaid):
    thaid.sim.faults = {}
    yield thaid
    thaid.sim.faults = {}


def oidc_config(issuer: str, **overrides) -> dict:
    return {"name": "thaid", "type": "oidc", "display_name": DISPLAY, "issuer": issuer, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "trusted_aal": "2.2", "timeout_seconds": 3, **overrides}


def thaid_login(redirect, *, pid: str = "1345951597671", action: str | None = None) -> dict:
    """Follow ``redirect.url`` to the simulator's login page, choose ``pid`` (or press ``action``), and
    return the callback query the browser would bring back to the gateway."""
    with httpx.Client(timeout=5) as browser:
        page = browser.get(redirect.url)
        assert page.status_code == 200, page.text
        assert f'value="{pid}"' in page.text or action
        txn = re.search(r'name="txn" value="([^"]+)"', page.text).group(1)
        login_url = str(page.url.join("login"))
        form = {"txn": txn, "action": action} if action else {"txn": txn, "pid": pid}
        answer = browser.post(login_url, data=form)
    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT_URI + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@pytest.fixture(scope="module")
def ndid():
    port = free_port()
    app = create_ndid_app(control=True)
    server = ServerThread(app, port=port).start()
    yield RunningSimulator(app, server)
    server.stop()


@pytest.fixture
def ndid_sim(ndid):
    ndid.sim.faults = {}
    yield ndid
    ndid.sim.faults = {}


class CallbackReceiver:
    """What the gateway does with NDID callbacks: find the attempt by the reference in the URL, pass
    the body to ``handle_callback`` and store the state it returns (400 on ``UpstreamError``). An
    attempt not stored yet answers 409 so the platform retries (its callback can overtake the 202
    answer). Any other exception is a bug in the connector: it answers 500 and is kept in ``crashes``.

    ``refresh``/``wait`` do what the waiting page does: read the node when ``needs_refresh`` says so."""

    def __init__(self) -> None:
        self.states: dict[str, dict] = {}
        self.providers: dict[str, object] = {}
        self.payloads: list = []
        self.crashes: list[BaseException] = []
        self.lock = threading.Lock()
        app = FastAPI()

        @app.post("/ndid/{reference_id}")
        async def callback(reference_id: str, request: Request) -> Response:
            payload = json.loads(await request.body())
            with self.lock:
                state = self.states.get(reference_id)
                if state is None:
                    return Response(status_code=409)
                self.payloads.append(payload)
                try:
                    self.states[reference_id] = self.providers[reference_id].handle_callback(
                        state=state, payload=payload)
                except UpstreamError:
                    return Response(status_code=400)
                except Exception as exc:  # recorded for the test to fail on
                    self.crashes.append(exc)
                    return Response(status_code=500)
            return Response(status_code=204)

        self.server = ServerThread(app, port=free_port()).start()
        self.url = self.server.url

    def callback_url(self, reference_id: str) -> str:
        return f"{self.url}/ndid/{reference_id}"

    def begin(self, provider, *, citizen_id: str = "1345951597671", min_ial: str = "2.3", min_aal: str = "2.1",
              message: str = "ยืนยันตัวตนเพื่อเข้าสู่ระบบบริการตัวอย่าง\nSign in to the demo e-service", reference_id=None):
        reference_id = reference_id or f"ref-{time.monotonic_ns()}"
        pending = provider.begin(citizen_id=citizen_id, min_ial=min_ial, min_aal=min_aal,
                                 callback_url=self.callback_url(reference_id), request_message=message,
                                 reference_id=reference_id)
        with self.lock:
            self.providers[reference_id] = provider
            self.states[reference_id] = pending.state
        return pending

    def state(self, reference_id: str) -> dict:
        with self.lock:
            return self.states[reference_id]

    def refresh(self, provider, reference_id: str, *, force: bool = False) -> dict:
        """Read the node when the connector asks for it and store the new view, keeping a hint that a
        callback stored while the node was being read (so that hint still asks for another read)."""
        state = self.state(reference_id)
        if force or provider.needs_refresh(state=state, now=time.time()):
            fresh = provider.refresh(state=state)
            with self.lock:
                fresh["hint"] = self.states[reference_id].get("hint")
                self.states[reference_id] = fresh
        return self.state(reference_id)

    def wait(self, provider, reference_id: str, *, until=lambda s: True, timeout: float = 8) -> dict:
        """Refresh as the waiting page does until the stored state satisfies ``until`` (no fixed sleeps)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.refresh(provider, reference_id)
            if until(state):
                return state
            time.sleep(0.02)
        raise AssertionError(f"state never satisfied the condition: {self.state(reference_id)}")


@pytest.fixture(scope="module")
def receiver():
    running = CallbackReceiver()
    yield running
    running.server.stop()


def ndid_config(api_base: str, **overrides) -> dict:
    return {"name": "ndid", "type": "ndid", "display_name": {"th": "เอ็นดีไอดี", "en": "NDID"}, "api_base": api_base,
            "request_timeout": 30, "timeout_seconds": 3, **overrides}


def idp_app_answer(ndid_url: str, request_id: str, *, action: str = "accept", idp_id: str = "idp-bank-a",
                   ial: str | None = None, aal: str | None = None, expect_status: int = 200) -> str:
    """As the citizen in the IdP app: open the list, follow the request's link, read the message and
    answer. Returns the request page's HTML."""
    with httpx.Client(base_url=ndid_url, timeout=5) as browser:
        listing = browser.get("/idp-app")
        assert request_id in listing.text
        link = re.search(rf'href="([^"]*{request_id})"', listing.text).group(1)
        page = browser.get(str(listing.url.join(link)))
        assert page.status_code == 200
        action_url = re.search(r'<form method="post" action="([^"]+)"', page.text).group(1)
        form = {"idp_id": idp_id, "action": action}
        selected = dict(re.findall(r'<select name="(ial|aal)">.*?<option selected>([^<]+)</option>', page.text))
        form["ial"] = ial or selected["ial"]
        form["aal"] = aal or selected["aal"]
        answer = browser.post(str(page.url.join(action_url)), data=form)
        assert answer.status_code == expect_status, answer.text
    return page.text


def node(state: dict) -> dict:
    """The connector's copy of the node's view of the request (empty before the first read)."""
    return state.get("node") or {}


def sim_request(ndid_url: str, request_id: str) -> dict:
    return httpx.get(f"{ndid_url}/_sim/requests/{request_id}").json()


def wait_for(condition, *, timeout: float = 8):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")
