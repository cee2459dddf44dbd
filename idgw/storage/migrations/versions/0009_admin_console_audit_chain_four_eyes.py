"""admin console: audit hash chains and checkpoints, four-eyes change requests, disabled services
and accounts

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 14:40:00

Existing audit events become chain "0", in id order, hashed as idgw.audit.chain (version 1) does;
the hash function is copied here so that this migration keeps meaning what it meant.
"""
import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

GENESIS = "0" * 64
FIELDS = ("chain", "at", "name", "actor", "on_behalf_of", "client_id", "session_id", "ip", "detail")


def _hash(row: dict, prev: str) -> str:
    content = {f: row.get(f) for f in FIELDS}
    if content["detail"] is None:
        content["detail"] = {}
    content["prev"] = prev
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode()).hexdigest()


def upgrade() -> None:
    op.create_table('audit_heads',
    sa.Column('chain', sa.String(length=16), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('chain')
    )
    op.create_table('audit_checkpoints',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('chain', sa.String(length=16), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('at', sa.BigInteger(), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('jws', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_audit_checkpoints_chain_seq', 'audit_checkpoints', ['chain', 'seq'], unique=False)
    op.create_table('change_requests',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('target', sa.String(length=120), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('requested_by', sa.String(length=36), nullable=False),
    sa.Column('requested_by_name', sa.String(length=200), nullable=False),
    sa.Column('requested_at', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('decided_by', sa.String(length=36), nullable=True),
    sa.Column('decided_by_name', sa.String(length=200), nullable=True),
    sa.Column('decided_at', sa.BigInteger(), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_change_requests_status', 'change_requests', ['status', 'expires_at'], unique=False)
    with op.batch_alter_table('clients') as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('accounts') as batch_op:
        batch_op.add_column(sa.Column('disabled_at', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('audit_events') as batch_op:
        batch_op.add_column(sa.Column('chain', sa.String(length=16), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('seq', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('prev_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('hash', sa.String(length=64), nullable=True))

    # Chain the events written before this version, in the order they were written.
    conn = op.get_bind()
    events = sa.table('audit_events', *(sa.column(c, sa.JSON() if c == 'detail' else None)
                                        for c in ('id', 'seq', 'prev_hash', 'hash') + FIELDS))
    prev, seq, last_id = GENESIS, 0, -1
    while True:
        rows = conn.execute(sa.select(events).where(events.c.id > last_id).order_by(events.c.id).limit(2000)
                            ).mappings().all()
        if not rows:
            break
        for row in rows:
            seq += 1
            content = dict(row)
            content["chain"] = "0"
            prev_hash, prev = prev, _hash(content, prev)
            conn.execute(events.update().where(events.c.id == row["id"]).values(
                chain="0", seq=seq, prev_hash=prev_hash, hash=prev))
            last_id = row["id"]
    conn.execute(sa.table('audit_heads', sa.column('chain'), sa.column('seq'), sa.column('hash')).insert()
                 .values(chain="0", seq=seq, hash=prev))

    with op.batch_alter_table('audit_events') as batch_op:
        batch_op.alter_column('seq', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index('ix_audit_at', ['at'], unique=False)
        batch_op.create_unique_constraint('uq_audit_chain_seq', ['chain', 'seq'])


def downgrade() -> None:
    with op.batch_alter_table('audit_events') as batch_op:
        batch_op.drop_constraint('uq_audit_chain_seq', type_='unique')
        batch_op.drop_index('ix_audit_at')
        batch_op.drop_column('hash')
        batch_op.drop_column('prev_hash')
        batch_op.drop_column('seq')
        batch_op.drop_column('chain')
    with op.batch_alter_table('accounts') as batch_op:
        batch_op.drop_column('disabled_at')
    with op.batch_alter_table('clients') as batch_op:
        batch_op.drop_column('disabled_at')
    op.drop_index('ix_change_requests_status', table_name='change_requests')
    op.drop_table('change_requests')
    op.drop_index('ix_audit_checkpoints_chain_seq', table_name='audit_checkpoints')
    op.drop_table('audit_checkpoints')
    op.drop_table('audit_heads')
