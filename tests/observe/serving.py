"""A gateway served in this process the way ``idgw serve`` serves it (uvicorn's proxy handling off,
``idgw.cli.proxy_options``), so that the trusted-proxy checks see the socket's peer: tests/conftest.py's
``start_gateway`` runs uvicorn with its defaults, which trust X-Forwarded-For from 127.0.0.1.

Requests from 127.0.0.2 (all of 127/8 is loopback) come "from the proxy": the gateway trusts that
address only, and 127.0.0.1 stays an ordinary client."""

from __future__ import annotations

import threading
import time

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RunningGateway, free_port, migrated, quick_stop_server

PROXY = "127.0.0.2"
METRICS_TOKEN = "metrics-token-0123456789abcdef-0123456789"


def start_observed(database_url: str, **overrides) -> RunningGateway:
    import uvicorn

    from idgw.app import create_app
    from idgw.cli import proxy_options
    from idgw.settings import Settings

    port = free_port()
    settings = Settings.from_env({}, dev=True, issuer=f"http://127.0.0.1:{port}", database_url=database_url,
                                 secret_key="test-secret-key-0123456789abcdef0123456789",
                                 trusted_proxies=PROXY, metrics_token=METRICS_TOKEN, **overrides)
    migrated(settings.database_url)
    app = create_app(settings)
    server = quick_stop_server()(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                access_log=False, **proxy_options(settings)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        assert time.time() < deadline, "gateway did not start"
        time.sleep(0.02)
    return RunningGateway(app, settings.issuer, server, thread)


def via_proxy(**kwargs) -> httpx.Client:
    """An HTTP client whose connections come from the trusted proxy's address."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=PROXY), timeout=20, **kwargs)


def scrape(url: str, token: str = METRICS_TOKEN) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one scrape."""
    r = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=20)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    return samples(r.text)


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(scraped: dict, name: str, **labels) -> float:
    return scraped.get((name, tuple(sorted(labels.items()))), 0.0)
