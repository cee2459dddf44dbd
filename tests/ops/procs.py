"""Shared helpers of the health and fault tests: a PostgreSQL cluster of a test's own that it can
stop and start again on the same port, and real ``idgw serve`` processes on a fixed port (so a
restarted process keeps the issuer and the browser's cookies).

``Site`` stands in for the ``gateway`` object tests/flow.py's helpers take (``url``, ``db()``,
``clock``): setup goes straight to the database, sign-ins go over HTTP to the process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.conftest import PostgresServer, _pg_bin, free_port

IDGW = str(Path(sys.executable).with_name("idgw"))
SECRET_KEY = "ops-tests-secret-key-0123456789abcdef-0123456789"


class Cluster(PostgresServer):
    """A throw-away PostgreSQL cluster that a test may stop (``pg_ctl stop -m fast``: sessions
    are ended, as in a restart or a fail-over) and start again on the same port."""

    def _ctl(self, *args: str) -> None:
        subprocess.run([*self.as_user, _pg_bin("pg_ctl"), "-D", str(self.dir / "data"), *args], check=True,
                       capture_output=True, timeout=60)

    def halt(self) -> None:
        self._ctl("-m", "fast", "-w", "stop")

    def resume(self) -> None:
        self._ctl("-l", str(self.dir / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                  "start")


@dataclass
class Served:
    """One ``idgw serve`` process; its output goes to ``log``."""

    port: int
    proc: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self, tail: int | None = None) -> str:
        with contextlib.suppress(OSError):
            text = self.log.read_text(errors="replace")
            return text[-tail:] if tail else text
        return ""

    def wait(self, path: str = "/readyz", within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"idgw serve exited ({self.proc.returncode}):\n{self.output()[-4000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return
            time.sleep(0.05)
        raise AssertionError(f"idgw serve not answering 200 on {path} within {within:g} s:\n{self.output()[-4000:]}")

    def terminate(self, within: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=within)

    def stop(self) -> None:
        """SIGTERM (a drain), then SIGKILL if it has not ended within 20 s."""
        try:
            self.terminate(within=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


@dataclass
class Site:
    """One gateway deployment: a database, the settings every process shares, a fixed port."""

    database_url: str
    log_dir: Path
    settings: dict = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    served: list[Served] = field(default_factory=list)

    def __post_init__(self) -> None:
        from idgw.clock import Clock
        from idgw.storage.db import make_engine, make_sessionmaker

        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("IDGW_")}
        self.env.update(IDGW_DEV="1", IDGW_SECRET_KEY=SECRET_KEY, IDGW_DATABASE_URL=self.database_url,
                        IDGW_ISSUER=self.url, IDGW_PURGE_INTERVAL="0")
        self.env.update({f"IDGW_{k.upper()}": str(v) for k, v in self.settings.items()})
        self.clock = Clock()
        self.engine = make_engine(self.database_url)
        self._sessionmaker = make_sessionmaker(self.engine)

    def db(self):
        return self._sessionmaker()

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([IDGW, *args], env=self.env, capture_output=True, text=True, timeout=timeout)

    def serve(self, *args: str, ready: str | None = "/readyz") -> Served:
        """``idgw serve --port PORT ARGS``; waits until ``ready`` answers 200 (None: does not wait)."""
        log = self.log_dir / f"serve-{self.port}-{len(self.served)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([IDGW, "serve", "--host", "127.0.0.1", "--port", str(self.port), *args],
                                    env=self.env, stdout=out, stderr=subprocess.STDOUT)
        served = Served(self.port, proc, log)
        self.served.append(served)
        if ready is not None:
            served.wait(ready)
        return served

    def close(self) -> None:
        for served in self.served:
            if served.proc.poll() is None:
                served.proc.kill()
                served.proc.wait(timeout=10)
        self.engine.dispose()
