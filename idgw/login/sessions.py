"""Gateway sessions: achieved IAL and AAL, the factors used and their times, and the limits of
มรด. 1-2 §3.4 / NIST SP 800-63B §4 by AAL (the table is data in ``policies/data/aal-rules.yaml``)."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select, update

from idgw import audit
from idgw.security import random_token, sha256_hex
from idgw.storage.models import Account, LoginSession
from policies import AAL, IAL, SessionState, default_rules

# Writing last_seen on every request would turn every page view into a write; a minute of
# slack on a 15-30 minute idle limit is immaterial.
_TOUCH_EVERY = 60
# Built once: loading the session is part of every authorization step.
_BY_COOKIE = select(LoginSession).where(LoginSession.cookie_hash == bindparam("p_cookie_hash"))


def acr_for(aal: str) -> str:
    return AAL(aal).acr


def _apply_limits(row: LoginSession) -> None:
    limit = default_rules().limit(AAL(row.aal))
    row.expires_at = row.auth_time + limit.absolute
    row.idle_timeout = limit.idle


def kinds(session: LoginSession) -> set[str]:
    """The factor kinds used in this session (for the AAL rules)."""
    return {f["kind"] for f in session.factors or [] if f.get("kind")}


def create_session(db, *, account: Account, factor: str, amr: list[str], now: int, ip: str | None,
                   client_id: str | None = None, provider: str | None = None,
                   assurance: tuple[str, str] | None = None) -> tuple[LoginSession, str]:
    """A new session with a new random id (never reuse the pre-login id: session fixation,
    ASVS V7.2). The AAL follows from the factor used, or, for an upstream sign-in, is the
    (IAL, AAL) the upstream asserted (``assurance``). Returns the row and the cookie value
    (only its hash is stored)."""
    ial = account.ial
    if assurance is not None:
        ial, aal = IAL(assurance[0]), AAL(assurance[1])
        ial = max(ial, IAL(account.ial)).value
    else:
        aal = default_rules().aal_for([factor])
        if aal is None:
            raise ValueError(f"no AAL rule matches factor {factor}")
    cookie = random_token(32)
    row = LoginSession(
        id=str(uuid.uuid4()), cookie_hash=sha256_hex(cookie), account_id=account.id, auth_time=now,
        last_seen=now, ial=ial, aal=aal.value, amr=list(amr),
        factors=[{"kind": factor, "amr": list(amr), "at": now}],
        provider=provider, expires_at=0, idle_timeout=None,
    )
    _apply_limits(row)
    db.add(row)
    audit.record(db, "session.created", at=now, actor=account.id, session_id=row.id, ip=ip,
                 client_id=client_id, ial=row.ial, aal=row.aal, amr=list(amr))
    return row, cookie


def add_factor(db, *, session: LoginSession, factor: str, amr: list[str], now: int, ip: str | None,
               client_id: str | None = None) -> None:
    """Record a further factor (step-up). The AAL is re-derived from every factor used in the
    session, and the session's limits follow the new AAL; auth_time moves to now (OIDC Core §2:
    the time of the most recent authentication)."""
    before = session.aal
    aal = default_rules().aal_for(kinds(session) | {factor}) or AAL(session.aal)
    # (an upstream session keeps the AAL its source asserted unless local factors reach higher)
    session.amr = sorted(set(session.amr) | set(amr))
    session.factors = [*session.factors, {"kind": factor, "amr": list(amr), "at": now}]
    session.aal = max(aal, AAL(session.aal)).value
    session.auth_time = now
    session.last_seen = now
    _apply_limits(session)
    audit.record(db, "session.stepped_up", at=now, actor=session.account_id, session_id=session.id, ip=ip,
                 client_id=client_id, before=before, after=session.aal, factor=factor, amr=list(amr))


def load_session(db, *, cookie: str | None, now: int) -> LoginSession | None:
    """The live session for a cookie, or None if absent, ended, or past its AAL's absolute or
    idle limit (then it no longer counts and the person signs in again)."""
    if not cookie or len(cookie) > 128:
        return None
    row = db.scalar(_BY_COOKIE, {"p_cookie_hash": sha256_hex(cookie)})
    if row is None or row.ended_at is not None:
        return None
    limit = default_rules().limit(AAL(row.aal))
    if now - row.auth_time >= limit.absolute or (limit.idle is not None and now - row.last_seen >= limit.idle):
        return None
    if now - row.last_seen >= _TOUCH_EVERY:
        db.execute(update(LoginSession).where(LoginSession.id == row.id).values(last_seen=now))
        row.last_seen = now
    return row


def session_state(row: LoginSession | None) -> SessionState | None:
    if row is None:
        return None
    return SessionState(ial=IAL(row.ial), aal=AAL(row.aal), auth_time=row.auth_time, last_active=row.last_seen,
                        amr=frozenset(row.amr), provider=row.provider)


def end_session(db, *, session: LoginSession, now: int, ip: str | None, reason: str,
                client_id: str | None = None) -> None:
    if session.ended_at is not None:
        return
    session.ended_at = now
    audit.record(db, "session.ended", at=now, actor=session.account_id, session_id=session.id, ip=ip,
                 client_id=client_id, reason=reason)


def replace_session(db, *, old_cookie: str | None, account: Account, factor: str, amr: list[str], now: int,
                    ip: str | None, client_id: str | None = None, provider: str | None = None,
                    assurance: tuple[str, str] | None = None) -> tuple[LoginSession, str]:
    """A successful sign-in: end the browser's previous session (if any) and start a new one."""
    previous = load_session(db, cookie=old_cookie, now=now)
    if previous is not None:
        end_session(db, session=previous, now=now, ip=ip, reason="replaced", client_id=client_id)
    return create_session(db, account=account, factor=factor, amr=amr, now=now, ip=ip, client_id=client_id,
                          provider=provider, assurance=assurance)
