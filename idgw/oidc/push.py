"""Pushing signed notices to e-services from a database queue: the machinery shared by back-channel
logout (``idgw.oidc.backchannel``) and Security Event Tokens (``idgw.delegation.events``).

A queue is a table with ``id``, ``client_id``, ``attempts``, ``next_attempt_at``,
``claimed_until``, ``delivered_at``, ``failed_at`` and ``last_error``. Rows are added in the
transaction of the change they report; a ``PushSender`` subclass says where the service receives
them (``uri_field`` of ``clients``), builds the notice for a leased row (signing its token then,
so that every attempt carries a fresh token under the current key), posts it, judges the answer and
names what the audit log records. The rest is the same for every queue:

* Several gateway workers or instances share the queue: due rows are looked up in a read-only
  transaction, then leased (``claimed_until``) by one conditional UPDATE, so each is sent by one
  of them at a time.
* A row whose service no longer has the URI is given up at once.
* No redirects are followed. Network errors, 5xx, 408 and 429 are retried after
  ``retry_delays``; another answer that is not a success means the service refused the notice,
  and it is not sent again. Delivery and giving up are audited.
* ``deliver_due`` does one round (blocking; tests call it); ``run`` loops in the application's
  lifespan, woken by ``wake`` after a change that queued rows commits.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import httpx
from sqlalchemy import Table, bindparam, or_, select, update

from idgw import audit
from idgw.storage.db import READ_ONLY
from idgw.storage.models import Client
from idgw.storage.probe import log_failure

log = logging.getLogger(__name__)

#: Seconds to wait after each failed attempt; after the last one the notice is given up.
RETRY_DELAYS = (5, 30, 120, 600, 3600, 6 * 3600)
#: How long one worker may hold a row it is sending (longer than the HTTP timeout).
LEASE = 60
#: How often a sender looks for due notices when nobody wakes it.
POLL_SECONDS = 2.0
BATCH = 20


class Queued(Protocol):
    """What the machinery needs of a notice: its row, its service, the attempts made so far."""

    id: str
    client_id: str
    attempts: int


N = TypeVar("N", bound=Queued)


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended. ``detail``: extra members for the audit record of a refusal."""

    delivered: bool
    retry: bool
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


def judged(response: httpx.Response, *, success: tuple[int, ...] = (200, 204)) -> Outcome:
    """An HTTP answer: ``success`` delivers; 5xx, 408 and 429 are worth retrying; the rest refuse."""
    if response.status_code in success:
        return Outcome(True, False)
    retry = response.status_code >= 500 or response.status_code in (408, 429)
    return Outcome(False, retry, f"HTTP {response.status_code}")


def due_query(table: Table, *, batch: int):
    """Ids of rows due at ``:p_now``: neither delivered nor given up, and not leased."""
    return (
        select(table.c.id)
        .where(table.c.delivered_at.is_(None), table.c.failed_at.is_(None),
               table.c.next_attempt_at <= bindparam("p_now"),
               or_(table.c.claimed_until.is_(None), table.c.claimed_until < bindparam("p_now")))
        .order_by(table.c.next_attempt_at)
        .limit(batch)
    )


class PushSender(ABC, Generic[N]):
    """Sends the rows of ``table``. Subclasses set the class attributes and implement ``notice``,
    ``post`` and ``audit_of`` (and ``outcome`` when success or refusal reads differently)."""

    table: ClassVar[Table]
    #: The ``clients`` column holding where the service receives these notices.
    uri_field: ClassVar[str]
    #: What the notices are, in log lines ("back-channel logout").
    label: ClassVar[str]
    #: Audit event names for a delivery and for giving up.
    delivered_event: ClassVar[str]
    failed_event: ClassVar[str]
    retry_delays: ClassVar[tuple[int, ...]] = RETRY_DELAYS
    lease: ClassVar[int] = LEASE
    poll_seconds: ClassVar[float] = POLL_SECONDS
    batch: ClassVar[int] = BATCH
    #: Where log lines go (a subclass names its own module's logger).
    logger: ClassVar[logging.Logger] = log

    def __init__(self, *, sessionmaker, provider, clock, timeout: float = 5.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.sessionmaker = sessionmaker
        self.provider = provider
        self.clock = clock
        self.timeout = timeout
        self.transport = transport
        self._due = due_query(self.table, batch=self.batch)
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- what a subclass says -------------------------------------------------------------------

    @abstractmethod
    def notice(self, db, row, *, client: Client, uri: str, now: int) -> N:
        """The notice for a leased ``row`` of ``client``, its token signed now."""

    @abstractmethod
    def post(self, http: httpx.Client, notice: N) -> httpx.Response:
        """One attempt to deliver ``notice``."""

    @abstractmethod
    def audit_of(self, notice: N) -> dict[str, Any]:
        """``on_behalf_of``, ``client_id`` and the other members every audit record of it carries."""

    def outcome(self, response: httpx.Response) -> Outcome:
        return judged(response)

    # -- the machinery --------------------------------------------------------------------------

    def wake(self) -> None:
        """Look for notices now (safe from any thread; a no-op when the sender is not running)."""
        if self._event is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._event.set)

    def _claim(self) -> list[N]:
        now = self.clock.now()
        table = self.table
        with self.sessionmaker() as db:
            # The common case, nothing due, takes no write lock (SQLite: BEGIN DEFERRED).
            ids = list(db.connection(execution_options=READ_ONLY).execute(self._due, {"p_now": now}).scalars())
        if not ids:
            return []
        with self.sessionmaker() as db:
            # The lease is re-checked by the UPDATE itself, so of two workers that saw the same
            # rows only one gets each (PostgreSQL re-evaluates the WHERE after the other commits).
            rows = db.execute(
                update(table).where(table.c.id.in_(ids), table.c.delivered_at.is_(None),
                                    or_(table.c.claimed_until.is_(None), table.c.claimed_until < now))
                .values(claimed_until=now + self.lease).returning(*table.c)).all()
            notices = []
            for row in rows:
                client = db.get(Client, row.client_id)
                uri = getattr(client, self.uri_field, None) if client is not None else None
                if not uri:
                    db.execute(update(table).where(table.c.id == row.id).values(
                        failed_at=now, last_error=f"the service no longer has a {self.label} URI"))
                    continue
                notices.append(self.notice(db, row, client=client, uri=uri, now=now))
            db.commit()
            return notices

    def _send(self, http: httpx.Client, notice: N) -> tuple[httpx.Response | None, str | None]:
        try:
            return self.post(http, notice), None
        except httpx.TimeoutException:
            return None, "timeout"
        except httpx.HTTPError as exc:
            return None, type(exc).__name__

    def _record(self, notice: N, response: httpx.Response | None, error: str | None) -> None:
        result = self.outcome(response) if response is not None else Outcome(False, True, error)
        problem = result.error
        with self.sessionmaker() as db:
            now = self.clock.now()
            attempts = notice.attempts + 1
            values: dict = {"attempts": attempts, "claimed_until": None, "last_error": (problem or None)}
            if result.delivered:
                values["delivered_at"] = now
                audit.record(db, self.delivered_event, at=now, actor="gateway", **self.audit_of(notice),
                             attempts=attempts)
            elif result.retry and attempts <= len(self.retry_delays):
                values["next_attempt_at"] = now + self.retry_delays[attempts - 1]
                self.logger.info("%s to %s failed (%s); retry %d in %d s", self.label, notice.client_id, problem,
                         attempts, self.retry_delays[attempts - 1])
            else:
                values["failed_at"] = now
                audit.record(db, self.failed_event, at=now, actor="gateway", **self.audit_of(notice),
                             attempts=attempts, error=problem, **result.detail)
                self.logger.warning("%s to %s given up after %d attempts: %s", self.label, notice.client_id,
                            attempts, problem)
            db.execute(update(self.table).where(self.table.c.id == notice.id).values(**values))
            db.commit()

    def deliver_due(self) -> int:
        """Send every notice that is due now; returns how many were attempted."""
        notices = self._claim()
        if notices:
            with httpx.Client(timeout=self.timeout, follow_redirects=False, transport=self.transport) as http:
                for notice in notices:
                    response, error = self._send(http, notice)
                    self._record(notice, response, error)
        return len(notices)

    async def run(self) -> None:
        """Until cancelled: send due notices, then sleep until woken or ``poll_seconds`` pass."""
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        while True:
            try:
                while await asyncio.to_thread(self.deliver_due):
                    pass
            except Exception as error:  # noqa: BLE001 - a database hiccup must not end the sender
                # An outage: one line a round, not a traceback every poll (idgw.health logs the outage).
                log_failure(self.logger, f"{self.label} round failed", error)
            try:
                await asyncio.wait_for(self._event.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass
            self._event.clear()
