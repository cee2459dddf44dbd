"""audit_events: indexes for the audit viewer's actor, account and service filters

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 19:30:00

The audit viewer (``idgw.console.audit_view``) filters by actor, account and service, newest
first. No index served them: the actor and service filters walked the table backwards until they
had a page (the whole table for a value with few events), and the account filter (actor,
on_behalf_of, or a detail value) read every row. The audit log is
the largest table at national scale (several events per sign-in, kept for years), and the
account filter is an investigator's first question. Measured on PostgreSQL with 1,000,000
events: actor 104-142 ms, account 390 ms, a service with no events 97 ms a page; ten times that
for ten times the rows.

- ``ix_audit_actor (actor, id)``: an actor's events, newest first.
- ``ix_audit_on_behalf (on_behalf_of, id)``, partial: most events act for nobody else.
- ``ix_audit_client (client_id, id)``, partial: a service's events.

With them, and the account filter's detail match narrowed to the events that name an account
only there (``idgw.audit.ACCOUNT_IN_DETAIL``, read through ``ix_audit_name_at``), the filters
read only the matching rows.

Every request appends audit events, so each index is one more entry written per event. Measured
with bench/ab.py (the gateway before and after, 6 alternating rounds): SQLite token 0.98x,
refresh 0.98x (CPU per operation +2%); PostgreSQL token 1.06x, refresh 1.00x; each within its
rounds' spread.

On PostgreSQL built CONCURRENTLY (every request appends audit events meanwhile); an interrupted
build is dropped and built again by the next upgrade.
"""
import sqlalchemy as sa
from alembic import op

from idgw.storage.online import build_index_concurrently

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

#: (name, columns, partial on the first column not being NULL)
_INDEXES = (('ix_audit_actor', ('actor', 'id'), False), ('ix_audit_on_behalf', ('on_behalf_of', 'id'), True),
            ('ix_audit_client', ('client_id', 'id'), True))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        with op.get_context().autocommit_block():
            for name, columns, partial in _INDEXES:
                where = f' WHERE {columns[0]} IS NOT NULL' if partial else ''
                build_index_concurrently(bind, name, f'ON audit_events ({", ".join(columns)}){where}')
        return
    for name, columns, partial in _INDEXES:
        where = sa.text(f'{columns[0]} IS NOT NULL') if partial else None
        op.create_index(name, 'audit_events', list(columns), sqlite_where=where)


def downgrade() -> None:
    for name, _columns, _partial in _INDEXES:
        op.drop_index(name, table_name='audit_events')
