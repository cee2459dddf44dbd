"""The authorization server: Authlib's server bound to our storage, keys and policies.

Authlib does the protocol checks (RFC 6749, 7636, 7009, 7523, 7662, OIDC Core); the rules it
leaves open are ours, each in its own module:

* ``idgw.oidc.grants``: PKCE required for every client, S256 only (RFC 9700 §2.1.1); a code
  claimed with one conditional UPDATE, so two concurrent redemptions yield exactly one token
  response, and a replay revokes every token issued from the code (RFC 6749 §4.1.2); refresh
  tokens rotated on every use, a rotated one presented again revoking its family (RFC 9700 §4.14).
* ``idgw.oidc.token_endpoints``: ``private_key_jwt``, introspection and revocation.
* ``idgw.oidc.models``: what Authlib sees of clients, codes, tokens and the grant's subject.
* Here: client lookup and authentication, token issuing (access tokens are JWTs, RFC 9068, whose
  ``jti`` is recorded so revocation takes effect), ID tokens, pairwise subjects, claims.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749.errors import InvalidGrantError, OAuth2Error
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from idgw import audit
from idgw.assurance import current_policy
from idgw.oidc.acting import Acting, ActingLookup, Exchange, MandateUse, act_claim
from idgw.oidc.client_auth import (
    basic_credentials,
    check_one_client,
    client_auth_error,
    plausible_client_id,
    usable_keyset,
)
from idgw.oidc.context import current_db, current_ip, finding_disabled
from idgw.oidc.grants import (
    RAW_INSERT_TOKEN_PAIR,
    RAW_INSERT_TOKENS,
    AuthorizationCodeGrant,
    OpenIDCode,
    RefreshTokenGrant,
    S256CodeChallenge,
)
from idgw.oidc.keys import SUPPORTED_ALGS, KeyStore
from idgw.oidc.models import SCOPES_SUPPORTED, ClientModel, GrantSubject, TokenModel
from idgw.oidc.token_endpoints import Introspection, PrivateKeyJWT, Revocation
from idgw.release import claims_for
from idgw.security import b64url, derive_key, random_token, sha256_hex
from idgw.settings import Settings
from idgw.storage import memo, raw
from idgw.storage.models import Account, Client, Token

log = logging.getLogger(__name__)


class Provider(AuthorizationServer):
    """Authlib's authorization server with our storage. Request objects come from
    ``idgw.oidc.adapter``; every call runs with ``current_db`` set."""

    def __init__(self, *, settings: Settings, keys: KeyStore, clock, pairwise_salt: bytes,
                 acting: ActingLookup | None = None, mandate_use: MandateUse | None = None,
                 exchange: Exchange | None = None) -> None:
        super().__init__(scopes_supported=SCOPES_SUPPORTED)
        # Delegation of authority, handed in by app.py (idgw.oidc.acting): without it no grant acts for another.
        self._acting = acting
        self._mandate_use = mandate_use
        self.exchange = exchange
        self.settings = settings
        self._code_key = derive_key(settings.secret_key, "authorization-code")
        self.keys = keys
        self.clock = clock
        self._pairwise_salt = pairwise_salt
        # client_id@created_at -> (until, the keys, or why there are none: a jwks_uri refusal)
        self._client_keysets: dict[str, tuple[int, KeySet | str]] = {}
        self.register_token_generator("default", self._generate_token)
        self.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True), OpenIDCode(self)])
        self.register_grant(RefreshTokenGrant)
        if exchange is not None:
            from idgw.oidc.exchange import TokenExchangeGrant

            self.register_grant(TokenExchangeGrant)
        self.register_endpoint(Introspection)
        self.register_endpoint(Revocation)
        self.register_client_auth_method(JWTBearerClientAssertion.CLIENT_AUTH_METHOD, PrivateKeyJWT(self))
        self.register_client_auth_method("client_secret_basic", self._authenticate_basic)

    # -- client authentication (token, introspection, revocation) ---------------------------------
    def authenticate_client(self, request, methods, endpoint="token"):
        """Authlib's client authentication, with what it leaves open: the Authorization header
        read strictly (``basic_credentials``), one client and one method per request
        (``check_one_client``), and 401 with a Basic challenge whenever the client used the
        Authorization header (RFC 6749 §5.2). Every refusal is ``invalid_client``."""
        basic = basic_credentials(request.headers)  # raises invalid_client (401) if malformed
        try:
            client = super().authenticate_client(request, methods, endpoint)
            check_one_client(request, client, basic)
        except OAuth2Error as err:
            if basic is not None and err.error == "invalid_client":
                err.status_code = 401
            # The description goes into WWW-Authenticate (latin-1 on the wire): ASCII only.
            if err.description:
                err.description = err.description.encode("ascii", "replace").decode("ascii")
            raise
        return client

    @staticmethod
    def _authenticate_basic(query_client, request):
        """client_secret_basic from the strictly parsed header: credentials that were sent
        and are wrong end the authentication (401), whatever else the request carries."""
        basic = basic_credentials(request.headers)
        if basic is None:
            return None
        client = query_client(basic[0])
        if client is None or not client.check_client_secret(basic[1]):
            raise client_auth_error("Client authentication failed", header=True)
        return client

    # -- Authlib hooks -------------------------------------------------------------------------
    def query_client(self, client_id):
        """The client of every OIDC endpoint (/authorize, the code's issue, /token, /revoke,
        /introspect). A disabled one (``clients.disabled_at``, set in the admin console) is no
        client while it is disabled: /authorize shows the person an error page and never
        redirects to it (RFC 6749 §4.1.2.1: the client identifier is not valid now, so its
        redirect URI is not one to send anyone to; a service is often disabled because its site
        cannot be trusted), and /token and /revoke answer ``invalid_client`` (so refresh stops
        too). Only /introspect still finds it, to answer its tokens inactive (``Introspection``).
        Enabling it again restores all of it: nothing was revoked."""
        # Visible ASCII, at most 64: anything else is no client and never reaches the database
        # (a NUL in a PostgreSQL text parameter is an error, not a miss).
        if not plausible_client_id(client_id):
            return None
        # Once per transaction (a sign-in's last step looks its client up three times).
        row = memo.client_row(current_db.get(), client_id)
        if row is None or (row.disabled_at is not None and not finding_disabled.get()):
            return None
        return ClientModel(row)

    def send_signal(self, name, *args, **kwargs):
        return None

    def create_oauth2_request(self, request):
        return request

    def create_json_request(self, request):
        return request

    def handle_response(self, status, body, headers):
        return status, body, headers

    def save_token(self, token, request):
        db = current_db.get()
        now = self.clock.now()
        subject: GrantSubject = request.user
        client_id = request.client.get_client_id()
        parent_id = None
        if request.authorization_code is not None:
            family_id = request.authorization_code.row.id
        elif request.refresh_token is not None:
            family_id = request.refresh_token.row.family_id
            parent_id = request.refresh_token.row.id  # the rotation grace finds this pair by it
        else:  # token exchange: a grant of its own
            family_id = str(uuid.uuid4())
        common = dict(family_id=family_id, parent_id=parent_id, client_id=client_id, account_id=subject.account_id,
                      session_id=subject.session_id, scope=token.get("scope", ""), auth_time=subject.auth_time,
                      acr=subject.acr, amr=raw.json_param(list(subject.amr)), ial=subject.ial, aal=subject.aal,
                      claims=raw.json_param(subject.claims), release=raw.json_param(list(subject.release)),
                      issued_at=now, rotated_at=None, revoked_at=None,
                      mandate_id=subject.mandate_id, mandate_act=subject.mandate_act)
        rows = [dict(id=str(uuid.uuid4()), kind="access", token_hash=sha256_hex(token["access_token"]),
                     jti=token.pop("_jti"), expires_at=now + self.settings.access_token_ttl, **common)]
        if "refresh_token" in token:
            rows.append(dict(id=str(uuid.uuid4()), kind="refresh", token_hash=sha256_hex(token["refresh_token"]),
                             jti=None, expires_at=now + self.settings.refresh_token_ttl, **common))
        conn = db.connection()
        if len(rows) == 2 and conn.dialect.name == "postgresql":  # executemany is a pipeline there: 6x the cost
            raw.execute(conn, RAW_INSERT_TOKEN_PAIR, raw.row_params(rows))
        else:  # sqlite3's executemany is one prepared statement stepped twice (measured: 12% less CPU per token)
            raw.execute(conn, RAW_INSERT_TOKENS, rows)
        if request.authorization_code is not None:
            audit.record(db, "token.issued", at=now, actor=subject.account_id, client_id=client_id,
                         session_id=subject.session_id, ip=current_ip.get(),
                         refresh="refresh_token" in token)

    # -- tokens ----------------------------------------------------------------------------------
    def derived_code(self, seed: str) -> str:
        """The authorization code for an interaction: HMAC of its random id under a key derived
        from the secret key, so unguessable, and the same for a repeated submit (see GrantSubject)."""
        return b64url(hmac.digest(self._code_key, f"code|{seed}".encode(), "sha256")).decode()

    def code_location(self, *, params: dict, code: str) -> str:
        """The authorization response for ``code`` (code, state, iss: RFC 6749 §4.1.2, RFC 9207)."""
        query = [("code", code)] + ([("state", params["state"])] if params.get("state") else [])
        return add_params_to_uri(params["redirect_uri"], [*query, ("iss", self.settings.issuer)])

    def endpoint(self, name: str) -> str:
        return self.settings.issuer + ENDPOINT_PATHS[name]

    def subject_for(self, *, client: Client, account_id: str) -> str:
        """Pairwise ``sub`` by default (OIDC Core §8.1): HMAC(instance salt, sector, account), where
        the sector is the host of the client's redirect URIs or of its sector_identifier_uri, so
        one agency's services on one host see one ``sub`` and different hosts never do. Clients
        registered before sectors existed keep their per-client key."""
        if client.subject_type == "public":
            return account_id
        key = f"sector:{client.sector_identifier}" if client.sector_identifier else client.client_id
        # hmac.digest: OpenSSL's one-shot HMAC, a fifth of building an hmac.HMAC object per call
        return hmac.digest(self._pairwise_salt, f"{key}\x00{account_id}".encode(), "sha256").hex()

    def _generate_token(self, grant_type, client, user, scope, expires_in=None, include_refresh_token=True):
        scope = client.get_allowed_scope(scope)
        now = self.clock.now()
        jti = random_token(18)
        who = self.identity(client=client.row, subject=user, target=None, scope=scope)
        if who is None:
            raise InvalidGrantError("The delegation this grant acts under is no longer in effect.")
        claims = {
            "iss": self.settings.issuer, **who,
            "aud": client.get_client_id(), "client_id": client.get_client_id(), "iat": now,
            "exp": now + self.settings.access_token_ttl, "jti": jti, "scope": scope,
            "auth_time": user.auth_time, "acr": user.acr, "amr": list(user.amr), "sid": user.session_id,
            "ial": user.ial, "aal": user.aal,
        }
        access_token = self.keys.signer("ES256").sign(claims, typ="at+jwt")
        token = {"token_type": "Bearer", "access_token": access_token,
                 "expires_in": self.settings.access_token_ttl, "scope": scope, "_jti": jti}
        # Refresh tokens only for offline_access that the person consented to (OIDC Core §11).
        if include_refresh_token and "offline_access" in scope.split():
            token["refresh_token"] = random_token(32)
        return token

    def encode_id_token(self, *, client: ClientModel, subject: GrantSubject, access_token: str | None,
                        nonce: str | None, scope: str) -> str:
        alg = client.row.id_token_signed_response_alg or "ES256"
        signer = self.keys.signer(alg)
        now = self.clock.now()
        who = self.identity(client=client.row, subject=subject, target="id_token", scope=scope)
        if who is None:
            raise InvalidGrantError("The delegation this grant acts under is no longer in effect.")
        claims = {
            "iss": self.settings.issuer, "aud": client.get_client_id(), "iat": now,
            "exp": now + self.settings.id_token_ttl,
            "auth_time": subject.auth_time, "acr": subject.acr, "amr": list(subject.amr),
            "sid": subject.session_id, "ial": subject.ial, "aal": subject.aal, **who,
        }
        if nonce:
            claims["nonce"] = nonce
        if access_token:
            # OIDC Core §3.1.3.6: left half of the SHA-256 of the access token (all our algs are *256)
            claims["at_hash"] = b64url(hashlib.sha256(access_token.encode("ascii")).digest()[:16]).decode()
        return signer.sign(claims, typ="JWT")

    def released(self, *, client_id: str, subject: GrantSubject, target: str, scope: str) -> dict:
        """The claims the person agreed to release to ``target`` (``id_token`` or ``userinfo``) for
        this grant (``idgw.release``; nothing is read when nothing was agreed for the target)."""
        if not subject.release or not any(item.startswith(target + "/") for item in subject.release):
            return {}
        db = current_db.get()
        account = db.get(Account, subject.account_id)
        if account is None:
            return {}
        return claims_for(release=subject.release, target=target, account=account, scope=scope,
                          policy=current_policy(db, client_id))

    def acting_for(self, db, *, subject: GrantSubject, client_id: str, purpose: str = "read") -> Acting | None:
        """Whom a grant under a delegation is about, or None when the delegation no longer allows it."""
        if self._acting is None:
            return None
        return self._acting(db, mandate_id=subject.mandate_id, account_id=subject.account_id, client_id=client_id,
                            act=subject.mandate_act, now=self.clock.now(), purpose=purpose)

    def use_mandate(self, db, **kwargs) -> bool:
        return self._mandate_use is not None and self._mandate_use(db, **kwargs)

    def identity(self, *, client: Client, subject: GrantSubject, target: str | None, scope: str) -> dict | None:
        """Who a token or response is about: ``sub`` and the claims released to ``target``
        (``id_token``, ``userinfo``, or None for an access token); acting under a delegation,
        ``sub`` is the principal and ``act`` and ``delegation`` say who acts and how
        (``idgw.oidc.acting``). None when that delegation no longer allows it."""
        released = self.released(client_id=client.client_id, subject=subject, target=target,
                                 scope=scope) if target else {}
        if not subject.mandate_id:
            return {"sub": self.subject_for(client=client, account_id=subject.account_id), **released}
        acting = self.acting_for(current_db.get(), subject=subject, client_id=client.client_id)
        if acting is None:
            return None
        return {"sub": self.subject_for(client=client, account_id=acting.principal),
                "act": act_claim(acting, sub_of=lambda key: self.subject_for(client=client, account_id=key),
                                 released=released),
                "delegation": acting.claim}

    def verify_own_jwt(self, token: str, *, typ: str | None = None, check_exp: bool = True) -> dict:
        """Verify a JWT we signed (signature, alg allow-list, iss, optionally typ and exp).
        Raises ``ValueError`` with a public reason otherwise. ``alg=none`` never verifies."""
        from joserfc.errors import JoseError

        self.keys.refresh()
        try:
            decoded = jwt.decode(token, self.keys.public_keyset, algorithms=list(SUPPORTED_ALGS))
        except (JoseError, ValueError, TypeError) as exc:
            raise ValueError("signature or format invalid") from exc
        if typ is not None and decoded.header.get("typ") != typ:
            raise ValueError("wrong token type")
        claims = decoded.claims
        if claims.get("iss") != self.settings.issuer:
            raise ValueError("wrong issuer")
        if check_exp and not (isinstance(claims.get("exp"), int) and claims["exp"] > self.clock.now()):
            raise ValueError("expired")
        return claims

    def find_token(self, token_string: str) -> TokenModel | None:
        if not isinstance(token_string, str) or len(token_string) > 8192:
            return None
        row = current_db.get().scalar(select(Token).where(Token.token_hash == sha256_hex(token_string)))
        return TokenModel(row) if row else None

    def client_keyset(self, client: Client) -> KeySet:
        """The client's public keys for private_key_jwt: its registered JWKS, or its jwks_uri
        read (``_fetch_jwks``) and kept for ``JWKS_CACHE_SECONDS``. A jwks_uri that could not be
        read, or served no usable key, is not read again for ``JWKS_RETRY_SECONDS``: the keys are
        looked up before the assertion's signature is checked, so anyone can make a request that
        names the client, and each read holds a worker thread for up to the fetch's deadline."""
        now = self.clock.now()
        # Keyed by registration time and by the registered keys too, so a re-registered client, or
        # one whose JWKS or jwks_uri an admin changed, never gets stale keys.
        registered = sha256_hex(json.dumps(client.jwks, sort_keys=True)) if client.jwks else client.jwks_uri
        cache_key = f"{client.client_id}@{client.created_at}@{registered}"
        cached = self._client_keysets.get(cache_key)
        if cached and cached[0] > now:
            if isinstance(cached[1], str):
                raise client_auth_error(cached[1])
            return cached[1]
        # Keys the endpoint cannot verify with (``idgw.oidc.client_auth.client_key_problem``:
        # private or symmetric, other curves, short RSA, wrong alg or use) are left out, whether
        # registered before registration checked them or served by the jwks_uri; none left, or
        # no keys at all, is invalid_client.
        if client.jwks:
            keyset = usable_keyset(client.jwks, client_id=client.client_id)
            self._client_keysets[cache_key] = (2**62, keyset)  # parsed once per process
            return keyset
        if not client.jwks_uri:
            raise client_auth_error("The client has no registered keys")
        try:
            keyset = usable_keyset(_fetch_jwks(client.jwks_uri), client_id=client.client_id)
        except OAuth2Error as err:  # read, but no key the endpoint can verify with
            refusal = err.description
        except Exception as exc:  # noqa: BLE001 - any failure means the client cannot authenticate
            log.warning("jwks_uri fetch failed for client %s: %s", client.client_id, type(exc).__name__)
            refusal = "The client's keys are unavailable"
        else:
            self._client_keysets[cache_key] = (now + JWKS_CACHE_SECONDS, keyset)
            return keyset
        self._client_keysets[cache_key] = (now + JWKS_RETRY_SECONDS, refusal)
        raise client_auth_error(refusal)

    def authorization_error_redirect(self, *, redirect_uri: str, error: str, description: str | None,
                                     state: str | None) -> str:
        """Error redirect to a verified redirect URI, with ``iss`` (RFC 9207 §2)."""
        params = [("error", error)]
        if description:
            params.append(("error_description", description))
        if state:
            params.append(("state", state))
        params.append(("iss", self.settings.issuer))
        return add_params_to_uri(redirect_uri, params)


#: The largest JWKS read from a client's jwks_uri (a JWKS of a few keys is a few KiB).
MAX_JWKS_BYTES = 64 * 1024
#: How long the keys read from a jwks_uri are used, and how long a failed read is remembered (seconds).
JWKS_CACHE_SECONDS = 300
JWKS_RETRY_SECONDS = 30
#: How long reading a jwks_uri's body may take in all (httpx's timeout is per connect or read,
#: so a server sending a byte every few seconds would otherwise hold the thread for hours).
JWKS_FETCH_DEADLINE = 5.0


def _fetch_jwks(uri: str):
    """The JSON at a client's jwks_uri: 3 seconds per connect or read and ``JWKS_FETCH_DEADLINE``
    for the body, no redirects, at most ``MAX_JWKS_BYTES``."""
    import time

    import httpx

    deadline = time.monotonic() + JWKS_FETCH_DEADLINE
    with httpx.stream("GET", uri, timeout=3.0, follow_redirects=False) as resp:
        resp.raise_for_status()
        body = bytearray()
        for chunk in resp.iter_bytes():
            body += chunk
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError("JWKS too large")
            if time.monotonic() > deadline:
                raise TimeoutError("JWKS too slow")
    return json.loads(body)


ENDPOINT_PATHS = {
    "authorization": "/authorize",
    "token": "/token",
    "userinfo": "/userinfo",
    "jwks": "/jwks.json",
    "introspection": "/introspect",
    "revocation": "/revoke",
    "end_session": "/logout",
}

