"""PostgreSQL's event-loop pool (``idgw.storage.db.make_engine(on_loop=True)``): the hot path's
short transactions (``idgw.oidc.adapter.in_short_transaction``) run on the event loop's own thread,
each round trip awaited there, so other requests go on meanwhile; they commit or roll back as one,
their audit events reach what is configured on the engine, and the pool's connections are checked
at checkout and closed with the gateway."""

from __future__ import annotations

import asyncio
import threading

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from idgw import audit
from idgw.audit import chain, sinks
from idgw.oidc.adapter import in_short_transaction
from idgw.oidc.context import current_db
from idgw.storage.db import (
    dispose_loop_pool,
    home_engine,
    loop_driver,
    loop_sessionmaker,
    make_engine,
    make_sessionmaker,
)
from idgw.storage.models import AuditEvent
from tests.conftest import migrated


@pytest.fixture
def pg_engine(postgres):
    url = postgres.create_database()
    migrated(url)
    engine = make_engine(url, on_loop=True)
    yield engine, url
    engine.dispose()


def _admin(url):
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def _backends(url) -> int:
    with _admin(url) as admin:
        return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                             "AND pid <> pg_backend_pid()").fetchone()[0]


def test_a_short_transaction_runs_on_the_loop_and_the_loop_goes_on_while_it_waits(pg_engine):
    engine, _url = pg_engine
    sm = make_sessionmaker(engine)

    async def main():
        seen = {}
        ticks = 0

        def work():
            db = current_db.get()
            seen["thread"] = threading.current_thread()
            seen["bind"] = db.get_bind()
            db.execute(text("SELECT pg_sleep(0.3)"))
            return db.execute(text("SELECT 41 + 1")).scalar()

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        beat = asyncio.create_task(ticker())
        try:
            answer = await in_short_transaction(sm, "192.0.2.1", work)
        finally:
            beat.cancel()
        assert answer == 42
        assert seen["thread"] is threading.current_thread()  # the loop's thread, not a database thread
        assert seen["bind"] is not engine and home_engine(seen["bind"]) is engine  # the loop's pool
        assert ticks >= 10  # the loop answered others during the 0.3 s the statement waited
        await dispose_loop_pool(engine)

    asyncio.run(main())


def test_it_commits_as_one_or_rolls_back_as_one(pg_engine):
    engine, _url = pg_engine
    sm = make_sessionmaker(engine)

    def write(name, fail):
        db = current_db.get()
        db.execute(text("INSERT INTO instance_secrets (name, value) VALUES (:n, 'ab')"), {"n": name})
        if fail:
            raise RuntimeError("refused half-way")

    async def main():
        await in_short_transaction(sm, "192.0.2.1", write, "kept", False)
        with pytest.raises(RuntimeError):
            await in_short_transaction(sm, "192.0.2.1", write, "dropped", True)
        await dispose_loop_pool(engine)

    asyncio.run(main())
    with sm() as db:
        names = set(db.execute(text("SELECT name FROM instance_secrets")).scalars())
    assert "kept" in names and "dropped" not in names


def test_audit_events_committed_through_it_reach_the_engines_listeners_and_chains(pg_engine):
    engine, _url = pg_engine
    sm = make_sessionmaker(engine)
    chain.configure(engine, 1)  # configured on the engine make_engine returned, as the gateway does
    heard = []
    sinks.listen(engine, heard.extend)

    def record():
        db = current_db.get()
        assert home_engine(db.get_bind()) is engine and db.get_bind() is not engine
        audit.record(db, "token.issued", at=1_800_000_000, actor="someone", client_id="svc")

    async def main():
        for _ in range(3):
            await in_short_transaction(sm, "192.0.2.1", record)
        await dispose_loop_pool(engine)

    asyncio.run(main())
    assert [row["name"] for row in heard] == ["token.issued"] * 3
    with sm() as db:
        rows = db.query(AuditEvent).filter_by(name="token.issued").all()
    assert len(rows) == 3 and {r.chain for r in rows} == {"0"}  # one chain, as configured


def test_a_pooled_connection_the_server_ended_is_replaced_at_checkout(pg_engine):
    engine, url = pg_engine
    sm = make_sessionmaker(engine)

    def pid():
        return current_db.get().execute(text("SELECT pg_backend_pid()")).scalar()

    async def main():
        first = await in_short_transaction(sm, "192.0.2.1", pid)
        with _admin(url) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
            for _ in range(500):  # the backend ends a moment after the signal
                if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (first,)).fetchone():
                    break
                await asyncio.sleep(0.01)
        second = await in_short_transaction(sm, "192.0.2.1", pid)
        assert second != first
        await dispose_loop_pool(engine)

    asyncio.run(main())


def test_its_connections_are_closed_with_the_gateway(pg_engine):
    engine, url = pg_engine
    sm = make_sessionmaker(engine)

    async def main():
        async def one():
            return await in_short_transaction(sm, "192.0.2.1", lambda: current_db.get().execute(
                text("SELECT pg_sleep(0.1)")).scalar())

        await asyncio.gather(*(one() for _ in range(3)))  # three at once: three connections
        assert _backends(url) >= 3
        await dispose_loop_pool(engine)
        assert _backends(url) == 0

    asyncio.run(main())


def test_sqlite_and_tools_have_no_loop_pool(tmp_path, postgres):
    assert loop_sessionmaker(make_engine(f"sqlite:///{tmp_path}/x.db", on_loop=True)) is None
    tool = make_engine(postgres.create_database())  # a command-line tool's engine
    try:
        assert loop_sessionmaker(tool) is None
    finally:
        tool.dispose()


def test_the_loop_pool_speaks_asyncpg_unless_the_url_has_a_libpq_option_asyncpg_lacks(postgres):
    """asyncpg (a round trip's client CPU a third of psycopg's asyncio connection's) for any URL
    whose options it reads as libpq does; psycopg's for one with another option, which asyncpg
    would send the server as a setting and the server refuse. Both answer."""
    url = postgres.create_database()
    migrated(url)
    assert loop_driver(make_url(url)) == "asyncpg"
    assert loop_driver(make_url(url + "?sslmode=disable&application_name=idgw")) == "asyncpg"
    assert loop_driver(make_url(url + "?sslmode=disable&connect_timeout=5")) == "psycopg_async"

    def driver():
        dialect = current_db.get().connection().dialect
        return dialect.driver, dialect.is_async, current_db.get().execute(text("SELECT 41 + 1")).scalar()

    for suffix, expected in (("?sslmode=disable", "asyncpg"), ("?connect_timeout=5", "psycopg")):
        engine = make_engine(url + suffix, on_loop=True)

        async def main(engine=engine):
            try:
                return await in_short_transaction(make_sessionmaker(engine), "192.0.2.1", driver)
            finally:
                await dispose_loop_pool(engine)

        try:
            assert asyncio.run(main()) == (expected, True, 42)
        finally:
            engine.dispose()


def test_a_database_that_refuses_connections_is_an_outage_on_the_loop_pool():
    from idgw.storage.probe import error_name, unavailable
    from tests.conftest import free_port

    engine = make_engine(f"postgresql://idgw@127.0.0.1:{free_port()}/x", on_loop=True)

    async def main():
        try:
            await in_short_transaction(make_sessionmaker(engine), "192.0.2.1",
                                       lambda: current_db.get().execute(text("SELECT 1")).scalar())
        finally:
            await dispose_loop_pool(engine)

    try:
        with pytest.raises(Exception) as refused:  # noqa: PT011 - what matters is how it is told
            asyncio.run(main())
    finally:
        engine.dispose()
    assert unavailable(refused.value) == "unreachable"
    assert error_name(refused.value) == "DBAPIError (asyncpg.exceptions.ConnectionFailureError)"
    assert "127.0.0.1" not in str(refused.value)  # the class and a word, never the host
