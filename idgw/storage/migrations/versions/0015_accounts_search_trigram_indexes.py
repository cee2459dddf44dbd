"""accounts: trigram indexes for the admin search on PostgreSQL

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 16:50:00

The admin console's account search (``idgw.admin.search_accounts``) matches any part of a
username or e-mail address, case-insensitively (``lower(...) LIKE '%...%'``), which no btree
index serves: every search read the whole accounts table, one row per citizen who ever signed
in. Measured on 1,000,001 accounts: 0.35 to 3.0 s a search; at national scale (tens of millions)
that is minutes, holding a database connection each time.

On PostgreSQL, two GIN indexes of trigrams (``pg_trgm``, a trusted extension shipped with
PostgreSQL) on ``lower(username)`` and ``lower(email)`` serve it for needles of three
characters or more. They are built without blocking writes to accounts (``CONCURRENTLY``).
The extension needs the CREATE privilege on the database (the owner has it). Where it cannot
be created, the upgrade goes on without the indexes and says so in its log: the search still
works, reading the whole table as before (docs/operations.md).

Not on SQLite (no such index type; a SQLite installation is one process, small by design).
The indexes are not in the models (an expression index of one database only); the migration
test knows them (tests/test_migrations.py).
"""
import logging

from alembic import op

from idgw.storage.online import build_index_concurrently

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

INDEXES = {'ix_accounts_username_trgm': 'username', 'ix_accounts_email_trgm': 'email'}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    available = bind.exec_driver_sql(
        "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_trgm'").scalar()
    if not available:
        logging.getLogger('alembic.runtime.migration').warning(
            "pg_trgm is not installed with this PostgreSQL: the admin account search reads the whole table")
        return
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    except Exception as refused:  # noqa: BLE001 - any refusal (privilege) leaves the search as it was
        savepoint.rollback()
        logging.getLogger('alembic.runtime.migration').warning(
            "pg_trgm could not be created (%s): the admin account search reads the whole table",
            str(refused).splitlines()[0])
        return
    savepoint.commit()
    # CONCURRENTLY: sign-ins go on writing accounts (failure counts, new upstream accounts) while
    # the indexes build, minutes at national scale. It cannot run in a transaction: what this
    # upgrade did so far is committed first. A build cut short leaves an invalid index behind,
    # which the next run drops and builds again.
    with op.get_context().autocommit_block():
        for name, column in INDEXES.items():
            build_index_concurrently(bind, name, f'ON accounts USING gin (lower({column}) gin_trgm_ops)')


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for name in INDEXES:
        op.execute(f'DROP INDEX IF EXISTS {name}')
