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
