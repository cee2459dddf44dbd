"""citizen journeys: session device and service, consent receipts, gateway sign-in interactions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 05:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ip', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('user_agent', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('client_id', sa.String(length=64), nullable=True))
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.alter_column('client_id', existing_type=sa.String(length=64), nullable=True)
    op.create_table('consent_receipts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('client_name', sa.String(length=200), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('claims', sa.JSON(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=True),
    sa.Column('legal_basis', sa.Text(), nullable=True),
    sa.Column('granted_at', sa.BigInteger(), nullable=False),
    sa.Column('withdrawn_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('consent_receipts', schema=None) as batch_op:
        batch_op.create_index('ix_consent_receipts_account_id', ['account_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('consent_receipts', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_receipts_account_id')
    op.drop_table('consent_receipts')
    op.execute("DELETE FROM interactions WHERE client_id IS NULL")
    with op.batch_alter_table('interactions', schema=None) as batch_op:
        batch_op.alter_column('client_id', existing_type=sa.String(length=64), nullable=False)
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_column('client_id')
        batch_op.drop_column('user_agent')
        batch_op.drop_column('ip')
