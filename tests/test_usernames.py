"""Usernames compare as sign-in compares them (trimmed, case-folded, NFKC), through a unique
index: no two accounts differ only in case, a typed name finds its account on either database
without reading the whole table, and the upgrade that adds the rule stops, naming them, where
existing accounts already break it."""

import pytest
from alembic import command
from sqlalchemy import select, text

from idgw.admin import AdminError, add_user, find_user
from idgw.login.password import find_account
from idgw.storage.db import alembic_config, make_engine, make_sessionmaker, upgrade
from idgw.storage.models import Account, username_key

PASSWORD = "correct horse battery staple"


@pytest.fixture
def db(database_url):
    upgrade(database_url)
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as session:
        yield session
    engine.dispose()


def test_the_key_is_trimmed_case_folded_and_nfkc():
    assert username_key("  Somchai ") == "somchai" == username_key("ＳＯＭＣＨＡＩ")  # full-width letters
    assert username_key("Straße") == "strasse" and username_key("ÉMILE") == "émile"
    assert username_key("สมชาย") == "สมชาย"  # Thai has no case: unchanged


def test_names_differing_only_in_case_are_one_user(db):
    add_user(db, username="Somchai", password=PASSWORD, now=1)
    db.commit()
    for other in ("somchai", " SOMCHAI", "ＳＯＭＣＨＡＩ"):
        with pytest.raises(AdminError, match="already exists"):
            add_user(db, username=other, password=PASSWORD, now=1)
    for typed in ("Somchai", "somchai", "  SOMCHAI  ", "ＳＯＭＣＨＡＩ"):
        assert find_account(db, typed).username == "Somchai"
    # Non-ASCII case folds the same on both databases (SQLite's lower() folds ASCII only).
    add_user(db, username="Émile", password=PASSWORD, now=1)
    add_user(db, username="สมหญิง", password=PASSWORD, now=1)
    db.commit()
    assert find_account(db, "émile").username == "Émile" and find_user(db, "ÉMILE").username == "Émile"
    assert find_account(db, "สมหญิง").username == "สมหญิง" and find_account(db, "nobody") is None


def test_the_key_follows_a_renamed_username(db):
    account = add_user(db, username="old.name", password=PASSWORD, now=1)
    db.commit()
    account.username = "New.Name"
    db.commit()
    assert find_account(db, "new.name").id == account.id and find_account(db, "old.name") is None


def test_the_database_refuses_a_second_key_whatever_writes_it(db):
    """The unique index holds even for a writer that skips add_user's check."""
    from sqlalchemy.exc import IntegrityError

    add_user(db, username="dup", password=PASSWORD, now=1)
    db.commit()
    db.add(Account(id="0" * 36, username="DUP", created_at=1, roles=[]))
    with pytest.raises(IntegrityError):
        db.commit()


def test_sign_in_finds_the_account_through_the_index(db):
    statement = select(Account).where(Account.username_key == username_key("somchai"))
    sql = str(statement.compile(db.bind, compile_kwargs={"literal_binds": True}))
    if db.bind.dialect.name == "sqlite":
        plan = " ".join(str(row[-1]) for row in db.execute(text("EXPLAIN QUERY PLAN " + sql)))
        assert "ix_accounts_username_key" in plan, plan
    else:
        db.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: prefer the index if there is one
        plan = " ".join(row[0] for row in db.execute(text("EXPLAIN " + sql)))
        assert "ix_accounts_username_key" in plan and "Seq Scan" not in plan, plan


def _insert_account(conn, account_id: str, username: str) -> None:
    conn.execute(text("INSERT INTO accounts (id, username, email_verified, ial, roles, failed_logins, "
                      "locked_until, created_at) VALUES (:id, :u, false, '1.1', '[]', 0, 0, 1)"),
                 {"id": account_id, "u": username})


def test_the_upgrade_stops_on_names_that_differ_only_in_case(database_url):
    command.upgrade(alembic_config(database_url), "0010")
    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            _insert_account(conn, "a" * 36, "Somchai")
            _insert_account(conn, "b" * 36, "somchai")
            _insert_account(conn, "c" * 36, "Malee")
        with pytest.raises(RuntimeError) as refused:
            upgrade(database_url)
        assert "'Somchai' / 'somchai'" in str(refused.value) and "Malee" not in str(refused.value)
        assert "Rename or remove one account of each group" in str(refused.value)
        with engine.connect() as conn:  # nothing half-done: still at 0010, the accounts untouched
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0010"
            assert conn.execute(text("SELECT count(*) FROM accounts")).scalar() == 3
        with engine.begin() as conn:
            conn.execute(text("UPDATE accounts SET username = 'somchai.2' WHERE id = :id"), {"id": "b" * 36})
        upgrade(database_url)
        with make_sessionmaker(engine)() as db:
            assert find_account(db, "SOMCHAI").id == "a" * 36
            assert find_account(db, "malee").id == "c" * 36
    finally:
        engine.dispose()


def test_an_account_the_release_before_created_during_the_upgrade_is_found(db):
    """0011 expands without contracting: the release before it, still serving during a rolling
    upgrade, inserts accounts without a key. Sign-in finds them by name and gives them their key."""
    add_user(db, username="Keyed", password=PASSWORD, now=1)
    db.commit()
    _insert_account(db.connection(), "d" * 36, "Old.Release")  # as that release's INSERT: no username_key
    db.commit()
    assert db.scalar(select(Account.username_key).where(Account.id == "d" * 36)) is None
    assert find_account(db, "old.release").id == "d" * 36
    db.commit()
    assert db.scalar(select(Account.username_key).where(Account.id == "d" * 36)) == "old.release"
    assert find_account(db, "OLD.RELEASE").id == "d" * 36 and find_account(db, "keyed").username == "Keyed"
    with pytest.raises(AdminError, match="already exists"):
        add_user(db, username="old.RELEASE", password=PASSWORD, now=1)


def test_a_password_sign_in_finds_and_keys_an_account_without_a_key(db):
    """The sign-in's own lookup (idgw.login.password.precheck, on the driver's cursor) finds an
    account the release before 0011 created, checks its password and gives it its key."""
    from idgw.login.password import authenticate_password
    from idgw.security import hash_password
    from idgw.settings import Settings

    settings = Settings.from_env({}, dev=True)
    _insert_account(db.connection(), "e" * 36, "Old.Citizen")
    db.execute(text("UPDATE accounts SET password_hash = :h WHERE id = :id"),
               {"h": hash_password(PASSWORD), "id": "e" * 36})
    db.commit()
    wrong = authenticate_password(db, username="old.citizen", password="not the password", ip="192.0.2.1",
                                  now=100, settings=settings)
    assert wrong.error == "invalid_credentials"
    outcome = authenticate_password(db, username="OLD.CITIZEN ", password=PASSWORD, ip="192.0.2.1", now=100,
                                    settings=settings)
    db.commit()
    assert outcome.account.id == "e" * 36
    assert db.scalar(select(Account.username_key).where(Account.id == "e" * 36)) == "old.citizen"
