""""Download my data" (PDPA s.30-31: the right of access and to receive one's data): the account,
its factors without their secrets, links, consents, receipts, sessions and the person's own audit
events, as one JSON document."""

from __future__ import annotations

from sqlalchemy import func, or_, select

from idgw.storage.models import (
    Account,
    AccountAuthenticator,
    AccountLink,
    AuditEvent,
    Client,
    Consent,
    ConsentReceipt,
    LoginSession,
    RecoveryCode,
)

EXPORT_VERSION = "idgw-account-export/1"
# Named one by one: a column added to a table later is not exported until someone decides it may
# be (the sealed TOTP secret, a passkey's credential id and public key, the password hash, the
# session cookie's hash and recovery code hashes never are).
ACCOUNT_FIELDS = ("id", "username", "email", "email_verified", "given_name", "family_name", "given_name_th",
                  "family_name_th", "citizen_id", "ial", "ial_verified_at", "ial_evidence", "locale", "roles",
                  "failed_logins", "locked_until", "created_at")
FACTOR_FIELDS = ("id", "kind", "name", "created_at", "confirmed_at", "last_used_at", "aaguid", "transports",
                 "discoverable", "attested", "flagged_at")
LINK_FIELDS = ("id", "provider", "issuer", "subject", "ial", "aal", "raw_levels", "linked_at", "last_login_at")
SESSION_FIELDS = ("id", "auth_time", "last_seen", "ial", "aal", "amr", "provider", "expires_at", "ended_at", "ip",
                  "user_agent", "client_id")
RECEIPT_FIELDS = ("id", "client_id", "client_name", "scope", "claims", "purpose", "legal_basis", "granted_at",
                  "withdrawn_at")
EVENT_FIELDS = ("id", "at", "name", "actor", "on_behalf_of", "client_id", "session_id", "ip", "detail")


def _pick(row, names) -> dict:
    return {name: getattr(row, name) for name in names}


def export_document(db, *, account: Account, now: int, issuer: str) -> dict:
    """Everything the gateway keeps about ``account`` that is the person's to see."""
    aid = account.id
    factors = db.scalars(select(AccountAuthenticator).where(AccountAuthenticator.account_id == aid)
                         .order_by(AccountAuthenticator.created_at))
    recovery = db.execute(select(func.count(), func.count(RecoveryCode.used_at))
                          .where(RecoveryCode.account_id == aid)).one()
    consents = db.execute(select(Consent, Client.name).outerjoin(Client, Client.client_id == Consent.client_id)
                          .where(Consent.account_id == aid).order_by(Consent.granted_at)).all()
    return {
        "version": EXPORT_VERSION,
        "issuer": issuer,
        "exported_at": now,
        "account": {**_pick(account, ACCOUNT_FIELDS), "has_password": bool(account.password_hash)},
        "factors": [_pick(row, FACTOR_FIELDS) for row in factors],
        "recovery_codes": {"issued": recovery[0], "used": recovery[1]},
        "links": [_pick(row, LINK_FIELDS) for row in db.scalars(
            select(AccountLink).where(AccountLink.account_id == aid).order_by(AccountLink.linked_at))],
        "consents": [{"client_id": c.client_id, "client_name": name, "scope": c.scope, "claims": c.claims or [],
                      "granted_at": c.granted_at} for c, name in consents],
        "receipts": [_pick(row, RECEIPT_FIELDS) for row in db.scalars(
            select(ConsentReceipt).where(ConsentReceipt.account_id == aid).order_by(ConsentReceipt.granted_at))],
        "sessions": [_pick(row, SESSION_FIELDS) for row in db.scalars(
            select(LoginSession).where(LoginSession.account_id == aid).order_by(LoginSession.auth_time))],
        "audit_events": [_pick(row, EVENT_FIELDS) for row in db.scalars(
            select(AuditEvent).where(or_(AuditEvent.actor == aid, AuditEvent.on_behalf_of == aid))
            .order_by(AuditEvent.id))],
    }
