"""Run an ASGI app with uvicorn in a background thread (tests and ``idgw demo`` use this)."""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from collections import deque

_HANDED_OUT: deque[int] = deque(maxlen=512)
_HANDED_OUT_LOCK = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago on ``host``, below the ephemeral range (32768-60999 on
    Linux). A port the kernel hands out for port 0 is ephemeral, and an outgoing connection (to
    PostgreSQL, a simulator, the gateway) made between this call and the server's bind could take
    it: seen in full test runs as "address already in use". Ports 20000-32767 are only ever taken
    by an explicit bind; under pytest-xdist each worker draws from its own share of them.

    A port is not handed out again while it is among the last 512 this process handed out: a
    caller often asks for two or three ports before it binds any of them (a gateway and its two
    simulators), and the bind check alone cannot see a port that is promised but not yet bound
    (seen in CI as a simulator's "did not start" once in a full run)."""
    low, high = 20000, 32767
    worker, workers = os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if worker.startswith("gw") and worker[2:].isdigit() and workers.isdigit() and int(workers) > 0:
        share = (high - low + 1) // int(workers)
        low = low + share * (int(worker[2:]) % int(workers))
        high = low + share - 1
    with _HANDED_OUT_LOCK:
        for _ in range(200):
            port = random.randint(low, high)  # noqa: S311 - a port, not a secret
            if port in _HANDED_OUT:
                continue
            with socket.socket() as s:
                try:
                    s.bind((host, port))
                except OSError:
                    continue
            _HANDED_OUT.append(port)
            return port
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ServerThread:
    """``ServerThread(app, port=...).start()`` serves ``app`` on ``http://host:port`` until ``stop()``."""

    def __init__(self, app, *, port: int, host: str = "127.0.0.1") -> None:
        import uvicorn

        self.host, self.port = host, port
        self.url = f"http://{host}:{port}"
        self._server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                     access_log=False, lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, name=f"sim-{port}", daemon=True)

    def start(self, timeout: float = 20) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
