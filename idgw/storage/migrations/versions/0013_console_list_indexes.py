"""indexes for two admin console lists and for revoking a mandate

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 00:25:00

The accounts page lists the accounts that cannot sign in now (``locked_until`` in the future):
without an index every view read the whole accounts table. ``ix_accounts_held`` is partial
(``locked_until > 0``), so it holds only the accounts with a wait or a lock. The change
requests page lists the latest decisions (``ORDER BY decided_at DESC LIMIT``), which read and
sorted the whole table. Revoking a mandate finds the e-services that received a code under it
(``authorization_codes.mandate_id``, kept while their tokens live): a full scan of the codes;
``ix_codes_mandate`` is partial (``mandate_id IS NOT NULL``), so a sign-in for oneself adds
nothing to it. Found by tests/ops/test_index_use.py.
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_accounts_held', 'accounts', ['locked_until'], unique=False,
                    sqlite_where=sa.text('locked_until > 0'), postgresql_where=sa.text('locked_until > 0'))
    op.create_index('ix_change_requests_decided', 'change_requests', ['decided_at'], unique=False)
    op.create_index('ix_codes_mandate', 'authorization_codes', ['mandate_id'], unique=False,
                    sqlite_where=sa.text('mandate_id IS NOT NULL'), postgresql_where=sa.text('mandate_id IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_codes_mandate', table_name='authorization_codes')
    op.drop_index('ix_change_requests_decided', table_name='change_requests')
    op.drop_index('ix_accounts_held', table_name='accounts')
