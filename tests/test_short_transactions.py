"""The sign-in and token hot path's transactions (``in_short_transaction``): on SQLite they run on
the event loop's own thread when the write lock is free, and when another connection holds it they
wait for it on the transaction thread, so the loop goes on answering meanwhile and nothing is lost.
On PostgreSQL they run on the event loop too, with its own pool (tests/test_loop_pool.py)."""

from __future__ import annotations

import sqlite3
import threading
import time

import httpx
import pytest

from idgw.oidc import adapter
from tests.conftest import start_gateway
from tests.test_tokens_use import issue, refresh

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_with_the_write_lock_held_elsewhere_a_refresh_waits_off_the_loop_and_then_succeeds(database_url):
    gateway = start_gateway(database_url)
    try:
        reg, first = issue(gateway)
        before = adapter.SHORT_FALLBACKS[0]
        holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # as another worker process or a command-line tool would
        answer: dict = {}
        asked = threading.Thread(target=lambda: answer.update(r=refresh(gateway, reg, first["refresh_token"])))
        try:
            asked.start()
            time.sleep(0.5)  # longer than every inline attempt's pause together
            assert "r" not in answer  # waiting for the lock...
            # ...on the transaction thread: the loop still answers
            t0 = time.monotonic()
            assert httpx.get(gateway.url + "/healthz", timeout=5).status_code == 200
            assert httpx.get(gateway.url + "/.well-known/openid-configuration", timeout=5).status_code == 200
            assert time.monotonic() - t0 < 2
            assert adapter.SHORT_FALLBACKS[0] == before + 1
        finally:
            holder.execute("COMMIT")
            holder.close()
            asked.join(timeout=30)
        assert answer["r"].status_code == 200, answer["r"].text
        assert answer["r"].json()["refresh_token"] != first["refresh_token"]
        # the lock free again: the next one runs on the loop, with no wait and no fallback
        assert refresh(gateway, reg, answer["r"].json()["refresh_token"]).status_code == 200
        assert adapter.SHORT_FALLBACKS[0] == before + 1
    finally:
        gateway.stop()


def test_a_lock_let_go_between_attempts_is_waited_for_on_the_loop(database_url, monkeypatch):
    """A holder that lets go within the attempts' pauses (a background loop's short transaction):
    the request runs on the loop at its next attempt, not queued on the thread."""
    gateway = start_gateway(database_url)
    try:
        reg, first = issue(gateway)
        before = adapter.SHORT_FALLBACKS[0]
        holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None,
                                 check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        attempts = []
        inline = adapter._call_with_db

        def attempt(*args, **kwargs):
            try:
                return inline(*args, **kwargs)
            except adapter.WriteLockBusy:
                attempts.append("busy")
                if len(attempts) == 2 and holder.in_transaction:
                    holder.execute("COMMIT")  # the holder ends during the second pause
                raise

        monkeypatch.setattr(adapter, "_call_with_db", attempt)
        try:
            response = refresh(gateway, reg, first["refresh_token"])
        finally:
            if holder.in_transaction:
                holder.execute("COMMIT")
            holder.close()
        assert response.status_code == 200, response.text
        assert attempts == ["busy", "busy"]
        assert adapter.SHORT_FALLBACKS[0] == before
    finally:
        gateway.stop()


def test_the_loops_transactions_share_one_connection_which_a_failure_leaves_clean(database_url, monkeypatch):
    """On SQLite the loop's transactions run on one connection its thread keeps
    (``idgw.storage.db.inline_sessionmaker``: no pool checkout per request). Each still begins and
    ends its own transaction on it: a failed one takes its writes with it and leaves no lock held,
    and the connection goes back when the gateway stops."""
    import asyncio

    from sqlalchemy import select, update

    from idgw.oidc.context import current_db
    from idgw.storage.db import dispose_loop_pool
    from idgw.storage.models import Account

    gateway = start_gateway(database_url)
    engine = gateway.gw.engine
    try:
        reg, first = issue(gateway)
        used = []
        inline = adapter._call_with_db

        def spy(sessionmaker, ip, fn, args, kwargs, **options):
            def noted(*a, **k):
                used.append(current_db.get().connection().connection.dbapi_connection)
                return fn(*a, **k)
            return inline(sessionmaker, ip, noted, args, kwargs, **options)

        monkeypatch.setattr(adapter, "_call_with_db", spy)
        second = refresh(gateway, reg, first["refresh_token"])
        assert second.status_code == 200, second.text
        assert refresh(gateway, reg, second.json()["refresh_token"]).status_code == 200
        assert len(used) == 2 and used[0] is used[1]
        monkeypatch.undo()

        def write_then_fail():
            current_db.get().execute(update(Account).where(Account.id == reg.account_id).values(given_name="X"))
            raise RuntimeError("after the write")

        async def on_a_loop():
            with pytest.raises(RuntimeError, match="after the write"):
                await adapter.in_short_transaction(gateway.gw.sessionmaker, "192.0.2.1", write_then_fail)

            def read():
                return current_db.get().scalar(select(Account.given_name).where(Account.id == reg.account_id))

            name = await adapter.in_short_transaction(gateway.gw.sessionmaker, "192.0.2.1", read)
            other = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None, timeout=0)
            other.execute("BEGIN IMMEDIATE")  # nothing left holding the write lock
            other.execute("ROLLBACK")
            other.close()
            await dispose_loop_pool(engine)  # this thread's connection (the gateway closes its loop's)
            return name

        with gateway.db() as db:
            registered = db.get(Account, reg.account_id).given_name
        assert registered != "X" and asyncio.run(on_a_loop()) == registered  # the failed write went with it
    finally:
        gateway.stop()
    assert engine.pool.checkedout() == 0
