"""idgw.storage.raw: the token path's statements on the driver's cursor must read and write what
SQLAlchemy does (JSON columns both ways, ``None`` as JSON null), stay in the request's transaction,
and fail as SQLAlchemy statements do (a DBAPIError wrapping the driver's error; a connection that
is gone invalidated, so the pool replaces it and the outage is recognised)."""

from __future__ import annotations

import pytest
from sqlalchemy import exc, select

from idgw.oidc.grants import RAW_INSERT_TOKEN_PAIR, RAW_INSERT_TOKENS, RAW_SELECT_REFRESH
from idgw.storage import probe, raw
from idgw.storage.models import Account, Client, Token


def _token_row(**over) -> dict:
    row = {"id": "t-1", "kind": "refresh", "token_hash": "h" * 64, "jti": None, "family_id": "f-1",
           "client_id": "c-1", "account_id": "a-1", "session_id": "s-1", "scope": "openid",
           "auth_time": 1, "acr": "urn:idgw:ial:1.1:aal:1", "amr": raw.json_param(["pwd"]), "ial": "1.1",
           "aal": "1", "claims": raw.json_param(None), "release": raw.json_param(["id_token/ชื่อ"]),
           "mandate_id": None, "mandate_act": None, "issued_at": 1, "expires_at": 10**10, "rotated_at": None,
           "revoked_at": None, "parent_id": None}
    row.update(over)
    return row


def _parents(db) -> None:
    db.add(Client(client_id="c-1", name="x", redirect_uris=["https://rp.test/cb"], token_endpoint_auth_method="none",
                  grant_types=["authorization_code"], scope="openid", created_at=1))
    db.add(Account(id="a-1", username="somsri", created_at=1))
    db.flush()


def test_rows_written_and_read_on_the_cursor_are_what_sqlalchemy_writes_and_reads(sessions):
    with sessions() as db:
        _parents(db)
        raw.execute(db.connection(), RAW_INSERT_TOKENS, [_token_row()])
        got = raw.first(db.connection(), RAW_SELECT_REFRESH, {"p_hash": "h" * 64})
        assert got.amr == ["pwd"] and got.claims is None and got.release == ["id_token/ชื่อ"]
        db.commit()
    with sessions() as db:  # committed with the session's transaction; the ORM reads the same values
        row = db.scalar(select(Token))
        assert (row.amr, row.claims, row.release, row.expires_at) == (["pwd"], None, ["id_token/ชื่อ"], 10**10)
        assert raw.first(db.connection(), RAW_SELECT_REFRESH, {"p_hash": "x" * 64}) is None


def test_two_rows_in_one_statement_are_each_their_own_row(sessions):
    access = _token_row(id="t-access", kind="access", token_hash="a" * 64, jti="j-1")
    refresh = _token_row(id="t-refresh", token_hash="r" * 64, expires_at=10**11)
    with sessions() as db:
        _parents(db)
        assert raw.execute(db.connection(), RAW_INSERT_TOKEN_PAIR, raw.row_params([access, refresh])) == 2
        db.commit()
    with sessions() as db:
        rows = {t.id: t for t in db.scalars(select(Token))}
        assert set(rows) == {"t-access", "t-refresh"}
        a, r = rows["t-access"], rows["t-refresh"]
        assert (a.kind, a.jti, a.expires_at) == ("access", "j-1", 10**10)
        assert (r.kind, r.jti, r.expires_at) == ("refresh", None, 10**11)
        assert r.release == ["id_token/ชื่อ"]


def test_a_rolled_back_transaction_takes_the_cursor_writes_with_it(sessions):
    with sessions() as db:
        _parents(db)
        db.commit()
    with sessions() as db:
        raw.execute(db.connection(), RAW_INSERT_TOKENS, [_token_row()])
        db.rollback()
    with sessions() as db:
        assert db.scalar(select(Token)) is None


def test_a_failing_statement_is_a_sqlalchemy_error_and_not_an_outage(sessions):
    with sessions() as db:
        # no parent rows: the foreign keys refuse it, as they would through SQLAlchemy
        with pytest.raises(exc.IntegrityError) as caught:
            raw.execute(db.connection(), RAW_INSERT_TOKENS, [_token_row()])
        assert probe.unavailable(caught.value) is None and not caught.value.connection_invalidated
        db.rollback()
        with pytest.raises(exc.DBAPIError) as caught:
            raw.first(db.connection(), raw.Statement("SELECT nothing FROM no_such_table", columns=("nothing",)), {})
        assert probe.unavailable(caught.value) is None


def _read_after_its_backend_ended(db, sessions) -> exc.DBAPIError:
    """End ``db``'s PostgreSQL backend from another session: the error of ``db``'s next read."""
    pid = db.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with sessions() as other:
        other.connection().exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        other.commit()
    with pytest.raises(exc.DBAPIError) as caught:
        raw.first(db.connection(), RAW_SELECT_REFRESH, {"p_hash": "h" * 64})
    return caught.value


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_connection_gone_is_invalidated_and_recognised_as_an_outage(sessions):
    with sessions() as db:
        gone = _read_after_its_backend_ended(db, sessions)
        assert gone.connection_invalidated and probe.unavailable(gone) == "unreachable"
        db.rollback()
    with sessions() as db:  # the pool replaced the dead connection
        assert raw.first(db.connection(), RAW_SELECT_REFRESH, {"p_hash": "h" * 64}) is None


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_account_lock_is_held_until_the_transaction_ends(sessions):
    """idgw.storage.revoke.account_lock, now on the driver's cursor: a transaction-scoped advisory
    lock, seen by another connection while the transaction lasts and gone after it."""
    from idgw.storage.revoke import account_lock

    def advisory_locks(other) -> int:
        return other.connection().exec_driver_sql(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted").scalar()

    with sessions() as db, sessions() as other:
        account_lock(db, account_id="a-1")
        account_lock(db, account_id="a-1")  # re-entrant within the transaction
        assert advisory_locks(other) == 1
        other.rollback()
        db.commit()
        assert advisory_locks(other) == 0


def _on_the_loop(url: str, work):
    """``work(sessionmaker)`` in a greenlet on an event loop, with the serving process's event-loop
    pool (``make_engine(on_loop=True)``), as ``in_short_transaction`` runs the hot path."""
    import asyncio

    from sqlalchemy.util import greenlet_spawn

    from idgw.storage.db import dispose_loop_pool, loop_sessionmaker, make_engine

    engine = make_engine(url, on_loop=True)

    async def main():
        try:
            return await greenlet_spawn(work, loop_sessionmaker(engine))
        finally:
            await dispose_loop_pool(engine)

    try:
        return asyncio.run(main())
    finally:
        engine.dispose()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_on_the_event_loops_pool_asyncpg_writes_and_reads_what_psycopg_does(database_url, sessions):
    """The event loop's pool speaks asyncpg, whose parameters are positional and typed by the
    server: every statement shape of the hot path (a row, two rows in one statement, executemany,
    UPDATE ... RETURNING with JSON columns, a name used twice) reads and writes the same rows."""
    from idgw.oidc.grants import RAW_ROTATE_REFRESH

    with sessions() as db:
        _parents(db)
        db.commit()
    access = _token_row(id="t-access", kind="access", token_hash="a" * 64, jti="j-1")
    refresh = _token_row(id="t-refresh", token_hash="r" * 64, expires_at=10**11)
    twice = raw.Statement("SELECT count(*) FROM tokens WHERE issued_at = :p_at OR expires_at > :p_at + :p_more",
                          columns=("n",))

    def work(loop_sessions):
        with loop_sessions() as db:
            conn = db.connection()
            assert conn.dialect.driver == "asyncpg"
            assert raw.execute(conn, RAW_INSERT_TOKEN_PAIR, raw.row_params([access, refresh])) == 2
            raw.execute(conn, RAW_INSERT_TOKENS, [_token_row(id="t-3", token_hash="3" * 64),
                                                  _token_row(id="t-4", token_hash="4" * 64, claims='{"a": 1}')])
            read = raw.first(conn, RAW_SELECT_REFRESH, {"p_hash": "r" * 64})
            rotated = raw.first(conn, RAW_ROTATE_REFRESH["postgresql"], {
                "p_hash": "4" * 64, "p_client_id": "c-1", "p_now": 5, "p_lock": 42})
            counted = raw.first(conn, twice, {"p_at": 1, "p_more": 10**10})
            db.commit()
            return read, rotated, counted

    read, rotated, counted = _on_the_loop(database_url, work)
    assert (read.amr, read.claims, read.release, read.expires_at) == (["pwd"], None, ["id_token/ชื่อ"], 10**11)
    assert (rotated.id, rotated.rotated_at, rotated.claims) == ("t-4", 5, {"a": 1})
    assert counted.n == 4  # issued_at = 1 for all four: the one parameter used twice is one value
    with sessions() as db:
        rows = {t.id: t for t in db.scalars(select(Token))}
        assert set(rows) == {"t-access", "t-refresh", "t-3", "t-4"}
        assert (rows["t-access"].kind, rows["t-access"].jti) == ("access", "j-1")
        assert rows["t-4"].rotated_at == 5 and rows["t-3"].rotated_at is None


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_on_the_event_loops_pool_a_failure_is_told_as_on_the_threads(database_url, sessions):
    """asyncpg's errors, through SQLAlchemy's wrappers, are recognised as psycopg's are: a
    constraint is a bug (no outage), a cancelled statement a timeout, a terminated backend an
    outage with the connection invalidated and replaced."""
    from sqlalchemy import text

    def work(loop_sessions):
        seen = {}
        with loop_sessions() as db:
            with pytest.raises(exc.IntegrityError) as caught:
                raw.execute(db.connection(), RAW_INSERT_TOKENS, [_token_row()])  # no parent rows
            seen["constraint"] = probe.unavailable(caught.value)
            db.rollback()
            db.execute(text("SET LOCAL statement_timeout = 50"))
            with pytest.raises(exc.DBAPIError) as caught:
                db.execute(text("SELECT pg_sleep(1)"))
            seen["cancelled"] = probe.unavailable(caught.value)
            db.rollback()
            gone = _read_after_its_backend_ended(db, sessions)
            seen["gone"] = (gone.connection_invalidated, probe.unavailable(gone), probe.error_name(gone))
            db.rollback()
        with loop_sessions() as db:  # the pool replaced the dead connection
            seen["after"] = raw.first(db.connection(), RAW_SELECT_REFRESH, {"p_hash": "h" * 64})
        return seen

    seen = _on_the_loop(database_url, work)
    # The log line names asyncpg's class, not SQLAlchemy's adapter's (the same for every failure).
    assert seen == {"constraint": None, "cancelled": "timeout", "after": None,
                    "gone": (True, "unreachable", "DBAPIError (asyncpg.exceptions.ConnectionDoesNotExistError)")}


def test_asyncpg_parameters_are_numbered_by_first_use():
    stmt = raw.Statement("UPDATE t SET a = :p_x, b = :p_y::text WHERE c = :p_x AND d = :p_z")
    assert stmt.asyncpg == "UPDATE t SET a = $1, b = $2::text WHERE c = $1 AND d = $3"
    assert stmt.names == ("p_x", "p_y", "p_z")
    assert stmt.postgresql == "UPDATE t SET a = %(p_x)s, b = %(p_y)s::text WHERE c = %(p_x)s AND d = %(p_z)s"
