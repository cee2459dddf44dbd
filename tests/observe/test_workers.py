"""A real `idgw serve --workers 2`: one scrape at either worker shows the sum of both (prometheus_client's
multiprocess mode, in a private directory that goes when the server does), and every line it logs is a
JSON object with the request id, without the password, tokens or citizen ID of a sign-in it served."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import httpx
import pytest

from tests.flow import PASSWORD, exchange, login_flow, register, wait_until
from tests.observe.serving import METRICS_TOKEN, scrape, value
from tests.ops.procs import Site

CITIZEN_ID = "1101700230708"  # fictitious, with a valid check digit

#: A cheap request every worker answers and logs (/healthz is counted but, answered well, not logged).
PROBE = "/.well-known/openid-configuration"


def _citizen_id() -> str:
    from providers.base import valid_citizen_id

    assert valid_citizen_id(CITIZEN_ID)
    return CITIZEN_ID


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    base = tmp_path_factory.mktemp("workers")
    site = Site(f"sqlite:///{base / 'idgw.db'}", base, settings={"metrics_token": METRICS_TOKEN, "log_format": "json"})
    site.env["PROMETHEUS_MULTIPROC_DIR"] = str(base / "metrics")
    site.base = base
    site.serve("--workers", "2")
    yield site
    site.close()


def _json_lines(site) -> list[dict]:
    lines = [line for line in site.served[0].output().splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON line: {line!r}") from None
    return parsed


def _spread(site, *, rounds: int = 40) -> int:
    """PROBE on new connections from several threads until both workers answered; the count sent."""
    sent = 0
    lock = threading.Lock()

    def hit():
        nonlocal sent
        for _ in range(5):
            httpx.get(site.url + PROBE, headers={"Connection": "close"}).raise_for_status()
            with lock:
                sent += 1

    for _ in range(rounds):
        threads = [threading.Thread(target=hit) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        pids = {line["pid"] for line in _json_lines(site) if line.get("route") == PROBE}
        if len(pids) >= 2:
            return sent
    raise AssertionError("every request went to one worker")


def test_one_scrape_sums_both_workers(site):
    reg = register(site, citizen_id=_citizen_id())
    params, _state, _nonce, verifier, rp, _browser = login_flow(site, reg)
    token = exchange(site, rp, params["code"], verifier)
    rp.refresh_token(site.url + "/token", refresh_token=token["refresh_token"])
    sent = _spread(site)
    # A worker counts a request once its answer has gone out: wait for the last ones to land.
    assert wait_until(lambda: value(scrape(site.url), "idgw_http_request_duration_seconds_count", route=PROBE,
                                    method="GET") >= sent)
    scraped = scrape(site.url)
    assert value(scraped, "idgw_http_requests_total", route=PROBE, method="GET", status="200") == sent
    assert value(scraped, "idgw_http_request_duration_seconds_count", route=PROBE, method="GET") == sent
    assert value(scraped, "idgw_signins_total", method="password", outcome="success") == 1
    assert value(scraped, "idgw_tokens_issued_total", grant="authorization_code") == 1
    assert value(scraped, "idgw_tokens_issued_total", grant="refresh_token") == 1
    # Counted once however many workers answer the scrape (gauges computed at scrape time included).
    assert value(scraped, "idgw_build_info", version=__import__("idgw").__version__) == 1
    assert value(scraped, "idgw_proofing_queue_length", state="queued") == 0
    assert value(scraped, "idgw_http_requests_in_flight") == 1  # this scrape
    directories = [p for p in (site.base / "metrics").iterdir() if p.name.startswith("idgw-metrics-")]
    assert len(directories) == 1 and stat.S_IMODE(directories[0].stat().st_mode) == 0o700
    assert any(directories[0].glob("counter_*.db"))

    # Logs: JSON, one access line per request with its id, nothing secret.
    probe = httpx.get(site.url + PROBE)
    # The access line is written once the answer has gone out: wait for it.
    assert wait_until(lambda: probe.headers["x-request-id"] in site.served[0].output())
    output = site.served[0].output()
    for secret in (PASSWORD, token["access_token"], token["refresh_token"], token["id_token"], params["code"],
                   CITIZEN_ID, reg.client_secret):
        assert secret not in output
    lines = _json_lines(site)
    assert all({"ts", "level", "logger", "message", "request_id", "pid"} <= line.keys() for line in lines)
    access = [line for line in lines if line["logger"] == "idgw.access"]
    mine = [line for line in access if line["request_id"] == probe.headers["x-request-id"]]
    assert len(mine) == 1
    assert {k: mine[0][k] for k in ("method", "route", "status")} == {"method": "GET", "route": PROBE,
                                                                      "status": 200}
    assert mine[0]["client_ip"] == "127.0.0.1" and mine[0]["duration_ms"] >= 0
    assert any(line["route"] == "/interaction/{iid}/login" for line in access)
    assert not any("/interaction/" in line["route"] and "{" not in line["route"] for line in access)


def test_the_metric_files_go_with_the_server(site):
    directory = next(p for p in (site.base / "metrics").iterdir() if p.name.startswith("idgw-metrics-"))
    assert site.served[0].terminate() == 0
    assert not directory.exists()
    assert os.listdir(Path(site.base / "metrics")) == []


def test_one_process_keeps_its_metrics_in_memory_whatever_the_environment_says(tmp_path):
    inherited = tmp_path / "inherited"
    inherited.mkdir()
    site = Site(f"sqlite:///{tmp_path / 'idgw.db'}", tmp_path, settings={"metrics_token": METRICS_TOKEN})
    site.env["PROMETHEUS_MULTIPROC_DIR"] = str(inherited)
    try:
        site.serve()
        httpx.get(site.url + PROBE).raise_for_status()
        assert value(scrape(site.url), "idgw_http_requests_total", route=PROBE, method="GET", status="200") == 1
        assert list(inherited.iterdir()) == []
    finally:
        site.close()
