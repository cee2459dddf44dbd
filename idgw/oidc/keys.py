"""Signing keys: generated on first start, encrypted at rest, parsed once per process.

ES256 (P-256) is the default; one RSA-2048 key serves RS256 and PS256 for clients that ask for
them (``id_token_signed_response_alg``). Rotation keeps the previous public keys in the JWKS
until every token they signed has expired.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import select, text

from idgw import audit
from idgw.jsontext import compact
from idgw.security import Sealer, b64url
from idgw.storage.db import READ_ONLY
from idgw.storage.models import SigningKey
from idgw.storage.probe import log_failure

log = logging.getLogger(__name__)

ALG_KTY = {"ES256": "EC", "RS256": "RSA", "PS256": "RSA"}
SUPPORTED_ALGS = tuple(ALG_KTY)


class UnsupportedAlgorithmError(ValueError):
    pass


class WrongSecretKeyError(RuntimeError):
    """IDGW_SECRET_KEY does not open the sealed private keys in the database (AES-GCM refuses:
    the key that sealed them was derived from another secret)."""

    def __init__(self) -> None:
        super().__init__("IDGW_SECRET_KEY does not open the stored signing keys "
                         "(was it changed? the keys were sealed with another key)")


_SHA256 = hashes.SHA256()
_ECDSA_SHA256 = ec.ECDSA(_SHA256)
_PSS = padding.PSS(mgf=padding.MGF1(_SHA256), salt_length=32)  # RFC 7518 §3.5: salt = hash size
_PKCS1 = padding.PKCS1v15()


class Signer:
    """Signs compact JWS (RFC 7515) with one key and algorithm, straight with `cryptography`:
    the protected header is encoded once per ``typ``, so a signature costs the claims' JSON,
    base64 and the key operation. (joserfc, used to verify, spent more than the signature
    itself on registries and header handling: ~0.3x the raw ES256 rate, now ~0.6x.)"""

    def __init__(self, alg: str, kid: str, key) -> None:
        if alg not in ALG_KTY:
            raise UnsupportedAlgorithmError(alg)
        self.alg, self.kid = alg, kid
        self._key = key.private_key  # the `cryptography` private key inside the joserfc key
        self._headers: dict[str, bytes] = {}

    def _header(self, typ: str) -> bytes:
        h = self._headers.get(typ)
        if h is None:
            header = {"alg": self.alg, "typ": typ, "kid": self.kid}
            h = self._headers[typ] = b64url(json.dumps(header, separators=(",", ":")).encode())
        return h

    def _sign(self, data: bytes) -> bytes:
        if self.alg == "ES256":
            r, s = decode_dss_signature(self._key.sign(data, _ECDSA_SHA256))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")  # RFC 7518 §3.4: R || S, not DER
        if self.alg == "RS256":
            return self._key.sign(data, _PKCS1, _SHA256)
        return self._key.sign(data, _PSS, _SHA256)

    def sign(self, claims: dict, *, typ: str = "JWT") -> str:
        """A compact JWS of ``claims`` (JSON, UTF-8, no padding)."""
        payload = b64url(compact(claims))
        signing_input = self._header(typ) + b"." + payload
        return (signing_input + b"." + b64url(self._sign(signing_input))).decode("ascii")


def _generate(kty: str):
    if kty == "EC":
        key = ECKey.generate_key("P-256", private=True)
    else:
        key = RSAKey.generate_key(2048, private=True)
    return key


def _new_row(kty: str, sealer: Sealer, now: int) -> SigningKey:
    key = _generate(kty)
    kid = key.thumbprint()
    public = key.as_dict(private=False)
    public.update({"kid": kid, "use": "sig"})
    return SigningKey(
        kid=kid, kty=kty,
        private_jwk=sealer.seal(json.dumps(key.as_dict(private=True)).encode(), context=f"jwk:{kid}"),
        public_jwk=public, created_at=now,
    )


def every_public_key(db) -> dict:
    """The public keys of every signing key the gateway ever had, as a JWKS (retired and
    unpublished ones too): what verifies a document or an audit checkpoint signed years ago."""
    return {"keys": [row.public_jwk for row in db.scalars(select(SigningKey).order_by(SigningKey.created_at))]}


#: pg_advisory_xact_lock key taken by ensure and rotate: key creation is one at a time across
#: instances. (SQLite needs none: every writing transaction holds the database's one write lock.)
KEYS_LOCK = 0x1D6A_4B45


def _lock_keys(db) -> None:
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": KEYS_LOCK})


_STORES: weakref.WeakSet = weakref.WeakSet()  # every KeyStore of this process (``recheck_all``)


def recheck_all() -> None:
    """The key table changed outside a store's own methods (a retired key's publication ended by
    an approved four-eyes request, ``idgw.console.keys``): every store of this process re-reads it
    at its next use instead of after up to ``recheck`` seconds (other processes: within that)."""
    for store in list(_STORES):
        store._checked_at = 0.0


class KeyStore:
    """Thread-safe cache of the signing keys. ``refresh`` re-reads the table at most every
    ``recheck`` seconds so a rotation done by another process (``idgw keys rotate``) is picked up."""

    def __init__(self, *, sessionmaker, sealer: Sealer, clock, max_token_ttl: int, recheck: float = 15.0):
        self._sessionmaker = sessionmaker
        self._sealer = sealer
        self._clock = clock
        self._max_token_ttl = max_token_ttl
        self._recheck = recheck
        self._lock = threading.Lock()
        self._signers: dict[str, Signer] = {}
        self._parsed: dict[str, object] = {}
        self._fingerprint: tuple | None = None
        self._checked_at = 0.0
        self._reloading = False
        self.jwks: dict = {"keys": []}
        self.jwks_json: bytes = b'{"keys":[]}'
        self.public_keyset = KeySet([])
        _STORES.add(self)

    # -- administration ---------------------------------------------------------------------
    def ensure(self, db) -> bool:
        """Create the first EC and RSA keys if none is active. Returns True if it created any.
        Instances started together on a new database each run this: under the key lock only the
        first creates keys, the others find them (two key sets were seen otherwise)."""
        _lock_keys(db)
        now = self._clock.now()
        active = {k.kty for k in db.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None)))}
        created = False
        for kty in ("EC", "RSA"):
            if kty not in active:
                row = _new_row(kty, self._sealer, now)
                db.add(row)
                audit.record(db, "keys.generated", at=now, actor="system", kid=row.kid, kty=kty)
                created = True
        return created

    def rotate(self, db, *, actor: str) -> list[str]:
        """Retire the active keys and make new ones; old public keys stay published until
        ``now + max token lifetime`` (so no issued token stops verifying)."""
        _lock_keys(db)  # two rotations at once would otherwise both retire the same keys and add two sets
        now = self._clock.now()
        old = list(db.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))))
        for row in old:  # a wrong secret must not retire keys and seal new ones under another key
            self._open(row)
        for row in old:
            row.retired_at = now
            row.unpublish_at = now + self._max_token_ttl
        new = [_new_row(kty, self._sealer, now + 0) for kty in ("EC", "RSA")]
        db.add_all(new)
        audit.record(db, "keys.rotated", at=now, actor=actor, retired=[r.kid for r in old],
                     activated=[r.kid for r in new])
        self._checked_at = 0.0
        return [r.kid for r in new]

    # -- runtime ----------------------------------------------------------------------------
    def refresh(self, *, force: bool = False) -> None:
        """Pick up keys changed by another process. Never blocks a request: when the last check
        is older than ``recheck`` seconds, one background thread re-reads the table while
        requests go on signing with the keys already parsed. ``force`` re-reads now (start-up,
        rotation in this process, tests)."""
        if force:
            with self._lock:
                self._reload()
            return
        if time.monotonic() - self._checked_at < self._recheck:
            return
        with self._lock:
            if self._reloading or time.monotonic() - self._checked_at < self._recheck:
                return
            self._reloading = True
        threading.Thread(target=self._reload_in_background, name="idgw-keys", daemon=True).start()

    def _reload_in_background(self) -> None:
        try:
            with self._lock:
                self._reload()
        except WrongSecretKeyError as exc:  # keep serving with the keys we have; say why in one line
            log.error("re-reading the signing keys failed: %s", exc)
            self._checked_at = time.monotonic()
        except Exception as error:  # noqa: BLE001 - keep serving with the keys we have; retry at the next check
            log_failure(log, "re-reading the signing keys failed", error)
            self._checked_at = time.monotonic()
        finally:
            self._reloading = False

    def _reload(self) -> None:
        """Re-read the key table (caller holds ``_lock``); parse only keys not seen before."""
        mono = time.monotonic()
        now = self._clock.now()
        with self._sessionmaker() as db:
            # A read-only transaction: on SQLite it neither takes nor waits for the write lock,
            # which a request thread in the middle of its own transaction may hold.
            db.connection(execution_options=READ_ONLY)
            rows = list(db.scalars(select(SigningKey).order_by(SigningKey.created_at.desc())))
        published = [r for r in rows if r.unpublish_at is None or r.unpublish_at > now]
        fingerprint = tuple((r.kid, r.retired_at) for r in published)
        if fingerprint != self._fingerprint:
            signing: dict[str, tuple[str, object]] = {}
            for r in published:
                if r.retired_at is None and r.kty not in signing:
                    if r.kid not in self._parsed:
                        self._parsed[r.kid] = (ECKey if r.kty == "EC" else RSAKey).import_key(self._open(r))
                    signing[r.kty] = (r.kid, self._parsed[r.kid])
            jwks = {"keys": [r.public_jwk for r in published]}
            # Replace whole objects (never mutate), so readers in other threads see old or new.
            self.public_keyset = KeySet.import_key_set(jwks)
            self.jwks_json = json.dumps(jwks, separators=(",", ":")).encode()
            self.jwks = jwks
            self._signers = {alg: Signer(alg, *signing[kty]) for alg, kty in ALG_KTY.items() if kty in signing}
            self._fingerprint = fingerprint
        self._checked_at = mono

    def _open(self, row: SigningKey) -> dict:
        """The private JWK of a stored key; ``WrongSecretKeyError`` when the secret cannot open it."""
        try:
            return json.loads(self._sealer.open(row.private_jwk, context=f"jwk:{row.kid}"))
        except InvalidTag:
            raise WrongSecretKeyError() from None

    def signer(self, alg: str) -> Signer:
        """The signer for ``alg`` with the active key (replaced as a whole when keys rotate)."""
        if alg not in ALG_KTY:
            raise UnsupportedAlgorithmError(alg)
        self.refresh()
        try:
            return self._signers[alg]
        except KeyError:
            raise RuntimeError("no active signing key; run `idgw db upgrade` and start the gateway") from None

    def signing_key(self, alg: str) -> tuple[str, object]:
        """(kid, joserfc key) that signs with ``alg`` now (for tools that compare signers)."""
        signer = self.signer(alg)
        return signer.kid, self._parsed[signer.kid]
