"""Consents and their receipts (PDPA s.19: consent is recorded, and can be withdrawn as easily as
it was given).

* ``record_receipt`` keeps one receipt per grant (called by the consent handler, next to
  ``idgw.login.interaction.record_consent``).
* ``connected_services`` lists what the person has consented to, for the services page.
* ``withdraw`` removes a consent: the service's tokens are revoked, it is told by back-channel
  logout for each session in which it received tokens, its receipts are marked withdrawn, and
  its next authorization asks for consent again.
* ``receipt_document`` is the receipt as JSON (who, which service, what data, what purpose, the
  legal basis, when, its status, and where to withdraw)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import delete, or_, select, update

from idgw import audit
from idgw.account.words import duration_words
from idgw.assurance import current_policy
from idgw.login.sessions import notify_service
from idgw.release import SCOPE_CLAIMS, VERIFIED, describe
from idgw.storage import memo, raw
from idgw.storage.models import (
    Account,
    AuthorizationCode,
    Client,
    Consent,
    ConsentReceipt,
    LoginSession,
    Token,
)
from idgw.storage.revoke import revoke_tokens
from idgw.web.i18n import MESSAGES, t
from policies import ServicePolicy

RECEIPT_VERSION = "idgw-consent-receipt/1"
#: Scopes that name no claim but are worded on their own (an identifier; access while away).
_WORDED_SCOPES = ("openid", "offline_access")


def _claim(item: str) -> str:
    """``"userinfo/verified_claims.citizen_id"`` -> ``"citizen_id"``."""
    name = item.split("/", 1)[-1]
    return name[len(VERIFIED):] if name.startswith(VERIFIED) else name


def citizen_id_released(release) -> bool:
    return any(_claim(item) == "citizen_id" for item in release or ())


_INSERT_RECEIPT = raw.insert_into(ConsentReceipt.__table__)


def record_receipt(db, *, account_id: str, client_id: str, scope: str, release, now: int,
                   policy: ServicePolicy | None) -> ConsentReceipt:
    """Keep the receipt of one grant of consent: the scopes and release the person agreed to
    (``idgw.release``), the service's name as it is now, and the legal basis for the citizen ID
    from the service's ``policy`` when the citizen ID is released. Written at once on the driver's
    cursor (one per sign-in with consent); the receipt is returned, outside the session. The
    caller commits."""
    found = memo.client_row(db, client_id)
    name = (found.name if found else None) or client_id
    claims = sorted(set(release or ()))
    basis = policy.citizen_id_legal_basis if policy is not None and citizen_id_released(claims) else None
    row = ConsentReceipt(id=str(uuid.uuid4()), account_id=account_id, client_id=client_id, client_name=name,
                         scope=" ".join(sorted(set(scope.split()))), claims=claims,
                         purpose=f"Sign in to and use {name}, which receives the data listed", legal_basis=basis,
                         granted_at=now, withdrawn_at=None)
    raw.execute(db.connection(), _INSERT_RECEIPT, {c: getattr(row, c) for c in ConsentReceipt.__table__.c.keys()}
                | {"claims": raw.json_param(claims)})
    return row


def data_words(*, scope: str, release, locale: str) -> list[str]:
    """The data a service receives, in the person's words: what its scopes cover (those whose
    claims are released), the individual claims beyond them, and the verified claims."""
    order = ("openid", "profile", "email", "citizen_id", "offline_access")
    scopes = sorted(scope.split(), key=lambda s: (order.index(s) if s in order else len(order), s))
    released = {_claim(item) for item in release or ()}
    words = []
    for s in scopes:
        key = f"scope_{s}"
        if key in MESSAGES and (s in _WORDED_SCOPES or released & set(SCOPE_CLAIMS.get(s, ()))):
            words.append(t(key, locale))
    shown = describe(tuple(release or ()), scope=scope)
    words += [t(f"claim_{c}", locale) for c in shown["extra"] if f"claim_{c}" in MESSAGES]
    words += [t("services_verified", locale, claim=t(f"claim_{c}", locale)) for c in shown["verified"]]
    return words


def access_lasts(*, scope: str, settings, locale: str) -> str:
    """How long the service's access lasts, in words: with ``offline_access`` it can renew it
    with refresh tokens (each lasting ``refresh_token_ttl``) until the consent is withdrawn;
    otherwise an access token's lifetime after each sign-in."""
    if "offline_access" in scope.split():
        return t("services_lasts_offline", locale, duration=duration_words(settings.refresh_token_ttl, locale))
    return t("services_lasts_online", locale, duration=duration_words(settings.access_token_ttl, locale))


def withdraw_path(client_id: str) -> str:
    return f"/account/services/{quote(client_id, safe='')}/withdraw"


@dataclass(frozen=True)
class ConnectedService:
    client_id: str
    name: str
    scope: str
    release: tuple[str, ...]
    granted_at: int
    legal_basis: str | None  # where the citizen ID is released
    receipts: tuple[ConsentReceipt, ...]


def connected_services(db, *, account_id: str) -> list[ConnectedService]:
    """Every service the person has a consent for, with its receipts (newest first)."""
    receipts: dict[str, list[ConsentReceipt]] = {}
    for row in db.scalars(select(ConsentReceipt).where(ConsentReceipt.account_id == account_id)
                          .order_by(ConsentReceipt.granted_at.desc(), ConsentReceipt.id)):
        receipts.setdefault(row.client_id, []).append(row)
    found = []
    rows = db.execute(select(Consent, Client.name).join(Client, Client.client_id == Consent.client_id)
                      .where(Consent.account_id == account_id).order_by(Consent.granted_at.desc())).all()
    for consent, name in rows:
        release = tuple(consent.claims or ())
        policy = current_policy(db, consent.client_id)
        basis = policy.citizen_id_legal_basis if policy is not None and citizen_id_released(release) else None
        found.append(ConnectedService(consent.client_id, name, consent.scope, release, consent.granted_at, basis,
                                      tuple(receipts.get(consent.client_id, ()))))
    return found


@dataclass(frozen=True)
class Withdrawal:
    tokens: int  # tokens revoked
    notices: int  # back-channel logout notices queued
    receipts: int  # receipts marked withdrawn


def withdraw(db, *, account_id: str, client_id: str, now: int, ip: str | None,
             session_id: str | None = None) -> Withdrawal | None:
    """Withdraw the person's consent to ``client_id`` (None when there is none): revoke every
    token the service holds for them (refresh and access: introspection and userinfo consult the
    rows), drop its unredeemed codes, queue a back-channel logout notice for each session in
    which it received tokens and which still counts (a live token, or a live gateway session),
    delete the consent so its next authorization asks again, and mark the receipts withdrawn.
    The caller commits and then wakes the back-channel sender."""
    consent = db.get(Consent, (account_id, client_id))
    if consent is None:
        return None
    live_token = Token.revoked_at.is_(None) & (Token.expires_at > now)
    sessions = set(db.scalars(
        select(Token.session_id).distinct().outerjoin(LoginSession, LoginSession.id == Token.session_id)
        .where(Token.account_id == account_id, Token.client_id == client_id,
               or_(live_token, LoginSession.ended_at.is_(None) & LoginSession.id.is_not(None)))))
    revoked = revoke_tokens(db, Token.account_id == account_id, Token.client_id == client_id,
                            account_id=account_id, now=now)
    db.execute(delete(AuthorizationCode).where(AuthorizationCode.account_id == account_id,
                                               AuthorizationCode.client_id == client_id,
                                               AuthorizationCode.redeemed_at.is_(None)))
    notices = notify_service(db, client_id=client_id, account_id=account_id, session_ids=sessions, now=now,
                             reason="consent_withdrawn")
    db.delete(consent)
    marked = db.execute(update(ConsentReceipt).where(
        ConsentReceipt.account_id == account_id, ConsentReceipt.client_id == client_id,
        ConsentReceipt.withdrawn_at.is_(None)).values(withdrawn_at=now)
        .execution_options(synchronize_session=False)).rowcount or 0
    audit.record(db, "consent.withdrawn", at=now, actor=account_id, client_id=client_id, session_id=session_id,
                 ip=ip, scope=consent.scope, revoked_tokens=revoked, notices=notices, receipts=marked)
    return Withdrawal(revoked, notices, marked)


def receipt_document(receipt: ConsentReceipt, *, account: Account, issuer: str, privacy_url: str) -> dict:
    """The receipt as a JSON document, in both languages where it is words."""
    both = ("th", "en")
    withdraw_url = issuer + withdraw_path(receipt.client_id)
    return {
        "version": RECEIPT_VERSION,
        "receipt_id": receipt.id,
        "issuer": issuer,
        "who": {"account_id": account.id, "name": display_names(account)},
        "service": {"client_id": receipt.client_id, "name": receipt.client_name},
        "scope": receipt.scope.split(),
        "data": [{"item": item, "claim": _claim(item), "verified": VERIFIED in item,
                  "words": {lc: t(f"claim_{_claim(item)}", lc) for lc in both}} for item in receipt.claims or ()],
        "data_in_words": {lc: data_words(scope=receipt.scope, release=receipt.claims, locale=lc) for lc in both},
        "purpose": {lc: t("receipt_purpose_text", lc, service=receipt.client_name) for lc in both},
        "lawful_basis": "consent",
        "lawful_basis_words": {lc: t("receipt_basis_consent", lc) for lc in both},
        "citizen_id_legal_basis": receipt.legal_basis,
        "granted_at": receipt.granted_at,
        "status": "withdrawn" if receipt.withdrawn_at is not None else "active",
        "withdrawn_at": receipt.withdrawn_at,
        "how_to_withdraw": withdraw_url,
        "privacy_notice": privacy_url if "://" in privacy_url else issuer + privacy_url,
    }


def display_names(account: Account) -> dict:
    """The account's name as the pages show it, per language (the username when it has none)."""
    en = " ".join(p for p in (account.given_name, account.family_name) if p) or account.username
    th = " ".join(p for p in (account.given_name_th, account.family_name_th) if p) or en
    return {"th": th, "en": en}
