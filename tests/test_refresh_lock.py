"""On PostgreSQL a refresh's rotation takes the account's advisory lock in the same statement
(idgw.oidc.grants.RAW_ROTATE_REFRESH), before it touches a row, so it waits for a revocation of
the account's tokens in progress (idgw.storage.revoke.account_lock) as the separate lock did."""

import pytest
from sqlalchemy import text

from idgw.oidc.grants import RAW_INSERT_TOKENS, RAW_REDEEM_REFRESH, RAW_ROTATE_REFRESH
from idgw.storage import raw
from idgw.storage.db import make_engine, make_sessionmaker
from idgw.storage.models import Account, Client
from idgw.storage.revoke import account_lock, lock_key, lock_key_sql
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


def test_the_key_postgresql_computes_is_the_one_python_computes(pg_sessions):
    """A refresh rotated by the statement that finds it (idgw.oidc.grants.RAW_REDEEM_REFRESH) takes
    the account's advisory lock by a key PostgreSQL computes from the token's account: the same
    key ``account_lock`` takes, or the two would not exclude each other."""
    accounts = ["a-1", "00000000-0000-4000-8000-000000000000", "ผู้ใช้-๑", "", "x" * 300]
    with pg_sessions() as db:
        for account in accounts:
            got = db.execute(text(f"SELECT {lock_key_sql(':account')}"), {"account": account}).scalar()
            assert got == lock_key(account), account


def test_a_refresh_rotated_where_it_is_found_waits_for_its_accounts_revocation(pg_sessions):
    with pg_sessions() as db:
        db.add(Client(client_id="svc", name="x", redirect_uris=["https://rp.test/cb"],
                      token_endpoint_auth_method="none", grant_types=["refresh_token"], scope="openid",
                      created_at=1))
        db.add_all([Account(id="acct-1", username="somsri", created_at=1),
                    Account(id="acct-2", username="somchai", created_at=1)])
        db.flush()
        for account in ("acct-1", "acct-2"):
            raw.execute(db.connection(), RAW_INSERT_TOKENS, [{
                "id": f"t-{account}", "kind": "refresh", "token_hash": f"h-{account}", "jti": None,
                "family_id": "f", "client_id": "svc", "account_id": account, "session_id": "s-1",
                "scope": "openid", "auth_time": 1, "acr": "x", "amr": raw.json_param([]), "ial": "1.1", "aal": "1",
                "claims": raw.json_param(None), "release": raw.json_param([]), "mandate_id": None,
                "mandate_act": None, "issued_at": 1, "expires_at": 10**10, "rotated_at": None,
                "revoked_at": None, "parent_id": None}])
        db.commit()

    def redeem(conn, account_id: str):
        return raw.first(conn, RAW_REDEEM_REFRESH["postgresql"], {
            "p_hash": f"h-{account_id}", "p_client_id": "svc", "p_now": 1_800_000_000})

    with pg_sessions() as revoking, pg_sessions() as refreshing:
        account_lock(revoking, account_id="acct-1")  # a revocation of acct-1's tokens, not yet committed
        conn = refreshing.connection()
        conn.execute(text("SET LOCAL lock_timeout = '300ms'"))
        assert redeem(conn, "acct-2").id == "t-acct-2"  # another account's lock: no wait
        with pytest.raises(Exception, match="lock timeout"):
            redeem(conn, "acct-1")
        refreshing.rollback()
        revoking.commit()
        rotated = redeem(refreshing.connection(), "acct-1")  # released with the revocation's commit
        assert (rotated.id, rotated.rotated_at) == ("t-acct-1", 1_800_000_000)
        refreshing.commit()
