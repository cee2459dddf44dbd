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


def test_a_pooled_connection_whose_session_the_server_ended_is_replaced_even_before_the_socket_closes(postgres):
    """pg_terminate_backend (as a restart does) sends FATAL, then closes the socket a moment later:
    a checkout in between reads the message and must not hand the connection out."""
    from sqlalchemy import text

    from idgw.storage.db import make_engine

    url = postgres.create_database()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with _connect(postgres, url) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
            deadline = time.monotonic() + 5
            while admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (first,)).fetchone():
                assert time.monotonic() < deadline
                time.sleep(0.005)  # gone from the view: its FATAL is sent, its socket may still be open
        for _ in range(3):
            with engine.connect() as conn:
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != first
    finally:
        engine.dispose()
