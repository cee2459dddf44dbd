"""indexes for every row the purge looks for

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 23:55:00

The purge (idgw.purge) selected removable rows of sessions, tokens (revoked ones), upstream
attempts, WebAuthn challenges and used client assertions by columns no index served, in batches
ordered by primary key: each batch could read the whole table, tokens included (tens of millions
of rows at steady state). These indexes serve its conditions; the batches are no longer ordered
by key (tests/ops/test_index_use.py asks PostgreSQL for the plans).
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

# (name, table, column, partial: only rows where the column is set, so that a new row, which
# has none, adds no entry: issuing a token or starting a session writes nothing to them)
INDEXES = [
    ('ix_sessions_ended', 'sessions', 'ended_at', True),
    ('ix_sessions_expires', 'sessions', 'expires_at', False),
    ('ix_tokens_revoked', 'tokens', 'revoked_at', True),
    ('ix_upstream_attempts_expires', 'upstream_attempts', 'expires_at', False),
    ('ix_webauthn_challenges_expires', 'webauthn_challenges', 'expires_at', False),
    ('ix_used_assertions_expires', 'used_assertions', 'expires_at', False),
]


def upgrade() -> None:
    for name, table, column, partial in INDEXES:
        where = {'sqlite_where': sa.text(f'{column} IS NOT NULL'),
                 'postgresql_where': sa.text(f'{column} IS NOT NULL')} if partial else {}
        op.create_index(name, table, [column], unique=False, **where)


def downgrade() -> None:
    for name, table, _column, _partial in reversed(INDEXES):
        op.drop_index(name, table_name=table)
