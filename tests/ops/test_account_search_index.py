"""The admin account search on PostgreSQL reads through the trigram indexes of migration 0015,
not the whole accounts table (one row per citizen who ever signed in). Measured before them on
1,000,001 accounts: 0.35-3.0 s a search; after: 3-6 ms (docs/operations.md).

On a table of a few rows the planner may walk any index, so this test gives it 30,000 accounts
shaped like the real ones (upstream accounts are named ``thaid-<12 hex>``), asks PostgreSQL for
the plan of the statement the search runs, and checks what the search finds."""

from __future__ import annotations

import json

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from idgw.admin import account_search, search_accounts
from idgw.storage.db import alembic_config, make_engine, make_sessionmaker, upgrade
from tests.ops import plans


@pytest.fixture
def many_accounts(postgres):
    url = postgres.create_database()
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO accounts (id, username, username_key, email, email_verified, ial, roles, failed_logins,"
            " locked_until, created_at) SELECT md5(i::text), 'thaid-' || substr(md5(i::text), 1, 12),"
            " 'thaid-' || substr(md5(i::text), 1, 12), CASE WHEN i % 3 = 0 THEN 'p' || i || '@mail.example.th' END,"
            " false, '1.1', '[]', 0, 0, 1 FROM generate_series(1, 30000) i"))
        conn.execute(text(
            "INSERT INTO accounts (id, username, username_key, email, email_verified, ial, roles, failed_logins,"
            " locked_until, created_at) VALUES ('somchai', 'Somchai.Jaidee', 'somchai.jaidee',"
            " 'Somchai.J@Agency.go.th', false, '1.1', '[]', 0, 0, 1)"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE accounts"))
    yield engine
    engine.dispose()


@pytest.mark.parametrize("needle", ["jaidee", "AGENCY.GO", "thaid-3f2", "p2999"])
def test_the_search_reads_through_the_trigram_indexes(many_accounts, needle):
    nodes = list(plans.nodes(plans.explain(many_accounts, account_search(needle))))
    used = {node.get("Index Name") for node in nodes}
    assert {"ix_accounts_username_trgm", "ix_accounts_email_trgm"} <= used, json.dumps(nodes, indent=1)
    assert not [node for node in nodes if node.get("Node Type") == "Seq Scan"]
    # and no walk of the whole username index, filtering as it goes
    assert not [node for node in nodes if node.get("Index Name") == "accounts_username_key"]


def test_what_the_search_finds_through_them(many_accounts):
    with make_sessionmaker(many_accounts)() as db:
        assert [a.id for a in search_accounts(db, "JAIDEE")] == ["somchai"]  # any case
        assert [a.id for a in search_accounts(db, "j@agency")] == ["somchai"]  # part of the e-mail address
        assert [a.id for a in search_accounts(db, "p29998@")] == [] and len(search_accounts(db, "p2999")) == 3
        found = search_accounts(db, "thaid-", limit=20)  # every upstream account matches: the first 20 by name
        assert len(found) == 20 and [a.username for a in found] == sorted(a.username for a in found)
        assert search_accounts(db, "100%") == [] and search_accounts(db, "   ") == []  # LIKE's wildcards are text


def test_without_the_right_to_create_pg_trgm_the_upgrade_goes_on_and_the_search_still_works(postgres, caplog):
    """The extension needs the CREATE privilege on the database. A role that may create tables
    but not that (a database it does not own) migrates to head all the same, without the two
    indexes, and says so; the search then reads the table as before."""
    import uuid

    import psycopg

    from idgw.admin import add_user

    role, name = "weak_" + uuid.uuid4().hex[:8], "idgw_" + uuid.uuid4().hex[:10]
    admin = f"host=127.0.0.1 port={postgres.port} user=idgw"
    with psycopg.connect(admin + " dbname=postgres", autocommit=True) as c:
        c.execute(f'CREATE ROLE "{role}" LOGIN')
        c.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(admin + f" dbname={name}", autocommit=True) as c:
        c.execute(f'GRANT CREATE, USAGE ON SCHEMA public TO "{role}"')
    url = f"postgresql+psycopg://{role}@127.0.0.1:{postgres.port}/{name}"
    with caplog.at_level("WARNING"):
        upgrade(url)
    assert "pg_trgm could not be created" in caplog.text and "reads the whole table" in caplog.text
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
            assert conn.execute(text("SELECT count(*) FROM pg_indexes WHERE indexname LIKE '%trgm%'")).scalar() == 0
        with make_sessionmaker(engine)() as db:
            add_user(db, username="Malee.Dee", password="a long passphrase", now=1)
            db.commit()
            assert [a.username for a in search_accounts(db, "LEE.D")] == ["Malee.Dee"]
    finally:
        engine.dispose()


def test_fewer_than_three_characters_are_not_searched_and_a_citizen_id_always_is():
    """Two characters make no trigram: the search would read every account for a list of the
    first 50. It does not run (the pages ask for more); 13 digits, however written, always do."""
    from idgw.admin import search_too_short

    for short in ("a", "so", " s ", "%_", "ก่"):
        assert search_too_short(short) and account_search(short) is None, short
    for searched in ("som", "1-3459-51597-67-1", "1345951597671", "abc "):
        assert not search_too_short(searched) and account_search(searched) is not None, searched
    assert not search_too_short("") and account_search("   ") is None  # nothing typed: nothing to say
