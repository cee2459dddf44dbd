"""``idgw_db_connections_in_use`` and ``idgw_db_connections_capacity``: a connection counts while a
transaction holds it, in the pool it came from (the threads' or, on PostgreSQL, the event loop's),
and each pool states what it may hold. On SQLite the event loop's thread keeps one connection for
its short transactions (``idgw.storage.db.inline_sessionmaker``): it counts until the loop ends."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from idgw.observe.metrics import Metrics
from idgw.oidc.adapter import in_short_transaction, in_transaction
from idgw.oidc.context import current_db
from idgw.storage.db import LOOP_BURST, LOOP_POOL, dispose_loop_pool, make_engine, make_sessionmaker, pools
from tests.conftest import migrated


def _value(metrics: Metrics, name: str, pool: str):
    return metrics.registry.get_sample_value(name, {"pool": pool})


def test_connections_in_use_follow_transactions_in_each_pool(database_url):
    migrated(database_url)
    engine = make_engine(database_url, on_loop=True)
    sm = make_sessionmaker(engine)
    metrics = Metrics()
    metrics.watch_pools(pools(engine))
    postgresql = database_url.startswith("postgresql")
    names = ["threads", "loop"] if postgresql else ["threads"]
    assert [name for name, _ in pools(engine)] == names
    if postgresql:
        assert _value(metrics, "idgw_db_connections_capacity", "loop") == LOOP_POOL + LOOP_BURST
        assert _value(metrics, "idgw_db_connections_capacity", "threads") == LOOP_POOL + LOOP_BURST
    seen = {}

    def held(label):
        current_db.get().execute(text("SELECT 1"))
        seen[label] = {pool: _value(metrics, "idgw_db_connections_in_use", pool) for pool in names}

    async def main():
        await in_short_transaction(sm, "192.0.2.1", held, "short")
        await in_transaction(sm, "192.0.2.1", held, "thread")
        await dispose_loop_pool(engine)

    try:
        asyncio.run(main())
    finally:
        engine.dispose()
    if postgresql:
        assert seen["short"] == {"loop": 1, "threads": 0}
        assert seen["thread"] == {"loop": 0, "threads": 1}
    else:  # SQLite: one pool; the loop keeps its connection (inline_sessionmaker), a thread takes another
        assert seen["short"] == {"threads": 1} and seen["thread"] == {"threads": 2}
    assert all(_value(metrics, "idgw_db_connections_in_use", pool) == 0 for pool in names)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_scrape_announces_both_families(database_url):
    metrics = Metrics()
    metrics.watch_pools(pools(make_engine(database_url)))
    exposed = metrics.scrape()[0].decode()
    assert "# TYPE idgw_db_connections_in_use gauge" in exposed
    assert "# TYPE idgw_db_connections_capacity gauge" in exposed
