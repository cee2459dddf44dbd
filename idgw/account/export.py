""""Download my data" (PDPA s.30-31: the right of access and to receive one's data): the account,
its factors without their secrets, links, consents, receipts, sessions, video identity checks
(consents and cases: card data, checks, scores, media hashes; never an image, never an officer's
account) and the person's audit events (done by them, or to or for them: ``_event``), as one JSON
document."""

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
from idgw.storage.proofing import ProofingCase, ProofingConsent, ProofingMedia

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
PROOFING_CONSENT_FIELDS = ("id", "notice_version", "media_retention_days", "granted_at", "withdrawn_at")
PROOFING_CASE_FIELDS = ("id", "state", "created_at", "queued_at", "claimed_at", "decided_at", "need_ial", "grant_ial",
                        "consent_id", "card")
CARD_CHECK_FIELDS = ("source", "status", "mismatched", "reference", "checked_at")
FACE_FIELDS = ("distance", "threshold", "match", "model", "frame_sha256", "at")
MEDIA_FIELDS = ("kind", "sha256", "media_type", "created_at", "delete_after", "deleted_at")
EVENT_FIELDS = ("id", "at", "name", "actor", "on_behalf_of", "client_id", "session_id", "ip", "detail")


def events_of(account_id: str):
    """The person's audit events, oldest first: read through the actor and on_behalf_of indexes
    (migration 0016), not the whole log (tests/ops/test_audit_filter_index.py)."""
    return (select(AuditEvent).where(or_(AuditEvent.actor == account_id, AuditEvent.on_behalf_of == account_id))
            .order_by(AuditEvent.id))


def _event(row, account_id: str) -> dict:
    """One audit event of the person's. One done to or for them by someone else carries the person
    it concerns, not the other one's session or address, and the other one as ``_other_actor``."""
    event = _pick(row, EVENT_FIELDS)
    if row.actor != account_id:
        event["session_id"] = event["ip"] = None
        event["actor"] = _other_actor(row)
    return event


#: Actors that are the gateway's own parts or tools, not a person (docs/audit.md).
SYSTEM_ACTORS = frozenset({"system", "gateway", "cli", "upstream", "demo"})
#: Events between the person and the delegates or principals they chose (ขมธอ. 31-2565): who acted
#: is theirs to know, as on their delegation pages.
PARTY_EVENTS = ("delegation.", "token.exchanged")


def _other_actor(row) -> str | None:
    """Who did an event to or for the person: a delegate or principal as recorded; an officer's
    (proofing) step as "officer" and any other staff member's (an administrator unlocking,
    disabling or enabling the account, granting a role) as "administrator", never their account
    or username; the gateway's own parts by name."""
    if row.actor is None or row.actor in SYSTEM_ACTORS or row.name.startswith(PARTY_EVENTS):
        return row.actor
    return "officer" if row.name.startswith("proofing.") else "administrator"


def _pick(row, names) -> dict:
    return {name: getattr(row, name) for name in names}


def _officers(case: ProofingCase):
    """Officers by their order of appearance in the case ("officer 1", "officer 2"), never by account."""
    seen: dict[str, str] = {}

    def name(account_id):
        if not account_id:
            return None
        return seen.setdefault(account_id, f"officer {len(seen) + 1}")

    return name


def proofing_case(case: ProofingCase, *, service: str | None, media: list[ProofingMedia]) -> dict:
    """One video identity check as the person may have it: its state and times, the service, the
    card data as recorded, the card check, the decision (outcome, reason code, officers numbered),
    the face comparison and cues, and the images' hashes with their retention (not the images)."""
    officer = _officers(case)
    claimed_by = officer(case.claimed_by)
    first = case.first_decision or {}
    decision = case.decision or {}
    check = case.card_check or {}
    face = case.face or None
    return {
        **_pick(case, PROOFING_CASE_FIELDS),
        "service": {"client_id": case.client_id, "name": service} if case.client_id else None,
        "card_check": {k: check[k] for k in CARD_CHECK_FIELDS if k in check},
        "claimed_by": claimed_by,
        "first_decision": {"by": officer(first.get("by")), "at": first.get("at"),
                           "problems": first.get("problems", [])} if first else None,
        "decision": {"outcome": decision.get("outcome"), "reason": decision.get("reason"),
                     "problems": decision.get("problems", []),
                     "by": [officer(by) for by in decision.get("by") or []]} if decision else None,
        "face": {k: face[k] for k in FACE_FIELDS if k in face} if face else None,
        "cues": [{"cue": c.get("cue"), "shown_at": c.get("shown_at"), "window": c.get("window"),
                  "performed": (bool(c["result"].get("performed")) if c.get("result") else None)}
                 for c in case.cues or []],
        "media": [_pick(row, MEDIA_FIELDS) for row in media],
    }


def proofing_export(db, account_id: str) -> dict:
    consents = db.scalars(select(ProofingConsent).where(ProofingConsent.account_id == account_id)
                          .order_by(ProofingConsent.granted_at))
    found = db.execute(select(ProofingCase, Client.name).outerjoin(Client, Client.client_id == ProofingCase.client_id)
                       .where(ProofingCase.account_id == account_id).order_by(ProofingCase.created_at)).all()
    media: dict[str, list[ProofingMedia]] = {}
    if found:
        for row in db.scalars(select(ProofingMedia).where(ProofingMedia.case_id.in_([c.id for c, _ in found]))
                              .order_by(ProofingMedia.created_at, ProofingMedia.id)):
            media.setdefault(row.case_id, []).append(row)
    return {
        "consents": [_pick(row, PROOFING_CONSENT_FIELDS) for row in consents],
        "cases": [proofing_case(case, service=name, media=media.get(case.id, [])) for case, name in found],
    }


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
        "proofing": proofing_export(db, aid),
        "audit_events": [_event(row, aid) for row in db.scalars(events_of(aid))],
    }
