"""Client authentication rules that Authlib leaves open, shared by the back-channel endpoints
(``idgw.oidc.provider``: /token, /introspect, /revoke) and client registration (``idgw.admin``).

* ``basic_credentials``: a strict reading of ``Authorization: Basic`` (RFC 7617, RFC 6749 §2.3.1).
  Authlib's own parser raises on non-ASCII or non-UTF-8 input (a 500); here anything that is not
  a well-formed Basic credential is ``invalid_client`` with 401 and a Basic challenge (§5.2).
* ``check_one_client``: one client and one authentication method per request (RFC 6749 §2.3):
  a ``client_id`` in the body or query that names another client is refused, not ignored.
* ``client_key_problem`` / ``usable_keyset``: the client keys ``private_key_jwt`` can verify with,
  the same rule at registration (refused, with the reason) and at run time (a jwks_uri key the
  endpoint cannot use is left out, not fatal).
* ``claim_jti``: the used-``jti`` record, one INSERT that cannot fail on a concurrent duplicate.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from urllib.parse import unquote

from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc.jwk import ECKey, KeySet, RSAKey, import_key
from sqlalchemy.dialects import postgresql, sqlite

from idgw.storage.models import UsedAssertion

log = logging.getLogger(__name__)

#: The client assertion algorithms the token, introspection and revocation endpoints verify
#: (discovery's ``token_endpoint_auth_signing_alg_values_supported`` must list exactly these).
#: Never ``none``, never HS*: private_key_jwt proves possession of a registered *public* key.
CLIENT_ASSERTION_ALGS = ("ES256", "RS256", "PS256")
#: Which algorithms a registered key of each type may sign client assertions with.
KEY_ALGS = {"EC": ("ES256",), "RSA": ("RS256", "PS256")}
EC_CURVE = "P-256"
#: RSA moduli below 2048 bits are refused (NIST SP 800-131A; RFC 7518 §3.3 and §3.5).
MIN_RSA_BITS = 2048
#: JWK members that only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4).
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")

#: RFC 7523 §3 makes ``exp`` mandatory and lets the server "reject JWTs with an "exp" claim value
#: that is unreasonably far in the future". An assertion is made for one request, and its ``jti``
#: is kept (to refuse a replay) until ``exp`` plus the leeway: an assertion valid for years would be
#: replayable for years if that record were ever lost, and is a row kept for years. Ten minutes
#: covers clock skew and retries.
MAX_ASSERTION_LIFETIME = 600
#: Clock skew allowed on exp, nbf and iat (seconds).
ASSERTION_LEEWAY = 30
#: A ``jti`` longer than this is refused (ours are hashed, but nobody needs more).
MAX_JTI_LENGTH = 256

#: The base64 credentials of a Basic header: a 64-character client_id and a long secret, both
#: percent-encoded, fit with room to spare.
MAX_BASIC_CREDENTIALS = 1024
_BASIC = re.compile(r"(?i:basic) +([A-Za-z0-9+/]+={0,2})")
#: What a client_id can be at all (registration allows less: [A-Za-z0-9._~-]{4,64}). Anything
#: else is no client, and never reaches the database (PostgreSQL refuses NUL in text: a 500).
CLIENT_ID_PATTERN = r"[\x21-\x7e]{1,64}"
_CLIENT_ID = re.compile(CLIENT_ID_PATTERN)

ASSERTION_METHOD = JWTBearerClientAssertion.CLIENT_AUTH_METHOD


def plausible_client_id(value) -> bool:
    return isinstance(value, str) and _CLIENT_ID.fullmatch(value) is not None


def client_auth_error(description: str, *, header: bool = False) -> InvalidClientError:
    """``invalid_client``; 401 with a Basic challenge when the client used the Authorization
    header (RFC 6749 §5.2). ``description`` must be ASCII (it goes into WWW-Authenticate)."""
    return InvalidClientError(description=description, status_code=401 if header else 400)


def authorization_headers(headers) -> list[str]:
    getlist = getattr(headers, "getlist", None)
    if getlist is not None:
        return list(getlist("authorization"))
    value = headers.get("Authorization") if headers is not None else None
    return [] if value is None else [value]


def basic_credentials(headers) -> tuple[str, str] | None:
    """(client_id, client_secret) from ``Authorization: Basic``, None if the request has no
    Authorization header. Raises ``invalid_client`` (401) for anything else: another scheme, more
    than one header, not base64, not UTF-8 once decoded, no colon, an empty part, bad
    percent-encoding (RFC 6749 §2.3.1 form-encodes both before Basic encoding), control
    characters or Unicode whitespace, or more than ``MAX_BASIC_CREDENTIALS``."""
    values = authorization_headers(headers)
    if not values:
        return None

    def refuse(why: str) -> InvalidClientError:
        return client_auth_error(f"Malformed Basic credentials: {why}", header=True)

    if len(values) > 1:
        raise refuse("more than one Authorization header")
    # Header values arrive as latin-1 text; only ASCII space and tab are optional whitespace (RFC 9110 §5.5).
    match = _BASIC.fullmatch(values[0].strip(" \t"))
    if match is None:
        raise refuse("send 'Basic' and base64(client_id:client_secret), ASCII only")
    token = match.group(1)
    if len(token) > MAX_BASIC_CREDENTIALS:
        raise refuse("too long")
    try:
        text = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("utf-8")
        client_id, colon, secret = text.partition(":")
        client_id, secret = unquote(client_id, errors="strict"), unquote(secret, errors="strict")
    except (binascii.Error, UnicodeDecodeError):
        raise refuse("not base64 of UTF-8 text") from None
    if not colon or not client_id or not secret:
        raise refuse("client_id:client_secret expected")
    if not plausible_client_id(client_id) or not secret.isprintable():
        raise refuse("control characters or whitespace")
    return client_id, secret


def check_one_client(request, client, basic: tuple[str, str] | None) -> None:
    """After Authlib authenticated ``client`` by ``request.auth_method``: every client
    credential in the request must be that method's, and every client_id must be that client's
    (RFC 6749 §2.3: one method per request). Otherwise the request is ambiguous about who is
    asking, and is refused rather than answered for whichever client won."""
    method = getattr(request, "auth_method", None)
    form = getattr(request, "form", None) or {}
    args = getattr(request, "args", None) or {}
    header = bool(authorization_headers(request.headers))
    presented = set()
    if basic is not None:
        presented.add("client_secret_basic")
    if "client_secret" in form:
        presented.add("client_secret_post")
    if "client_assertion" in form or "client_assertion_type" in form:
        presented.add(ASSERTION_METHOD)
    if presented - {method}:
        raise client_auth_error("Use one client authentication method per request (RFC 6749 section 2.3)",
                                header=header)
    named = [basic[0]] if basic else []
    named += [v for v in (form.get("client_id"), args.get("client_id")) if v is not None]
    if any(name != client.get_client_id() for name in named):
        raise client_auth_error("client_id does not match the authenticated client", header=header)


def _key_name(data, index: int) -> str:
    kid = data.get("kid") if isinstance(data, dict) else None
    return f"key #{index} (kid {kid!r})" if isinstance(kid, str) else f"key #{index}"


def _import_client_key(data) -> tuple[ECKey | RSAKey | None, str | None]:
    """(key, None) if ``data`` is a public JWK that can verify a client assertion with one of
    ``CLIENT_ASSERTION_ALGS``, else (None, the reason)."""
    if not isinstance(data, dict):
        return None, "is not a JSON object"
    kty, crv, alg = data.get("kty"), data.get("crv"), data.get("alg")
    if kty == "oct":
        return None, "is a symmetric (oct) key: private_key_jwt needs a public key"
    leaked = [m for m in PRIVATE_MEMBERS if m in data]
    if leaked:
        return None, f"contains private key material ({', '.join(leaked)}): register the public key only"
    if not isinstance(kty, str) or kty not in KEY_ALGS:  # a list or object as kty is not hashable
        return None, f"has kty {kty!r}: only EC ({EC_CURVE}) and RSA keys are accepted"
    if kty == "EC" and crv != EC_CURVE:
        return None, f"has crv {crv!r}: only {EC_CURVE} (ES256) is accepted"
    if alg is not None and alg not in KEY_ALGS[kty]:
        return None, f"has alg {alg!r}: an {kty} key here signs {' or '.join(KEY_ALGS[kty])}"
    if data.get("use", "sig") != "sig":
        return None, f"has use {data.get('use')!r}: must be sig"
    key_ops = data.get("key_ops")
    if key_ops is not None and not (isinstance(key_ops, list) and "verify" in key_ops):
        return None, "has key_ops without verify"
    if "kid" in data and not isinstance(data["kid"], str):
        return None, "has a kid that is not a string"
    try:
        key = import_key(data)
        size = key.public_key.key_size
    except Exception:  # noqa: BLE001 - joserfc and cryptography raise several types for a bad key
        return None, f"is not a valid {kty} public key"
    if kty == "RSA" and size < MIN_RSA_BITS:
        return None, f"is RSA-{size}: at least {MIN_RSA_BITS} bits are required"
    return key, None


def client_key_problem(data) -> str | None:
    """Why this JWK cannot verify client assertions at the token endpoint, or None if it can."""
    return _import_client_key(data)[1]


def jwks_problems(jwks) -> list[str]:
    """Everything wrong with a client JWKS offered for registration, each naming the key."""
    if not isinstance(jwks, dict):
        return ['the client JWKS must be a JSON object with a "keys" list']
    keys = jwks.get("keys")
    if not isinstance(keys, list) or not keys:
        return ['the client JWKS needs a non-empty "keys" list']
    problems, kids = [], set()
    for i, data in enumerate(keys):
        problem = client_key_problem(data)
        if problem:
            problems.append(f"{_key_name(data, i)} {problem}")
        elif isinstance(data.get("kid"), str):
            if data["kid"] in kids:
                problems.append(f"{_key_name(data, i)} repeats a kid: each key needs its own")
            kids.add(data["kid"])
    return problems


def private_keys(jwks) -> list[str]:
    """The keys of a JWKS that carry private or symmetric key material (``PRIVATE_MEMBERS``: an
    EC or RSA key's "d", RSA's "p", "q", ..., an oct key's "k"), each named as ``jwks_problems``
    names it. Such a JWKS is refused at registration (``jwks_problems`` says why per key): the
    private key has left the service and must be replaced, not registered."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    return [_key_name(data, i) for i, data in enumerate(keys if isinstance(keys, list) else [])
            if isinstance(data, dict) and any(m in data for m in PRIVATE_MEMBERS)]


def usable_keyset(jwks, *, client_id: str) -> KeySet:
    """The keys of ``jwks`` that can verify this client's assertions; the others are logged and
    left out. Raises ``invalid_client`` if none is left."""
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    usable = []
    for i, data in enumerate(keys if isinstance(keys, list) else []):
        key, problem = _import_client_key(data)
        if key is None:
            log.warning("client %s: %s ignored: it %s", client_id, _key_name(data, i), problem)
        else:
            usable.append(key)
    if not usable:
        raise client_auth_error("The client has no keys this server can verify assertions with")
    return KeySet(usable)


_USED = UsedAssertion.__table__
# ON CONFLICT DO NOTHING: of two transactions inserting one jti at once, the second waits for the
# first and then inserts nothing, so it reads as "used" instead of failing on the primary key.
# RETURNING says whether this statement inserted the row (psycopg reports no rowcount here).
_CLAIM_JTI = {
    "postgresql": postgresql.insert(_USED).on_conflict_do_nothing(index_elements=[_USED.c.jti_hash])
    .returning(_USED.c.jti_hash),
    "sqlite": sqlite.insert(_USED).on_conflict_do_nothing(index_elements=[_USED.c.jti_hash])
    .returning(_USED.c.jti_hash),
}


def claim_jti(db, *, jti_hash: str, expires_at: int) -> bool:
    """Record a client assertion's jti; False if it was recorded before (a replay)."""
    conn = db.connection()
    row = conn.execute(_CLAIM_JTI[conn.dialect.name], {"jti_hash": jti_hash, "expires_at": expires_at}).first()
    return row is not None
