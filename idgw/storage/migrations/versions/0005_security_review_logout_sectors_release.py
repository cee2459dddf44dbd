"""security review: back-channel logout, session groups, pairwise sectors, released claims

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 03:00:00
"""
from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('backchannel_logout_uri', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('backchannel_logout_session_required', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('sector_identifier', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('sector_identifier_uri', sa.Text(), nullable=True))
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('group_id', sa.String(length=36), nullable=True))
        batch_op.create_index('ix_sessions_group_id', ['group_id'], unique=False)
    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('release', sa.JSON(), nullable=True))
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('release', sa.JSON(), nullable=True))
        batch_op.create_index('ix_tokens_session', ['session_id'], unique=False)
        batch_op.create_index('ix_tokens_account', ['account_id'], unique=False)
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claims', sa.JSON(), nullable=True))
    op.create_table('logout_deliveries',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('session_id', sa.String(length=36), nullable=False),
    sa.Column('account_id', sa.String(length=36), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.BigInteger(), nullable=False),
    sa.Column('next_attempt_at', sa.BigInteger(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_until', sa.BigInteger(), nullable=True),
    sa.Column('delivered_at', sa.BigInteger(), nullable=True),
    sa.Column('failed_at', sa.BigInteger(), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.client_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('logout_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_logout_due', ['delivered_at', 'failed_at', 'next_attempt_at'], unique=False)

    # OIDC Core §8.1: existing pairwise clients whose redirect URIs share one host get that host
    # as their sector; the others keep the per-client key they had (sector NULL) until an
    # administrator registers a sector_identifier_uri for them.
    conn = op.get_bind()
    clients = sa.table('clients', sa.column('client_id', sa.String), sa.column('redirect_uris', sa.JSON),
                       sa.column('sector_identifier', sa.String))
    for client_id, uris in conn.execute(sa.select(clients.c.client_id, clients.c.redirect_uris)).all():
        hosts = {urlsplit(u).hostname for u in (uris or [])}
        if len(hosts) == 1 and None not in hosts:
            conn.execute(clients.update().where(clients.c.client_id == client_id)
                         .values(sector_identifier=hosts.pop()))


def downgrade() -> None:
    with op.batch_alter_table('logout_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_logout_due')
    op.drop_table('logout_deliveries')
    with op.batch_alter_table('consents', schema=None) as batch_op:
        batch_op.drop_column('claims')
    with op.batch_alter_table('tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_tokens_account')
        batch_op.drop_index('ix_tokens_session')
        batch_op.drop_column('release')
    with op.batch_alter_table('authorization_codes', schema=None) as batch_op:
        batch_op.drop_column('release')
    with op.batch_alter_table('sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_sessions_group_id')
        batch_op.drop_column('group_id')
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('sector_identifier_uri')
        batch_op.drop_column('sector_identifier')
        batch_op.drop_column('backchannel_logout_session_required')
        batch_op.drop_column('backchannel_logout_uri')
