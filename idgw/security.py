"""Small cryptographic helpers shared by the gateway."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_URLSAFE = bytes.maketrans(b"+/", b"-_")


def b64url(data: bytes) -> bytes:
    """Base64url without padding (RFC 4648 §5, RFC 7515 §2), in one C call less than
    ``base64.urlsafe_b64encode(data).rstrip(b"=")`` (the JWS signer calls it three times a token)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=")


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def random_token(nbytes: int = 32) -> str:
    """URL-safe random string with ``nbytes`` bytes of entropy (256 bits by default)."""
    return secrets.token_urlsafe(nbytes)


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def derive_key(secret_key: str, purpose: str, length: int = 32) -> bytes:
    """Separate keys per purpose from the one configured secret (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode()).derive(
        secret_key.encode()
    )


class Sealer:
    """AES-256-GCM for small secrets at rest (private keys). Output: base64url(nonce || ciphertext)."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, *, context: str) -> str:
        nonce = os.urandom(12)
        return base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, plaintext, context.encode())).decode()

    def open(self, sealed: str, *, context: str) -> bytes:
        raw = base64.urlsafe_b64decode(sealed.encode())
        return self._aead.decrypt(raw[:12], raw[12:], context.encode())


# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1. Set explicitly: the library
# default (m=64 MiB, t=3, p=4) costs several times more CPU per login for no policy reason.
PASSWORD_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32,
                                 salt_len=16, type=Type.ID)
# Verified against when the account does not exist, so timing does not reveal which usernames exist:
# the hash of a random password nobody kept, at PASSWORD_HASHER's parameters (a test holds it to
# them). Written out rather than hashed at import, which cost every process 65 ms of CPU (each
# command-line call, each start); knowing it helps no one, verify_password never accepts it.
_DUMMY_HASH = "$argon2id$v=19$m=19456,t=2,p=1$QH5dgyqhQkfm4kRMwpARfw$/PYqryeDc0BlbPU4V4TMWcTsxMn/zjAZXVTD+nPVxwk"


def hash_password(password: str) -> str:
    return PASSWORD_HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-work check: always runs one argon2id verification."""
    try:
        return PASSWORD_HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
