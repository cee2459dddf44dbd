"""E-services in the admin console: the decisions behind its pages (``services_pages``), as plain
functions over the caller's transaction.

``register`` and ``update`` check a service's settings with the CLI's own rules
(``idgw.admin.check_client``: exact https redirect URIs outside development, no wildcards or
fragments, public client keys, ...), so the console is exactly as strict as ``idgw client add``.
``disable``/``enable`` set ``clients.disabled_at``, which the OIDC endpoints honour
(``idgw.oidc.provider.Provider.query_client``); ``rotate_secret`` replaces the secret at once;
deleting a service takes two admins: ``request_delete`` files a four-eyes request of kind
``service.delete`` and ``delete`` applies it when a second admin approves
(``idgw.console.four_eyes``). Every change is audited with the actor and the settings before and
after (``idgw.admin.client_record``: never a secret or its hash). A refusal is an ``AdminError``
whose ``code`` the pages word in Thai and English (``services_texts.refusal``).
"""

from __future__ import annotations

import json

from idgw import audit, jsontext
from idgw.admin import (
    DEFAULT_SCOPE,
    SECRET_AUTH_METHODS,
    AdminError,
    add_client,
    check_client,
    client_record,
    grant_types,
    remove_client,
)
from idgw.console import four_eyes, services_texts  # noqa: F401  (services_texts: describe_delete's words)
from idgw.oidc.models import TOKEN_EXCHANGE_GRANT as TOKEN_EXCHANGE
from idgw.security import random_token, sha256_hex
from idgw.storage.models import Client
from idgw.web.i18n import t

DELETE_KIND = "service.delete"
#: The largest JWKS pasted into the form (a few public keys are a few KiB).
MAX_JWKS_BYTES = 16 * 1024
#: The form's text fields, as typed (a refused form is shown again with them).
TEXT_FIELDS = ("name", "client_id", "redirect_uris", "post_logout_redirect_uris", "backchannel_logout_uri",
               "auth_method", "jwks", "jwks_uri", "id_token_alg", "subject_type", "sector_identifier_uri", "scope",
               "security_event_uri")
CHECKBOXES = ("backchannel_logout_session_required", "token_exchange", "confirm_subjects")


def typed(form: dict) -> dict:
    """What the person typed, to show the form again (text fields capped, checkboxes as booleans)."""
    values = {name: str(form.get(name) or "")[:MAX_JWKS_BYTES] for name in TEXT_FIELDS}
    values.update({name: form.get(name) == "1" for name in CHECKBOXES})
    return values


def form_of(row: Client) -> dict:
    """A service's current settings as the form shows them."""
    return {
        "name": row.name, "client_id": row.client_id, "redirect_uris": "\n".join(row.redirect_uris or []),
        "post_logout_redirect_uris": "\n".join(row.post_logout_redirect_uris or []),
        "backchannel_logout_uri": row.backchannel_logout_uri or "",
        "backchannel_logout_session_required": bool(row.backchannel_logout_session_required),
        "auth_method": row.token_endpoint_auth_method,
        "jwks": json.dumps(row.jwks, indent=2, ensure_ascii=False) if row.jwks else "", "jwks_uri": row.jwks_uri or "",
        "id_token_alg": row.id_token_signed_response_alg, "subject_type": row.subject_type,
        "sector_identifier_uri": row.sector_identifier_uri or "", "scope": row.scope,
        "security_event_uri": row.security_event_uri or "",
        "token_exchange": TOKEN_EXCHANGE in (row.grant_types or []),
        "confirm_subjects": False,
    }


def _lines(value) -> list[str]:
    return [line.strip() for line in str(value or "").splitlines() if line.strip()]


def _text(value) -> str | None:
    return (str(value).strip() or None) if value is not None else None


def settings_from(form: dict) -> dict:
    """The posted form as ``idgw.admin.check_client``'s settings: URI lists one per line, the
    JWKS parsed (within ``MAX_JWKS_BYTES``), checkboxes as booleans. Raises ``AdminError``
    (``jwks_json``) for a JWKS that is not JSON."""
    jwks_text = str(form.get("jwks") or "").strip()
    jwks = None
    if jwks_text:
        try:
            jwks = jsontext.loads(jwks_text, max_bytes=MAX_JWKS_BYTES, max_depth=6)
        except jsontext.JSONTextError as exc:
            raise AdminError(f"the JWKS is not valid JSON: {exc}", code="jwks_json", field="jwks",
                             detail=str(exc)) from None
    return dict(
        name=str(form.get("name") or "").strip(), redirect_uris=_lines(form.get("redirect_uris")),
        post_logout_redirect_uris=_lines(form.get("post_logout_redirect_uris")),
        auth_method=str(form.get("auth_method") or "client_secret_basic"),
        scope=" ".join(str(form["scope"] if "scope" in form else DEFAULT_SCOPE).split()),
        id_token_alg=str(form.get("id_token_alg") or "ES256"), subject_type=str(form.get("subject_type") or "pairwise"),
        jwks=jwks, jwks_uri=_text(form.get("jwks_uri")),
        backchannel_logout_uri=_text(form.get("backchannel_logout_uri")),
        sector_identifier_uri=_text(form.get("sector_identifier_uri")),
        security_event_uri=_text(form.get("security_event_uri")), token_exchange=form.get("token_exchange") == "1",
    )


def _client(db, client_id: str) -> Client:
    row = db.get(Client, client_id) if len(client_id) <= 64 else None
    if row is None:
        raise AdminError(f"no client {client_id}", code="no_client", client_id=client_id)
    return row


def register(db, form: dict, *, actor: str, now: int, dev: bool, fetch=None) -> tuple[Client, str | None]:
    """Register a service from the posted form (``idgw.admin.add_client``, as ``idgw client add``
    does; audited as ``client.created`` with its settings). Returns the row and its secret, to
    be shown once (None for private_key_jwt and public clients). ``fetch``: how a
    sector_identifier_uri is read (tests)."""
    settings = settings_from(form)
    session_required = form.get("backchannel_logout_session_required") == "1"
    new = add_client(db, client_id=_text(form.get("client_id")), backchannel_logout_session_required=session_required,
                     now=now, actor=actor, dev=dev, fetch=fetch, **settings)
    return db.get(Client, new.client_id), new.client_secret


def update(db, client_id: str, form: dict, *, actor: str, now: int, dev: bool,
           fetch=None) -> tuple[Client, str | None]:
    """Change a service's settings to the posted form's, checked as at registration. Returns the
    row and a new secret when the change moved it to a secret-based authentication method (shown
    once); a move away from one forgets the secret's hash.

    Pairwise subjects (OIDC Core §8.1) are keyed by the service's sector: a change of subject
    type or sector (another redirect host, a sector_identifier_uri) gives every person a new
    ``sub`` at the service, which then no longer recognises them. Such a change is refused unless
    the form confirms it (``confirm_subjects``). A service registered before sectors keeps its
    per-service key while its subject settings stay as they are.

    Audited as ``client.updated`` with the changed settings before and after; nothing changed,
    nothing recorded."""
    row = _client(db, client_id)
    settings = settings_from(form)
    sector = check_client(**settings, fetch=fetch, dev=dev)
    if row.sector_identifier is None and row.subject_type == "pairwise" and settings["subject_type"] == "pairwise" \
            and not settings["sector_identifier_uri"] and not row.sector_identifier_uri:
        sector = None  # registered before sectors: its subjects stay keyed by its client_id
    if (settings["subject_type"], sector) != (row.subject_type, row.sector_identifier) \
            and form.get("confirm_subjects") != "1":
        raise AdminError("this change gives every person a new subject identifier (sub) at the service; confirm it",
                         code="subjects_change", field="confirm_subjects",
                         before=f"{row.subject_type} {row.sector_identifier or row.client_id}",
                         after=f"{settings['subject_type']} {sector or ''}".strip())
    before = client_record(row)
    secret = None
    method = settings["auth_method"]
    if method in SECRET_AUTH_METHODS and row.token_endpoint_auth_method not in SECRET_AUTH_METHODS:
        secret = random_token(32)
        row.secret_hash = sha256_hex(secret)
    elif method not in SECRET_AUTH_METHODS:
        row.secret_hash = None
    row.name = settings["name"]
    row.redirect_uris = settings["redirect_uris"]
    row.post_logout_redirect_uris = settings["post_logout_redirect_uris"]
    row.token_endpoint_auth_method = method
    row.scope = settings["scope"]
    row.id_token_signed_response_alg = settings["id_token_alg"]
    row.subject_type = settings["subject_type"]
    row.sector_identifier = sector
    row.sector_identifier_uri = settings["sector_identifier_uri"]
    row.jwks = settings["jwks"]
    row.jwks_uri = settings["jwks_uri"]
    row.backchannel_logout_uri = settings["backchannel_logout_uri"]
    row.backchannel_logout_session_required = form.get("backchannel_logout_session_required") == "1"
    row.security_event_uri = settings["security_event_uri"]
    row.grant_types = grant_types(settings["token_exchange"])
    after = client_record(row)
    changed = [key for key in after if after[key] != before.get(key)]
    if changed:
        audit.record(db, "client.updated", at=now, actor=actor, client_id=row.client_id,
                     before={k: before.get(k) for k in changed}, after={k: after[k] for k in changed},
                     new_secret=secret is not None)
    return row, secret


def disable(db, client_id: str, *, actor: str, now: int) -> bool:
    """Stop the service: no sign-in, no token, no refresh, its tokens inactive, until ``enable``
    (nothing is revoked). False, recording nothing, if it was disabled already."""
    row = _client(db, client_id)
    if row.disabled_at is not None:
        return False
    row.disabled_at = now
    audit.record(db, "client.disabled", at=now, actor=actor, client_id=row.client_id,
                 before={"disabled_at": None}, after={"disabled_at": now})
    return True


def enable(db, client_id: str, *, actor: str, now: int) -> bool:
    """Let a disabled service work again. False, recording nothing, if it was not disabled."""
    row = _client(db, client_id)
    if row.disabled_at is None:
        return False
    before = row.disabled_at
    row.disabled_at = None
    audit.record(db, "client.enabled", at=now, actor=actor, client_id=row.client_id,
                 before={"disabled_at": before}, after={"disabled_at": None})
    return True


def rotate_secret(db, client_id: str, *, actor: str, now: int) -> str:
    """A new secret for a service that authenticates with one; the old one is refused from now
    on. Returns the new secret, to be shown once (only its hash is kept). Audited as
    ``client.secret_rotated`` (neither secret nor hash is recorded: that the old one stopped
    working is the change)."""
    row = _client(db, client_id)
    if row.token_endpoint_auth_method not in SECRET_AUTH_METHODS:
        raise AdminError(f"client {client_id} authenticates with {row.token_endpoint_auth_method}, not a secret",
                         code="no_secret", method=row.token_endpoint_auth_method)
    secret = random_token(32)
    row.secret_hash = sha256_hex(secret)
    audit.record(db, "client.secret_rotated", at=now, actor=actor, client_id=row.client_id,
                 auth_method=row.token_endpoint_auth_method, before={"secret": "previous (now refused)"},
                 after={"secret": "new (shown once)"})
    return secret


def request_delete(db, client_id: str, *, confirm: str, requester, now: int, ttl: int,
                   reason: str | None = None):
    """File the four-eyes request to delete a service; ``confirm`` must be its client_id, typed.
    Raises ``AdminError`` (``confirm_mismatch``) or ``four_eyes.FourEyesError`` (``duplicate``)."""
    row = _client(db, client_id)
    if str(confirm or "").strip() != row.client_id:
        raise AdminError("type the service's client_id to confirm the deletion", code="confirm_mismatch",
                         field="confirm", client_id=row.client_id)
    return four_eyes.request_change(db, kind=DELETE_KIND, target=row.client_id,
                                    payload={"client_id": row.client_id, "name": row.name}, requester=requester,
                                    now=now, ttl=ttl, reason=reason)


def delete(db, request, approver, now: int) -> None:
    """Apply an approved ``service.delete`` request (four eyes: run in the approver's
    transaction): the service goes, with its codes, tokens, consents, policies and mandates
    (``idgw.admin.remove_client``, audited as ``client.removed`` with its settings before, the
    approver as actor and the requester named)."""
    if db.get(Client, request.target) is None:
        raise four_eyes.FourEyesError("not_found", "the e-service was removed meanwhile", status=404)
    remove_client(db, client_id=request.target, now=now, actor=approver.username, change_id=request.id,
                  requested_by=request.requested_by_name)


def describe_delete(payload: dict, target: str, locale: str) -> str:
    return t("svc_fe_delete", locale, name=(payload or {}).get("name") or target, client_id=target)


four_eyes.register_kind(DELETE_KIND, apply=delete, describe=describe_delete)
