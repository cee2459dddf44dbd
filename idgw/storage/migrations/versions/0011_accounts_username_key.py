"""accounts.username_key: usernames unique whatever their case, and found through an index

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 23:30:00

A password sign-in looked its account up by ``lower(username) = :typed``, which no index served:
every sign-in read the whole accounts table (one row per citizen who ever signed in, millions
at national scale). And ``accounts.username`` was unique only as typed, so "Somchai" and
"somchai" could be two accounts, of which sign-in found either.

``username_key`` holds the username as sign-in compares it (``idgw.storage.models.username_key``:
NFKC, case-folded, trimmed), computed here in Python for the rows that exist, under a unique
index. It stays nullable: the release before, still serving during a rolling upgrade, creates
accounts without it (``find_account`` finds those by their name, through the same index).
If two existing accounts differ only in case, the upgrade stops and names them: which one
keeps the name is an administrator's decision (rename or remove the other, then upgrade).
"""
import unicodedata

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def _key(username: str) -> str:
    # Frozen copy of idgw.storage.models.username_key as of this revision.
    return unicodedata.normalize("NFKC", username.strip()).casefold()


def upgrade() -> None:
    bind = op.get_bind()
    accounts = sa.table('accounts', sa.column('id', sa.String), sa.column('username', sa.String),
                        sa.column('username_key', sa.String))
    # Checked before anything changes: SQLite does not roll an ALTER TABLE back with the revision.
    keys: dict[str, str] = {}
    seen: dict[str, list[str]] = {}
    for account_id, username in bind.execute(sa.select(accounts.c.id, accounts.c.username)).all():
        keys[account_id] = _key(username)
        seen.setdefault(keys[account_id], []).append(username)
    clashes = sorted(names for names in seen.values() if len(names) > 1)
    too_long = sorted(name for key, names in seen.items() if len(key) > 200 for name in names)
    if clashes or too_long:
        raise RuntimeError(
            "accounts whose usernames differ only in case (or in Unicode form) cannot both keep them: "
            + "; ".join(" / ".join(repr(n) for n in names) for names in clashes[:20])
            + (f" (and {len(clashes) - 20} more)" if len(clashes) > 20 else "")
            + (f"; usernames too long once normalised: {too_long[:20]!r}" if too_long else "")
            + ". Rename or remove one account of each group, then run the upgrade again.")
    with op.batch_alter_table('accounts') as batch_op:
        batch_op.add_column(sa.Column('username_key', sa.String(length=200), nullable=True))
    fill = accounts.update().where(accounts.c.id == sa.bindparam('account_id')) \
        .values(username_key=sa.bindparam('key'))
    rows = [{'account_id': account_id, 'key': key} for account_id, key in keys.items()]
    for start in range(0, len(rows), 5000):  # executemany: one batch per 5,000 accounts
        bind.execute(fill, rows[start:start + 5000])
    # Left nullable (expand, not contract): the release before this one, still serving during a
    # rolling upgrade, creates accounts without a key; idgw.login.password.find_account finds them.
    with op.batch_alter_table('accounts') as batch_op:
        batch_op.create_index('ix_accounts_username_key', ['username_key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('accounts') as batch_op:
        batch_op.drop_index('ix_accounts_username_key')
        batch_op.drop_column('username_key')
