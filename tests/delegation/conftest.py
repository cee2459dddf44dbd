"""Fixtures of the delegation tests: the gateway with the DBD-style registry simulator (the four
demo companies) and a ThaiD-style upstream configured (the sign-in that reaches IAL 2.3; nothing
answers at its issuer: the tests only follow links to it)."""

from __future__ import annotations

import pytest
import yaml

from providers.simulators.dbd import create_dbd_app
from providers.simulators.server import ServerThread, free_port
from tests.conftest import start_gateway


@pytest.fixture
def dbd_registry():
    """The DBD-style registry simulator; ``.url`` is its base URL."""
    server = ServerThread(create_dbd_app(), port=free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def registry_gateway(database_url, dbd_registry, tmp_path):
    """The gateway (SQLite and PostgreSQL) reading companies from the simulator, with ThaiD
    configured as an upstream giving IAL 2.3 at AAL 2.2."""
    path = tmp_path / "providers.yaml"
    path.write_text(yaml.safe_dump({"providers": [
        {"name": "thaid", "type": "oidc", "display_name": {"th": "ไทยดี", "en": "ThaiD"},
         "issuer": f"http://127.0.0.1:{free_port()}", "client_id": "idgw", "client_secret": "thaid-secret-for-tests",
         "trusted_aal": "2.2", "max_ial": "2.3"},
    ]}, allow_unicode=True))
    running = start_gateway(database_url, company_registry_url=dbd_registry.url, providers_file=str(path))
    yield running
    running.stop()
    running.gw.engine.dispose()
