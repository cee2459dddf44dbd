"""Settings, read once from the environment (``IDGW_*``) and validated at start-up.

Secure defaults: outside dev mode the gateway refuses an ``http`` issuer and placeholder or short
secrets (OWASP ASVS 5.0 V13 configuration). Dev mode exists for ``make run`` and the tests only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

PLACEHOLDER_SECRET = "dev-only-insecure-secret-change-me-0000000000"
_PLACEHOLDERS = {PLACEHOLDER_SECRET, "", "changeme", "change-me", "secret"}


#: Integer settings for which 0 means "off" (the others must be at least 1).
_MAY_BE_ZERO = {"purge_interval", "refresh_grace"}


class SettingsError(ValueError):
    """A setting is missing or unsafe; the message names the environment variable."""


def _bool(value: str, name: str) -> bool:
    v = value.strip().lower()
    if v in {"1", "true", "yes", "on"}:
        return True
    if v in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"{name} must be true or false, got {value!r}")


def _int(value: str, name: str, *, minimum: int = 1) -> int:
    try:
        n = int(value)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {value!r}") from None
    if n < minimum:
        raise SettingsError(f"{name} must be >= {minimum}, got {n}")
    return n


@dataclass(frozen=True)
class Settings:
    """All tunables. Lifetimes in seconds."""

    issuer: str = "http://127.0.0.1:8000"
    database_url: str = "sqlite:///var/idgw.db"
    secret_key: str = PLACEHOLDER_SECRET
    dev: bool = False
    code_ttl: int = 60
    access_token_ttl: int = 600
    id_token_ttl: int = 600
    refresh_token_ttl: int = 30 * 24 * 3600
    interaction_ttl: int = 900
    default_locale: str = "th"
    # NIST SP 800-63B §5.2.2: no more than 100 consecutive failures; we slow down from 5 on.
    max_failed_logins: int = 100
    throttle_free_attempts: int = 5
    ip_max_failures_per_window: int = 50
    ip_window: int = 300
    # Requests per client IP per rate_window on endpoints that anonymous clients can make write
    # (/authorize, WebAuthn options, upstream sign-in starts). Generous: many citizens share an IP
    # behind carrier-grade NAT.
    rate_per_ip: int = 300
    rate_window: int = 60
    cookie_name: str = "idgw_session"
    # WebAuthn: RP ID and origin default to the issuer's host and origin.
    webauthn_rp_id: str = ""
    webauthn_origin: str = ""
    # AAGUIDs (comma-separated) of authenticators whose verified attestation grants AAL 3.
    aal3_aaguids: str = ""
    # Upstream identity sources (ThaiD-style OIDC, NDID): a YAML file with a `providers:` list.
    providers_file: str = ""
    # Reverse proxies (comma-separated IPs or networks) whose X-Forwarded-For / -Proto is believed;
    # empty: none, the client IP is the socket's (throttling and audit depend on it).
    trusted_proxies: str = ""
    # HTTP deadlines, seconds (`idgw serve`; security review item 16): a request body must arrive
    # whole within body_timeout (408 otherwise); a request head within header_timeout (the
    # connection is closed otherwise); an idle keep-alive connection closes after
    # keep_alive_timeout; on SIGTERM requests still running after shutdown_timeout are cancelled.
    # body_timeout < shutdown_timeout, so a stalled upload is answered before a shutdown cancels it.
    body_timeout: int = 10
    header_timeout: int = 10
    keep_alive_timeout: int = 5
    shutdown_timeout: int = 15
    # What a citizen is told to contact when locked out or stuck (shown in Thai and English pages).
    help_desk: str = "ศูนย์บริการประชาชน โทร 1111 / Government Contact Center, call 1111"
    # The privacy notice linked from the consent and account pages (PDPA s.23); a path on the
    # gateway (its own notice at /privacy) or an absolute https URL of the agency's notice.
    privacy_notice_url: str = "/privacy"
    # Whether citizens may have a local password at all (off: upstream sign-in and passkeys only).
    local_passwords: bool = True
    # Officer video proofing (idgw.proofing). card_check_url: the DOPA-style card-status and
    # reference-photo service (providers.dopa); empty: video proofing is not offered.
    card_check_url: str = ""
    card_check_timeout: int = 5
    # Delegation of authority (idgw.delegation). company_registry_url: the DBD-style juristic-person
    # registry (providers.dbd); empty: only people delegate (companies cannot be looked up).
    company_registry_url: str = ""
    company_registry_timeout: int = 5
    # Admin console (idgw.console): how long a four-eyes change request waits for a second admin.
    four_eyes_ttl: int = 24 * 3600
    # Audit log (idgw.audit). Events older than audit_retention_days are removed by `idgw purge`,
    # leaving a signed checkpoint at the cut (730 days: the longest a Thai authority may order
    # traffic data kept, Computer Crime Act s.26). audit_checkpoint_interval: how often `idgw
    # serve` signs each chain's head. audit_file: a JSON-lines copy of every event as it happens;
    # audit_syslog: udp://host:port or tcp://host:port for an RFC 5424 collector. audit_chains: how
    # many hash chains appends are spread over (each chain takes its writers one at a time, so
    # about a thousand appends a second per chain with durable commits; docs/operations.md).
    audit_chains: int = 16
    audit_retention_days: int = 730
    audit_checkpoint_interval: int = 300
    audit_file: str = ""
    audit_syslog: str = ""
    # Removing rows nothing needs any more (idgw.purge): `idgw serve` purges every purge_interval
    # seconds (0: never; `idgw purge` still does); sessions are kept session_retention_days after
    # they ended or expired.
    purge_interval: int = 3600
    session_retention_days: int = 30
    # The IAL an officer's approval grants: 2.1-2.3, never 3 (a video call to the citizen's own
    # device is remote attended proofing, capped at IAL2 by NIST SP 800-63A-4).
    proofing_grant_ial: str = "2.2"
    # The liveness cues an officer may give (comma-separated; chosen at random by the server).
    proofing_cues: str = "turn_left,turn_right,blink,hand"
    # How long kept frames (encrypted at rest) live before `idgw proofing purge` deletes them.
    proofing_media_retention_days: int = 90
    # A sign-in waiting in the proofing queue or in a call is kept alive up to this many seconds.
    proofing_max_wait: int = 3600
    # ICE servers for the call (comma-separated URLs). TURN credentials are minted per call from
    # turn_secret (the TURN REST API shared-secret scheme, coturn's use-auth-secret) for turn_ttl s.
    stun_urls: str = ""
    turn_urls: str = ""
    turn_secret: str = ""
    turn_ttl: int = 7200  # longer than proofing_max_wait plus a call: a credential is checked at allocation
    # Refresh rotation (RFC 9700 §4.14.2): a refresh token presented again by the same client within
    # refresh_grace seconds of its rotation, while the pair issued for it is still unused, gets a
    # fresh pair (the unused one revoked) instead of counting as reuse: the answer was lost. 0: off.
    refresh_grace: int = 10
    # Threads that run request transactions on PostgreSQL (SQLite always uses one: one writer at a
    # time). Few threads each doing many transactions cost far less than one thread per request in
    # flight: every round trip to the database wakes a thread and hands the GIL over (measured with
    # 16 requests in flight: 145 context switches per token request with the shared 40-thread pool,
    # 63 with 4 threads; token +25%, session sign-in +35%). Raise it when transactions wait on the
    # database for long (slow disks, a distant server).
    db_threads: int = 4
    # argon2id checks and hashes (sign-ins, new passwords) this process runs at once (each 19 MiB
    # and a core for ~30 ms); more wait their turn. 0: one per core it may use (its CPU affinity,
    # capped by the cgroup v2 CPU quotas over it; `idgw serve --workers N` gives each worker its share).
    hash_threads: int = 0
    # Operations (idgw.observe, docs/operations.md). metrics_token: the bearer token a Prometheus
    # scraper sends to /metrics (empty: /metrics answers 404). log_format: json (one object per
    # line, with the request id) or text.
    metrics_token: str = ""
    log_format: str = "json"
    extra: dict = field(default_factory=dict)

    @property
    def cookie_secure(self) -> bool:
        return urlsplit(self.issuer).scheme == "https"

    @property
    def rp_id(self) -> str:
        return self.webauthn_rp_id or (urlsplit(self.issuer).hostname or "")

    @property
    def origin(self) -> str:
        if self.webauthn_origin:
            return self.webauthn_origin
        parts = urlsplit(self.issuer)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def aal3_aaguid_set(self) -> frozenset[str]:
        return frozenset(a.strip().lower() for a in self.aal3_aaguids.split(",") if a.strip())

    @property
    def proofing_cue_set(self) -> tuple[str, ...]:
        return tuple(c.strip() for c in self.proofing_cues.split(",") if c.strip())

    @property
    def max_token_ttl(self) -> int:
        return max(self.access_token_ttl, self.id_token_ttl)

    def validate(self) -> Settings:
        parts = urlsplit(self.issuer)
        if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
            raise SettingsError("IDGW_ISSUER must be an absolute http(s) URL without query or fragment")
        if self.issuer.endswith("/"):
            raise SettingsError("IDGW_ISSUER must not end with '/' (it is compared byte for byte)")
        if not self.dev:
            if parts.scheme != "https":
                raise SettingsError("IDGW_ISSUER must use https outside dev mode (set IDGW_DEV=1 for development)")
            if self.secret_key in _PLACEHOLDERS or len(self.secret_key) < 32:
                raise SettingsError(
                    "IDGW_SECRET_KEY must be a random value of at least 32 characters outside dev mode"
                )
        if self.code_ttl > 600:
            raise SettingsError("IDGW_CODE_TTL must be at most 600 seconds (RFC 6749 §4.1.2)")
        host = urlsplit(self.origin).hostname or ""
        if not (host == self.rp_id or host.endswith("." + self.rp_id)):
            raise SettingsError("IDGW_WEBAUTHN_RP_ID must be the origin's host or a parent domain of it")
        if self.default_locale not in {"th", "en"}:
            raise SettingsError("IDGW_DEFAULT_LOCALE must be th or en")
        if self.card_check_url and not self.dev and urlsplit(self.card_check_url).scheme != "https":
            # Its answers raise identities and its photos are biometric data: never over plain http.
            raise SettingsError("IDGW_CARD_CHECK_URL must use https outside dev mode")
        if self.company_registry_url and not self.dev and urlsplit(self.company_registry_url).scheme != "https":
            # Its answers decide who may bind a company: never over plain http.
            raise SettingsError("IDGW_COMPANY_REGISTRY_URL must use https outside dev mode")
        if self.proofing_grant_ial not in {"2.1", "2.2", "2.3"}:
            raise SettingsError("IDGW_PROOFING_GRANT_IAL must be 2.1, 2.2 or 2.3 (remote attended proofing "
                                "never reaches IAL 3)")
        cues = [c.strip() for c in self.proofing_cues.split(",") if c.strip()]
        if not cues or not set(cues) <= {"turn_left", "turn_right", "blink", "hand"}:
            raise SettingsError("IDGW_PROOFING_CUES must name one or more of turn_left, turn_right, blink, hand")
        if self.log_format not in {"json", "text"}:
            raise SettingsError("IDGW_LOG_FORMAT must be json or text")
        if self.metrics_token and len(self.metrics_token) < 32 and not self.dev:
            raise SettingsError("IDGW_METRICS_TOKEN must be a random value of at least 32 characters")
        if self.db_threads > 64:
            raise SettingsError("IDGW_DB_THREADS must be at most 64 (PostgreSQL connections are limited)")
        if not 0 <= self.hash_threads <= 64:
            raise SettingsError("IDGW_HASH_THREADS must be between 0 (one per core) and 64")
        if not 1 <= self.audit_chains <= 256:
            raise SettingsError("IDGW_AUDIT_CHAINS must be between 1 and 256")
        if self.refresh_grace > 60:
            raise SettingsError("IDGW_REFRESH_GRACE must be at most 60 seconds")
        if self.turn_urls and not self.turn_secret:
            raise SettingsError("IDGW_TURN_SECRET is needed with IDGW_TURN_URLS (time-limited TURN credentials)")
        for name, most in (("body_timeout", 300), ("header_timeout", 300), ("keep_alive_timeout", 300),
                           ("shutdown_timeout", 3600)):
            value = getattr(self, name)
            if not 1 <= value <= most:
                raise SettingsError(f"IDGW_{name.upper()} must be between 1 and {most} seconds, got {value}")
        return self

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> Settings:
        env = dict(os.environ if env is None else env)
        values: dict = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            key = "IDGW_" + f.name.upper()
            if key not in env:
                continue
            raw = env[key]
            if f.type in ("bool", bool):
                values[f.name] = _bool(raw, key)
            elif f.type in ("int", int):
                values[f.name] = _int(raw, key, minimum=0 if f.name in _MAY_BE_ZERO else 1)
            else:
                values[f.name] = raw
        values.update(overrides)
        settings = cls(**values)
        if settings.database_url.startswith("sqlite:///") and not settings.database_url.startswith(
            "sqlite:////"
        ):
            Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return settings.validate()
