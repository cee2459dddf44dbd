"""refresh rotation grace: tokens.parent_id; expiry indexes for the purge

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 17:40:00

``tokens.parent_id`` names the refresh token a pair was issued for, so that a rotated refresh
token presented again within the grace (RFC 9700 §4.14.2, ``IDGW_REFRESH_GRACE``) finds the pair
its lost response carried. Tokens issued before this revision have none: a rotated one presented
again is reuse, as it was.

The purge (idgw.purge) selects expired rows of tokens, authorization codes and interactions by
``expires_at``; without an index that is a full scan of tens of millions of rotated refresh
tokens at steady state.
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tokens') as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.String(length=36), nullable=True))
    op.create_index('ix_tokens_expires', 'tokens', ['expires_at'], unique=False)
    op.create_index('ix_codes_expires', 'authorization_codes', ['expires_at'], unique=False)
    op.create_index('ix_interactions_expires', 'interactions', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_interactions_expires', table_name='interactions')
    op.drop_index('ix_codes_expires', table_name='authorization_codes')
    op.drop_index('ix_tokens_expires', table_name='tokens')
    with op.batch_alter_table('tokens') as batch_op:
        batch_op.drop_column('parent_id')
