"""Request transactions run on the engine's own threads (IDGW_DB_THREADS on PostgreSQL, one on
SQLite), not on the shared thread pool: a few threads doing many transactions cost far less than
one thread per request in flight (docs/performance.md). The short ones of the sign-in and token
path run on the event loop instead (tests/test_short_transactions.py, tests/test_loop_pool.py)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import text

from idgw.oidc.adapter import current_db, in_transaction
from idgw.settings import Settings, SettingsError
from idgw.storage.db import make_engine, make_sessionmaker, transaction_executor

ENV = {"IDGW_DEV": "1", "IDGW_DATABASE_URL": "sqlite:////tmp/unused-db-threads.db"}


def test_the_default_is_four_threads_and_bad_values_name_the_variable():
    assert Settings.from_env(ENV).db_threads == 4
    assert Settings.from_env({**ENV, "IDGW_DB_THREADS": "16"}).db_threads == 16
    for raw in ("0", "-1", "65", "four"):
        with pytest.raises(SettingsError, match="IDGW_DB_THREADS"):
            Settings.from_env({**ENV, "IDGW_DB_THREADS": raw})


def test_transactions_run_at_most_threads_at_a_time_on_the_engines_own_threads(database_url):
    engine = make_engine(database_url, threads=3)
    sm = make_sessionmaker(engine)
    lock = threading.Lock()
    running = peak = 0
    names: set[str] = set()

    def work(i):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
            names.add(threading.current_thread().name)
        try:
            time.sleep(0.05)
            return current_db.get().execute(text("SELECT :i"), {"i": i}).scalar_one()
        finally:
            with lock:
                running -= 1

    async def main():
        return await asyncio.gather(*(in_transaction(sm, "127.0.0.1", work, i) for i in range(12)))

    try:
        assert asyncio.run(main()) == list(range(12))
    finally:
        transaction_executor(engine).shutdown()
        engine.dispose()
    sqlite = database_url.startswith("sqlite")
    assert peak == (1 if sqlite else 3), peak
    assert all(n.startswith("idgw-sqlite" if sqlite else "idgw-db") for n in names), names
