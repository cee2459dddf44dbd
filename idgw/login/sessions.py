"""Gateway sessions: achieved IAL and AAL, the factors used and their times, and the limits of
มรด. 1-2 §3.4 / NIST SP 800-63B §4 by AAL (the table is data in ``policies/data/aal-rules.yaml``).

Signing out (RP-initiated logout, "sign out everywhere", another person signing in in the same
browser) ends the browser's session *group* (every session one person had in that browser, each
sign-in having replaced the previous with a new id), revokes every token issued in it, and queues
an OpenID Connect Back-Channel Logout 1.0 notice for each e-service that received tokens in it
(``logout_deliveries``; sent by ``idgw.oidc.backchannel``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import bindparam, or_, select, update

from idgw import audit
from idgw.security import random_token, sha256_hex
from idgw.storage.models import Account, Client, LoginSession, LogoutDelivery, Token
from idgw.storage.revoke import revoke_tokens
from policies import AAL, IAL, SessionState, default_rules

# Writing last_seen on every request would turn every page view into a write; a minute of
# slack on a 15-30 minute idle limit is immaterial.
_TOUCH_EVERY = 60
# Built once: loading the session is part of every authorization step.
# The session with its account, in one statement: nearly every caller reads the account next, and
# ``db.get(Account, ...)`` then finds it in the session's identity map.
_BY_COOKIE = (select(LoginSession, Account).join(Account, Account.id == LoginSession.account_id)
              .where(LoginSession.cookie_hash == bindparam("p_cookie_hash")))


_HELD_ACCOUNTS = "idgw_session_accounts"


def _apply_limits(row: LoginSession) -> None:
    limit = default_rules().limit(AAL(row.aal))
    row.expires_at = row.auth_time + limit.absolute
    row.idle_timeout = limit.idle


class AccountDisabledError(Exception):
    """An administrator disabled the account (``accounts.disabled_at``): no sign-in, whatever the
    method (password, passkey, an upstream), starts a session for it (``create_session``, the one
    place every sign-in goes through). Answered by ``idgw.web.refusals.account_disabled``."""

    def __init__(self, account_id: str) -> None:
        super().__init__(f"account {account_id} is disabled")
        self.account_id = account_id


def kinds(session: LoginSession) -> set[str]:
    """The factor kinds used in this session (for the AAL rules)."""
    return {f["kind"] for f in session.factors or [] if f.get("kind")}


def create_session(db, *, account: Account, factor: str, amr: list[str], now: int, ip: str | None,
                   client_id: str | None = None, provider: str | None = None,
                   assurance: tuple[str, str] | None = None, group_id: str | None = None,
                   user_agent: str | None = None) -> tuple[LoginSession, str]:
    """A new session with a new random id (never reuse the pre-login id: session fixation,
    ASVS V7.2). The AAL follows from the factor used, or, for an upstream sign-in, is the
    (IAL, AAL) the upstream asserted (``assurance``). Returns the row and the cookie value
    (only its hash is stored). ``AccountDisabledError`` for a disabled account."""
    if account.disabled_at is not None:
        raise AccountDisabledError(account.id)
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
        provider=provider, expires_at=0, idle_timeout=None, group_id=group_id,
        ip=(ip or None) and ip[:64], user_agent=(user_agent or None) and user_agent[:300], client_id=client_id,
    )
    _apply_limits(row)
    db.add(row)
    audit.record(db, "session.created", at=now, actor=account.id, session_id=row.id, ip=ip,
                 client_id=client_id, ial=row.ial, aal=row.aal, amr=list(amr), factor=factor)
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
    found = db.execute(_BY_COOKIE, {"p_cookie_hash": sha256_hex(cookie)}).first()
    row = found[0] if found is not None else None
    if found is not None:
        # The identity map holds objects weakly: without a reference the account read here is
        # collected when ``found`` goes, and the caller's ``db.get(Account, ...)`` reads it again.
        db.info.setdefault(_HELD_ACCOUNTS, []).append(found[1])
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
                client_id: str | None = None, **detail) -> None:
    """Mark one session ended (nothing else: see ``sign_out`` for what signing out means)."""
    if session.ended_at is not None:
        return
    session.ended_at = now
    audit.record(db, "session.ended", at=now, actor=session.account_id, session_id=session.id, ip=ip,
                 client_id=client_id, reason=reason, **detail)


def group_of(session: LoginSession) -> str:
    return session.group_id or session.id


@dataclass(frozen=True)
class SignedOut:
    sessions: int  # sessions ended now
    tokens: int  # tokens revoked
    notices: int  # back-channel logout notices queued


def sign_out(db, *, session: LoginSession, now: int, ip: str | None, reason: str,
             client_id: str | None = None) -> SignedOut:
    """The person signs out of this browser: end every session of ``session``'s group, revoke
    every token issued in any of them (refresh tokens, and access tokens through their ``jti``
    rows, which userinfo and introspection consult), and queue a back-channel logout notice for
    each e-service that received tokens in them. The caller commits (and may wake the sender)."""
    group = group_of(session)
    rows = list(db.scalars(select(LoginSession).where(
        or_(LoginSession.id == group, LoginSession.group_id == group))))
    if session not in rows:
        rows.append(session)
    ended = 0
    for row in rows:
        if row.ended_at is None:
            end_session(db, session=row, now=now, ip=ip, reason=reason, client_id=client_id)
            ended += 1
    ids = [row.id for row in rows]
    pairs = set(db.execute(select(Token.client_id, Token.session_id, Token.account_id).distinct()
                           .where(Token.session_id.in_(ids))).all())
    revoked = revoke_tokens(db, Token.session_id.in_(ids), account_id=session.account_id, now=now)
    return SignedOut(ended, revoked, _queue_notices(db, pairs=pairs, now=now, reason=reason))


def sign_out_everywhere(db, *, account_id: str, now: int, ip: str | None, reason: str) -> SignedOut:
    """End every session of the account, revoke every live token of the account (offline ones
    too: the person asked to be signed out everywhere) and notify each e-service concerned."""
    live = list(db.scalars(select(LoginSession).where(LoginSession.account_id == account_id,
                                                      LoginSession.ended_at.is_(None))))
    groups = {group_of(row) for row in live}
    in_groups = [row.id for row in db.scalars(select(LoginSession).where(
        LoginSession.account_id == account_id,
        or_(LoginSession.id.in_(groups), LoginSession.group_id.in_(groups))))] if groups else []
    for row in live:
        end_session(db, session=row, now=now, ip=ip, reason=reason)
    live_tokens = (Token.revoked_at.is_(None)) & (Token.expires_at > now)
    pairs = set(db.execute(select(Token.client_id, Token.session_id, Token.account_id).distinct().where(
        Token.account_id == account_id, or_(Token.session_id.in_(in_groups), live_tokens))).all())
    revoked = revoke_tokens(db, Token.account_id == account_id, account_id=account_id, now=now)
    return SignedOut(len(live), revoked, _queue_notices(db, pairs=pairs, now=now, reason=reason))


def notify_service(db, *, client_id: str, account_id: str, session_ids, now: int, reason: str) -> int:
    """Queue a back-channel logout notice to one e-service for each of ``session_ids`` in which
    it received tokens (the person withdrew their consent to it: its sessions end there too);
    none when it registered no ``backchannel_logout_uri``. The caller commits and wakes the sender."""
    return _queue_notices(db, pairs={(client_id, s, account_id) for s in session_ids}, now=now, reason=reason)


def _queue_notices(db, *, pairs: set, now: int, reason: str) -> int:
    """One back-channel logout notice per (e-service, session) for services that registered a
    ``backchannel_logout_uri`` (OpenID Connect Back-Channel Logout 1.0 §2.5)."""
    if not pairs:
        return 0
    listening = set(db.scalars(select(Client.client_id).where(
        Client.client_id.in_({p[0] for p in pairs}), Client.backchannel_logout_uri.is_not(None))))
    queued = 0
    for client_id, session_id, account_id in sorted(pairs):
        if client_id in listening:
            db.add(LogoutDelivery(id=str(uuid.uuid4()), client_id=client_id, session_id=session_id,
                                  account_id=account_id, reason=reason[:40], created_at=now, next_attempt_at=now,
                                  attempts=0))
            queued += 1
    return queued


def replace_session(db, *, old_cookie: str | None, account: Account, factor: str, amr: list[str], now: int,
                    ip: str | None, client_id: str | None = None, provider: str | None = None,
                    assurance: tuple[str, str] | None = None,
                    user_agent: str | None = None) -> tuple[LoginSession, str]:
    """A successful sign-in: end the browser's previous session (if any) and start a new one.

    The same person signing in again continues the browser's session group (their e-services'
    tokens stay valid; signing out later ends them all). Another person signing in on this
    browser signs the previous person out (a shared computer): their tokens are revoked."""
    previous = load_session(db, cookie=old_cookie, now=now)
    group = None
    if previous is not None:
        if previous.account_id == account.id:
            end_session(db, session=previous, now=now, ip=ip, reason="replaced", client_id=client_id)
            group = group_of(previous)
        else:
            sign_out(db, session=previous, now=now, ip=ip, reason="replaced_by_other_account", client_id=client_id)
    return create_session(db, account=account, factor=factor, amr=amr, now=now, ip=ip, client_id=client_id,
                          provider=provider, assurance=assurance, group_id=group, user_agent=user_agent)
