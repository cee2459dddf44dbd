"""Engine, sessions and migrations."""

from __future__ import annotations

import select
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).parent / "migrations"
#: Execution option for a session that only reads: ``db.connection(execution_options=READ_ONLY)``.
READ_ONLY_OPTION = "idgw_read_only"
READ_ONLY = {READ_ONLY_OPTION: True}
#: Execution option: on SQLite, take the write lock at BEGIN only if it is free at once, else raise
#: WriteLockBusy (no waiting); see ``idgw.oidc.adapter.in_short_transaction``.
NO_WAIT_OPTION = "idgw_no_wait"
NO_WAIT = {NO_WAIT_OPTION: True}


class WriteLockBusy(Exception):
    """SQLite's write lock is held by another connection (another worker process, a command-line
    tool, this process's transaction thread) and the transaction asked not to wait for it."""


def normalise_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever scheme the operator wrote."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


#: How long a SQLite transaction waits for the write lock another connection holds.
BUSY_TIMEOUT_MS = 30_000
#: Seconds to wait for a new PostgreSQL connection (see make_engine).
CONNECT_TIMEOUT = 3


def make_engine(url: str, *, threads: int = 4, background_checkpoints: bool = False,
                on_loop: bool = False) -> Engine:
    """The engine for ``url``. ``threads``: how many threads run request transactions on
    PostgreSQL (``transaction_executor``; Settings.db_threads); SQLite always has one.
    ``background_checkpoints`` (SQLite): no commit checkpoints the WAL itself; the serving
    process runs ``idgw.storage.wal.run`` instead (see there why). ``on_loop`` (PostgreSQL, the
    serving process): a second pool whose connections wait on the event loop, for the hot path's
    short transactions (``loop_sessionmaker``).

    Every engine of the gateway is made with ``hide_parameters``: a failed statement's error (a
    log line's traceback, a command's output) then names its SQL but never its values, which can
    be a citizen ID, an e-mail address, a password or token hash (the logs' redaction catches
    only the shapes it knows)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)
        engine._idgw_background_checkpoints = background_checkpoints

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised by every sqlite test
            cur = dbapi_conn.cursor()
            # WAL lets readers proceed during a write; foreign keys are off by default in SQLite.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            if background_checkpoints:
                cur.execute("PRAGMA wal_autocheckpoint=0")
            cur.close()
            # Let SQLAlchemy, not the driver, open transactions (see _begin_immediate).
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin_immediate(conn):  # pragma: no cover - exercised by every sqlite test
            # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY
            # when another connection wrote in between (WAL snapshot); taking the write lock at
            # BEGIN makes concurrent writers wait for busy_timeout instead. A transaction that
            # only reads (READ_ONLY) takes no lock: it must neither wait for writers nor block them.
            options = conn.get_execution_options()
            if options.get(READ_ONLY_OPTION):
                conn.exec_driver_sql("BEGIN DEFERRED")
            elif options.get(NO_WAIT_OPTION):
                raw = conn.connection.dbapi_connection
                raw.execute("PRAGMA busy_timeout=0")
                try:
                    raw.execute("BEGIN IMMEDIATE")
                except raw.OperationalError as error:  # SQLITE_BUSY: "database is locked"
                    raise WriteLockBusy(str(error)) from None
                finally:
                    raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        engine._idgw_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="idgw-sqlite")
        return engine
    # A pooled connection that a PostgreSQL restart broke is found at checkout and replaced, never
    # handed to a request (_still_connected: its socket, without a round trip). connect_timeout:
    # a database host that is gone (no RST, packets dropped) fails a connection in that many
    # seconds instead of the kernel's TCP timeout (minutes), so requests answer 503 promptly.
    # pool_size: the connections kept open. Above it, overflow connections are opened and closed per
    # checkout, and a new PostgreSQL backend costs ~1-2 ms of CPU: with 10 kept and 16 requests in
    # flight the bench started 34 backends in 400 requests (measured with bench/ab.py on PostgreSQL,
    # 40 kept vs 10: token +17%, session sign-in +27%). The serving process (on_loop) has two pools
    # of LOOP_POOL + LOOP_BURST; a command-line tool one of 20 + 10.
    kept, burst = (max(LOOP_POOL, threads), LOOP_BURST) if on_loop else (max(20, threads), 10)
    engine = create_engine(url, pool_size=kept, max_overflow=burst, connect_args={"connect_timeout": CONNECT_TIMEOUT},
                           hide_parameters=True)
    event.listen(engine, "connect", _hear_the_end)
    event.listen(engine, "checkout", _still_connected)
    engine._idgw_executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="idgw-db")
    if on_loop:
        _attach_loop_pool(engine, url)
    return engine


#: Connections kept by each of a serving process's two PostgreSQL pools (the threads' and the event
#: loop's), and how many more each may open for a burst: 2 x (16 + 4) per process fits two
#: instances, their listener and probe connections and the command-line tools in PostgreSQL's
#: default 100 (as one pool of 20 + 10 did before).
LOOP_POOL = 16
LOOP_BURST = 4


def _attach_loop_pool(engine: Engine, url: str) -> None:
    """The event loop's pool (``loop_sessionmaker``): the same database through an asyncio
    driver. A session made from it is used as any other, inside a greenlet
    (``sqlalchemy.util.greenlet_spawn``): each statement's round trip is then awaited on the event
    loop instead of blocking a thread that must take the GIL back after every answer.

    The driver is asyncpg (``loop_driver``): its protocol is compiled, and a round trip cost
    42 µs of client CPU against psycopg's asyncio connection's 135-160 µs (16 connections busy at
    once; through SQLAlchemy's adapters, a transaction of eight round trips 0.85-0.88 ms against
    1.45-1.77 ms). A URL with a libpq option asyncpg does not know keeps psycopg's."""
    from sqlalchemy.ext.asyncio import create_async_engine

    if loop_driver(engine.url) == "asyncpg":
        import asyncpg

        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

        async def connect():
            try:
                return await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError) as error:
                # Refused, unreachable, timed out: a connection failure (08006) as psycopg reports
                # it, which SQLAlchemy wraps and idgw.storage.probe.unavailable recognises.
                raise asyncpg.exceptions.ConnectionFailureError(
                    f"cannot connect to the database ({type(error).__name__})") from error

        loop_engine = create_async_engine("postgresql+asyncpg://", async_creator=connect, pool_size=LOOP_POOL,
                                          max_overflow=LOOP_BURST, hide_parameters=True)
    else:
        loop_engine = create_async_engine(url.replace("postgresql+psycopg://", "postgresql+psycopg_async://", 1),
                                          pool_size=LOOP_POOL, max_overflow=LOOP_BURST, hide_parameters=True,
                                          connect_args={"connect_timeout": CONNECT_TIMEOUT})
    event.listen(loop_engine.sync_engine, "connect", _hear_the_end)
    event.listen(loop_engine.sync_engine, "checkout", _still_connected)
    loop_engine.sync_engine._idgw_home = engine
    engine._idgw_loop_engine = loop_engine
    engine._idgw_loop_sessions = make_sessionmaker(loop_engine.sync_engine)


#: The URL options (libpq's names) asyncpg understands as libpq does. Any other option in a
#: database URL (``connect_timeout``, ``options``, ``keepalives``...) would reach asyncpg as a server
#: setting, which the server refuses: such a URL keeps psycopg's asyncio connection for the loop.
ASYNCPG_OPTIONS = frozenset({
    "host", "port", "user", "password", "dbname", "passfile", "application_name", "target_session_attrs",
    "sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword", "ssl_min_protocol_version",
    "ssl_max_protocol_version", "krbsrvname", "gsslib"})


def loop_driver(url) -> str:
    """The event loop pool's driver for a PostgreSQL URL: ``asyncpg``, or ``psycopg_async`` when
    the URL has an option asyncpg does not know."""
    return "psycopg_async" if set(url.query) - ASYNCPG_OPTIONS else "asyncpg"


def loop_sessionmaker(engine: Engine | None) -> sessionmaker[Session] | None:
    """Sessions whose statements are awaited on the event loop (``make_engine(on_loop=True)``;
    use them only inside ``greenlet_spawn``), or None: SQLite, or an engine made without."""
    return getattr(engine, "_idgw_loop_sessions", None)


def pools(engine: Engine) -> list[tuple[str, Engine]]:
    """The connection pools a serving process's engine uses, by name: ``threads`` (the engine's
    own, for transactions on threads and for command-line tools) and, on PostgreSQL,
    ``loop`` (``make_engine(on_loop=True)``)."""
    loop_engine = getattr(engine, "_idgw_loop_engine", None)
    return [("threads", engine), *((("loop", loop_engine.sync_engine),) if loop_engine is not None else ())]


def home_engine(engine: Engine) -> Engine:
    """The engine ``make_engine`` returned, also for its event loop's pool: what is configured on
    an engine (the audit's chains, sinks and listeners) is configured there, and holds for both."""
    return getattr(engine, "_idgw_home", engine)


async def dispose_loop_pool(engine: Engine) -> None:
    """Close the event loop's pool, on the loop (its connections are asyncio ones), and, on
    SQLite, this thread's connection for short transactions (``inline_sessionmaker``)."""
    loop_engine = getattr(engine, "_idgw_loop_engine", None)
    if loop_engine is not None:
        await loop_engine.dispose()
    inline = getattr(engine, "_idgw_inline", None)
    held = getattr(inline, "held", None)
    if held is not None:
        inline.held = None
        held[0].close()


def inline_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """SQLite: sessions for the short transactions run on this thread (the event loop's:
    ``idgw.oidc.adapter.in_short_transaction``), all on one connection this thread keeps, with
    ``NO_WAIT`` set. A session bound to a connection begins and commits its own transaction on it
    as one on the engine does (the audit's commit hooks alike), without the pool's checkout and
    return or a new ``Connection`` each time: 85-120 µs of the 200-270 µs a transaction's
    bookkeeping took (measured on SQLite), paid by every token, refresh and sign-in step."""
    inline = getattr(engine, "_idgw_inline", None)
    if inline is None:
        inline = engine._idgw_inline = threading.local()
    held = getattr(inline, "held", None)
    if held is not None and (held[0].closed or held[2] is not engine.pool):
        # engine.dispose() (a new pool) reaches this connection too: the next transaction connects
        # afresh, with what the engine's "connect" listeners set then.
        held[0].close()
        held = None
    if held is None:
        conn = engine.connect().execution_options(**NO_WAIT)
        held = inline.held = (conn, make_sessionmaker(conn), engine.pool)
    return held[1]


def _hear_the_end(dbapi_conn, record) -> None:
    """A new PostgreSQL connection: remember in its pool entry (``record.info``, which lives as
    long as this connection) when the server says it ends the session. A server that terminates
    a backend (a restart, ``pg_terminate_backend``) first sends a FATAL message, which libpq hands
    to the notice handlers of an idle connection, and closes the socket a moment later."""
    info = record.info
    info.pop(_ENDED, None)

    def heard(diagnostic) -> None:
        if diagnostic.severity_nonlocalized in ("FATAL", "PANIC"):
            info[_ENDED] = True

    driver_conn = getattr(dbapi_conn, "driver_connection", dbapi_conn)
    if hasattr(driver_conn, "add_notice_handler"):  # psycopg; asyncpg's end is seen by the loop (_still_connected)
        driver_conn.add_notice_handler(heard)


_ENDED = "idgw_server_ended"


def _still_connected(dbapi_conn, record, _proxy) -> None:
    """A pooled PostgreSQL connection about to be handed out: refused (the pool then connects
    afresh, in the same checkout) if the server has closed it. An idle connection in the pool has
    nothing to read, so its socket is polled, without a round trip: if there is something, libpq
    reads it; the end of the stream (a restart, ``pg_terminate_backend``, an idle timeout) fails
    that read or stays readable after it, and so does the server's FATAL message sent just before
    it (``_hear_the_end``: the message can be read before the end arrives), while anything
    harmless (a notice; TLS housekeeping) is consumed and the connection kept. This replaces
    ``pool_pre_ping``, which asked the server with a ``;`` on every checkout: one round trip of
    each transaction, a tenth of a token's."""
    dbapi_conn = getattr(dbapi_conn, "driver_connection", dbapi_conn)  # the loop pool's: the driver's own
    if hasattr(dbapi_conn, "is_closed"):
        # asyncpg: its protocol reads on the event loop, which may not yet have run since the
        # server ended the session. An idle connection has nothing to read: anything there is the
        # FATAL message and the end of the stream (a notice on an idle connection is all it could
        # otherwise be; the connection is then replaced for nothing, which is harmless).
        if dbapi_conn.is_closed():
            raise exc.DisconnectionError("the connection is closed")
        # (asyncpg's transport is not public API: without it, is_closed() alone decides.)
        transport = getattr(dbapi_conn, "_transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None and _has_input(sock.fileno()):
            raise exc.DisconnectionError("the server ended the session")
        return
    pgconn = getattr(dbapi_conn, "pgconn", None)
    if pgconn is None or dbapi_conn.closed or pgconn.status != _CONNECTION_OK:
        raise exc.DisconnectionError("the connection is closed")
    if _has_input(pgconn.socket):
        try:
            pgconn.consume_input()
            pgconn.is_busy()  # parses what was read: a FATAL message reaches _hear_the_end's handler
        except Exception as error:  # noqa: BLE001 - libpq's "server closed the connection", in any form
            raise exc.DisconnectionError(f"the server closed the connection: {error}") from None
        if pgconn.status != _CONNECTION_OK or _has_input(pgconn.socket):
            raise exc.DisconnectionError("the server closed the connection")
    if record is not None and record.info.get(_ENDED):
        raise exc.DisconnectionError("the server ended the session (FATAL)")


_CONNECTION_OK = 0  # libpq's CONNECTION_OK (psycopg.pq.ConnStatus.OK)


def _has_input(fd: int) -> bool:
    """Something to read on an idle connection's socket (no waiting)."""
    poll = select.poll()
    poll.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poll.poll(0))


def transaction_executor(engine: Engine | None) -> ThreadPoolExecutor | None:
    """Where request transactions run: the engine's own threads, one for SQLite, ``threads`` for
    PostgreSQL (make_engine); None for an engine made elsewhere (then any pool thread).

    SQLite admits one writer at a time (BEGIN IMMEDIATE) and makes the others poll with sleeps
    of 1, 2, 5, 10 ... ms; running the process's transactions one after another on one thread
    hands the database over the moment the previous one ends, with no thread woken only to wait
    (measured: token +11%, refresh +7% over a shared lock)."""
    return getattr(engine, "_idgw_executor", None)


def upsert_insert(db):
    """The dialect's INSERT with ON CONFLICT (PostgreSQL and SQLite both have it), for writes that
    concurrent requests may race to (a plain read-then-insert is a unique-key 500 on PostgreSQL)."""
    if db.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return cfg


#: pg_advisory_lock key held while migrating: instances started together migrate one at a time.
MIGRATION_LOCK = 0x1D6A_0016


def upgrade(url: str) -> None:
    """Bring the database schema to the newest migration (idempotent). On PostgreSQL, under a
    session advisory lock: two instances (or a migration job and an instance) started at once
    migrate one after the other; the second finds the schema at head and does nothing."""
    from alembic import command

    if not normalise_url(url).startswith("postgresql"):
        command.upgrade(alembic_config(url), "head")
        return
    engine = create_engine(normalise_url(url), poolclass=NullPool, hide_parameters=True)
    try:
        with engine.connect() as lock:
            lock.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
            lock.commit()
            try:
                command.upgrade(alembic_config(url), "head")
            finally:
                lock.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
                lock.commit()
    finally:
        engine.dispose()
