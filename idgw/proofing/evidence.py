"""What an approved case does to the account and session, and the evidence it leaves for relying
parties (OpenID Connect for Identity Assurance 1.0 ``evidence``, check methods from the OpenID
identity assurance predefined values): the ID card's data checked against the authoritative
record (``data``), and the card holder verified by an officer over a video call (``pvr``,
physical verification, remote). No officer name and no biometric data leave the gateway.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select

from idgw.clock import iso_utc
from idgw.storage.models import Account, LoginSession
from idgw.storage.proofing import ProofingCase
from policies.levels import IAL

CARD_ISSUER = {"name": "กรมการปกครอง Department of Provincial Administration", "country_code": "THA"}
EVIDENCE_NAME = "officer_video"


class IdentityInUse(Exception):
    """The card's citizen ID already belongs to another account, or the account to another citizen
    ID: approving would merge or swap identities."""


def evidence_for(case: ProofingCase, *, issuer: str) -> list[dict]:
    check = case.card_check or {}
    organisation = urlsplit(issuer).hostname or issuer
    return [{
        "type": "document",
        "check_details": [
            {"check_method": "data", "organization": check.get("source", "DOPA"), "txn": check.get("reference"),
             "time": iso_utc(check.get("checked_at", case.created_at))},
            {"check_method": "pvr", "organization": organisation, "txn": case.id, "time": iso_utc(case.decided_at)},
        ],
        "time": iso_utc(case.decided_at),
        "document_details": {"type": "idcard", "issuer": CARD_ISSUER},
    }]


def owner_of(db, citizen_id: str) -> str | None:
    return db.scalar(select(Account.id).where(Account.citizen_id == citizen_id))


def raise_identity(db, case: ProofingCase, *, issuer: str, now: int) -> None:
    """After approval: the account's IAL rises to the grant (never falls), the card's names become
    its verified names, and the citizen's session gains the IAL."""
    account = db.get(Account, case.account_id, with_for_update=True)
    card = case.card
    other = owner_of(db, card["citizen_id"])
    if (other is not None and other != account.id) or account.citizen_id not in (None, card["citizen_id"]):
        raise IdentityInUse(card["citizen_id"])
    if IAL.parse(case.grant_ial) > IAL.parse(account.ial):
        account.ial = case.grant_ial
    account.ial_verified_at = now
    account.ial_evidence = EVIDENCE_NAME
    account.ial_evidence_detail = evidence_for(case, issuer=issuer)
    account.citizen_id = card["citizen_id"]
    account.given_name_th, account.family_name_th = card["given_name_th"], card["family_name_th"]
    account.given_name, account.family_name = card["given_name_en"], card["family_name_en"]
    session = db.get(LoginSession, case.session_id)
    if session is not None and session.ended_at is None and IAL.parse(account.ial) > IAL.parse(session.ial):
        session.ial = account.ial
