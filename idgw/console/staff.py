"""Staff decisions of the admin console: who holds a staff role, granting and removing roles,
disabling and re-enabling an account, unlocking it.

Plain functions over a database session (the caller's transaction; the caller commits), each
refusal a ``StaffError`` with a code the page words (``idgw.console.staff_texts``):

- nobody grants themselves a role (``self_grant``, 403);
- the officer and auditor roles are granted at once; the admin role only through four eyes
  (``request_admin``: a ``role.grant_admin`` change request that a second admin approves at
  /admin/changes; its ``apply`` adds the role);
- nobody removes their own admin role when they are the last admin who can sign in
  (``last_admin``, 409: the console would have no admin), nor disables their own account
  (``self_disable``, 403: another admin does);
- disabling sets ``accounts.disabled_at`` and ends every session and token of the account at once
  (``idgw.login.sessions.sign_out_everywhere``, as "sign out everywhere" does; sign-in is then
  refused by ``create_session``); enabling clears it; unlocking is ``idgw.admin.unlock_account``.

Every change is audited with the actor and the values before and after (role.granted,
role.removed, account.disabled, account.enabled, account.unlocked).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Text, cast, func, or_, select

from idgw import audit
from idgw.admin import account_status, search_accounts, unlock_account
from idgw.console import four_eyes
from idgw.login.sessions import SignedOut, sign_out_everywhere
from idgw.storage.models import Account, LoginSession

STAFF_ROLES = ("admin", "officer", "auditor")
#: Roles granted at once; the admin role waits for a second admin.
AT_ONCE = ("officer", "auditor")
GRANT_ADMIN = "role.grant_admin"


class StaffError(ValueError):
    """``code``: unknown_role | self_grant | has_role | lacks_role | last_admin | self_disable |
    disabled_already | enabled_already | pending (an admin grant already waits) | gone."""

    def __init__(self, code: str, *, status: int = 400, **params) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.params = params


@dataclass(frozen=True)
class Member:
    """One row of the staff list (or of a search)."""

    id: str
    username: str
    name: str
    roles: tuple[str, ...]
    disabled_at: int | None
    state: str  # account_status: active | waiting | locked
    until: int | None
    failures: int
    last_sign_in: int | None


def _roles(account: Account) -> list[str]:
    return list(account.roles or [])


def _has_any_role(roles=STAFF_ROLES):
    """Accounts whose roles (a JSON list) name one of ``roles``: the list as text holds the quoted
    name, on SQLite and PostgreSQL alike (roles are plain words)."""
    text = cast(Account.roles, Text)
    return or_(*(text.contains(f'"{role}"', autoescape=True) for role in roles))


def display_name(account: Account) -> str:
    return " ".join(n for n in (account.given_name_th, account.family_name_th) if n) or " ".join(
        n for n in (account.given_name, account.family_name) if n)


def members(db, accounts: list[Account], *, now: int) -> list[Member]:
    """``accounts`` as list rows, each with its last sign-in (its latest session's start)."""
    ids = [a.id for a in accounts]
    last = dict(db.execute(select(LoginSession.account_id, func.max(LoginSession.auth_time))
                           .where(LoginSession.account_id.in_(ids)).group_by(LoginSession.account_id)).all()) \
        if ids else {}
    rows = []
    for a in accounts:
        status = account_status(a, now=now)
        rows.append(Member(id=a.id, username=a.username, name=display_name(a),
                           roles=tuple(r for r in STAFF_ROLES if r in _roles(a)), disabled_at=a.disabled_at,
                           state=status["state"], until=status["until"], failures=status["failures"],
                           last_sign_in=last.get(a.id)))
    return rows


def staff(db, *, now: int) -> list[Member]:
    """Everyone holding a staff role, by username."""
    found = [a for a in db.scalars(select(Account).where(_has_any_role()).order_by(Account.username))
             if set(_roles(a)) & set(STAFF_ROLES)]
    return members(db, found, now=now)


def find(db, query: str, *, now: int) -> list[Member]:
    """Accounts to grant a role to: by username or e-mail address (part of it) or citizen ID
    (``idgw.admin.search_accounts``)."""
    return members(db, search_accounts(db, query, limit=20), now=now)


def _enabled_admins(db, *, lock: bool) -> list[Account]:
    query = select(Account).where(_has_any_role(("admin",)), Account.disabled_at.is_(None))
    if lock:  # two admins removing each other at once must not leave none (PostgreSQL row locks)
        query = query.with_for_update()
    return [a for a in db.scalars(query) if "admin" in _roles(a)]


def grant(db, *, account: Account, role: str, actor: Account, now: int) -> None:
    """Grant ``role`` (officer or auditor) at once; the admin role goes through ``request_admin``."""
    if role not in AT_ONCE:
        raise StaffError("unknown_role", role=role)
    if account.id == actor.id:
        raise StaffError("self_grant", status=403)
    before = _roles(account)
    if role in before:
        raise StaffError("has_role", status=409, role=role)
    account.roles = [*before, role]
    _audit_role(db, "role.granted", account=account, role=role, actor=actor.username, before=before, now=now)


def request_admin(db, *, account: Account, actor: Account, now: int, ttl: int,
                  reason: str | None = None):
    """Ask for the admin role for ``account``: a pending ``role.grant_admin`` change request that
    takes effect only when a second admin approves it (``four_eyes.approve``) in time."""
    if account.id == actor.id:
        raise StaffError("self_grant", status=403)
    if "admin" in _roles(account):
        raise StaffError("has_role", status=409, role="admin")
    try:
        return four_eyes.request_change(db, kind=GRANT_ADMIN, target=account.id,
                                        payload={"role": "admin", "username": account.username}, requester=actor,
                                        now=now, ttl=ttl, reason=reason)
    except four_eyes.FourEyesError as exc:
        if exc.code == "duplicate":
            raise StaffError("pending", status=409) from None
        raise


def remove(db, *, account: Account, role: str, actor: Account, now: int) -> None:
    """Remove ``role`` now. Removing one's own admin role is refused when no other enabled admin
    would be left."""
    if role not in STAFF_ROLES:
        raise StaffError("unknown_role", role=role)
    before = _roles(account)
    if role not in before:
        raise StaffError("lacks_role", status=409, role=role)
    if role == "admin" and account.disabled_at is None:
        others = [a for a in _enabled_admins(db, lock=True) if a.id != account.id]
        if not others:
            raise StaffError("last_admin", status=409)
    account.roles = [r for r in before if r != role]
    _audit_role(db, "role.removed", account=account, role=role, actor=actor.username, before=before, now=now)


def _audit_role(db, name: str, *, account: Account, role: str, actor: str, before: list, now: int, **detail):
    audit.record(db, name, at=now, actor=actor, on_behalf_of=account.id, account=account.username, role=role,
                 before={"roles": before}, after={"roles": _roles(account)}, **detail)


def disable(db, *, account: Account, actor: Account, now: int, ip: str | None) -> SignedOut:
    """Disable the account: it can no longer sign in, and every session and token it has ends now
    (with a back-channel logout notice to each e-service concerned; the caller wakes the sender)."""
    if account.id == actor.id:
        raise StaffError("self_disable", status=403)
    if account.disabled_at is not None:
        raise StaffError("disabled_already", status=409)
    if "admin" in _roles(account) and not [a for a in _enabled_admins(db, lock=True) if a.id != account.id]:
        raise StaffError("last_admin", status=409)  # (the actor is an enabled admin: cannot happen)
    account.disabled_at = now
    done = sign_out_everywhere(db, account_id=account.id, now=now, ip=ip, reason="account_disabled")
    audit.record(db, "account.disabled", at=now, actor=actor.username, on_behalf_of=account.id, ip=ip,
                 account=account.username, before={"disabled_at": None}, after={"disabled_at": now},
                 sessions_ended=done.sessions, tokens_revoked=done.tokens, notices=done.notices)
    return done


def enable(db, *, account: Account, actor: Account, now: int, ip: str | None) -> None:
    if account.disabled_at is None:
        raise StaffError("enabled_already", status=409)
    before = account.disabled_at
    account.disabled_at = None
    audit.record(db, "account.enabled", at=now, actor=actor.username, on_behalf_of=account.id, ip=ip,
                 account=account.username, before={"disabled_at": before}, after={"disabled_at": None})


def unlock(db, *, account: Account, actor: Account, now: int) -> bool:
    """``idgw.admin.unlock_account`` (audited ``account.unlocked``); False: nothing was locked."""
    return unlock_account(db, account=account, now=now, actor=actor.username)


def pending_admin_grant(db, *, account_id: str, now: int):
    return four_eyes.pending_for(db, kind=GRANT_ADMIN, target=account_id, now=now)


# -- the four-eyes kind ---------------------------------------------------------------------------
def _apply_grant_admin(db, request, approver: Account, now: int) -> None:
    """A second admin approved: add the admin role (audited as granted by the requester, approved
    by the approver)."""
    account = db.get(Account, request.target, with_for_update=True)
    if account is None:
        raise four_eyes.FourEyesError("not_found", "the account no longer exists", status=404)
    before = _roles(account)
    if "admin" in before:
        return
    account.roles = [*before, "admin"]
    _audit_role(db, "role.granted", account=account, role="admin", actor=approver.username, before=before, now=now,
                requested_by=request.requested_by_name, change_id=request.id)


def _describe_grant_admin(payload: dict, target: str, locale: str) -> str:
    from idgw.console.staff_texts import describe_grant_admin

    return describe_grant_admin(payload, target, locale)


four_eyes.register_kind(GRANT_ADMIN, apply=_apply_grant_admin, describe=_describe_grant_admin)
