"""The test app for the call tests: the signalling router and a MediaHub served by uvicorn with the
gateway's uvicorn options and security headers, a page with the ``#call`` element, a stand-in
``authorize``; and helpers to wait and to sample a page's ``#remote`` video."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from idgw.proofing.media import MediaHub
from idgw.proofing.signalling import Participant, Rooms, router
from tests.conftest import free_port

STATIC = Path(__file__).resolve().parents[2] / "idgw" / "proofing" / "static"
GRANTS = {"alice": ("c1", "citizen"), "olga": ("c1", "officer"), "mallory": ("c2", "officer")}
TOLERANCE = 30  # per channel, after VP8 twice (browser -> gateway -> browser)


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>call</title></head><body>
<div id="call" data-case="{case}" data-role="{role}" data-lang="en">
<video id="local" muted playsinline></video><video id="remote" playsinline></video>
<p id="call-status"></p></div>
<script src="/proofing/static/call.js"></script></body></html>"""


async def authorize(websocket, case_id):
    """The test's stand-in: the ``who`` cookie names an account; its grant says case and role
    (for whatever case the path names: the signalling layer itself refuses another case's)."""
    grant = GRANTS.get(websocket.cookies.get("who", ""))
    return Participant(grant[0], grant[1], websocket.cookies["who"]) if grant else None


class Server:
    def __init__(self) -> None:
        import uvicorn
        from fastapi import FastAPI
        from fastapi.responses import HTMLResponse
        from fastapi.staticfiles import StaticFiles

        from idgw.app import SecurityHeaders
        from idgw.server import server_options

        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.hooks: list[tuple[str, str, str]] = []
        self.states: list[tuple[str, str, str]] = []
        self.hub = MediaHub(ice_servers=[], on_state=self._on_state)
        self.rooms = Rooms(on_join=self._hook("join"), on_leave=self._hook("leave"))
        self.loop: asyncio.AbstractEventLoop | None = None

        @contextlib.asynccontextmanager
        async def lifespan(_app):
            self.loop = asyncio.get_running_loop()
            yield
            await self.hub.close_all()

        app = FastAPI(lifespan=lifespan)
        app.include_router(router(hub=self.hub, authorize=authorize, origin=self.origin, ice=lambda p: [],
                                  rooms=self.rooms))
        app.mount("/proofing/static", StaticFiles(directory=STATIC), name="proofing-static")

        @app.get("/proofing/test/{case}/{role}")
        async def page(case: str, role: str):
            return HTMLResponse(PAGE.format(case=case, role=role))

        options = server_options(SimpleNamespace(header_timeout=10, keep_alive_timeout=5, shutdown_timeout=3))
        self.server = uvicorn.Server(uvicorn.Config(SecurityHeaders(app, https=False), host="127.0.0.1",
                                                    port=self.port, log_level="warning", access_log=False,
                                                    **options))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def _hook(self, name):
        async def hook(p: Participant):
            self.hooks.append((name, p.role, p.account_id))
        return hook

    async def _on_state(self, case_id, role, state):
        self.states.append((case_id, role, state))

    def start(self) -> Server:
        self.thread.start()
        wait(lambda: self.server.started, 20, "the test server did not start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def run(self, fn, timeout: float = 10):
        """``fn()`` on the server's event loop (where the media lives); a coroutine is awaited."""
        async def call():
            result = fn()
            return await result if asyncio.iscoroutine(result) else result
        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout)

    def latest(self, case_id="c1"):
        return self.run(lambda: (m := self.hub.get(case_id)) and m.latest())


def wait(predicate, timeout: float, message: str = "timed out", step: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(step)


SAMPLE_REMOTE = """() => {
  const v = document.getElementById("remote");
  if (!v || !v.videoWidth) return null;
  const c = document.createElement("canvas");
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext("2d");
  g.drawImage(v, 0, 0);
  const at = (x, y) => Array.from(g.getImageData(x | 0, y | 0, 1, 1).data.slice(0, 3));
  return {width: v.videoWidth, left: at(c.width / 4, c.height / 2), right: at(3 * c.width / 4, c.height / 2)};
}"""


def remote_shows(page, colours, timeout=15):
    def looks():
        seen = page.evaluate(SAMPLE_REMOTE)
        ok = seen and all(np.abs(np.subtract(seen[side], colour)).max() <= TOLERANCE
                          for side, colour in zip(("left", "right"), colours, strict=True))
        return seen if ok else None
    return wait(looks, timeout, f"#remote never showed {colours}: {page.evaluate(SAMPLE_REMOTE)}", 0.25)
