"""Using a mandate: the choice at sign-in ("for myself" or "on behalf of ..."), what tokens issued
under it say (``acting``), using up a single-use mandate, and the checks of token exchange. The
status is checked at every use: a mandate revoked, expired or used up stops at once.

The OpenID provider (``idgw.oidc``) never imports this package: ``app.py`` hands it ``acting`` and
``exchange`` as plain callables returning ``idgw.oidc.acting`` types.
"""

from __future__ import annotations

from sqlalchemy import select, update

from idgw import audit
from idgw.assurance import current_policy
from idgw.delegation import model as m
from idgw.delegation.mandates import load, principal_key
from idgw.delegation.model import MandateError
from idgw.oidc.acting import Acting
from idgw.storage.delegation import Mandate
from idgw.storage.models import Account

READ = "read"  # userinfo, introspection: tokens already issued
ISSUE = "issue"  # a new token (code redemption, refresh, exchange)


def usable_mandates(db, *, account: Account, client_id: str, act: str | None, now: int) -> list[Mandate]:
    """The mandates ``account`` may act under at ``client_id`` now (for ``act``, when the service
    named one): effective, accepted by this account, inside their window, covering the service."""
    if not account.citizen_id:
        return []
    rows = db.scalars(select(Mandate).where(Mandate.delegate_citizen_id == account.citizen_id,
                                            Mandate.delegate_account_id == account.id,
                                            Mandate.status == m.EFFECTIVE))
    return [r for r in rows if m.usable(status=r.status, valid_from=r.valid_from, valid_until=r.valid_until, now=now)
            is None and m.covers(m.scope_of(r.scope), client_id=client_id, act=act)]


def check_use(db, *, mandate_id: str, account_id: str, client_id: str, act: str | None, now: int,
              purpose: str = ISSUE) -> Mandate:
    """The mandate when ``account_id`` may act under it at ``client_id`` (for ``act``) now, else
    ``MandateError`` with the reason. For ``READ`` a single-use mandate already used still counts
    (the token issued for its act stays good until it expires)."""
    row = load(db, mandate_id)
    if row.delegate_account_id != account_id:
        raise MandateError("not_the_delegate", status=403)
    why = m.usable(status=row.status, valid_from=row.valid_from, valid_until=row.valid_until, now=now)
    if why == "used" and purpose == READ and row.valid_until > now:
        why = None
    if why is not None:
        raise MandateError(f"mandate_{why}", status=403)
    if not m.covers(m.scope_of(row.scope), client_id=client_id, act=act):
        raise MandateError("outside_scope", status=403)
    policy = current_policy(db, client_id)
    if policy is None or not policy.delegation_allowed:
        raise MandateError("service_not_delegable", status=403, client_id=client_id)
    for ancestor in _ancestors(db, row):
        if m.usable(status=ancestor.status, valid_from=ancestor.valid_from, valid_until=ancestor.valid_until,
                    now=now) not in (None, "used"):
            raise MandateError("mandate_revoked", status=403)
    return row


def _ancestors(db, row: Mandate) -> list[Mandate]:
    out, current = [], row
    while current.parent_id:
        current = db.get(Mandate, current.parent_id)
        if current is None:
            break
        out.append(current)
    return out


def actors_of(db, row: Mandate) -> tuple[str, ...]:
    """Who acts, current actor first, then the prior holders of the sub-delegation chain."""
    return (row.delegate_account_id, *(a.delegate_account_id for a in _ancestors(db, row)))


def claim_for(row: Mandate, *, client_id: str, act: str | None) -> dict:
    """The ``delegation`` claim (docs/delegation.md): the mandate id, the acts at this service
    (the one named, or all of them), when it ends, and the principal's kind and name (and, for a
    company, its juristic ID: registry data, public)."""
    principal: dict = {"type": "juristic_person" if row.principal_kind == "company" else "natural_person",
                       "name": row.principal_name}
    if row.principal_kind == "company":
        principal["juristic_id"] = row.principal_juristic_id
    acts = [act] if act else list(m.acts_at(m.scope_of(row.scope), client_id))
    return {"id": row.id, "acts": acts, "exp": row.valid_until, "single_use": row.single_use, "principal": principal}


def acting(db, *, mandate_id: str, account_id: str, client_id: str, act: str | None, now: int,
           purpose: str = READ) -> Acting | None:
    """What tokens issued under ``mandate_id`` say, or None when they may no longer say it."""
    try:
        row = check_use(db, mandate_id=mandate_id, account_id=account_id, client_id=client_id, act=act, now=now,
                        purpose=purpose)
    except MandateError:
        return None
    return Acting(principal=principal_key(row), actors=actors_of(db, row),
                  claim=claim_for(row, client_id=client_id, act=act))


def use(db, *, mandate_id: str, account_id: str, client_id: str, act: str | None, now: int) -> bool:
    """A token is being issued under the mandate: check it, and use up a single-use one (one
    conditional UPDATE, so of two concurrent redemptions one wins). False when it may not."""
    try:
        row = check_use(db, mandate_id=mandate_id, account_id=account_id, client_id=client_id, act=act, now=now)
    except MandateError:
        return False
    if row.single_use:
        done = db.execute(update(Mandate).where(Mandate.id == row.id, Mandate.status == m.EFFECTIVE)
                          .values(status=m.USED, used_at=now)).rowcount
        if done != 1:
            return False
    audit.record(db, "delegation.used", at=now, actor=account_id, on_behalf_of=principal_key(row),
                 client_id=client_id, mandate_id=row.id, act=act, single_use=row.single_use)
    return True


def exchange(db, *, mandate_id: str | None, account_id: str, audience: str, act: str | None,
             now: int) -> Acting:
    """Token exchange (RFC 8693) for ``account_id``'s back end: the mandate they hold that covers
    ``audience`` and ``act`` (the one named, or the only one), used as ``use`` would. Raises
    ``MandateError`` when none does: the actor is always the mandate's accepted delegate."""
    account = db.get(Account, account_id)
    if account is None:
        raise MandateError("not_the_delegate", status=403)
    if mandate_id:
        row = check_use(db, mandate_id=mandate_id, account_id=account_id, client_id=audience, act=act, now=now)
    else:
        rows = usable_mandates(db, account=account, client_id=audience, act=act, now=now)
        if not rows:
            raise MandateError("no_mandate", status=403)
        if len(rows) > 1:
            raise MandateError("mandate_ambiguous", status=400)
        row = rows[0]
    if not use(db, mandate_id=row.id, account_id=account_id, client_id=audience, act=act, now=now):
        raise MandateError("mandate_used", status=403)
    return Acting(principal=principal_key(row), actors=actors_of(db, row),
                  claim=claim_for(row, client_id=audience, act=act), mandate_id=row.id)


def login_choice(db, *, chosen: dict | None, session_id: str, account: Account, client_id: str, act: str | None,
                 delegation_allowed: bool, now: int) -> tuple[str, list[Mandate] | Mandate | None]:
    """What the sign-in does about acting for another, after the person authenticated:
    ``("self", None)`` (the service does not allow delegation, or the person holds no mandate
    for it, or chose themselves), ``("ask", mandates)`` (the choice page), ``("mandate", row)``
    (acting under the mandate chosen, still usable) or ``("gone", None)`` (the mandate chosen
    stopped meanwhile: ask again). ``chosen`` is what the choice page recorded for this session."""
    if not delegation_allowed:
        return "self", None
    if chosen and chosen.get("session_id") == session_id:
        if chosen.get("mandate") is None:
            return "self", None
        try:
            row = check_use(db, mandate_id=chosen["mandate"], account_id=account.id, client_id=client_id, act=act,
                            now=now)
        except MandateError:
            return "gone", None
        return "mandate", row
    options = usable_mandates(db, account=account, client_id=client_id, act=act, now=now)
    return ("ask", options) if options else ("self", None)
