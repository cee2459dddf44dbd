"""The check a pooled PostgreSQL connection passes at checkout (idgw.storage.db._still_connected,
which replaced pool_pre_ping's round trip): a connection the server closed is refused, one on
which the server merely said something harmless is kept (its message consumed)."""

import time

import psycopg
import pytest
from sqlalchemy import exc

from idgw.storage.db import _still_connected


def _connect(postgres, url):
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def test_a_connection_the_server_ended_is_refused(postgres):
    url = postgres.create_database()
    with _connect(postgres, url) as victim, _connect(postgres, url) as admin:
        _still_connected(victim, None, None)  # alive: nothing to read
        admin.execute("SELECT pg_terminate_backend(%s)", (victim.info.backend_pid,))
        deadline = time.monotonic() + 5
        while True:  # the backend ends a moment after the signal
            try:
                _still_connected(victim, None, None)
            except exc.DisconnectionError:
                break
            assert time.monotonic() < deadline, "a terminated connection was still taken for alive"
            time.sleep(0.01)


def test_a_connection_with_something_harmless_to_read_is_kept(postgres):
    url = postgres.create_database()
    with _connect(postgres, url) as idle, _connect(postgres, url) as other:
        idle.execute("LISTEN idgw_test")
        other.execute("NOTIFY idgw_test, 'hello'")
        time.sleep(0.2)  # the notification is now waiting on the idle connection's socket
        _still_connected(idle, None, None)
        _still_connected(idle, None, None)  # consumed: nothing left to read
        assert idle.execute("SELECT 1").fetchone() == (1,)


def test_a_closed_connection_is_refused(postgres):
    conn = _connect(postgres, postgres.create_database())
    conn.close()
    with pytest.raises(exc.DisconnectionError):
        _still_connected(conn, None, None)
