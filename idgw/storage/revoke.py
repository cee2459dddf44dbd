"""Revoking tokens in bulk (a replayed code, a reused refresh token, a sign-out)."""

from __future__ import annotations

import hashlib

from sqlalchemy import update

from idgw.storage import raw
from idgw.storage.models import Token

_LOCK = raw.Statement("SELECT pg_advisory_xact_lock(:p_key)")


def account_lock(db, *, account_id: str) -> None:
    """Serialise, on PostgreSQL, the writes that revoke or rotate one account's tokens (a
    transaction-scoped advisory lock; re-entrant within a transaction; SQLite runs writers one at a
    time anyway). Taken before any of those rows is touched: a rotation that loses a race keeps the
    lock on the token row from its re-check (PostgreSQL's EvalPlanQual), and unordered row locks
    between such losers and the revocation that follows deadlocked into a 500 (found by
    tests/security/test_token_attacks.py)."""
    if db.get_bind().dialect.name == "postgresql":
        raw.execute(db.connection(), _LOCK, {"p_key": lock_key(account_id)})  # on the driver's cursor


def lock_key(account_id: str) -> int:
    """The advisory lock's key for ``account_id`` (a statement that takes it itself passes this)."""
    return int.from_bytes(hashlib.sha256(f"tokens:{account_id}".encode()).digest()[:8], "big", signed=True)


def lock_key_sql(account: str) -> str:
    """``lock_key`` computed by PostgreSQL, for a statement that finds the account itself:
    ``account`` is an SQL expression of the account id. The first 8 bytes of the SHA-256 as a
    signed big-endian bigint, as ``lock_key`` (a test holds the two equal)."""
    return (f"('x' || substr(encode(sha256(convert_to('tokens:' || {account}, 'UTF8')), 'hex'), 1, 16))"
            "::bit(64)::bigint")


def revoke_tokens(db, *where, account_id: str, now: int) -> int:
    """Revoke the live tokens matching ``where`` (all of ``account_id``'s); returns how many."""
    account_lock(db, account_id=account_id)
    return db.execute(update(Token).where(*where, Token.revoked_at.is_(None)).values(revoked_at=now)
                      .execution_options(synchronize_session=False)).rowcount or 0
