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
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

INDEXES = [
    ('ix_sessions_ended', 'sessions', 'ended_at'),
    ('ix_sessions_expires', 'sessions', 'expires_at'),
    ('ix_tokens_revoked', 'tokens', 'revoked_at'),
    ('ix_upstream_attempts_expires', 'upstream_attempts', 'expires_at'),
    ('ix_webauthn_challenges_expires', 'webauthn_challenges', 'expires_at'),
    ('ix_used_assertions_expires', 'used_assertions', 'expires_at'),
]


def upgrade() -> None:
    for name, table, column in INDEXES:
        op.create_index(name, table, [column], unique=False)


def downgrade() -> None:
    for name, table, _column in reversed(INDEXES):
        op.drop_index(name, table_name=table)
