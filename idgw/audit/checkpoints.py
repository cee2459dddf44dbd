"""Signed checkpoints of the audit chains: a chain's head (``chain``, ``seq``, ``hash``) signed
with the gateway's signing key as a compact JWS (``typ`` ``audit-checkpoint+jwt``) with the time.

A checkpoint vouches for every event up to it (each links to the one before), so an exported log
with its checkpoints and the gateway's public keys can be verified offline, and a rewrite of the
chain before a checkpoint is caught even by someone who recomputed every hash. ``idgw serve`` signs
the heads that moved every ``audit_checkpoint_interval`` seconds; ``idgw audit export`` signs them
before exporting; the retention rule signs a ``cut`` checkpoint at the last event it removes, and
the chain is verified from there.

Signing a checkpoint writes no audit event (it would move the head it just signed).
"""

from __future__ import annotations

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select

from idgw.storage.console import AuditCheckpoint, AuditHead
from idgw.storage.models import AuditEvent

TYP = "audit-checkpoint+jwt"
ALGS = ["ES256", "RS256", "PS256"]


def sign_at(db, signer, *, issuer: str, now: int, chain: str, seq: int, hash: str, kind: str) -> AuditCheckpoint:
    claims = {"iss": issuer, "iat": now, "chain": chain, "seq": seq, "hash": hash, "kind": kind}
    row = AuditCheckpoint(chain=chain, seq=seq, hash=hash, kind=kind, at=now, kid=signer.kid,
                          jws=signer.sign(claims, typ=TYP))
    db.add(row)
    return row


def sign_heads(db, signer, *, issuer: str, now: int) -> list[AuditCheckpoint]:
    """Sign each chain's head that moved since its last checkpoint; the caller commits."""
    signed = []
    for head in db.scalars(select(AuditHead).where(AuditHead.seq > 0).order_by(AuditHead.chain)):
        last = db.scalar(select(AuditCheckpoint.seq).where(AuditCheckpoint.chain == head.chain)
                         .order_by(AuditCheckpoint.seq.desc()).limit(1))
        if last is not None and last >= head.seq:
            continue
        signed.append(sign_at(db, signer, issuer=issuer, now=now, chain=head.chain, seq=head.seq, hash=head.hash,
                              kind="head"))
    return signed


def claims_of(jws: str, keys: KeySet) -> dict:
    """The claims of a checkpoint signed by one of ``keys``; ``ValueError`` otherwise."""
    try:
        decoded = jwt.decode(jws, keys, algorithms=ALGS)
    except (JoseError, ValueError, TypeError) as exc:
        raise ValueError(f"signature invalid ({type(exc).__name__})") from None
    if decoded.header.get("typ") != TYP:
        raise ValueError("not an audit checkpoint")
    return decoded.claims


def problem(row: dict, keys: KeySet | None, *, issuer: str | None = None) -> str | None:
    """Why a checkpoint (``row``: chain, seq, hash, kind, jws) cannot be trusted, or None."""
    if keys is None:
        return "no public key to check its signature with"
    try:
        claims = claims_of(row["jws"], keys)
    except ValueError as exc:
        return str(exc)
    if issuer is not None and claims.get("iss") != issuer:
        return f"signed for another issuer ({claims.get('iss')!r})"
    for field in ("chain", "seq", "hash", "kind"):
        if claims.get(field) != row[field]:
            return f"its stored {field} differs from what was signed"
    return None


def as_dict(row: AuditCheckpoint) -> dict:
    return {"id": row.id, "chain": row.chain, "seq": row.seq, "hash": row.hash, "kind": row.kind, "at": row.at,
            "kid": row.kid, "jws": row.jws}


def of_chain(db, chain: str) -> list[dict]:
    return [as_dict(r) for r in db.scalars(select(AuditCheckpoint).where(AuditCheckpoint.chain == chain)
                                           .order_by(AuditCheckpoint.seq, AuditCheckpoint.id))]


def hash_at(db, chain: str, seq: int) -> str | None:
    return db.scalar(select(AuditEvent.hash).where(AuditEvent.chain == chain, AuditEvent.seq == seq))


def signer_from_settings(sessionmaker, settings):
    """The gateway's active ES256 signer, opened with the settings' secret key (for commands and
    jobs that run outside a gateway: export, retention)."""
    from joserfc.errors import MissingKeyError

    from idgw.clock import Clock
    from idgw.oidc.keys import KeyStore
    from idgw.security import Sealer, derive_key

    store = KeyStore(sessionmaker=sessionmaker, sealer=Sealer(derive_key(settings.secret_key, "jwk-at-rest")),
                     clock=Clock(), max_token_ttl=settings.max_token_ttl)
    try:
        store.refresh(force=True)
        return store.signer("ES256")
    except MissingKeyError:  # a database migrated but never served: RuntimeError, as for a wrong secret
        raise RuntimeError("there are no signing keys yet: `idgw serve` or `idgw keys rotate` makes them") from None
