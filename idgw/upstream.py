"""Brokering upstream identity sources (``providers``) into gateway accounts and sessions.

Accounts are keyed by the verified citizen ID, never by e-mail or name. A first sign-in through
an upstream creates the account; a later one through another upstream links to the same account
only when that upstream asserts the ID at IAL >= 1.3, otherwise the citizen must first sign in to
the existing account (then the link is made). The upstream's normalised IAL/AAL become the
session's assurance; its raw values are kept as provenance on the link.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml
from sqlalchemy import select

from idgw import audit
from idgw.login.sessions import replace_session
from idgw.storage.models import Account, AccountLink
from policies import IAL
from providers import ProviderConfigError, UpstreamIdentity, load_providers

#: The lowest IAL at which an upstream's citizen ID may link to an existing account by itself.
LINK_WITHOUT_CONFIRMATION = IAL("1.3")


class UpstreamSetupError(ValueError):
    pass


def load_upstreams(path: str | None) -> dict:
    """Providers from the YAML file ``path`` (a ``providers:`` list); none when no file is set.
    A bad file stops start-up with a message naming the field."""
    if not path:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UpstreamSetupError(f"IDGW_PROVIDERS_FILE {path}: {exc}") from None
    config = data.get("providers") if isinstance(data, dict) else None
    if not isinstance(config, list):
        raise UpstreamSetupError(f"IDGW_PROVIDERS_FILE {path}: expected a 'providers:' list")
    try:
        return load_providers(config=config)
    except ProviderConfigError as exc:
        raise UpstreamSetupError(f"IDGW_PROVIDERS_FILE {path}: {exc}") from None


@dataclass(frozen=True)
class Resolution:
    account: Account | None
    needs_local_sign_in: bool = False  # an account exists for this citizen ID; prove it is yours first


def resolve_account(db, *, identity: UpstreamIdentity, now: int, signed_in_account_id: str | None = None,
                    ip: str | None = None) -> Resolution:
    """Find, link or create the account for ``identity``; the caller commits."""
    link = db.scalar(select(AccountLink).where(AccountLink.provider == identity.provider,
                                               AccountLink.subject == identity.subject))
    if link is not None:
        account = db.get(Account, link.account_id)
        if account is None or account.citizen_id != identity.citizen_id:
            return Resolution(None)  # the upstream changed the person behind a subject: refuse
        _refresh(link, identity, now)
        _raise_ial(account, identity, now)
        return Resolution(account)
    account = db.scalar(select(Account).where(Account.citizen_id == identity.citizen_id))
    if account is not None:
        confirmed = signed_in_account_id == account.id
        if not confirmed and IAL(identity.ial) < LINK_WITHOUT_CONFIRMATION:
            return Resolution(account, needs_local_sign_in=True)
        _link(db, account, identity, now, ip=ip, confirmed_by_sign_in=confirmed)
        _raise_ial(account, identity, now)
        return Resolution(account)
    claims = identity.claims
    account = Account(
        id=str(uuid.uuid4()), username=f"{identity.provider}-{uuid.uuid4().hex[:12]}", password_hash=None,
        given_name=claims.get("given_name"), family_name=claims.get("family_name"),
        given_name_th=claims.get("th_given_name"), family_name_th=claims.get("th_family_name"),
        citizen_id=identity.citizen_id, ial=identity.ial, ial_verified_at=now,
        ial_evidence=f"upstream:{identity.provider}", roles=[], created_at=now,
    )
    db.add(account)
    db.flush()
    audit.record(db, "account.created", at=now, actor="upstream", on_behalf_of=account.id, ip=ip,
                 provider=identity.provider)
    _link(db, account, identity, now, ip=ip, confirmed_by_sign_in=False)
    return Resolution(account)


def _link(db, account: Account, identity: UpstreamIdentity, now: int, *, ip, confirmed_by_sign_in: bool) -> None:
    db.add(AccountLink(id=str(uuid.uuid4()), account_id=account.id, provider=identity.provider,
                       issuer=identity.issuer, subject=identity.subject, ial=identity.ial, aal=identity.aal,
                       raw_levels=dict(identity.raw_levels), linked_at=now, last_login_at=now))
    audit.record(db, "account.linked", at=now, actor=account.id, ip=ip, provider=identity.provider,
                 ial=identity.ial, confirmed_by_sign_in=confirmed_by_sign_in)


def _refresh(link: AccountLink, identity: UpstreamIdentity, now: int) -> None:
    link.ial, link.aal, link.raw_levels, link.last_login_at = identity.ial, identity.aal, dict(identity.raw_levels), now


def _raise_ial(account: Account, identity: UpstreamIdentity, now: int) -> None:
    """The account's proofed IAL is the highest any linked source has asserted."""
    if IAL(identity.ial) > IAL(account.ial):
        account.ial, account.ial_verified_at, account.ial_evidence = identity.ial, now, f"upstream:{identity.provider}"


def start_session(db, *, old_cookie: str | None, account: Account, identity: UpstreamIdentity, now: int,
                  ip: str | None, client_id: str | None, user_agent: str | None = None):
    """A session whose assurance is what the upstream asserted (IAL for this sign-in, AAL)."""
    return replace_session(db, old_cookie=old_cookie, account=account, factor=f"upstream:{identity.provider}",
                           amr=list(identity.amr), now=now, ip=ip, client_id=client_id, provider=identity.provider,
                           assurance=(identity.ial, identity.aal), user_agent=user_agent)


def unlink(db, *, account: Account, link_id: str, now: int, ip: str | None) -> bool:
    link = db.get(AccountLink, link_id)
    if link is None or link.account_id != account.id:
        return False
    db.delete(link)
    audit.record(db, "account.unlinked", at=now, actor=account.id, ip=ip, provider=link.provider)
    return True
