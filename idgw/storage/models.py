"""SQLAlchemy 2 tables. Times are integer Unix seconds (UTC) so SQLite and PostgreSQL agree.

Codes and tokens are stored as SHA-256 hashes only (OWASP ASVS 5.0 V7/V10): a database read
does not give anyone a usable credential.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates


class Base(DeclarativeBase):
    pass


class Client(Base):
    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # SHA-256 of a 256-bit random secret; high-entropy secrets need no slow hash (ASVS V11.4).
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    redirect_uris: Mapped[list] = mapped_column(JSON)
    post_logout_redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40))
    grant_types: Mapped[list] = mapped_column(JSON)
    scope: Mapped[str] = mapped_column(Text)
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(10), default="ES256")
    subject_type: Mapped[str] = mapped_column(String(10), default="pairwise")
    jwks: Mapped[dict | None] = mapped_column(JSON)
    jwks_uri: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[int] = mapped_column(BigInteger)
    # OpenID Connect Back-Channel Logout 1.0 §2.2: where the gateway POSTs logout tokens.
    backchannel_logout_uri: Mapped[str | None] = mapped_column(Text)
    backchannel_logout_session_required: Mapped[bool] = mapped_column(Boolean, default=False,
                                                                       server_default=false())
    # OIDC Core §8.1: pairwise ``sub`` is keyed by the sector (the redirect URIs' host, or the host
    # of a registered sector_identifier_uri), so one agency's services share a ``sub``. None only
    # for clients registered before sectors (keyed by client_id, as they always were).
    sector_identifier: Mapped[str | None] = mapped_column(String(255))
    sector_identifier_uri: Mapped[str | None] = mapped_column(Text)
    # RFC 8935 push delivery of Security Event Tokens (delegation revoked): where the gateway POSTs them.
    security_event_uri: Mapped[str | None] = mapped_column(Text)
    # Set while an admin has disabled the service: no sign-in, no token, no refresh for it.
    disabled_at: Mapped[int | None] = mapped_column(BigInteger)


def username_key(username: str) -> str:
    """How usernames compare: Unicode NFKC, case-folded, without surrounding blanks. Computed in
    Python for both databases (SQLite's lower() folds ASCII only, PostgreSQL's follows the
    collation), so a name typed at sign-in finds its account the same way on either."""
    return unicodedata.normalize("NFKC", username.strip()).casefold()


class Account(Base):
    __tablename__ = "accounts"
    # The admin console's list of accounts that cannot sign in now (idgw.admin.held_accounts):
    # partial, so only the few with a wait or a lock are in it.
    __table_args__ = (Index("ix_accounts_held", "locked_until", sqlite_where=text("locked_until > 0"),
                            postgresql_where=text("locked_until > 0")),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(200), unique=True)
    # What a typed username is looked up by (``username_key``), set with the username. Unique, so
    # "Somchai" and "somchai" cannot be two accounts, and indexed, so a password sign-in finds the
    # account without scanning the table. Nullable only for the release before migration 0011,
    # which may still create accounts (without it) during a rolling upgrade: ``find_account``.
    username_key: Mapped[str | None] = mapped_column(String(200), unique=True, index=True)
    password_hash: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    given_name: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str | None] = mapped_column(String(200))
    given_name_th: Mapped[str | None] = mapped_column(String(200))
    family_name_th: Mapped[str | None] = mapped_column(String(200))
    citizen_id: Mapped[str | None] = mapped_column(String(13), unique=True)
    # Identity assurance reached by this account's proofing (self-asserted local accounts: 1.1).
    ial: Mapped[str] = mapped_column(String(4), default="1.1", server_default="1.1")
    ial_verified_at: Mapped[int | None] = mapped_column(BigInteger)
    ial_evidence: Mapped[str | None] = mapped_column(String(64))
    # OIDC for Identity Assurance 1.0 ``evidence`` of the proofing that set ``ial`` (None: upstream).
    ial_evidence_detail: Mapped[list | None] = mapped_column(JSON)
    locale: Mapped[str | None] = mapped_column(String(5))
    roles: Mapped[list] = mapped_column(JSON, default=list)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[int] = mapped_column(BigInteger)
    # Set while an admin has disabled the account: it cannot sign in, its sessions are ended.
    disabled_at: Mapped[int | None] = mapped_column(BigInteger)

    @validates("username")
    def _keep_key(self, _name: str, value: str) -> str:
        self.username_key = username_key(value)
        return value


class LoginSession(Base):
    """A gateway session (the browser's login), identified publicly by ``id`` (the ``sid`` claim)."""

    __tablename__ = "sessions"
    # The purge finds sessions long ended, or long expired without an end (idgw.purge). Partial:
    # a new session (not ended) adds no entry to the first.
    __table_args__ = (Index("ix_sessions_ended", "ended_at", sqlite_where=text("ended_at IS NOT NULL"),
                            postgresql_where=text("ended_at IS NOT NULL")),
                      Index("ix_sessions_expires", "expires_at"),
                      # Partial: most sessions start a group of their own (group_id None) and add
                      # no entry; the lookups compare it with "=" or IN, which imply NOT NULL.
                      Index("ix_sessions_group", "group_id", sqlite_where=text("group_id IS NOT NULL"),
                            postgresql_where=text("group_id IS NOT NULL")))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    cookie_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    auth_time: Mapped[int] = mapped_column(BigInteger)
    last_seen: Mapped[int] = mapped_column(BigInteger)
    ial: Mapped[str] = mapped_column(String(4), default="1.1", server_default="1.1")
    aal: Mapped[str] = mapped_column(String(4))
    amr: Mapped[list] = mapped_column(JSON)
    # Each factor used in this session: {"amr": [...], "at": epoch}; the AAL is derived from them.
    factors: Mapped[list] = mapped_column(JSON, default=list)
    provider: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[int] = mapped_column(BigInteger)
    idle_timeout: Mapped[int | None] = mapped_column(Integer)
    ended_at: Mapped[int | None] = mapped_column(BigInteger)
    # Sessions of one person in one browser, each replacing the previous when they sign in again
    # (a new id each time: session fixation). Signing out ends the whole group and the tokens
    # issued in any of its sessions. None: the group is the session itself.
    group_id: Mapped[str | None] = mapped_column(String(36))
    # Shown on the account page ("each session with browser/device, IP, time and service"): where
    # the sign-in came from and for which e-service (None: the gateway's own pages).
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    client_id: Mapped[str | None] = mapped_column(String(64))


class Interaction(Base):
    """An authorization request waiting for the person (login, consent) before a code is issued."""

    __tablename__ = "interactions"
    # The purge finds expired rows by expiry (idgw.purge), in a table of one row per sign-in.
    __table_args__ = (Index("ix_interactions_expires", "expires_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # None: a sign-in to the gateway's own pages (/signin: the account page, staff pages), whose
    # params hold {"local": {"next": path, "aal": level}} instead of an authorization request.
    client_id: Mapped[str | None] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    params: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    completed_at: Mapped[int | None] = mapped_column(BigInteger)


class AuthorizationCode(Base):
    __tablename__ = "authorization_codes"
    __table_args__ = (Index("ix_codes_expires", "expires_at"),  # the purge (idgw.purge)
                      # A mandate's revocation finds the e-services it reached; partial: a code
                      # issued to someone acting for themselves (nearly all) adds no entry.
                      Index("ix_codes_mandate", "mandate_id", sqlite_where=text("mandate_id IS NOT NULL"),
                            postgresql_where=text("mandate_id IS NOT NULL")))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    session_id: Mapped[str] = mapped_column(String(36))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    auth_time: Mapped[int] = mapped_column(BigInteger)
    acr: Mapped[str] = mapped_column(String(64))
    amr: Mapped[list] = mapped_column(JSON)
    ial: Mapped[str] = mapped_column(String(4), default="1.1", server_default="1.1")
    aal: Mapped[str] = mapped_column(String(4), default="1", server_default="1")
    claims: Mapped[dict | None] = mapped_column(JSON)  # the parsed `claims` request parameter
    # What the person agreed to release for this grant ("userinfo/email", ...; idgw.release).
    release: Mapped[list | None] = mapped_column(JSON)
    # The delegation the person acts under (idgw.delegation), and the act named, if any.
    mandate_id: Mapped[str | None] = mapped_column(String(36))
    mandate_act: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    redeemed_at: Mapped[int | None] = mapped_column(BigInteger)


class Token(Base):
    """An issued access or refresh token. ``family_id`` ties every token descending from one
    authorization code, so a replayed code or a reused refresh token revokes them all."""

    __tablename__ = "tokens"
    __table_args__ = (Index("ix_tokens_family", "family_id"), Index("ix_tokens_session", "session_id"),
                      Index("ix_tokens_account", "account_id"),
                      # The purge finds expired rows by expiry: at steady state the table holds
                      # tens of millions of rotated refresh tokens (idgw.purge).
                      Index("ix_tokens_expires", "expires_at"),
                      # ...and revoked rows whose family can no longer be valid. Partial: issuing a
                      # token (not revoked) writes no entry to it.
                      Index("ix_tokens_revoked", "revoked_at", sqlite_where=text("revoked_at IS NOT NULL"),
                            postgresql_where=text("revoked_at IS NOT NULL")),
                      # Partial, like the two below: only access tokens carry a jti, and only
                      # tokens issued under a mandate carry its id. A refresh token (half the
                      # rows, and the ones kept longest) and a sign-in for oneself add no entry.
                      Index("ux_tokens_jti", "jti", unique=True, sqlite_where=text("jti IS NOT NULL"),
                            postgresql_where=text("jti IS NOT NULL")),
                      Index("ix_tokens_mandate", "mandate_id", sqlite_where=text("mandate_id IS NOT NULL"),
                            postgresql_where=text("mandate_id IS NOT NULL")))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # access | refresh
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    jti: Mapped[str | None] = mapped_column(String(64))
    family_id: Mapped[str] = mapped_column(String(36))
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    session_id: Mapped[str] = mapped_column(String(36))
    scope: Mapped[str] = mapped_column(Text)
    auth_time: Mapped[int] = mapped_column(BigInteger)
    acr: Mapped[str] = mapped_column(String(64))
    amr: Mapped[list] = mapped_column(JSON)
    ial: Mapped[str] = mapped_column(String(4), default="1.1", server_default="1.1")
    aal: Mapped[str] = mapped_column(String(4), default="1", server_default="1")
    claims: Mapped[dict | None] = mapped_column(JSON)
    release: Mapped[list | None] = mapped_column(JSON)
    mandate_id: Mapped[str | None] = mapped_column(String(36))
    mandate_act: Mapped[str | None] = mapped_column(String(64))
    issued_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    rotated_at: Mapped[int | None] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    # The refresh token this pair was issued for (None: issued for a code or an exchange), so the
    # rotation grace (idgw.oidc.grants.RefreshTokenGrant) can find the pair a lost response
    # carried. Looked up within the family (ix_tokens_family), on the rare grace path only, so it
    # needs no index of its own to slow down every token's insert.
    parent_id: Mapped[str | None] = mapped_column(String(36))


class SigningKey(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    kty: Mapped[str] = mapped_column(String(8))  # EC | RSA
    # Private JWK, AES-256-GCM encrypted with a key derived from IDGW_SECRET_KEY.
    private_jwk: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[int] = mapped_column(BigInteger)
    # Set when a newer key replaces this one: it signs nothing more, but stays in JWKS until
    # ``retired_at + max token lifetime`` so tokens it signed still verify.
    retired_at: Mapped[int | None] = mapped_column(BigInteger)
    unpublish_at: Mapped[int | None] = mapped_column(BigInteger)


class ServicePolicyVersion(Base):
    """One version of an e-service's assurance policy. Exactly one per client is current (the
    highest version); older versions stay as history."""

    __tablename__ = "service_policies"
    __table_args__ = (UniqueConstraint("client_id", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    min_ial: Mapped[str] = mapped_column(String(4))
    min_aal: Mapped[str] = mapped_column(String(4))
    max_age: Mapped[int | None] = mapped_column(Integer)
    allowed_providers: Mapped[list | None] = mapped_column(JSON)
    allowed_authenticators: Mapped[list | None] = mapped_column(JSON)
    release_citizen_id: Mapped[bool] = mapped_column(Boolean, default=False)
    citizen_id_legal_basis: Mapped[str | None] = mapped_column(Text)
    delegation_allowed: Mapped[bool] = mapped_column(Boolean, default=False)
    release_verified_claims: Mapped[bool] = mapped_column(Boolean, default=False)
    assessment: Mapped[dict] = mapped_column(JSON)  # answers + computed floors + reasons
    justification: Mapped[str | None] = mapped_column(Text)
    set_by: Mapped[str] = mapped_column(String(120))
    set_at: Mapped[int] = mapped_column(BigInteger)


class AccountAuthenticator(Base):
    """An enrolled factor: a TOTP secret (sealed at rest) or a WebAuthn credential."""

    __tablename__ = "authenticators"
    __table_args__ = (Index("ix_authenticators_account", "account_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # totp | webauthn
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[int] = mapped_column(BigInteger)
    confirmed_at: Mapped[int | None] = mapped_column(BigInteger)
    last_used_at: Mapped[int | None] = mapped_column(BigInteger)
    # TOTP: AES-GCM sealed base32 secret, and the last time step accepted (RFC 6238 §5.2 replay)
    secret_sealed: Mapped[str | None] = mapped_column(Text)
    last_step: Mapped[int | None] = mapped_column(BigInteger)
    # WebAuthn
    credential_id: Mapped[str | None] = mapped_column(String(1400), unique=True)  # base64url
    public_key: Mapped[str | None] = mapped_column(Text)  # base64url COSE key
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    aaguid: Mapped[str | None] = mapped_column(String(36))
    transports: Mapped[list | None] = mapped_column(JSON)
    discoverable: Mapped[bool] = mapped_column(Boolean, default=False)
    attested: Mapped[bool] = mapped_column(Boolean, default=False)  # attestation verified + AAGUID allow-listed
    flagged_at: Mapped[int | None] = mapped_column(BigInteger)  # sign-counter regression: refused from then on


class RecoveryCode(Base):
    """Single-use recovery codes (NIST SP 800-63B look-up secrets), stored hashed."""

    __tablename__ = "recovery_codes"
    __table_args__ = (Index("ix_recovery_account", "account_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[int | None] = mapped_column(BigInteger)


class WebAuthnChallenge(Base):
    """A WebAuthn challenge, single use, bound to the browser (and session) that asked for it."""

    __tablename__ = "webauthn_challenges"
    __table_args__ = (Index("ix_webauthn_challenges_expires", "expires_at"),)  # the purge

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the challenge
    purpose: Mapped[str] = mapped_column(String(16))  # register | authenticate
    browser_hash: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str | None] = mapped_column(String(36))
    session_id: Mapped[str | None] = mapped_column(String(36))
    require_uv: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)


class AccountLink(Base):
    """An upstream identity (ThaiD, NDID, ...) linked to a gateway account, keyed by the verified
    citizen ID; the raw upstream levels are kept as provenance."""

    __tablename__ = "account_links"
    __table_args__ = (UniqueConstraint("provider", "subject"), Index("ix_links_account", "account_id"))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(64))
    issuer: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(255))
    ial: Mapped[str] = mapped_column(String(4))
    aal: Mapped[str] = mapped_column(String(4))
    raw_levels: Mapped[dict] = mapped_column(JSON, default=dict)
    linked_at: Mapped[int] = mapped_column(BigInteger)
    last_login_at: Mapped[int | None] = mapped_column(BigInteger)


class UpstreamAttempt(Base):
    """One sign-in attempt at an upstream: the state to check its answer against (OIDC state,
    nonce, PKCE verifier; NDID request id and status), bound to the browser and interaction."""

    __tablename__ = "upstream_attempts"
    __table_args__ = (Index("ix_upstream_attempts_expires", "expires_at"),)  # the purge

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64))
    interaction_id: Mapped[str | None] = mapped_column(String(64))
    browser_hash: Mapped[str] = mapped_column(String(64))
    lookup: Mapped[str | None] = mapped_column(String(128), unique=True)  # OIDC state / NDID reference_id
    state: Mapped[dict] = mapped_column(JSON)
    link_account_id: Mapped[str | None] = mapped_column(String(36))  # linking to a signed-in account
    created_at: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)
    finished_at: Mapped[int | None] = mapped_column(BigInteger)


class Consent(Base):
    __tablename__ = "consents"

    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"), primary_key=True)
    scope: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[int] = mapped_column(BigInteger)
    # Claims shown on the consent page and agreed to, beyond what the scopes name
    # ("id_token/verified_claims.given_name", ...; idgw.release).
    claims: Mapped[list | None] = mapped_column(JSON)


class ConsentReceipt(Base):
    """One grant of consent, kept as the person's receipt (PDPA s.19: consent is recorded, and it
    can be withdrawn as easily as it was given): who agreed, to which service, to release what,
    for what purpose, when, and when it was withdrawn. The service's name is copied in so the
    receipt stays readable after the service is removed."""

    __tablename__ = "consent_receipts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    client_name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(Text)
    claims: Mapped[list] = mapped_column(JSON, default=list)
    purpose: Mapped[str | None] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)  # where the citizen ID is released
    granted_at: Mapped[int] = mapped_column(BigInteger)
    withdrawn_at: Mapped[int | None] = mapped_column(BigInteger)


class LogoutDelivery(Base):
    """A back-channel logout token to deliver to one e-service for one ended session (OpenID
    Connect Back-Channel Logout 1.0), retried with back-off until delivered or given up. The token
    is signed when it is sent; ``claimed_until`` leases the row to one gateway worker at a time."""

    __tablename__ = "logout_deliveries"
    __table_args__ = (Index("ix_logout_due", "delivered_at", "failed_at", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.client_id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(String(36))
    account_id: Mapped[str] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[int] = mapped_column(BigInteger)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[int | None] = mapped_column(BigInteger)
    delivered_at: Mapped[int | None] = mapped_column(BigInteger)
    failed_at: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(String(200))


class Throttle(Base):
    """Failure counters per client IP (sliding fixed window)."""

    __tablename__ = "throttles"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[int] = mapped_column(BigInteger)


class UsedAssertion(Base):
    """``jti`` of client assertions already seen (RFC 7523 §3 replay protection)."""

    __tablename__ = "used_assertions"
    __table_args__ = (Index("ix_used_assertions_expires", "expires_at"),)  # the purge

    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger)


class InstanceSecret(Base):
    """Random per-deployment values generated on first start (e.g. the pairwise ``sub`` salt)."""

    __tablename__ = "instance_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class AuditEvent(Base):
    """One audit event, a link of a hash chain (idgw.audit.chain): ``hash`` = SHA-256 over the
    event's canonical content and ``prev_hash`` (the hash of the event before it in ``chain``);
    ``seq`` numbers the chain's events from 1 without gaps."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_name_at", "name", "at"), Index("ix_audit_at", "at"),
                      UniqueConstraint("chain", "seq", name="uq_audit_chain_seq"),
                      # The audit viewer's actor, account and service filters, newest first (migration 0016).
                      Index("ix_audit_actor", "actor", "id"),
                      Index("ix_audit_on_behalf", "on_behalf_of", "id", sqlite_where=text("on_behalf_of IS NOT NULL"),
                            postgresql_where=text("on_behalf_of IS NOT NULL")),
                      Index("ix_audit_client", "client_id", "id", sqlite_where=text("client_id IS NOT NULL"),
                            postgresql_where=text("client_id IS NOT NULL")))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str | None] = mapped_column(String(120))
    on_behalf_of: Mapped[str | None] = mapped_column(String(120))
    client_id: Mapped[str | None] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(36))
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    chain: Mapped[str] = mapped_column(String(16), default="0", server_default="0")
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


# Officer video proofing's tables share this metadata (one migration history).
from idgw.storage import console as _console  # noqa: E402,F401
from idgw.storage import delegation as _delegation  # noqa: E402,F401
from idgw.storage import proofing as _proofing  # noqa: E402,F401
