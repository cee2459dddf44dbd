"""officer video proofing: cases, record, media, consents

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 08:06:29.019530
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('proofing_cases',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('interaction_id', sa.String(length=64), nullable=True),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('need_ial', sa.String(length=4), nullable=False),
    sa.Column('grant_ial', sa.String(length=4), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('consent_id', sa.String(length=36), nullable=False),
    sa.Column('card', sa.JSON(), nullable=False),
    sa.Column('card_check', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('queued_at', sa.BigInteger(), nullable=True),
    sa.Column('citizen_seen_at', sa.BigInteger(), nullable=False),
    sa.Column('claimed_by', sa.String(length=36), nullable=True),
    sa.Column('claimed_at', sa.BigInteger(), nullable=True),
    sa.Column('face', sa.JSON(), nullable=True),
    sa.Column('cues', sa.JSON(), nullable=False),
    sa.Column('checklist', sa.JSON(), nullable=False),
    sa.Column('flagged', sa.Boolean(), nullable=False),
    sa.Column('first_decision', sa.JSON(), nullable=True),
    sa.Column('decided_at', sa.BigInteger(), nullable=True),
    sa.Column('decision', sa.JSON(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('proofing_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proofing_cases_account_id'), ['account_id'], unique=False)
        batch_op.create_index('ix_proofing_cases_state_queued', ['state', 'queued_at'], unique=False)

    op.create_table('proofing_consents',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('notice_version', sa.String(length=32), nullable=False),
    sa.Column('media_retention_days', sa.Integer(), nullable=False),
    sa.Column('granted_at', sa.BigInteger(), nullable=False),
    sa.Column('withdrawn_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('proofing_consents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proofing_consents_account_id'), ['account_id'], unique=False)

    op.create_table('proofing_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['proofing_cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('proofing_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proofing_events_case_id'), ['case_id'], unique=False)

    op.create_table('proofing_media',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('case_id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('media_type', sa.String(length=32), nullable=False),
    sa.Column('sealed', sa.Text(), nullable=True),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('delete_after', sa.BigInteger(), nullable=False),
    sa.Column('deleted_at', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['proofing_cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('proofing_media', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_proofing_media_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_proofing_media_delete_after'), ['delete_after'], unique=False)

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ial_evidence_detail', sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_column('ial_evidence_detail')

    with op.batch_alter_table('proofing_media', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proofing_media_delete_after'))
        batch_op.drop_index(batch_op.f('ix_proofing_media_case_id'))

    op.drop_table('proofing_media')
    with op.batch_alter_table('proofing_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proofing_events_case_id'))

    op.drop_table('proofing_events')
    with op.batch_alter_table('proofing_consents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_proofing_consents_account_id'))

    op.drop_table('proofing_consents')
    with op.batch_alter_table('proofing_cases', schema=None) as batch_op:
        batch_op.drop_index('ix_proofing_cases_state_queued')
        batch_op.drop_index(batch_op.f('ix_proofing_cases_account_id'))

    op.drop_table('proofing_cases')
