"""The compose stack's entry points and start order, run outside a container (no docker engine
here): the migrate service's command and the gateways' command are taken from docker-compose.yml
(with the Dockerfile's ENTRYPOINT in front), given the environment compose would give them from a
completed deploy/idgw.env.example, and run against the real test PostgreSQL in compose's order.
The only changes are the ones a container makes for free: the database's address (the `db`
service's name here is 127.0.0.1 and the test server's port), each gateway's port (two on one
host), 127.0.0.1 instead of 0.0.0.0, and the venv's `idgw` and python instead of the image's."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from idgw.oidc import keys as oidc_keys
from tests.conftest import free_port
from tests.deploy.compose import (
    container_argv,
    dockerfile_lines,
    filled_example,
    load_compose,
    service_environment,
)

IDGW = str(Path(sys.executable).with_name("idgw"))
READY_WITHIN = 60.0
KEY_RECHECK = oidc_keys.KeyStore.__init__.__kwdefaults__["recheck"]


class Stack:
    """The interpolated compose file and what it takes to run its services here."""

    def __init__(self, database_url: str, log_dir: Path) -> None:
        self.values = filled_example()
        self.config = load_compose(self.values)
        self.services = self.config["services"]
        self.database_url = database_url
        self.log_dir = log_dir

    def env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDGW_") and k != "PROMETHEUS_MULTIPROC_DIR"}
        env.update(service_environment(self.services[name], self.values))
        compose_url = urlsplit(env["IDGW_DATABASE_URL"])
        assert (compose_url.scheme, compose_url.hostname, compose_url.port, compose_url.path) == (
            "postgresql", "db", 5432, "/idgw"), env["IDGW_DATABASE_URL"]
        assert "db" in self.services  # the host name is the database service's
        test_url = urlsplit(self.database_url)
        env["IDGW_DATABASE_URL"] = compose_url._replace(netloc=f"{compose_url.username}:{compose_url.password}@"
                                                              f"127.0.0.1:{test_url.port}",
                                                       path=test_url.path).geturl()
        return env

    def argv(self, name: str, *, port: int | None = None) -> list[str]:
        argv = container_argv(self.services[name])
        assert argv[0] == "idgw"
        argv[0] = IDGW
        if "--host" in argv:
            argv[argv.index("--host") + 1] = "127.0.0.1"
        if port is not None:
            argv[argv.index("--port") + 1] = str(port)
        return argv

    def run(self, name: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(name), env=self.env(name), capture_output=True, text=True, timeout=120)

    def start(self, name: str) -> Gateway:
        port = free_port()
        log = self.log_dir / f"{name}-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(self.argv(name, port=port), env=self.env(name), stdout=out,
                                    stderr=subprocess.STDOUT)
        return Gateway(name, port, proc, log)


class Gateway:
    def __init__(self, name: str, port: int, proc: subprocess.Popen, log: Path) -> None:
        self.name, self.port, self.proc, self.log = name, port, proc, log
        self.url = f"http://127.0.0.1:{port}"

    def output(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-4000:]
        return ""

    def ready(self) -> bool:
        with contextlib.suppress(httpx.HTTPError):
            return httpx.get(self.url + "/readyz", timeout=2).status_code == 200
        return False

    def wait_ready(self, within: float = READY_WITHIN) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"{self.name} exited ({self.proc.returncode}):\n{self.output()}"
            if self.ready():
                return
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready within {within:g} s:\n{self.output()}")

    def probe(self, test: list[str]) -> int:
        """A compose/Dockerfile health check's exec-form command, aimed at this process."""
        assert test[0] == "CMD" and test[1] == "python", test
        argv = [sys.executable, *[part.replace("127.0.0.1:8000", f"127.0.0.1:{self.port}") for part in test[2:]]]
        return subprocess.run(argv, capture_output=True, timeout=10).returncode

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


def dockerfile_healthcheck() -> list[str]:
    """The image's HEALTHCHECK as compose writes a health check test (exec form)."""
    (line,) = [line for line in dockerfile_lines() if line.startswith("HEALTHCHECK ")]
    return ["CMD", *json.loads(line.split(" CMD ", 1)[1])]


@pytest.fixture
def stack(postgres, tmp_path):
    return Stack(postgres.create_database(), tmp_path)


def test_the_stack_starts_in_compose_order_outside_a_container(stack):
    # migrate: exits 0 (compose's service_completed_successfully), and again when run a second time
    for _ in range(2):
        migrated = stack.run("migrate")
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        assert "database is up to date" in migrated.stdout
    gateways = [stack.start("gateway-1"), stack.start("gateway-2")]
    try:
        for gateway in gateways:
            gateway.wait_ready()
            assert httpx.get(gateway.url + "/healthz", timeout=5).status_code == 200
            # the health checks compose and the image run, against the real process
            assert gateway.probe(stack.services[gateway.name]["healthcheck"]["test"]) == 0
            assert gateway.probe(dockerfile_healthcheck()) == 0
        # two instances, one gateway: the same discovery document (the public https issuer, not
        # the address that answered) and the same signing keys
        documents = [httpx.get(g.url + "/.well-known/openid-configuration", timeout=5).json() for g in gateways]
        assert documents[0] == documents[1]
        assert documents[0]["issuer"] == f"https://{stack.values['IDGW_PUBLIC_HOST']}"
        jwks_uri = urlsplit(documents[0]["jwks_uri"])
        assert documents[0]["jwks_uri"].startswith(documents[0]["issuer"] + "/")
        # Started together on a new database, each instance may make the first keys itself
        # (KeyStore.ensure takes no lock); each re-reads the key table within the store's recheck
        # interval, after which both publish the same set.
        deadline = time.monotonic() + KEY_RECHECK + 5
        while True:
            keys = [httpx.get(g.url + jwks_uri.path, timeout=5).json() for g in gateways]
            if keys[0]["keys"] and keys[0] == keys[1] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert keys[0]["keys"] and keys[0] == keys[1]
        # Prometheus's token (the compose secret from IDGW_METRICS_TOKEN) opens /metrics; nothing else does
        token = stack.values["IDGW_METRICS_TOKEN"]
        for gateway in gateways:
            scraped = httpx.get(gateway.url + "/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=5)
            assert scraped.status_code == 200 and "idgw_" in scraped.text
            assert httpx.get(gateway.url + "/metrics", timeout=5).status_code in (401, 404)
        # docker stop: SIGTERM, then SIGKILL after stop_grace_period; each shuts down cleanly within
        # it (uvicorn ends by re-raising the SIGTERM it handled: status 143 in docker's terms)
        grace = int(stack.services["gateway-1"]["stop_grace_period"].removesuffix("s"))
        for gateway in gateways:
            started = time.monotonic()
            gateway.proc.send_signal(signal.SIGTERM)
            assert gateway.proc.wait(timeout=grace) in (0, -signal.SIGTERM), gateway.output()
            assert time.monotonic() - started < grace
            assert "Application shutdown complete" in gateway.output()
        assert "Traceback" not in "".join(g.output() for g in gateways)
    finally:
        for gateway in gateways:
            gateway.stop()


def test_a_gateway_started_before_the_migration_is_not_ready_until_it_ran(stack):
    """compose starts the gateways only after migrate has exited 0; a gateway that starts anyway
    (a manual `up gateway-1 --no-deps`, another orchestrator) must not be taken as ready on an
    empty database, and becomes ready by itself once the migration has run."""
    gateway = stack.start("gateway-1")
    try:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            assert gateway.proc.poll() is None, gateway.output()
            assert not gateway.ready()
            time.sleep(0.25)
        assert gateway.probe(stack.services["gateway-1"]["healthcheck"]["test"]) != 0
        assert gateway.probe(dockerfile_healthcheck()) != 0
        assert "waiting for the database" in gateway.output()
        migrated = stack.run("migrate")
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        gateway.wait_ready(within=30)
        assert gateway.probe(stack.services["gateway-1"]["healthcheck"]["test"]) == 0
    finally:
        gateway.stop()
