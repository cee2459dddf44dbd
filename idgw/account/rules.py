"""What a person may take away from their account, decided in plain functions.

* The *ways in* are what can start a sign-in on their own: the password, a discoverable passkey
  (usernameless sign-in), and each linked upstream (ThaiD, NDID). The last way in is never
  removed or unlinked: the person would be locked out of their own account.
* A staff role's floor (admins and officers: AAL 2.2) must stay reachable by the local factors,
  or the person could not open the staff pages again: refused, as before.
* A consented service whose floor the rest could no longer reach is not a refusal but a warning
  on the confirmation page, naming the service and what it will ask for: the person may have
  lost that device, and can add a new one later."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from idgw.account.access import factor_reach
from idgw.assurance import current_policy
from idgw.storage.models import Account, AccountAuthenticator, AccountLink, Client, Consent
from policies import AAL

STAFF_ROLES = frozenset({"admin", "officer"})


@dataclass(frozen=True)
class ServiceNeed:
    """A consented service that asks for more than the account could still reach."""

    client_id: str
    name: str
    min_aal: AAL


@dataclass(frozen=True)
class RemovalCheck:
    refusal: str | None  # None | "only_way_in" | "staff_floor"
    staff_floor: AAL | None = None
    services: tuple[ServiceNeed, ...] = ()  # warn about these before going ahead


def ways_in(*, has_password: bool, passkeys: list[AccountAuthenticator], links: list[AccountLink]) -> set[str]:
    """Each thing that can start a sign-in on its own, as ``"password"``, ``"passkey:<id>"`` or
    ``"link:<id>"``. A passkey counts when it is discoverable (usernameless) and not blocked."""
    found = {"password"} if has_password else set()
    found |= {f"passkey:{p.id}" for p in passkeys
              if p.kind == "webauthn" and p.discoverable and p.flagged_at is None and p.confirmed_at is not None}
    found |= {f"link:{link.id}" for link in links}
    return found


def takes_last_way_in(ways: set[str], removing: str) -> bool:
    """Whether removing ``removing`` (same spelling as ``ways_in``) leaves no way in."""
    return removing in ways and not (ways - {removing})


def _ways(db, account: Account) -> set[str]:
    passkeys = list(db.scalars(select(AccountAuthenticator).where(AccountAuthenticator.account_id == account.id,
                                                                  AccountAuthenticator.kind == "webauthn")))
    links = list(db.scalars(select(AccountLink).where(AccountLink.account_id == account.id)))
    return ways_in(has_password=bool(account.password_hash), passkeys=passkeys, links=links)


def services_beyond(db, account: Account, *, reach: AAL) -> tuple[ServiceNeed, ...]:
    """Consented services whose current policy asks for more than ``reach``."""
    found = []
    rows = db.execute(select(Consent.client_id, Client.name).join(Client, Client.client_id == Consent.client_id)
                      .where(Consent.account_id == account.id).order_by(Client.name)).all()
    for client_id, name in rows:
        policy = current_policy(db, client_id)
        if policy is not None and policy.min_aal > reach:
            found.append(ServiceNeed(client_id, name, policy.min_aal))
    return tuple(found)


def _upstream_reach(db, account: Account, *, without_link: str | None = None) -> AAL | None:
    levels = [AAL(link.aal) for link in db.scalars(select(AccountLink).where(AccountLink.account_id == account.id))
              if link.id != without_link]
    return max(levels) if levels else None


def check_factor_removal(db, registry, account: Account, *, authenticator_id: str, staff_floor: AAL) -> RemovalCheck:
    """May the authenticator ``authenticator_id`` go, and what should the person be warned of?"""
    if takes_last_way_in(_ways(db, account), f"passkey:{authenticator_id}"):
        return RemovalCheck("only_way_in")
    local = factor_reach(registry, db, account, without=authenticator_id)
    if STAFF_ROLES & set(account.roles or []) and local < staff_floor:
        return RemovalCheck("staff_floor", staff_floor=staff_floor)
    upstream = _upstream_reach(db, account)
    reach = max(local, upstream) if upstream else local
    return RemovalCheck(None, services=services_beyond(db, account, reach=reach))


def check_unlink(db, registry, account: Account, *, link_id: str) -> RemovalCheck:
    """May the upstream link ``link_id`` go, and what should the person be warned of?"""
    if takes_last_way_in(_ways(db, account), f"link:{link_id}"):
        return RemovalCheck("only_way_in")
    local = factor_reach(registry, db, account)
    upstream = _upstream_reach(db, account, without_link=link_id)
    reach = max(local, upstream) if upstream else local
    return RemovalCheck(None, services=services_beyond(db, account, reach=reach))
