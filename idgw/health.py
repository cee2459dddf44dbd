"""Liveness and readiness of one gateway process (docs/operations.md), and its account of database
outages.

``/healthz`` answers 200 while the process runs: a restart is the cure only for a process that
no longer answers at all. ``/readyz`` answers 200 only when this process can serve a sign-in: the
database answers (and SQLite can write), nobody is migrating it, its schema is at this release's
head (or at a newer release's, expand-then-contract: ``"schema": "newer"``), the signing keys are
loaded and the upstream configuration loaded. Otherwise 503 with the failing checks named and
``Retry-After``, so a proxy or orchestrator sends its traffic elsewhere. A probe polled every second
by every proxy must stay cheap: the answer is kept ``CACHE_SECONDS`` per process, at most one probe
runs at a time, and it uses a connection of its own with short timeouts (``idgw.storage.probe``).

After SIGTERM uvicorn closes the listening socket at once and closes idle keep-alive connections,
so a readiness probe can no longer reach a process that is draining (connection refused is "not
ready" to every proxy) while requests already inside it finish.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from idgw.storage.probe import DatabaseStartError, Schema, database_state, describe, probe_engine
from idgw.web.errors import RETRY_AFTER

router = APIRouter(include_in_schema=False)
log = logging.getLogger("idgw.health")

#: Seconds a readiness answer is reused.
CACHE_SECONDS = 1.0
#: Values of a check that count as passing ("newer": a newer release migrated the schema already).
PASSING = {"ok", "newer"}


class Outage:
    """One log line when the database stops answering (the first failure's reason and class) and
    one when it answers again (how long, how many requests were answered 503), instead of a
    traceback per request. Per process; thread-safe (requests fail in worker threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.since: float | None = None
        self.refused = 0

    @property
    def active(self) -> bool:
        return self.since is not None

    def failed(self, reason: str, error: str | None, *, request: bool) -> None:
        with self._lock:
            if self.since is None:
                self.since = time.monotonic()
                self.refused = 0
                log.error("database unavailable (%s: %s): answering 503 until it answers again", reason, error)
            if request:
                self.refused += 1

    def recovered(self) -> None:
        if self.since is None:
            return
        with self._lock:
            if self.since is None:
                return
            log.warning("database answers again after %.1f s; %d requests were answered 503 meanwhile",
                        time.monotonic() - self.since, self.refused)
            self.since = None


class Health:
    """Readiness of this process (``check``, ``readiness``) and its ``outage`` account. The probe
    engine and the schema's head are made at the first probe, not at start-up."""

    def __init__(self, *, database_url: str, keys, upstreams: dict, cache_seconds: float = CACHE_SECONDS) -> None:
        self.database_url = database_url
        self.keys = keys
        self.upstreams = upstreams
        self.cache_seconds = cache_seconds
        self.outage = Outage()
        self._engine = None
        self._schema: Schema | None = None
        self._answer: tuple[float, int, dict] | None = None
        self._lock: asyncio.Lock | None = None
        self._nudged: asyncio.Task | None = None

    def check(self) -> tuple[int, dict]:
        """Probe now (blocking: run it in a thread): (200 or 503, the JSON body)."""
        if self._engine is None:
            self._schema = Schema.of_this_code(self.database_url)
            self._engine = probe_engine(self.database_url)
        state = database_state(self._engine, self._schema)
        checks = {"database": state.reason or "ok"}
        if state.error is not None:
            self.outage.failed(state.reason, state.error, request=False)
        elif state.reason is None:
            self.outage.recovered()
            checks["schema"] = "ok" if state.schema == "head" else state.schema
        checks["keys"] = self._keys()
        checks["upstreams"] = "ok" if isinstance(self.upstreams, dict) and all(
            getattr(u, "type", None) for u in self.upstreams.values()) else "invalid"
        ready = all(value in PASSING for value in checks.values())
        return (200 if ready else 503), {"status": "ready" if ready else "not_ready", "checks": checks}

    def _keys(self) -> str:
        try:
            self.keys.signer("ES256")
            self.keys.signer("RS256")
        except RuntimeError:  # no active signing key loaded
            return "no_signing_key"
        return "ok"

    async def readiness(self) -> tuple[int, dict]:
        """``check``'s answer, kept ``cache_seconds``; callers arriving while a probe runs wait for
        that probe rather than start another."""
        answer = self._fresh()
        if answer is not None:
            return answer
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            answer = self._fresh()
            if answer is None:
                status, body = await asyncio.to_thread(self.check)
                self._answer = (time.monotonic(), status, body)
                answer = status, body
        return answer

    def _fresh(self) -> tuple[int, dict] | None:
        kept = self._answer
        if kept is not None and time.monotonic() - kept[0] < self.cache_seconds:
            return kept[1], kept[2]
        return None

    def nudge(self) -> None:
        """During an outage, after a request: probe in the background (at most one at a time, at
        most every ``cache_seconds``), so the recovery is noticed and logged even when nothing
        polls /readyz. Call from the event loop."""
        if not self.outage.active or (self._nudged is not None and not self._nudged.done()) or self._fresh():
            return
        self._nudged = asyncio.get_running_loop().create_task(self.readiness(), name="idgw-readiness")
        self._nudged.add_done_callback(_quiet)


def _quiet(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("readiness probe failed: %s", type(task.exception()).__name__)


# HEAD too: some load balancers probe with it.
@router.api_route("/healthz", methods=["GET", "HEAD"])
async def healthz():
    return {"status": "ok"}


@router.api_route("/readyz", methods=["GET", "HEAD"])
async def readyz(request: Request):
    status, body = await request.app.state.gateway.health.readiness()
    headers = {"Cache-Control": "no-store"}
    if status != 200:
        headers["Retry-After"] = str(RETRY_AFTER)
    return JSONResponse(body, status_code=status, headers=headers)


def wait_for_schema(url: str, *, timeout: float, log: Callable[[str], None], every: float = 5.0,
                    poll: float = 0.5) -> str:
    """Wait until the database at ``url`` is reachable, not being migrated, and its schema is at
    this code's head or at a revision this code does not know (a newer release migrated it):
    for ``idgw serve --no-migrate``, started beside a separate ``idgw db upgrade`` job. Says what
    it waits for through ``log`` at once and then every ``every`` seconds; returns ``head`` or
    ``newer``; ``DatabaseStartError`` after ``timeout`` seconds."""
    schema = Schema.of_this_code(url)
    engine = probe_engine(url)
    deadline = time.monotonic() + timeout
    said = None
    try:
        while True:
            state = database_state(engine, schema)
            if state.reason is None and state.schema in ("head", "newer"):
                if said is not None:
                    log(f"the database schema is ready ({state.schema})")
                return state.schema
            now = time.monotonic()
            if now >= deadline:
                raise DatabaseStartError(f"the database was not ready within {timeout:g} s: "
                                         f"{describe(state, schema)}; run the migration job (idgw db upgrade)")
            if said is None or now - said >= every:
                log(f"waiting for the database: {describe(state, schema)}")
                said = now
            time.sleep(min(poll, max(0.0, deadline - now)))
    finally:
        engine.dispose()
