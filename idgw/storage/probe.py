"""What the database can do right now, asked cheaply: for readiness (``idgw.health``), for a start
that waits for a separate migration job, and for telling a database that is unavailable apart from
a programming error (``unavailable``).

Probes use an engine of their own (``probe_engine``): one connection, short connect, statement and
lock timeouts, so a probe never queues behind requests for the main pool (which waits up to 30 s
for a free connection) and never holds a worker for long when the database host is gone.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from sqlalchemy import create_engine, event, exc, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from idgw.storage.db import MIGRATION_LOCK, alembic_config, normalise_url

#: Seconds a probe waits to connect, for a statement and for a lock (PostgreSQL), or for SQLite's write lock.
PROBE_TIMEOUT = 2

#: SQLite's words for a database that cannot be used now (not a mistake in a statement): locked
#: beyond busy_timeout, a read-only file or file system, a file that cannot be opened, I/O errors, a full disk.
SQLITE_UNAVAILABLE = {"database is locked": "locked", "readonly database": "read_only",
                      "unable to open database": "unreachable", "disk i/o error": "io_error",
                      "database or disk is full": "disk_full"}


class DatabaseStartError(RuntimeError):
    """The gateway cannot start on this database (read-only, or the schema never reached this
    release's head): a configuration or deployment problem, told in one line, never a traceback."""


def unavailable(error: BaseException) -> str | None:
    """A reason code (``unreachable``, ``read_only``, ``locked``, ``busy``, ``timeout``...) when
    ``error`` means the database cannot serve right now, else None. A programming error (a missing
    table, a syntax error, a constraint) is None: it stays a 500 with its traceback.

    PostgreSQL: psycopg's OperationalError (connection refused or lost, server shutting down, a
    statement cancelled) and InterfaceError (a closed connection), and the same from asyncpg (the
    event loop's pool): an error whose SQLSTATE is of one of the classes psycopg calls operational
    (``OPERATIONAL_CLASSES``), or its client-side InterfaceError; SQLite: an OperationalError
    only with one of ``SQLITE_UNAVAILABLE``'s messages (its OperationalError also covers "no such
    table"). SQLAlchemy's wrappers are looked through, and so is an explicit ``raise ... from``."""
    import psycopg

    seen = 0
    while error is not None and seen < 4:
        seen += 1
        if isinstance(error, exc.TimeoutError):  # the pool had no free connection within pool_timeout
            return "busy"
        if isinstance(error, exc.DisconnectionError):
            return "unreachable"
        if isinstance(error, exc.DBAPIError):
            if error.connection_invalidated:
                return "unreachable"
            error = error.orig
            continue
        if isinstance(error, psycopg.errors.QueryCanceled):
            return "timeout"
        if isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError)):
            return "unreachable"
        if _from_asyncpg(error):
            sqlstate = getattr(error, "sqlstate", None) or ""  # none on asyncpg's client-side errors
            if sqlstate == QUERY_CANCELED:
                return "timeout"
            if sqlstate[:2] in OPERATIONAL_CLASSES or _asyncpg_interface_error(error):
                return "unreachable"
        if isinstance(error, sqlite3.OperationalError):
            message = str(error).lower()
            return next((code for words, code in SQLITE_UNAVAILABLE.items() if words in message), None)
        error = error.__cause__
    return None


#: SQLSTATE classes psycopg raises as OperationalError: connection exception, insufficient
#: resources, program limit exceeded, object not in prerequisite state, operator intervention
#: (a shutdown, a cancelled statement), system error.
OPERATIONAL_CLASSES = frozenset({"08", "53", "54", "55", "57", "58"})
QUERY_CANCELED = "57014"


def _from_asyncpg(error: BaseException) -> bool:
    return type(error).__module__.startswith("asyncpg.")


def _asyncpg_interface_error(error: BaseException) -> bool:
    import asyncpg

    return isinstance(error, asyncpg.exceptions.InterfaceError)


#: Seconds between two lines for the same background failure while the database stays unavailable.
REPEAT_EVERY = 60.0
_last_said: dict[tuple[str, str], float] = {}


def log_failure(logger, message: str, error: BaseException) -> None:
    """For background work that retries by itself (senders, timers, listeners): a database outage
    is one WARNING line naming its class, repeated at most every ``REPEAT_EVERY`` seconds for the
    same logger and message (a sender polling every 2 s would otherwise write a line each round;
    the outage itself is told by ``idgw.health.Outage``); anything else is logged with its
    traceback every time."""
    if unavailable(error) is None:
        logger.error(message, exc_info=error)
        return
    key, now = (logger.name, message), time.monotonic()
    if now - _last_said.get(key, -REPEAT_EVERY) >= REPEAT_EVERY:
        _last_said[key] = now
        logger.warning("%s: database unavailable (%s)", message, error_name(error))


def probe_engine(url: str) -> Engine:
    """An engine for probes only (see the module's docstring): PostgreSQL with one pooled
    connection checked before use; SQLite with a fresh connection per probe (opening a file is
    cheap, and a file replaced or made read-only is seen as it is now)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, poolclass=NullPool, hide_parameters=True,
                               connect_args={"check_same_thread": False, "timeout": PROBE_TIMEOUT})

        @event.listens_for(engine, "connect")
        def _autocommit(dbapi_conn, _record):  # the probe issues its own BEGIN
            dbapi_conn.isolation_level = None

        return engine
    ms = PROBE_TIMEOUT * 1000
    return create_engine(url, pool_size=1, max_overflow=0, pool_timeout=PROBE_TIMEOUT, pool_pre_ping=True,
                         hide_parameters=True,
                         connect_args={"connect_timeout": PROBE_TIMEOUT,
                                       "options": f"-c statement_timeout={ms} -c lock_timeout={ms}"})


@dataclass(frozen=True)
class Schema:
    """The migration revisions this code knows (``known``) and its head(s)."""
    heads: frozenset[str]
    known: frozenset[str]

    @classmethod
    def of_this_code(cls, url: str) -> Schema:
        from alembic.script import ScriptDirectory

        scripts = ScriptDirectory.from_config(alembic_config(url))
        return cls(heads=frozenset(scripts.get_heads()),
                   known=frozenset(rev.revision for rev in scripts.walk_revisions()))

    def compare(self, versions: set[str]) -> str:
        """``head``; ``newer`` (a revision this code does not know: a newer release migrated
        already, expand-then-contract); ``behind``; ``missing`` (never migrated)."""
        if not versions:
            return "missing"
        if versions == self.heads:
            return "head"
        if versions - self.known:
            return "newer"
        return "behind"


@dataclass(frozen=True)
class DatabaseState:
    reachable: bool
    reason: str | None = None  # why not usable: unreachable, read_only, migrating, timeout...
    error: str | None = None  # the failure's class names, for one log line (never a message: it may hold a DSN)
    schema: str | None = None  # Schema.compare's answer, when the schema could be read
    versions: frozenset[str] = frozenset()  # alembic_version's rows


def error_name(error: BaseException) -> str:
    """``sqlalchemy class (driver class)``: what a log line may say about a database failure. For
    asyncpg the driver class is asyncpg's own, which SQLAlchemy's adapter error was raised from."""
    orig = getattr(error, "orig", None)
    if type(orig).__module__.startswith("sqlalchemy.") and _from_asyncpg(orig.__cause__):
        orig = orig.__cause__
    outer = type(error).__name__
    return f"{outer} ({type(orig).__module__}.{type(orig).__name__})" if orig is not None else outer


def _migrating(conn) -> bool:
    """Someone holds ``MIGRATION_LOCK`` in this database (``idgw.storage.db.upgrade``), seen in
    pg_locks, so the probe takes no lock and cannot delay the migration. A bigint advisory key
    is listed as classid (high 32 bits) and objid (low 32 bits) with objsubid 1."""
    return bool(conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND classid = :hi AND objid = :lo AND objsubid = 1)"),
        {"hi": MIGRATION_LOCK >> 32, "lo": MIGRATION_LOCK & 0xFFFFFFFF}).scalar())


def _versions(conn) -> set[str] | None:
    """alembic_version's rows; None when the table does not exist (never migrated)."""
    try:
        return {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    except exc.ProgrammingError:  # PostgreSQL: undefined table
        return None
    except exc.OperationalError as error:  # SQLite: "no such table"
        if unavailable(error) is not None:
            raise
        return None


def database_state(engine: Engine, schema: Schema) -> DatabaseState:
    """Reachable? Being migrated? Writable? At which revision? One short transaction, rolled back.

    SQLite: a write is attempted inside ``BEGIN IMMEDIATE`` and rolled back (a DELETE matching
    no row: SQLite refuses it on a read-only file, where a SELECT would succeed). PostgreSQL: a
    server in recovery (a standby) is read-only."""
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                try:
                    versions = _versions(conn)
                    if versions is not None:
                        conn.exec_driver_sql("DELETE FROM alembic_version WHERE 0")
                finally:
                    conn.exec_driver_sql("ROLLBACK")
            else:
                with conn.begin() as tx:
                    if _migrating(conn):
                        return DatabaseState(reachable=True, reason="migrating")
                    if conn.execute(text("SELECT pg_is_in_recovery()")).scalar():
                        return DatabaseState(reachable=True, reason="read_only")
                    versions = _versions(conn)
                    tx.rollback()
    except Exception as error:  # noqa: BLE001 - every failure is a state; unavailable() tells which
        reason = unavailable(error)
        if reason is None:
            raise
        return DatabaseState(reachable=reason not in ("unreachable",), reason=reason, error=error_name(error))
    return DatabaseState(reachable=True, schema=schema.compare(versions or set()), versions=frozenset(versions or ()))


def describe(state: DatabaseState, schema: Schema) -> str:
    """What stops the database being used by this release, in words for an operator."""
    if state.reason == "migrating":
        return "a migration is running"
    if state.reason is not None:
        return f"the database is {state.reason.replace('_', ' ')} ({state.error})" if state.error \
            else f"the database is {state.reason.replace('_', ' ')}"
    heads = ", ".join(sorted(schema.heads))
    if state.schema == "missing":
        return f"the database has no schema yet (this release needs {heads})"
    return f"the schema is at {', '.join(sorted(state.versions))}, this release needs {heads}"


#: What an operator can do about each of ``unavailable``'s reasons (``explain``).
_WHAT_TO_DO = {"unreachable": "check IDGW_DATABASE_URL and that the database server is running",
               "read_only": "make the SQLite file and its directory writable by this user, or point "
                            "IDGW_DATABASE_URL at the primary server, not a standby",
               "disk_full": "free space on the database's disk", "io_error": "check the database's disk",
               "locked": "another process holds the database; try again", "busy": "try again",
               "timeout": "try again"}


def explain(error: BaseException, url: str | None) -> str | None:
    """One line for an operator when ``error``, raised by a command, is the database's state and
    not a bug: the database is unavailable (unreachable, read-only, locked...; ``unavailable``),
    or a statement failed because its schema is missing or behind this release (asked of the
    database itself, with a probe). None for anything else: a programming error keeps its
    traceback. The line names error classes, never a message (a driver's message may hold the
    DSN or a row's values)."""
    reason = unavailable(error)
    if reason is not None:
        what_to_do = _WHAT_TO_DO.get(reason, "try again")
        return f"the database is {reason.replace('_', ' ')} ({error_name(error)}): {what_to_do}"
    if url is None or not isinstance(error, (exc.DBAPIError, sqlite3.Error)) and not _is_psycopg_error(error):
        return None
    schema = Schema.of_this_code(url)
    engine = probe_engine(url)
    try:
        state = database_state(engine, schema)
    except Exception:  # noqa: BLE001 - the probe is a second opinion; the first error is told as it is
        return None
    finally:
        engine.dispose()
    if state.reason is not None:  # e.g. a migration running now
        return describe(state, schema)
    if state.schema in ("missing", "behind"):
        return f"{describe(state, schema)}: run `idgw db upgrade` first"
    return None


def _is_psycopg_error(error: BaseException) -> bool:
    import psycopg

    return isinstance(error, psycopg.Error)


def require_writable(engine: Engine) -> None:
    """Start-up check: ``DatabaseStartError`` naming the file when SQLite cannot write to it (a
    read-only file, directory or mount; the container's user not owning the volume). Otherwise
    the gateway would start, answer its first pages and fail at the first sign-in."""
    if engine.dialect.name != "sqlite":
        return
    try:
        with engine.connect() as conn:  # opening may write already (journal_mode=WAL)
            tx = conn.begin()  # BEGIN IMMEDIATE (idgw.storage.db.make_engine)
            try:
                conn.exec_driver_sql("CREATE TABLE idgw_write_probe (x INTEGER)")  # rolled back: never stays
            finally:
                tx.rollback()
    except exc.OperationalError as error:
        if unavailable(error) in ("read_only", "unreachable", "io_error", "disk_full"):
            raise DatabaseStartError(
                f"the SQLite database {engine.url.database} cannot be written ({error.orig}): make the file, "
                f"its directory and its -wal and -shm files writable by the user running idgw") from None
        raise
