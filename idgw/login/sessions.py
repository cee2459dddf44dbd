"""Gateway sessions with the AAL-dependent limits of มรด. 1-2 §3.4 / NIST SP 800-63B §4
(shared/docs/domain.md §1): absolute lifetime and idle timeout by AAL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select, update

from idgw import audit
from idgw.security import random_token, sha256_hex
from idgw.storage.models import Account, LoginSession


@dataclass(frozen=True)
class SessionLimit:
    absolute: int
    idle: int | None


# AAL -> limits. Data, not code paths: the assurance engine (policies/) will own this table.
SESSION_LIMITS = {
    "1": SessionLimit(absolute=30 * 24 * 3600, idle=None),
    "2.1": SessionLimit(absolute=12 * 3600, idle=30 * 60),
    "2.2": SessionLimit(absolute=12 * 3600, idle=30 * 60),
    "3": SessionLimit(absolute=12 * 3600, idle=15 * 60),
}
# Writing last_seen on every request would turn every page view into a write; a minute of
# slack on a 15-30 minute idle limit is immaterial.
_TOUCH_EVERY = 60


def acr_for(aal: str) -> str:
    return f"urn:idgw:aal:{aal}"


def create_session(db, *, account: Account, aal: str, amr: list[str], now: int, ip: str | None,
                   client_id: str | None = None) -> tuple[LoginSession, str]:
    """A new session with a new random id (never reuse the pre-login id: session fixation,
    ASVS V7.2). Returns the row and the cookie value (only its hash is stored)."""
    limit = SESSION_LIMITS[aal]
    cookie = random_token(32)
    row = LoginSession(
        id=str(uuid.uuid4()), cookie_hash=sha256_hex(cookie), account_id=account.id, auth_time=now,
        last_seen=now, aal=aal, amr=list(amr), expires_at=now + limit.absolute, idle_timeout=limit.idle,
    )
    db.add(row)
    audit.record(db, "session.created", at=now, actor=account.id, session_id=row.id, ip=ip,
                 client_id=client_id, aal=aal, amr=list(amr))
    return row, cookie


def load_session(db, *, cookie: str | None, now: int) -> LoginSession | None:
    """The live session for a cookie, or None if absent, ended, past its absolute limit or idle."""
    if not cookie or len(cookie) > 128:
        return None
    row = db.scalar(select(LoginSession).where(LoginSession.cookie_hash == sha256_hex(cookie)))
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    if row.idle_timeout is not None and now - row.last_seen >= row.idle_timeout:
        return None
    if now - row.last_seen >= _TOUCH_EVERY:
        db.execute(update(LoginSession).where(LoginSession.id == row.id).values(last_seen=now))
        row.last_seen = now
    return row


def end_session(db, *, session: LoginSession, now: int, ip: str | None, reason: str,
                client_id: str | None = None) -> None:
    if session.ended_at is not None:
        return
    session.ended_at = now
    audit.record(db, "session.ended", at=now, actor=session.account_id, session_id=session.id, ip=ip,
                 client_id=client_id, reason=reason)
