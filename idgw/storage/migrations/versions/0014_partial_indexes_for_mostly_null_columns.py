"""partial indexes for columns that are mostly empty: tokens.jti, tokens.mandate_id, sessions.group_id

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 16:30:00

Three indexes held an entry for every row, most of them for an empty (NULL) value that no
lookup ever asks for:

- ``tokens.jti`` (unique): only access tokens carry a jti. Refresh tokens are half the rows
  written and the ones kept longest (tens of millions at national scale, ``idgw.purge``).
- ``tokens.mandate_id``: only tokens issued under a mandate (acting for someone) carry one.
- ``sessions.group_id``: only a session that replaced another in the same browser carries one.

Each is now partial (``... IS NOT NULL``), like ``ix_codes_mandate`` (0013): every lookup
compares the column with ``=`` or ``IN``, which implies it is not NULL, so both databases still
use the index (tests/ops/test_index_use.py). The jti stays unique among the tokens that have
one. A token request writes two token rows, and now three index entries fewer. Measured on
PostgreSQL 15 with the tokens table's eight indexes, 18,000 code exchanges' worth of rows
(access and refresh token in one transaction): the indexes 4.7% smaller (9.8 to 9.4 MB); the
insert's time unchanged within noise (745 and 732 microseconds per transaction, medians of 6
alternating rounds). So this is for the disk and the cache at national scale (tens of
millions of tokens), not for speed.

On PostgreSQL the new indexes are built CONCURRENTLY (writes go on) before the old ones go.
On SQLite the unique constraint is part of the table's definition, so the table is rebuilt
(alembic's batch mode; the rows are copied within the upgrade's transaction).
"""
import sqlalchemy as sa
from alembic import op

from idgw.storage.online import build_index_concurrently

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

#: (new index, table, column, unique, the index or constraint it replaces)
_INDEXES = (('ux_tokens_jti', 'tokens', 'jti', True, 'tokens_jti_key'),
            ('ix_tokens_mandate', 'tokens', 'mandate_id', False, 'ix_tokens_mandate_id'),
            ('ix_sessions_group', 'sessions', 'group_id', False, 'ix_sessions_group_id'))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        # The new indexes are built before the old ones go, without blocking writes to the two
        # busiest tables (a build takes minutes at national scale); dropping the old unique
        # constraint locks tokens only for a moment. Not in a transaction: what this upgrade did
        # so far is committed first.
        with op.get_context().autocommit_block():
            for name, table, column, unique, _old in _INDEXES:
                build_index_concurrently(bind, name, f'ON {table} ({column}) WHERE {column} IS NOT NULL', unique=unique)
            bind.exec_driver_sql('ALTER TABLE tokens DROP CONSTRAINT IF EXISTS tokens_jti_key')
            bind.exec_driver_sql('DROP INDEX CONCURRENTLY IF EXISTS ix_tokens_mandate_id')
            bind.exec_driver_sql('DROP INDEX CONCURRENTLY IF EXISTS ix_sessions_group_id')
        return
    # SQLite: 0001 left UNIQUE (jti) unnamed in the table's definition (the downgrade below names
    # it): an unnamed one gets a name to be dropped by.
    named = [c['name'] for c in sa.inspect(bind).get_unique_constraints('tokens')
             if c['column_names'] == ['jti'] and c['name']]
    with op.batch_alter_table('tokens', recreate='always',
                              naming_convention={'uq': 'uq_%(table_name)s_%(column_0_name)s'}) as batch_op:
        batch_op.drop_constraint(named[0] if named else 'uq_tokens_jti', type_='unique')
    for name, table, column, unique, old in _INDEXES:
        if old != 'tokens_jti_key':
            op.drop_index(old, table_name=table)
        op.create_index(name, table, [column], unique=unique, sqlite_where=sa.text(f'{column} IS NOT NULL'))


def downgrade() -> None:
    for name, table, column, _unique, old in _INDEXES:
        op.drop_index(name, table_name=table)
        if old != 'tokens_jti_key':
            op.create_index(old, table, [column])
    with op.batch_alter_table('tokens') as batch_op:
        batch_op.create_unique_constraint('tokens_jti_key', ['jti'])
