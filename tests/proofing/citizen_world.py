"""A gateway with the DOPA-style card-check simulator on real HTTP, for the proofing tests."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

import pytest

from providers.simulators.citizens import DEMO_CITIZENS
from providers.simulators.dopa import create_dopa_app
from providers.simulators.server import ServerThread, free_port
from tests.conftest import start_gateway

SOMCHAI = next(c for c in DEMO_CITIZENS if c["given_name_en"] == "Somchai")
REVOKED = next(c for c in DEMO_CITIZENS if c.get("card_revoked"))


@dataclass
class ProofingWorld:
    gateway: object
    dopa: object  # the simulator (set_fault / clear_faults)
    dopa_url: str


@contextlib.contextmanager
def running_world(database_url, **overrides):
    """The DOPA-style simulator and a gateway that checks cards with it (``overrides``: settings)."""
    port = free_port()
    app = create_dopa_app(timeout_delay=30.0)
    server = ServerThread(app, port=port).start()
    url = f"http://127.0.0.1:{port}"
    gateway = start_gateway(database_url, card_check_url=url, card_check_timeout=2, **overrides)
    try:
        yield ProofingWorld(gateway, app.state.simulator, url)
    finally:
        gateway.stop()
        gateway.gw.engine.dispose()
        app.state.simulator.release()
        server.stop()


@pytest.fixture
def proofing_world(database_url):
    with running_world(database_url) as world:
        yield world


def card_form(citizen: dict, *, laser: str | None = None, locale_year_be: bool = True) -> dict:
    """The card form as a citizen fills it in (year in the Buddhist era, laser code with dashes)."""
    y, m, d = citizen["birthdate"].split("-")
    code = laser or citizen["laser"]
    return {"citizen_id": citizen["pid"], "given_name_th": citizen["given_name"],
            "family_name_th": citizen["family_name"], "given_name_en": citizen["given_name_en"],
            "family_name_en": citizen["family_name_en"], "birth_day": str(int(d)), "birth_month": str(int(m)),
            "birth_year": str(int(y) + 543 if locale_year_be else int(y)),
            "laser_code": f"{code[:3]}-{code[3:10]}-{code[10:]}"}


def case_id_of(url: str) -> str:
    found = re.search(r"/proofing/case/([0-9a-f-]{36})", url)
    assert found, url
    return found.group(1)
