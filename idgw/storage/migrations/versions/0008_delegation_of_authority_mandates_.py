"""delegation of authority mandates approvals acts rules security events

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 11:00:25.699338
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('delegation_acts',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name_th', sa.String(length=200), nullable=False),
    sa.Column('name_en', sa.String(length=200), nullable=False),
    sa.Column('created_by', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('retired_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.client_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('client_id', 'code')
    )
    with op.batch_alter_table('delegation_acts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delegation_acts_client_id'), ['client_id'], unique=False)

    op.create_table('delegation_rules',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('sign_ial', sa.String(length=4), nullable=False),
    sa.Column('sign_aal', sa.String(length=4), nullable=False),
    sa.Column('any_act_allowed', sa.Boolean(), nullable=False),
    sa.Column('stamp_duty_required', sa.Boolean(), nullable=False),
    sa.Column('max_depth', sa.Integer(), nullable=False),
    sa.Column('set_by', sa.String(length=120), nullable=False),
    sa.Column('set_at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.client_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_id')
    )
    op.create_table('mandates',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('parent_id', sa.String(length=36), nullable=True),
    sa.Column('depth', sa.Integer(), nullable=False),
    sa.Column('principal_kind', sa.String(length=10), nullable=False),
    sa.Column('principal_account_id', sa.String(length=36), nullable=True),
    sa.Column('principal_citizen_id', sa.String(length=13), nullable=True),
    sa.Column('principal_juristic_id', sa.String(length=13), nullable=True),
    sa.Column('principal_name', sa.JSON(), nullable=False),
    sa.Column('company', sa.JSON(), nullable=True),
    sa.Column('delegate_citizen_id', sa.String(length=13), nullable=False),
    sa.Column('delegate_account_id', sa.String(length=36), nullable=True),
    sa.Column('scope', sa.JSON(), nullable=False),
    sa.Column('single_use', sa.Boolean(), nullable=False),
    sa.Column('valid_from', sa.BigInteger(), nullable=False),
    sa.Column('valid_until', sa.BigInteger(), nullable=False),
    sa.Column('subdelegation_allowed', sa.Boolean(), nullable=False),
    sa.Column('stamp_duty', sa.JSON(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('document_sha256', sa.String(length=64), nullable=False),
    sa.Column('jws', sa.Text(), nullable=True),
    sa.Column('effective_at', sa.BigInteger(), nullable=True),
    sa.Column('accepted_at', sa.BigInteger(), nullable=True),
    sa.Column('used_at', sa.BigInteger(), nullable=True),
    sa.Column('revoked_at', sa.BigInteger(), nullable=True),
    sa.Column('revoked_by', sa.String(length=36), nullable=True),
    sa.Column('revoke_reason', sa.String(length=40), nullable=True),
    sa.Column('expired_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['delegate_account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['parent_id'], ['mandates.id'], ),
    sa.ForeignKeyConstraint(['principal_account_id'], ['accounts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('mandates', schema=None) as batch_op:
        batch_op.create_index('ix_mandates_delegate', ['delegate_citizen_id', 'status'], unique=False)
        batch_op.create_index('ix_mandates_juristic', ['principal_juristic_id'], unique=False)
        batch_op.create_index('ix_mandates_parent', ['parent_id'], unique=False)
        batch_op.create_index('ix_mandates_document', ['document_sha256'], unique=False)
        batch_op.create_index('ix_mandates_principal_account', ['principal_account_id'], unique=False)

    op.create_table('security_event_deliveries',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('event', sa.String(length=200), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('next_attempt_at', sa.BigInteger(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_until', sa.BigInteger(), nullable=True),
    sa.Column('delivered_at', sa.BigInteger(), nullable=True),
    sa.Column('failed_at', sa.BigInteger(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.client_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('security_event_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_set_due', ['delivered_at', 'failed_at', 'next_attempt_at'], unique=False)

    op.create_table('mandate_approvals',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('mandate_id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('citizen_id', sa.String(length=13), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('ial', sa.String(length=4), nullable=False),
    sa.Column('aal', sa.String(length=4), nullable=False),
    sa.Column('auth_time', sa.BigInteger(), nullable=False),
    sa.Column('sealed', sa.Boolean(), nullable=False),
    sa.Column('document_sha256', sa.String(length=64), nullable=False),
    sa.Column('reference', sa.String(length=120), nullable=True),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ),
    sa.ForeignKeyConstraint(['mandate_id'], ['mandates.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('mandate_id', 'citizen_id')
    )
    with op.batch_alter_table('mandate_approvals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mandate_approvals_mandate_id'), ['mandate_id'], unique=False)

    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mandate_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('mandate_act', sa.String(length=64), nullable=True))

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('security_event_uri', sa.Text(), nullable=True))

    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mandate_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('mandate_act', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_tokens_mandate_id'), ['mandate_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tokens_mandate_id'))
        batch_op.drop_column('mandate_act')
        batch_op.drop_column('mandate_id')

    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('security_event_uri')

    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.drop_column('mandate_act')
        batch_op.drop_column('mandate_id')

    with op.batch_alter_table('mandate_approvals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mandate_approvals_mandate_id'))

    op.drop_table('mandate_approvals')
    with op.batch_alter_table('security_event_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_set_due')

    op.drop_table('security_event_deliveries')
    with op.batch_alter_table('mandates', schema=None) as batch_op:
        batch_op.drop_index('ix_mandates_principal_account')
        batch_op.drop_index('ix_mandates_parent')
        batch_op.drop_index('ix_mandates_document')
        batch_op.drop_index('ix_mandates_juristic')
        batch_op.drop_index('ix_mandates_delegate')

    op.drop_table('mandates')
    op.drop_table('delegation_rules')
    with op.batch_alter_table('delegation_acts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delegation_acts_client_id'))

    op.drop_table('delegation_acts')
