"""Administrative operations shared by the CLI, the demo bootstrap and the tests."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func, select

from idgw import audit, jsontext
from idgw.oidc.client_auth import jwks_problems, private_keys
from idgw.oidc.keys import SUPPORTED_ALGS
from idgw.oidc.models import CONFIDENTIAL_AUTH_METHODS, SCOPES_SUPPORTED, TOKEN_AUTH_METHODS
from idgw.oidc.models import TOKEN_EXCHANGE_GRANT as TOKEN_EXCHANGE
from idgw.security import hash_password, random_token, sha256_hex
from idgw.storage.models import Account, Client, username_key

DEFAULT_SCOPE = "openid profile email offline_access"


class AdminError(ValueError):
    """A refused administrative change. The message is English (the CLI, logs); ``code`` names
    the refusal and ``params`` what it is about (``field``: the registration field at fault), so
    that the console words it in Thai and English (``idgw.console.services_texts``)."""

    def __init__(self, message: str, *, code: str = "invalid", **params) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class NewClient:
    client_id: str
    client_secret: str | None


def _check_redirect_uri(uri: str, *, dev: bool, what: str = "redirect URI", field: str = "redirect_uris") -> None:
    parts = urlsplit(uri)
    if parts.fragment or not parts.netloc or parts.scheme not in ("https", "http") or "*" in uri:
        raise AdminError(f"{what} {uri!r} must be an absolute https URL without a fragment or wildcard",
                         code="uri_exact", field=field, uri=uri)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme == "http" and not (loopback or dev):
        raise AdminError(f"{what} {uri!r} must use https (http only for loopback)", code="uri_https", field=field,
                         uri=uri)


def _check_client_keys(*, jwks, jwks_uri: str | None, dev: bool) -> None:
    """The keys a private_key_jwt client registers (OIDC Registration §2): a JWKS or a jwks_uri,
    not both. A JWKS must hold only keys the token endpoint can verify assertions with
    (``idgw.oidc.client_auth.client_key_problem``: public EC P-256 or RSA >= 2048 bits, alg
    ES256/RS256/PS256 when given, use sig); each refusal names the key and the reason. A JWKS
    with private key material in it (a key's "d", "p", "q", ...) is refused as such: the service's
    private key has left its hands and must be replaced."""
    if jwks is not None and jwks_uri:
        raise AdminError("register either a JWKS or a jwks_uri, not both", code="jwks_and_uri", field="jwks")
    if jwks_uri:
        _check_redirect_uri(jwks_uri, dev=dev, what="jwks_uri", field="jwks_uri")
    if jwks is not None:
        problems = jwks_problems(jwks)
        if problems:
            leaked = private_keys(jwks)
            raise AdminError("; ".join(problems), code="jwks_private" if leaked else "jwks_invalid", field="jwks",
                             keys=", ".join(leaked), detail="; ".join(problems))


def sector_of(*, redirect_uris: list[str], sector_identifier_uri: str | None, dev: bool,
              fetch=None) -> str:
    """The pairwise sector (OIDC Core §8.1): the host of ``sector_identifier_uri`` when one is
    registered (its JSON array must list every redirect URI, OIDC Registration §5), otherwise the
    one host of the redirect URIs. Several hosts without a sector_identifier_uri are refused."""
    field = "sector_identifier_uri"
    if sector_identifier_uri:
        _check_redirect_uri(sector_identifier_uri, dev=dev, what="sector_identifier_uri", field=field)
        import httpx  # here: every `idgw` command imports this module, few fetch anything

        try:
            listed = (fetch or _fetch_json)(sector_identifier_uri)
        except (OSError, ValueError, httpx.HTTPError) as exc:
            raise AdminError(f"sector_identifier_uri could not be read: {type(exc).__name__}: {exc}",
                             code="sector_unreadable", field=field, detail=f"{type(exc).__name__}: {exc}") from None
        if not isinstance(listed, list) or not all(isinstance(u, str) for u in listed):
            raise AdminError("sector_identifier_uri must answer a JSON array of redirect URIs", code="sector_not_list",
                             field=field)
        missing = [u for u in redirect_uris if u not in listed]
        if missing:
            raise AdminError(f"sector_identifier_uri does not list the redirect URI(s) {', '.join(missing)}",
                             code="sector_missing", field=field, uris=", ".join(missing))
        return urlsplit(sector_identifier_uri).hostname or ""
    hosts = sorted({urlsplit(u).hostname or "" for u in redirect_uris})
    if len(hosts) != 1:
        raise AdminError(f"redirect URIs on several hosts ({', '.join(hosts)}) need a --sector-identifier-uri "
                         "listing them (OIDC Core §8.1), so that pairwise subjects stay stable",
                         code="sector_hosts", field=field, hosts=", ".join(hosts))
    return hosts[0]


def _fetch_json(url: str):
    import httpx

    response = httpx.get(url, timeout=5.0, follow_redirects=False)
    response.raise_for_status()
    return jsontext.loads(response.content, max_bytes=64 * 1024, max_depth=4)  # a flat list of URIs


def check_client(*, name: str, redirect_uris: list[str], post_logout_redirect_uris: list[str] | None = None,
                 auth_method: str = "client_secret_basic", scope: str = DEFAULT_SCOPE, id_token_alg: str = "ES256",
                 subject_type: str = "pairwise", jwks: dict | None = None, jwks_uri: str | None = None,
                 backchannel_logout_uri: str | None = None, sector_identifier_uri: str | None = None,
                 security_event_uri: str | None = None, token_exchange: bool = False, fetch=None,
                 dev: bool = False) -> str | None:
    """The registration rules for an e-service's settings, the same for a new registration
    (``add_client``: the CLI, the console) and for an edit (``idgw.console.services``): exact
    absolute redirect, post-logout and logout URIs, https outside development (http only for
    loopback), no wildcards or fragments; a known authentication method, ID-token algorithm,
    subject type and scope; public client keys (a JWKS or a jwks_uri, not both). Returns the
    pairwise sector (``sector_of``; None for public subjects). Raises ``AdminError``."""
    if not name or not name.strip() or len(name) > 200:
        raise AdminError("name must be 1-200 characters", code="name", field="name")
    if not redirect_uris:
        raise AdminError("at least one redirect URI is required", code="no_redirect_uri", field="redirect_uris")
    for uri in redirect_uris:
        _check_redirect_uri(uri, dev=dev)
    for uri in post_logout_redirect_uris or []:
        _check_redirect_uri(uri, dev=dev, field="post_logout_redirect_uris")
    if backchannel_logout_uri:
        # Back-Channel Logout 1.0 §2.2: absolute, may have a query, never a fragment.
        _check_redirect_uri(backchannel_logout_uri, dev=dev, what="backchannel_logout_uri",
                            field="backchannel_logout_uri")
    if security_event_uri:
        # RFC 8935 §2: an absolute URL the transmitter POSTs to; https as for the logout URI.
        _check_redirect_uri(security_event_uri, dev=dev, what="security_event_uri", field="security_event_uri")
    sector = None
    if subject_type == "pairwise":
        sector = sector_of(redirect_uris=redirect_uris, sector_identifier_uri=sector_identifier_uri, dev=dev,
                           fetch=fetch)
    if auth_method not in TOKEN_AUTH_METHODS:
        raise AdminError(f"auth method must be one of {', '.join(TOKEN_AUTH_METHODS)}", code="auth_method",
                         field="auth_method")
    if id_token_alg not in SUPPORTED_ALGS:
        raise AdminError(f"id_token alg must be one of {', '.join(SUPPORTED_ALGS)}", code="alg", field="id_token_alg")
    if subject_type not in ("pairwise", "public"):
        raise AdminError("subject type must be pairwise or public", code="subject_type", field="subject_type")
    unknown = set(scope.split()) - set(SCOPES_SUPPORTED)
    if unknown or "openid" not in scope.split():
        raise AdminError(f"scope must include openid and only {', '.join(SCOPES_SUPPORTED)}", code="scope",
                         field="scope")
    _check_client_keys(jwks=jwks, jwks_uri=jwks_uri, dev=dev)
    if auth_method == "private_key_jwt" and not (jwks or jwks_uri):
        raise AdminError("private_key_jwt needs --jwks or --jwks-uri", code="keys_needed", field="jwks")
    if token_exchange and auth_method not in CONFIDENTIAL_AUTH_METHODS:
        # RFC 8693 §2.1: the exchange acts for another person, so the caller must authenticate.
        raise AdminError("token exchange is for confidential clients only (not auth method none)",
                         code="exchange_public", field="token_exchange")
    return sector


def add_client(db, *, name: str, redirect_uris: list[str], post_logout_redirect_uris: list[str] | None = None,
               auth_method: str = "client_secret_basic", scope: str = DEFAULT_SCOPE,
               id_token_alg: str = "ES256", subject_type: str = "pairwise", jwks: dict | None = None,
               jwks_uri: str | None = None, client_id: str | None = None, client_secret: str | None = None,
               backchannel_logout_uri: str | None = None, backchannel_logout_session_required: bool = False,
               sector_identifier_uri: str | None = None, security_event_uri: str | None = None,
               token_exchange: bool = False, fetch=None, now: int, actor: str = "cli", dev: bool = False) -> NewClient:
    """Register an e-service (its settings checked by ``check_client``). The secret is returned
    once and stored only as a hash. ``security_event_uri``: where the gateway pushes Security
    Event Tokens (RFC 8935; a delegation the service received tokens under ended).
    ``token_exchange``: the service's back end may exchange a person's token for one acting on
    someone's behalf at another service (RFC 8693), a confidential client only. Audited as
    ``client.created`` with the settings registered (``client_record``: never the secret)."""
    sector = check_client(name=name, redirect_uris=redirect_uris, post_logout_redirect_uris=post_logout_redirect_uris,
                          auth_method=auth_method, scope=scope, id_token_alg=id_token_alg, subject_type=subject_type,
                          jwks=jwks, jwks_uri=jwks_uri, backchannel_logout_uri=backchannel_logout_uri,
                          sector_identifier_uri=sector_identifier_uri, security_event_uri=security_event_uri,
                          token_exchange=token_exchange, fetch=fetch, dev=dev)
    client_id = client_id or _new_client_id()
    # The first character a letter or digit: "-x" would read as an option to `idgw client show`
    # (and most CLIs), "~x" as a home directory to a shell.
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._~-]{3,63}", client_id):
        raise AdminError("client_id must be 4-64 characters of A-Z a-z 0-9 . _ ~ -, beginning with a letter or digit",
                         code="client_id", field="client_id")
    if db.get(Client, client_id) is not None:
        raise AdminError(f"client {client_id} already exists", code="client_exists", field="client_id",
                         client_id=client_id)
    secret = None
    if auth_method in SECRET_AUTH_METHODS:
        secret = client_secret or random_token(32)
    row = Client(
        client_id=client_id, name=name, secret_hash=sha256_hex(secret) if secret else None,
        redirect_uris=list(redirect_uris), post_logout_redirect_uris=list(post_logout_redirect_uris or []),
        token_endpoint_auth_method=auth_method,
        grant_types=grant_types(token_exchange),
        scope=scope, id_token_signed_response_alg=id_token_alg, subject_type=subject_type, jwks=jwks,
        jwks_uri=jwks_uri, created_at=now, backchannel_logout_uri=backchannel_logout_uri or None,
        backchannel_logout_session_required=bool(backchannel_logout_session_required),
        sector_identifier=sector, sector_identifier_uri=sector_identifier_uri or None,
        security_event_uri=security_event_uri or None,
    )
    db.add(row)
    audit.record(db, "client.created", at=now, actor=actor, client_id=client_id, auth_method=auth_method,
                 token_exchange=bool(token_exchange), after=client_record(row))
    return NewClient(client_id=client_id, client_secret=secret)


#: The authentication methods that use a client secret (the gateway keeps only its hash).
SECRET_AUTH_METHODS = ("client_secret_basic", "client_secret_post")


def grant_types(token_exchange: bool) -> list[str]:
    return ["authorization_code", "refresh_token", *([TOKEN_EXCHANGE] if token_exchange else [])]


def client_record(row: Client) -> dict:
    """An e-service's settings as the audit log records them (before and after a change): no
    secret and no secret hash; the JWKS by a digest of its canonical JSON (public keys, but a
    row registered before the checks could hold a private one) and its kids."""
    info = {k: v for k, v in client_info(row).items() if k not in ("created_at", "has_jwks")}
    jwks = row.jwks
    info["jwks"] = None if jwks is None else {
        "sha256": sha256_hex(json.dumps(jwks, sort_keys=True, separators=(",", ":"))),
        "kids": [k.get("kid") for k in (jwks.get("keys") or []) if isinstance(k, dict)]
        if isinstance(jwks, dict) and isinstance(jwks.get("keys"), list) else []}
    return info


def _new_client_id() -> str:
    """A random client_id (128 bits) that a shell or CLI never mistakes for an option: it begins
    with an ASCII letter or digit (``token_urlsafe`` may begin with - or _)."""
    while True:
        value = random_token(16)
        if value[0].isascii() and value[0].isalnum():
            return value


def client_info(row: Client) -> dict:
    return {
        "client_id": row.client_id, "name": row.name, "redirect_uris": row.redirect_uris,
        "post_logout_redirect_uris": row.post_logout_redirect_uris,
        "token_endpoint_auth_method": row.token_endpoint_auth_method, "scope": row.scope,
        "id_token_signed_response_alg": row.id_token_signed_response_alg, "subject_type": row.subject_type,
        "jwks_uri": row.jwks_uri, "has_jwks": bool(row.jwks), "created_at": row.created_at,
        "backchannel_logout_uri": row.backchannel_logout_uri,
        "backchannel_logout_session_required": bool(row.backchannel_logout_session_required),
        "sector_identifier": row.sector_identifier, "sector_identifier_uri": row.sector_identifier_uri,
        "security_event_uri": row.security_event_uri, "grant_types": list(row.grant_types or []),
        "token_exchange": TOKEN_EXCHANGE in (row.grant_types or []), "disabled_at": row.disabled_at,
    }


def list_clients(db) -> list[dict]:
    return [client_info(c) for c in db.scalars(select(Client).order_by(Client.created_at))]


def remove_client(db, *, client_id: str, now: int, actor: str = "cli", **detail) -> None:
    """Remove an e-service (its codes, tokens, consents, policies and mandates go with it: foreign
    keys cascade). Audited as ``client.removed`` with its settings as they were and ``detail``
    (e.g. the four-eyes request that allowed it)."""
    row = db.get(Client, client_id)
    if row is None:
        raise AdminError(f"no client {client_id}", code="no_client", client_id=client_id)
    before = client_record(row)
    db.delete(row)
    audit.record(db, "client.removed", at=now, actor=actor, client_id=client_id, before=before, **detail)


def add_user(db, *, username: str, password: str, now: int, email: str | None = None,
             given_name: str | None = None, family_name: str | None = None, given_name_th: str | None = None,
             family_name_th: str | None = None, citizen_id: str | None = None, roles: list[str] | None = None,
             actor: str = "cli") -> Account:
    """A local password account (development and staff). Passwords: at least 8 characters
    (NIST SP 800-63B §3.1.1.2), at most 1024."""
    if not username.strip() or len(username) > 200 or len(username_key(username)) > 200:
        raise AdminError("username must be 1-200 characters")
    if not 8 <= len(password) <= 1024:
        raise AdminError("password must be 8-1024 characters")
    if find_user(db, username) is not None:  # "Somchai" when "somchai" exists is the same user
        raise AdminError(f"user {username} already exists")
    if citizen_id is not None and not valid_citizen_id(citizen_id):
        raise AdminError("citizen ID must be 13 digits with a valid check digit")
    account = Account(
        id=str(uuid.uuid4()), username=username, password_hash=hash_password(password), email=email,
        email_verified=False, given_name=given_name, family_name=family_name, given_name_th=given_name_th,
        family_name_th=family_name_th, citizen_id=citizen_id, roles=list(roles or []), created_at=now,
    )
    db.add(account)
    audit.record(db, "account.created", at=now, actor=actor, on_behalf_of=account.id)
    return account


def find_user(db, username: str) -> Account | None:
    """The account of ``username`` (compared as sign-in compares it: case-insensitively)."""
    from idgw.login.password import find_account

    return find_account(db, username)


def account_status(account: Account, *, now: int) -> dict:
    """How sign-in stands for an account: ``state`` is ``locked`` (until an administrator
    unlocks it), ``waiting`` (slowed down until ``until``) or ``active``; ``failures`` counts the
    consecutive failed attempts."""
    from idgw.login.password import LOCKED_FOREVER

    if account.locked_until >= LOCKED_FOREVER:
        state, until = "locked", None
    elif account.locked_until > now:
        state, until = "waiting", account.locked_until
    else:
        state, until = "active", None
    return {"state": state, "until": until, "failures": account.failed_logins}


def unlock_account(db, *, account: Account, now: int, actor: str) -> bool:
    """Let the account sign in again: its consecutive-failure count and any lock or wait are
    reset. Audited as ``account.unlocked`` (actor: who unlocked it) with what was reset; returns
    False, changing and recording nothing, when there was nothing to reset."""
    if account.failed_logins == 0 and account.locked_until == 0:
        return False
    before = account_status(account, now=now)
    account.failed_logins = 0
    account.locked_until = 0
    audit.record(db, "account.unlocked", at=now, actor=actor, on_behalf_of=account.id,
                 was=before["state"], failures=before["failures"])
    return True


#: The shortest part of a username or e-mail address the account search looks for: three
#: characters make a trigram, which an index serves (migration 0015); one or two would read the
#: whole accounts table for a list nobody could use.
SEARCH_MIN_CHARS = 3


def _citizen_id_typed(query: str) -> str | None:
    digits = re.sub(r"[\s-]", "", query)
    return digits if re.fullmatch(r"\d{13}", digits) else None


def search_too_short(query: str) -> bool:
    """True for a search the account search does not run: fewer than ``SEARCH_MIN_CHARS``
    characters that are not a citizen ID (the page asks for more)."""
    query = query.strip()
    return bool(query) and _citizen_id_typed(query) is None and len(query) < SEARCH_MIN_CHARS


def account_search(query: str, *, limit: int = 50):
    """The statement of ``search_accounts`` (None: nothing to search for, or too short)."""
    query = query.strip()[:200]
    if not query or search_too_short(query):
        return None
    digits = _citizen_id_typed(query)
    if digits is not None:
        condition = Account.citizen_id == digits
    else:
        # On PostgreSQL the trigram indexes of migration 0015 serve these from three characters on.
        needle = query.lower()
        condition = (func.lower(Account.username).contains(needle, autoescape=True)
                     | func.lower(Account.email).contains(needle, autoescape=True))
    return select(Account).where(condition).order_by(Account.username).limit(limit)


def search_accounts(db, query: str, *, limit: int = 50) -> list[Account]:
    """Accounts whose username or e-mail address contains ``query`` (case-insensitively), or whose
    citizen ID is ``query`` (13 digits, dashes and spaces ignored). None at all for a query
    shorter than ``SEARCH_MIN_CHARS`` (``search_too_short``: the pages say why)."""
    statement = account_search(query, limit=limit)
    return [] if statement is None else list(db.scalars(statement))


def held_accounts(db, *, now: int, limit: int = 50) -> list[Account]:
    """Accounts that cannot sign in now (locked, or waiting after failed attempts)."""
    # locked_until > 0 as well: it lets SQLite use the partial index ix_accounts_held (PostgreSQL
    # plans with the value of ``now`` and sees that without it)
    return list(db.scalars(select(Account).where(Account.locked_until > 0, Account.locked_until > now)
                           .order_by(Account.locked_until.desc(), Account.username).limit(limit)))


def valid_citizen_id(value: str) -> bool:
    """Thai citizen ID (domain brief §4): 13 digits, first 1-8, mod-11 check digit."""
    if not re.fullmatch(r"[1-8]\d{12}", value or ""):
        return False
    total = sum(int(value[i]) * (13 - i) for i in range(12))
    return (11 - total % 11) % 10 == int(value[12])
