"""What Authlib sees of our rows (clients, codes, tokens, the grant's subject) and the client
authentication methods the token endpoint supports."""

from __future__ import annotations

from dataclasses import dataclass, field

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion

from idgw.release import scope_items
from idgw.security import constant_time_equal, sha256_hex
from idgw.storage.models import AuthorizationCode, Client, Token

TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
CONFIDENTIAL_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]
SCOPES_SUPPORTED = ["openid", "profile", "email", "offline_access", "citizen_id"]
#: RFC 8693's grant type (the grant is ``idgw.oidc.exchange``; registering a client may name it
#: without importing the grant).
TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"


def credential_hash(value) -> str | None:
    """How a presented code or refresh token is looked up (only hashes are stored); None for
    anything that cannot be one of ours (not a string, or longer than any we issue)."""
    if not isinstance(value, str) or len(value) > 512:
        return None
    return sha256_hex(value)


def authlib_methods(methods: list[str]) -> list[str]:
    """Authlib registers private_key_jwt under its own name."""
    return [JWTBearerClientAssertion.CLIENT_AUTH_METHOD if m == "private_key_jwt" else m for m in methods]



@dataclass(frozen=True)
class GrantSubject:
    """Who the tokens are about and how they authenticated: the ``user`` Authlib carries."""

    account_id: str
    session_id: str
    auth_time: int
    acr: str
    amr: list = field(default_factory=list)
    ial: str = "1.1"
    aal: str = "1"
    claims: dict | None = None  # the client's `claims` request parameter, if any
    release: tuple = ()  # what the person agreed to release (idgw.release)
    # The interaction this code completes: its code is derived from it, so that a repeated
    # submit of the same interaction answers with the same (single-use) code, never a second one.
    code_seed: str | None = None
    # Acting for another under a delegation (idgw.oidc.acting): the mandate and the act named.
    mandate_id: str | None = None
    mandate_act: str | None = None

    @classmethod
    def of(cls, row) -> GrantSubject:
        """From a stored code or token row."""
        return cls(account_id=row.account_id, session_id=row.session_id, auth_time=row.auth_time, acr=row.acr,
                   amr=list(row.amr), ial=row.ial, aal=row.aal, claims=row.claims,
                   mandate_id=row.mandate_id, mandate_act=row.mandate_act,
                   # rows issued before releases were recorded: what their scopes showed at consent
                   release=tuple(row.release) if row.release is not None else tuple(sorted(scope_items(row.scope))))

    def get_user_id(self) -> str:
        return self.account_id


class ClientModel(ClientMixin):
    def __init__(self, row: Client) -> None:
        self.row = row
        self.client_id = row.client_id

    def get_client_id(self):
        return self.row.client_id

    def get_default_redirect_uri(self):
        # OIDC Core §3.1.2.1: redirect_uri is required; never guess one.
        return None

    def get_allowed_scope(self, scope):
        if not scope:
            return ""
        allowed = set(self.row.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        # Exact string comparison (RFC 9700 §4.1.3): no prefix, no wildcard, no normalisation.
        return redirect_uri in self.row.redirect_uris

    def check_client_secret(self, client_secret):
        if not self.row.secret_hash:
            return False
        return constant_time_equal(sha256_hex(client_secret), self.row.secret_hash)

    def check_endpoint_auth_method(self, method, endpoint):
        if method == JWTBearerClientAssertion.CLIENT_AUTH_METHOD:
            method = "private_key_jwt"
        registered = self.row.token_endpoint_auth_method
        if endpoint == "token":
            return method == registered
        # Introspection and revocation are for confidential clients only.
        return method == registered and method != "none"

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in self.row.grant_types

    @property
    def is_public(self) -> bool:
        return self.row.token_endpoint_auth_method == "none"


class CodeModel:
    """Adapts an ``AuthorizationCode`` row to Authlib's AuthorizationCodeMixin (OAuth + OIDC).
    ``claimed``: this request has used the code up already (``AuthorizationCodeGrant``)."""

    def __init__(self, row: AuthorizationCode, *, claimed: bool = False) -> None:
        self.row = row
        self.claimed = claimed

    def get_redirect_uri(self):
        return self.row.redirect_uri

    def get_scope(self):
        return self.row.scope

    def get_nonce(self):
        return self.row.nonce

    def get_auth_time(self):
        return self.row.auth_time

    def get_acr(self):
        return self.row.acr

    def get_amr(self):
        return self.row.amr


class TokenModel:
    def __init__(self, row: Token) -> None:
        self.row = row

    def check_client(self, client):
        return self.row.client_id == client.get_client_id()

    def get_scope(self):
        return self.row.scope

    def get_expires_in(self):
        return self.row.expires_at - self.row.issued_at

    def is_expired(self):
        return False

    def is_revoked(self):
        return self.row.revoked_at is not None

