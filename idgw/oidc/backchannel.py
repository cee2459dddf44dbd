"""OpenID Connect Back-Channel Logout 1.0: tell e-services that a gateway session ended.

Signing out queues one ``logout_deliveries`` row per (e-service, session) in the same transaction
(``idgw.login.sessions.sign_out``); this module signs a logout token for each row when it is sent
and POSTs it to the service's registered ``backchannel_logout_uri``, retrying with back-off.

* The logout token (§2.4) carries ``iss``, ``aud``, ``iat``, ``exp``, ``jti``, the service's
  ``sub`` (pairwise as in its ID tokens), the ``sid`` of its ID tokens and the ``events`` claim;
  never a ``nonce``. Its ``typ`` is ``logout+jwt`` (§2.4, so it cannot pass for an ID token) and it
  is signed with the service's ID-token algorithm.
* Delivery (§2.5, §2.8): form-encoded ``logout_token``; 200 or 204 is success; no redirects are
  followed. Network errors, 5xx, 408 and 429 are retried after ``RETRY_DELAYS``; another 4xx means
  the service refused the token, and it is not sent again. Each outcome is audited.
* Several gateway workers or instances share the queue: a row is leased (``claimed_until``) by
  one conditional UPDATE, so it is sent by one of them at a time.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import httpx
from sqlalchemy import bindparam, or_, select, update

from idgw import audit
from idgw.security import random_token
from idgw.storage.db import READ_ONLY
from idgw.storage.models import Client, LogoutDelivery

log = logging.getLogger(__name__)

EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: Back-Channel Logout §2.4 recommends a short lifetime: the token is verified on receipt.
LOGOUT_TOKEN_TTL = 120
#: Seconds to wait after each failed attempt; after the last one the notice is given up.
RETRY_DELAYS = (5, 30, 120, 600, 3600, 6 * 3600)
#: How long one worker may hold a row it is sending (longer than the HTTP timeout).
LEASE = 60
#: How often the sender looks for due notices when nobody wakes it.
POLL_SECONDS = 2.0
BATCH = 20

_TABLE = LogoutDelivery.__table__
_DUE = (
    select(_TABLE.c.id)
    .where(_TABLE.c.delivered_at.is_(None), _TABLE.c.failed_at.is_(None),
           _TABLE.c.next_attempt_at <= bindparam("p_now"),
           or_(_TABLE.c.claimed_until.is_(None), _TABLE.c.claimed_until < bindparam("p_now")))
    .order_by(_TABLE.c.next_attempt_at)
    .limit(BATCH)
)


@dataclass(frozen=True)
class Notice:
    id: str
    client_id: str
    session_id: str
    account_id: str
    attempts: int
    uri: str
    token: str


def logout_token(provider, *, client: Client, account_id: str, session_id: str, now: int) -> str:
    """The signed logout token for one e-service and one session (Back-Channel Logout §2.4)."""
    claims = {
        "iss": provider.settings.issuer, "aud": client.client_id, "iat": now, "exp": now + LOGOUT_TOKEN_TTL,
        "jti": random_token(18), "sub": provider.subject_for(client=client, account_id=account_id),
        "sid": session_id, "events": {EVENT: {}},
    }
    return provider.keys.signer(client.id_token_signed_response_alg or "ES256").sign(claims, typ="logout+jwt")


def _outcome(response: httpx.Response | None, error: str | None) -> tuple[bool, bool, str | None]:
    """(delivered, retry, error text)."""
    if response is None:
        return False, True, error
    if response.status_code in (200, 204):
        return True, False, None
    retry = response.status_code >= 500 or response.status_code in (408, 429)
    return False, retry, f"HTTP {response.status_code}"


class BackchannelLogout:
    """Sends queued logout notices. ``deliver_due`` does one round (blocking; tests call it);
    ``run`` loops in the application's lifespan, woken by ``wake`` after a sign-out commits."""

    def __init__(self, *, sessionmaker, provider, clock, timeout: float = 5.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.sessionmaker = sessionmaker
        self.provider = provider
        self.clock = clock
        self.timeout = timeout
        self.transport = transport
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Look for notices now (safe from any thread; a no-op when the sender is not running)."""
        if self._event is not None and self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._event.set)

    def _claim(self) -> list[Notice]:
        now = self.clock.now()
        with self.sessionmaker() as db:
            # The common case, nothing due, takes no write lock (SQLite: BEGIN DEFERRED).
            ids = list(db.connection(execution_options=READ_ONLY).execute(_DUE, {"p_now": now}).scalars())
        if not ids:
            return []
        with self.sessionmaker() as db:
            # The lease is re-checked by the UPDATE itself, so of two workers that saw the same
            # rows only one gets each (PostgreSQL re-evaluates the WHERE after the other commits).
            rows = db.execute(
                update(_TABLE).where(_TABLE.c.id.in_(ids), _TABLE.c.delivered_at.is_(None),
                                     or_(_TABLE.c.claimed_until.is_(None), _TABLE.c.claimed_until < now))
                .values(claimed_until=now + LEASE).returning(*_TABLE.c)).all()
            notices = []
            for row in rows:
                client = db.get(Client, row.client_id)
                if client is None or not client.backchannel_logout_uri:
                    db.execute(update(_TABLE).where(_TABLE.c.id == row.id).values(
                        failed_at=now, last_error="the service no longer has a back-channel logout URI"))
                    continue
                token = logout_token(self.provider, client=client, account_id=row.account_id,
                                     session_id=row.session_id, now=now)
                notices.append(Notice(row.id, row.client_id, row.session_id, row.account_id, row.attempts,
                                      client.backchannel_logout_uri, token))
            db.commit()
            return notices

    def _send(self, http: httpx.Client, notice: Notice) -> tuple[httpx.Response | None, str | None]:
        try:
            response = http.post(notice.uri, data={"logout_token": notice.token},
                                 headers={"Cache-Control": "no-store"})
            return response, None
        except httpx.TimeoutException:
            return None, "timeout"
        except httpx.HTTPError as exc:
            return None, type(exc).__name__

    def _record(self, notice: Notice, response: httpx.Response | None, error: str | None) -> None:
        delivered, retry, problem = _outcome(response, error)
        with self.sessionmaker() as db:
            now = self.clock.now()
            attempts = notice.attempts + 1
            values: dict = {"attempts": attempts, "claimed_until": None, "last_error": (problem or None)}
            if delivered:
                values["delivered_at"] = now
                audit.record(db, "logout.delivered", at=now, actor="gateway", on_behalf_of=notice.account_id,
                             client_id=notice.client_id, session_id=notice.session_id, attempts=attempts)
            elif retry and attempts <= len(RETRY_DELAYS):
                values["next_attempt_at"] = now + RETRY_DELAYS[attempts - 1]
                log.info("back-channel logout to %s failed (%s); retry %d in %d s", notice.client_id, problem,
                         attempts, RETRY_DELAYS[attempts - 1])
            else:
                values["failed_at"] = now
                audit.record(db, "logout.failed", at=now, actor="gateway", on_behalf_of=notice.account_id,
                             client_id=notice.client_id, session_id=notice.session_id, attempts=attempts,
                             error=problem)
                log.warning("back-channel logout to %s given up after %d attempts: %s", notice.client_id,
                            attempts, problem)
            db.execute(update(_TABLE).where(_TABLE.c.id == notice.id).values(**values))
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
        """Until cancelled: send due notices, then sleep until woken or ``POLL_SECONDS`` pass."""
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        while True:
            try:
                while await asyncio.to_thread(self.deliver_due):
                    pass
            except Exception:  # noqa: BLE001 - a database hiccup must not end the sender
                log.exception("back-channel logout round failed")
            try:
                await asyncio.wait_for(self._event.wait(), timeout=POLL_SECONDS)
            except TimeoutError:
                pass
            self._event.clear()
