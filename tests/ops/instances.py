"""Several real gateway processes on one database, as a platform would run them: the schema
migrated once by a separate job (``idgw db upgrade``), then each instance started with
``idgw serve --no-migrate`` and the same settings (issuer, secret key, database), and each taken
as started when its ``/readyz`` says so.

``Deployment`` also stands in for the ``gateway`` object the helpers of tests/flow.py take (``url``,
``db()``, ``clock``): setup (clients, accounts, policies) goes straight to the shared database,
and ``at(i)`` is the same deployment seen through instance ``i`` (its ``url``)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port
from tests.ops.procs import Served

IDGW = str(Path(sys.executable).with_name("idgw"))
SECRET_KEY = "two-instances-secret-key-0123456789abcdef-0123"
READY_WITHIN = 60.0


#: One instance: an ``idgw serve`` process of tests.ops.procs (SIGTERM to stop, output in a file).
Instance = Served


@dataclass
class Deployment:
    database_url: str
    env: dict
    instances: list[Instance] = field(default_factory=list)
    url: str = ""  # the issuer (instance 0's address), what the flow helpers call the gateway's URL

    def __post_init__(self) -> None:
        from idgw.clock import Clock
        from idgw.storage.db import make_engine, make_sessionmaker

        self.clock = Clock()
        self.engine = make_engine(self.database_url)
        self._sessionmaker = make_sessionmaker(self.engine)

    def db(self):
        return self._sessionmaker()

    def at(self, index: int) -> _Through:
        return _Through(self, self.instances[index].url)

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        """``idgw ARGS`` with the deployment's settings (what an operator runs beside the instances)."""
        return subprocess.run([IDGW, *args], env=self.env, capture_output=True, text=True, timeout=timeout)

    def start(self, count: int, log_dir: Path) -> None:
        ports = [free_port() for _ in range(count)]
        self.url = self.env["IDGW_ISSUER"] = f"http://127.0.0.1:{ports[0]}"
        migrated = self.cli("db", "upgrade")
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        for n, port in enumerate(ports):
            log = log_dir / f"instance-{n}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen([IDGW, "serve", "--no-migrate", "--host", "127.0.0.1", "--port", str(port)],
                                        env=self.env, stdout=out, stderr=subprocess.STDOUT)
            self.instances.append(Instance(port, proc, log))
        for instance in self.instances:
            instance.wait("/readyz", within=READY_WITHIN)

    def stop(self) -> None:
        for instance in self.instances:
            instance.stop()
        self.engine.dispose()


@dataclass
class _Through:
    """The deployment as seen through one instance: ``url`` is that instance's address."""

    deployment: Deployment
    url: str

    def db(self):
        return self.deployment.db()

    @property
    def clock(self):
        return self.deployment.clock


def deployment_env(database_url: str, **settings: str) -> dict:
    """The environment every process of the deployment shares: this one without any IDGW_ setting
    of the developer's, plus dev mode (http on loopback), one secret key and the database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDGW_")}
    env.update(IDGW_DEV="1", IDGW_SECRET_KEY=SECRET_KEY, IDGW_DATABASE_URL=database_url, IDGW_PURGE_INTERVAL="0",
               IDGW_LOG_FORMAT="text")
    env.update({f"IDGW_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def start_deployment(database_url: str, log_dir: Path, *, count: int = 2, **settings: str) -> Deployment:
    deployment = Deployment(database_url, deployment_env(database_url, **settings))
    try:
        deployment.start(count, log_dir)
    except BaseException:
        deployment.stop()
        raise
    return deployment
