"""The migrations build exactly the schema the models describe, on both databases (a column added
to a model without a migration, or the other way round, fails here rather than in production)."""

import uuid

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from idgw.storage.db import alembic_config, make_engine, make_sessionmaker, upgrade
from idgw.storage.models import Base

#: Indexes of one database only, which the models do not describe: on PostgreSQL, the admin
#: account search's trigram indexes (migration 0015).
POSTGRESQL_ONLY = {"ix_accounts_username_trgm", "ix_accounts_email_trgm"}


def test_migrations_match_the_models(database_url):
    upgrade(database_url)
    engine = make_engine(database_url)

    def known(_object, name, type_, reflected, _compare_to):
        return not (type_ == "index" and reflected and name in POSTGRESQL_ONLY)

    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": known})
            assert compare_metadata(context, Base.metadata) == []
        names = {i["name"] for i in inspect(engine).get_indexes("accounts")}
        assert POSTGRESQL_ONLY <= names if engine.dialect.name == "postgresql" else not POSTGRESQL_ONLY & names
    finally:
        engine.dispose()


def _token(**fields):
    from idgw.storage.models import Token

    base = dict(id=str(uuid.uuid4()), kind="refresh", token_hash=uuid.uuid4().hex * 2, jti=None,
                family_id="f" * 36, session_id="s" * 36, scope="openid", auth_time=1, acr="a", amr=["pwd"],
                issued_at=1, expires_at=10**10)
    return Token(**{**base, **fields})


def test_0014_keeps_every_token_and_the_jti_unique_among_those_that_have_one(database_url):
    """0014 makes the indexes of mostly-empty columns partial; on SQLite it rebuilds the tokens
    table. The rows written before it are all there after it (and after going back), several
    refresh tokens without a jti are still allowed, and a second token with a jti already
    issued is still refused, at 0014 and after the downgrade."""
    from sqlalchemy import func, select
    from sqlalchemy.exc import IntegrityError

    from idgw.admin import add_client, add_user
    from idgw.storage.db import make_sessionmaker
    from idgw.storage.models import LoginSession, Token

    config = alembic_config(database_url)
    command.upgrade(config, "0013")
    engine = make_engine(database_url)
    sm = make_sessionmaker(engine)
    try:
        with sm() as db:
            client = add_client(db, name="svc", redirect_uris=["https://svc.example/cb"], now=1).client_id
            account = add_user(db, username="somchai", password="a long passphrase", now=1).id
            db.add_all([_token(client_id=client, account_id=account),
                        _token(client_id=client, account_id=account),
                        _token(client_id=client, account_id=account, kind="access", jti="j1", mandate_id="m" * 36),
                        LoginSession(id="g" * 36, cookie_hash="c" * 64, account_id=account, auth_time=1,
                                     last_seen=1, aal="1", amr=["pwd"], factors=[], expires_at=10**10),
                        LoginSession(id="h" * 36, cookie_hash="d" * 64, account_id=account, auth_time=1,
                                     last_seen=1, aal="1", amr=["pwd"], factors=[], expires_at=10**10,
                                     group_id="g" * 36)])
            db.commit()

        def check(rows: int) -> None:
            with sm() as db:
                assert db.scalar(select(func.count()).select_from(Token)) == rows
                assert db.scalar(select(Token.mandate_id).where(Token.jti == "j1")) == "m" * 36
                assert db.scalar(select(LoginSession.id).where(LoginSession.group_id == "g" * 36)) == "h" * 36
                db.add(_token(client_id=client, account_id=account))  # one more without a jti
                db.commit()
                db.add(_token(client_id=client, account_id=account, kind="access", jti="j1"))
                with pytest.raises(IntegrityError):
                    db.commit()

        command.upgrade(config, "0014")
        check(3)
        indexes = {i["name"]: i for i in inspect(engine).get_indexes("tokens")}
        assert indexes["ux_tokens_jti"]["unique"]
        engine.dispose()
        command.downgrade(config, "0013")
        check(4)
        command.upgrade(config, "head")
        with sm() as db:
            assert db.scalar(select(func.count()).select_from(Token)) == 5
    finally:
        engine.dispose()


def test_0016_adds_and_removes_the_audit_viewers_indexes_keeping_the_log(database_url):
    from idgw import audit

    upgrade(database_url)
    engine = make_engine(database_url)
    config = alembic_config(database_url)

    def indexes() -> set[str]:
        return {i["name"] for i in inspect(engine).get_indexes("audit_events")}

    try:
        with make_sessionmaker(engine)() as db:
            audit.record(db, "account.unlocked", at=1, actor="admin.a", on_behalf_of="acc-1")
            db.commit()
        assert {"ix_audit_actor", "ix_audit_on_behalf", "ix_audit_client"} <= indexes()
        command.downgrade(config, "0015")
        assert not {"ix_audit_actor", "ix_audit_on_behalf", "ix_audit_client"} & indexes()
        command.upgrade(config, "head")
        assert {"ix_audit_actor", "ix_audit_on_behalf", "ix_audit_client"} <= indexes()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT actor, on_behalf_of FROM audit_events WHERE name = 'account.unlocked'")
                                ).all() == [("admin.a", "acc-1")]
    finally:
        engine.dispose()


@pytest.mark.parametrize(("revision_before", "index"), [("0013", "ux_tokens_jti"),
                                                     ("0014", "ix_accounts_username_trgm"),
                                                     ("0015", "ix_audit_on_behalf")])
def test_an_index_build_cut_short_is_built_again_by_the_next_upgrade(postgres, revision_before, index):
    """Migrations 0014 to 0016 build their indexes CONCURRENTLY (token requests and sign-ins go
    on writing meanwhile), which leaves an invalid index behind when it is interrupted;
    PostgreSQL keeps it, unused, and IF NOT EXISTS alone would skip it for good. The next
    upgrade drops it and builds it again."""
    url = postgres.create_database()
    upgrade(url)
    engine = make_engine(url)
    validity = text("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                    " WHERE c.relname = :index")
    try:
        with engine.begin() as conn:  # as an interrupted build leaves it, at the revision before
            conn.execute(text(f"UPDATE pg_index SET indisvalid = false WHERE indexrelid = '{index}'::regclass"))
            conn.execute(text("UPDATE alembic_version SET version_num = :before"), {"before": revision_before})
        with engine.connect() as conn:
            assert conn.execute(validity, {"index": index}).scalar() is False
        upgrade(url)
        with engine.connect() as conn:
            assert conn.execute(validity, {"index": index}).scalar() is True
            head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    finally:
        engine.dispose()
