"""Run an ASGI app with uvicorn in a background thread (tests and ``idgw demo`` use this)."""

from __future__ import annotations

import socket
import threading
import time


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago on ``host``."""
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
