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

On SQLite the unique constraint is part of the table's definition, so the table is rebuilt
(alembic's batch mode; the rows are copied within the upgrade's transaction).
"""
import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

_NOT_NULL = {name: sa.text(f'{name} IS NOT NULL') for name in ('jti', 'mandate_id', 'group_id')}


def _partial(name: str) -> dict:
    return {'sqlite_where': _NOT_NULL[name], 'postgresql_where': _NOT_NULL[name]}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        # 0001 left UNIQUE (jti) unnamed in the table's definition (the downgrade below names
        # it): an unnamed one gets a name to be dropped by.
        named = [c['name'] for c in sa.inspect(bind).get_unique_constraints('tokens')
                 if c['column_names'] == ['jti'] and c['name']]
        with op.batch_alter_table('tokens', recreate='always',
                                  naming_convention={'uq': 'uq_%(table_name)s_%(column_0_name)s'}) as batch_op:
            batch_op.drop_constraint(named[0] if named else 'uq_tokens_jti', type_='unique')
    else:
        op.drop_constraint('tokens_jti_key', 'tokens', type_='unique')
    op.create_index('ux_tokens_jti', 'tokens', ['jti'], unique=True, **_partial('jti'))
    op.drop_index('ix_tokens_mandate_id', table_name='tokens')
    op.create_index('ix_tokens_mandate_id', 'tokens', ['mandate_id'], **_partial('mandate_id'))
    op.drop_index('ix_sessions_group_id', table_name='sessions')
    op.create_index('ix_sessions_group_id', 'sessions', ['group_id'], **_partial('group_id'))


def downgrade() -> None:
    op.drop_index('ix_sessions_group_id', table_name='sessions')
    op.create_index('ix_sessions_group_id', 'sessions', ['group_id'])
    op.drop_index('ix_tokens_mandate_id', table_name='tokens')
    op.create_index('ix_tokens_mandate_id', 'tokens', ['mandate_id'])
    op.drop_index('ux_tokens_jti', table_name='tokens')
    with op.batch_alter_table('tokens') as batch_op:
        batch_op.create_unique_constraint('tokens_jti_key', ['jti'])
