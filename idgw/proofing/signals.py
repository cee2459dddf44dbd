"""Proofing events between gateway instances (docs/proofing.md, "Several instances"): what one
instance decides about a case reaches the call sockets held by another.

A call socket lives in one process (``idgw.proofing.signalling.Rooms``), but the HTTP request that
ends or moves its case (an officer's decision, a citizen's Cancel, the sweeper, a side's grace
period running out) may be handled by any instance. Such a request calls ``publish`` inside its
own transaction; every instance's listener (``run``) hands the signal to its own rooms, and the
one that holds the case's sockets sends the event or closes them.

- PostgreSQL: ``publish`` is ``pg_notify('idgw_proofing', payload)`` on the request's connection.
  PostgreSQL delivers a notification only when its transaction commits (never after a rollback),
  so a socket is never told about a move the database did not keep. ``run`` keeps one dedicated
  psycopg connection LISTENing; when it drops (database restart, a terminated backend) it is
  opened again with back-off, logged once per outage, and on each (re)connection the sockets of
  cases that ended meanwhile are closed (a notification sent while nobody listened is lost, so
  what it would have closed is found from the database instead).
- SQLite (one process): the signal waits in the session and is delivered to this process's rooms
  right after the session commits (dropped on rollback), on the event loop ``run`` registered.

The payload carries ids and event names only (never card data, names or images): the case id,
the event name, to whom, which roles' sockets to close, whether to drop the case's media, and a
few scalar fields (a state, a cue's name). PostgreSQL limits a payload to 8000 bytes; ``publish``
refuses one over ``MAX_PAYLOAD`` bytes (``ValueError``) rather than fail the transaction at commit.

Events that a socket's own process produces for that socket (the cue the officer's live check
shows, its result; both need the case's media, which lives in the process holding the sockets)
are still sent directly through ``Rooms``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import weakref

from sqlalchemy import event as sa_event
from sqlalchemy import select, text
from sqlalchemy.engine import Connection, make_url

from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.proofing.cases import FINAL
from idgw.storage.proofing import ProofingCase

CHANNEL = "idgw_proofing"
MAX_PAYLOAD = 7900  # PostgreSQL refuses a NOTIFY payload of 8000 bytes or more
ROLES = ("citizen", "officer")
CASE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
NAME = re.compile(r"[a-z_]{1,40}")
# The listener's back-off after a failed (re)connection: 0.5, 1, 2, ... at most 10 s.
FIRST_DELAY, MAX_DELAY = 0.5, 10.0
# How long the listener waits for a notification before it checks that its connection still answers
# (a connection lost without a TCP reset would otherwise wait for the kernel's keep-alive).
PING_EVERY = 30.0
# At most this long for one signal's delivery (sockets of a stalled client must not hold up the rest).
DELIVERY_TIMEOUT = 5.0
APPLICATION_NAME = "idgw-proofing-signals"
_PENDING = "idgw_proofing_signals"  # key in a session's (or connection's) ``info``: SQLite signals waiting
_HOOKED = "idgw_proofing_signals_hooked"

log = logging.getLogger("idgw.proofing.signals")
# SQLite: engine -> (event loop, deliver coroutine function) of the process's ``run`` (one process).
_local: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def payload(case_id: str, name: str | None = None, *, to: str | None = None, close: tuple[str, ...] = (),
            drop_media: bool = False, data: dict | None = None) -> str:
    """The signal as the JSON text that travels (see ``publish``); ``ValueError`` when it is not one."""
    if not isinstance(case_id, str) or not CASE_ID.fullmatch(case_id):
        raise ValueError("a proofing signal needs a case id")
    if name is not None and not NAME.fullmatch(name):
        raise ValueError(f"bad proofing event name {name!r}")
    if to is not None and to not in ROLES or any(r not in ROLES for r in close):
        raise ValueError("a proofing signal names the roles citizen and officer only")
    data = dict(data or {})
    # Ids, names and numbers only: a payload is visible to anyone who can LISTEN on the database.
    if any(not isinstance(v, str | int | float | bool) or isinstance(v, str) and len(v) > 100
           for v in data.values()) or {"type", "name", "role"} & data.keys():
        raise ValueError("proofing signal data are short scalars (ids and names), never documents")
    body = {"case": case_id, "name": name, "to": to, "close": list(close), "drop_media": bool(drop_media),
            "data": data}
    out = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    if len(out.encode()) > MAX_PAYLOAD:
        raise ValueError(f"a proofing signal is limited to {MAX_PAYLOAD} bytes")
    return out


def publish(db, case_id: str, name: str | None = None, *, to: str | None = None, close: tuple[str, ...] = (),
            drop_media: bool = False, data: dict | None = None) -> None:
    """Tell the sockets of ``case_id``, once ``db``'s transaction commits: send the event ``name``
    (``{"type": "event", "name": name, **data}``) to the role ``to`` (None: both), then close the
    sockets of the roles in ``close``, then (``drop_media``) close the case's media. ``db``: the
    request's Session or Connection; nothing is delivered if it rolls back."""
    text_ = payload(case_id, name, to=to, close=close, drop_media=drop_media, data=data)
    bind = db if isinstance(db, Connection) else db.get_bind()
    if bind.dialect.name == "postgresql":
        db.execute(text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": text_})
        return
    if not isinstance(db, Connection):
        db.connection()  # the transaction whose end decides (a rollback without one would not drop it)
    _hold_until_commit(db)
    db.info.setdefault(_PENDING, []).append((bind.engine if isinstance(bind, Connection) else bind, text_))


def _hold_until_commit(db) -> None:
    """SQLite: deliver the session's (connection's) signals after it commits, forget them when its
    transaction ends otherwise (rolled back, or closed without a commit). Hooked once per session."""
    if db.info.get(_HOOKED):
        return
    db.info[_HOOKED] = True

    def deliver(*_args) -> None:
        for engine, text_ in db.info.pop(_PENDING, None) or ():
            _deliver_locally(engine, text_)

    def drop(*_args) -> None:
        db.info.pop(_PENDING, None)

    if isinstance(db, Connection):
        # A Connection's "commit" event comes as the commit is issued, so a commit that then fails
        # still delivers: harmless here (the pages re-read the case), and SQLite commits rarely fail.
        sa_event.listen(db, "commit", deliver)
        sa_event.listen(db, "rollback", drop)
        return

    def ended(_session, transaction) -> None:
        if transaction.parent is None:  # the outermost transaction (a savepoint's end is not the end)
            drop()

    sa_event.listen(db, "after_commit", deliver)  # runs before after_transaction_end
    sa_event.listen(db, "after_transaction_end", ended)


def _deliver_locally(engine, text_: str) -> None:
    registered = _local.get(engine)
    if registered is None:
        # No ``run`` for this database in this process (a command-line tool): on SQLite nobody else
        # holds sockets, so there is no one to tell.
        return
    loop, deliver = registered
    if loop.is_closed():
        return
    asyncio.run_coroutine_threadsafe(deliver(text_), loop)


# -- this process's side ---------------------------------------------------------------------------

async def deliver(runtime, text_: str) -> None:
    """Hand one signal to this process's rooms and media hub (``runtime``: the ProofingRuntime).
    A case none of whose sockets are here is a no-op, except ``drop_media`` (a hub holds media
    only for cases whose sockets were here)."""
    try:
        signal = json.loads(text_)
        case_id = signal["case"]
    except (ValueError, KeyError, TypeError):
        log.warning("proofing signal ignored: not one of ours")
        return
    rooms, hub = runtime.rooms, runtime.hub
    try:
        async with asyncio.timeout(DELIVERY_TIMEOUT):
            if rooms is not None and signal.get("name"):
                message = {**(signal.get("data") or {}), "type": "event", "name": signal["name"]}
                if signal.get("to") in ROLES:
                    await rooms.send(case_id, signal["to"], message)
                else:
                    await rooms.broadcast(case_id, message)
            for role in signal.get("close") or ():
                if rooms is not None and role in ROLES:
                    await rooms.close(case_id, role)
            if signal.get("drop_media") and hub is not None:
                await hub.close(case_id)
    except TimeoutError:
        log.warning("proofing signal for case %s not delivered within %.0f s", case_id, DELIVERY_TIMEOUT)


def conninfo(url) -> str:
    """libpq's connection URI for the gateway's database URL (SQLAlchemy's, any driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen(dsn: str, on_signal, *, on_connect=None, ping_every: float = PING_EVERY) -> None:
    """Forever (until cancelled): LISTEN on ``dsn`` and await ``on_signal(payload)`` for each
    notification, in order. A lost connection is opened again after 0.5, 1, 2 ... 10 s; the
    outage is logged once (a warning) and its end once (info). ``on_connect()`` is awaited after
    each LISTEN took effect (what was missed meanwhile is the caller's to catch up on)."""
    import psycopg

    delay, failing = FIRST_DELAY, False
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                    dsn, autocommit=True, application_name=APPLICATION_NAME, connect_timeout=10,
                    keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                if failing:
                    log.info("proofing signals: listening on PostgreSQL again")
                delay, failing = FIRST_DELAY, False
                if on_connect is not None:
                    await on_connect()
                while True:
                    async for note in conn.notifies(timeout=ping_every):
                        try:
                            await on_signal(note.payload)
                        except Exception:
                            log.exception("proofing signal delivery failed")
                    await conn.execute("SELECT 1")  # still there? (raises when the connection is gone)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure means: connect again, later
            if not failing:
                log.warning("proofing signals: lost the PostgreSQL listener (%s); retrying with back-off",
                            type(exc).__name__)
                failing = True
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_DELAY)


async def close_ended(gw) -> list[str]:
    """Close this process's sockets (and media) of cases that ended: after the listener was away,
    the notifications of those endings are lost. Returns the case ids closed."""
    rooms = gw.proofing.rooms
    held = sorted(rooms.cases()) if rooms is not None else []
    if not held:
        return []

    def ended():
        db = current_db.get()
        return list(db.scalars(select(ProofingCase.id).where(ProofingCase.id.in_(held),
                                                             ProofingCase.state.in_(FINAL))))

    gone = await in_transaction(gw.sessionmaker, None, ended)
    for case_id in gone:
        await rooms.close(case_id)
        if gw.proofing.hub is not None:
            await gw.proofing.hub.close(case_id)
    return gone


async def run(gw) -> None:
    """The listener of this process (started by idgw.app's lifespan, cancelled at shutdown)."""

    async def on_signal(text_: str) -> None:
        await deliver(gw.proofing, text_)

    if gw.engine.dialect.name != "postgresql":
        _local[gw.engine] = (asyncio.get_running_loop(), on_signal)
        try:
            await asyncio.Event().wait()
        finally:
            _local.pop(gw.engine, None)
        return

    async def on_connect() -> None:
        try:
            await close_ended(gw)
        except Exception:
            log.exception("proofing signals: closing the sockets of ended cases failed")

    await listen(conninfo(gw.engine.url), on_signal, on_connect=on_connect)
