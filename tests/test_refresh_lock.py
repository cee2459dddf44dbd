"""On PostgreSQL a refresh's rotation takes the account's advisory lock in the same statement
(idgw.oidc.grants.RAW_ROTATE_REFRESH), before it touches a row, so it waits for a revocation of
the account's tokens in progress (idgw.storage.revoke.account_lock) as the separate lock did."""

import pytest
from sqlalchemy import text

from idgw.oidc.grants import RAW_ROTATE_REFRESH
from idgw.storage import raw
from idgw.storage.db import make_engine, make_sessionmaker
from idgw.storage.revoke import account_lock, lock_key
from tests.conftest import migrated


@pytest.fixture
def pg_sessions(postgres):  # SQLite runs one writer at a time: it has no advisory locks
    url = postgres.create_database()
    migrated(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


def _rotate(conn, account_id: str):
    return raw.first(conn, RAW_ROTATE_REFRESH["postgresql"], {
        "p_hash": "no-such-token", "p_client_id": "svc", "p_now": 1_800_000_000, "p_lock": lock_key(account_id)})


def test_the_rotation_waits_for_the_accounts_revocation_and_not_for_anothers(pg_sessions):
    with pg_sessions() as revoking, pg_sessions() as refreshing:
        account_lock(revoking, account_id="acct-1")  # a revocation of acct-1's tokens, not yet committed
        conn = refreshing.connection()
        conn.execute(text("SET LOCAL lock_timeout = '300ms'"))
        assert _rotate(conn, "acct-2") is None  # another account's lock: no wait (and no such token)
        with pytest.raises(Exception, match="lock timeout"):
            _rotate(conn, "acct-1")
        refreshing.rollback()
        revoking.commit()
        assert _rotate(refreshing.connection(), "acct-1") is None  # released with the revocation's commit
        refreshing.rollback()
