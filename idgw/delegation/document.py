"""The delegation as a signed document, and its verification.

When a mandate's approvals satisfy its principal's rule the gateway signs it: a compact JWS
(RFC 7515, ``typ`` ``delegation+jwt``) with the gateway's signing key over

    {"iss", "iat", "jti": <mandate id>, "mandate": <the canonical content>,
     "document_sha256": <SHA-256 of its canonical text>, "approvals": [...]}

so anyone holding the JWS can check it against the gateway's published keys (``/jwks.json``) and
ask the verification page for the current status. ``verify`` answers for a mandate id or a JWS,
with no more personal data than a verifier needs: names and kinds, the scope, the window, the
status; citizen IDs masked.
"""

from __future__ import annotations

from dataclasses import dataclass

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idgw.delegation import model as m
from idgw.oidc.keys import SUPPORTED_ALGS, every_public_key
from idgw.storage.delegation import Mandate, MandateApproval

TYP = "delegation+jwt"
MAX_JWS_LENGTH = 64 * 1024


def sign(signer, *, issuer: str, now: int, row: Mandate, approvals: list[MandateApproval]) -> str:
    """The JWS of ``row`` (``signer``: ``idgw.oidc.keys.Signer``)."""
    claims = {
        "iss": issuer, "iat": now, "jti": row.id, "mandate": m.json_of(row.document),
        "document_sha256": row.document_sha256,
        "approvals": [{"role": a.role, "citizen_id": a.citizen_id, "method": a.method, "ial": a.ial, "aal": a.aal,
                       "sealed": a.sealed, "at": a.at} for a in approvals],
    }
    return signer.sign(claims, typ=TYP)


def mask_id(value: str | None) -> str | None:
    """A 13-digit ID as a verifier sees it: the first and last two digits (1-23xx-xxxxx-x5-6)."""
    if not value or len(value) != 13:
        return None
    return f"{value[0]}-{value[1:3]}xx-xxxxx-x{value[11]}-{value[12]}"


@dataclass(frozen=True)
class Verification:
    valid: bool  # the signature (when a JWS was given) and the record agree
    status: str | None  # the current status, when found
    reason: str | None  # why not valid: not_found | signature_invalid | document_mismatch | not_signed
    summary: dict | None  # what a verifier may see


def summary(row: Mandate, *, now: int) -> dict:
    content = m.json_of(row.document)
    principal = content["principal"]
    shown = {"kind": principal["kind"], "name": principal["name"]}
    if principal["kind"] == "company":
        shown["juristic_id"] = principal["juristic_id"]  # registry data, public
    else:
        shown["citizen_id"] = mask_id(principal.get("citizen_id"))
    return {
        "id": row.id, "model": row.model,
        "status": m.status_at(status=row.status, valid_until=row.valid_until, now=now),
        "principal": shown, "delegate": {"citizen_id": mask_id(row.delegate_citizen_id)},
        "scope": content["scope"], "single_use": row.single_use, "valid_from": row.valid_from,
        "valid_until": row.valid_until, "subdelegation_allowed": row.subdelegation_allowed,
        "parent": row.parent_id, "stamp_duty": bool(row.stamp_duty), "document_sha256": row.document_sha256,
        "effective_at": row.effective_at, "revoked_at": row.revoked_at,
    }


def every_key(db) -> dict:
    """The public keys of every signing key the gateway ever had, as a JWKS. A delegation runs for
    years, longer than a retired key stays in ``/jwks.json`` (the longest token lifetime), so its
    document is checked against these (``/delegations/keys.json``)."""
    return every_public_key(db)


def check_signature(db, token: str, *, issuer: str) -> dict:
    """The claims of a delegation JWS signed by one of the gateway's keys (any, ever) for ``issuer``,
    with ``typ`` ``delegation+jwt``; ``ValueError`` otherwise (``alg=none`` never verifies)."""
    try:
        decoded = jwt.decode(token, KeySet.import_key_set(every_key(db)), algorithms=list(SUPPORTED_ALGS))
    except (JoseError, ValueError, TypeError) as exc:
        raise ValueError("signature or format invalid") from exc
    if decoded.header.get("typ") != TYP or decoded.claims.get("iss") != issuer:
        raise ValueError("not a delegation of this gateway")
    return decoded.claims


def verify(db, *, now: int, issuer: str, mandate_id: str | None = None, jws: str | None = None) -> Verification:
    """Check a mandate by id, or a JWS (its signature with ``check_signature``). A JWS whose content
    differs from the record (an altered copy signed by nobody, or a document swapped) is not valid,
    whatever it says."""
    if jws is not None:
        if not isinstance(jws, str) or len(jws) > MAX_JWS_LENGTH:
            return Verification(False, None, "signature_invalid", None)
        try:
            claims = check_signature(db, jws.strip(), issuer=issuer)
        except ValueError:
            return Verification(False, None, "signature_invalid", None)
        content = claims.get("mandate")
        if not isinstance(content, dict) or m.digest(m.canonical(content)) != claims.get("document_sha256"):
            return Verification(False, None, "document_mismatch", None)
        mandate_id = claims.get("jti")
    row = db.get(Mandate, mandate_id) if isinstance(mandate_id, str) and len(mandate_id) == 36 else None
    if row is None:
        return Verification(False, None, "not_found", None)
    if m.digest(row.document) != row.document_sha256:
        # The stored text no longer hashes to what was approved and signed: what it says (the
        # summary is read from it) cannot be vouched for.
        return Verification(False, None, "document_mismatch", None)
    if jws is not None and claims["document_sha256"] != row.document_sha256:
        return Verification(False, None, "document_mismatch", None)
    shown = summary(row, now=now)
    if row.jws is None:
        return Verification(False, shown["status"], "not_signed", shown)
    return Verification(True, shown["status"], None, shown)
