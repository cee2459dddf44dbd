"""WebAuthn (py_webauthn): passkeys and security keys.

- RP ID and origin come from settings; every ceremony's challenge is random, single use, short
  lived and bound to the browser (and, for step-up and registration, the session) that asked.
- Registration requires user verification; discoverable credentials (passkeys) allow
  usernameless sign-in from the login page.
- A sign-in with user verification is factor ``hwk_uv`` (AAL 2.2); on an authenticator whose
  attestation verified and whose AAGUID is on the administrator's allow-list, ``hwk_uv_attested``
  (AAL 3). Without user verification the credential is possession only (``hwk``).
- A sign counter that goes backwards (a cloned key, W3C WebAuthn §6.1.1) flags the credential:
  the sign-in is refused and so is every later one.
"""

from __future__ import annotations

import json
import re
import uuid

from sqlalchemy import select
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from idgw import audit, jsontext
from idgw.authn import AuthnEvent, Challenge
from idgw.security import b64url, sha256_hex
from idgw.storage.models import Account, AccountAuthenticator, WebAuthnChallenge

CHALLENGE_TTL = 300
MAX_CREDENTIAL_JSON = 16 * 1024
#: rawId as the browser sends it: base64url of a credential id of at most 1023 bytes (WebAuthn L3 §5.1).
_RAW_ID = re.compile(r"[A-Za-z0-9_-]{1,1364}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
#: The members of ``response`` that are base64url text when present (WebAuthn L3 §5.2.1.1, §5.2.2.1).
_BINARY_MEMBERS = ("clientDataJSON", "attestationObject", "authenticatorData", "signature", "userHandle")


class WebAuthnError(ValueError):
    """A ceremony that does not verify; the message is safe to show."""


def _b64(data: bytes) -> str:
    return b64url(data).decode()


def _client_challenge(credential: dict) -> bytes:
    try:
        # Depth-capped like the credential itself: deeply nested clientDataJSON was a RecursionError
        # (a 500), found by tests/security/test_fuzz.py.
        client_data = jsontext.loads(base64url_to_bytes(credential["response"]["clientDataJSON"]),
                                     max_bytes=MAX_CREDENTIAL_JSON, max_depth=4)
        return base64url_to_bytes(client_data["challenge"])
    except (KeyError, TypeError, ValueError, jsontext.JSONTextError) as exc:
        raise WebAuthnError("the browser's response is malformed") from exc


def parse_credential(raw: str | None) -> dict:
    if not raw or len(raw) > MAX_CREDENTIAL_JSON:
        raise WebAuthnError("no passkey response was sent")
    try:
        value = jsontext.loads(raw, max_bytes=MAX_CREDENTIAL_JSON, max_depth=8)
    except jsontext.JSONTextError:
        raise WebAuthnError("the passkey response is not valid JSON") from None
    # rawId is looked up in the database: base64url only (a NUL in it was a 500 on PostgreSQL,
    # found by tests/security/test_fuzz.py).
    if not isinstance(value, dict) or not isinstance(value.get("rawId"), str) or not _RAW_ID.fullmatch(value["rawId"]):
        raise WebAuthnError("the passkey response is malformed")
    # py_webauthn decodes userHandle outside its own error handling (non-base64url text was a
    # ValueError, a 500; found by tests/security/test_fuzz.py): binary members are base64url or absent.
    response = value.get("response")
    if not isinstance(response, dict) or any(
            response.get(name) is not None
            and not (isinstance(response[name], str) and _BASE64URL.fullmatch(response[name]))
            for name in _BINARY_MEMBERS):
        raise WebAuthnError("the passkey response is malformed")
    return value


class WebAuthnAuthenticator:
    kind = "webauthn"

    def __init__(self, *, rp_id: str, rp_name: str, origin: str, aal3_aaguids: frozenset[str] = frozenset()) -> None:
        self.rp_id = rp_id
        self.rp_name = rp_name
        self.origin = origin
        self.aal3_aaguids = frozenset(a.lower() for a in aal3_aaguids)

    # -- the authenticator contract -----------------------------------------------------------
    def _credentials(self, db, account_id: str) -> list[AccountAuthenticator]:
        return list(db.scalars(select(AccountAuthenticator).where(
            AccountAuthenticator.account_id == account_id, AccountAuthenticator.kind == self.kind,
            AccountAuthenticator.confirmed_at.is_not(None), AccountAuthenticator.flagged_at.is_(None))))

    def factors(self, db, account, *, without: str | None = None) -> set[str]:
        kinds: set[str] = set()
        for row in self._credentials(db, account.id):
            if row.id != without:
                kinds |= {"hwk_uv", "hwk_uv_attested"} if row.attested else {"hwk_uv"}
        return kinds

    def begin(self, db, *, account, session, now):
        return Challenge(kind=self.kind, title={"th": "พาสคีย์ / กุญแจความปลอดภัย", "en": "Passkey / security key"},
                         prompt={"th": "ใช้พาสคีย์ในอุปกรณ์ของท่าน (ลายนิ้วมือ ใบหน้า หรือ PIN)",
                                 "en": "Use the passkey on your device (fingerprint, face or PIN)."},
                         input_label={"th": "พาสคีย์", "en": "Passkey"}, extra={"webauthn": True})

    def verify(self, db, *, account, session, form, now):
        """Step-up: an assertion by one of ``account``'s credentials, with user verification."""
        try:
            credential = parse_credential(form.get("credential"))
            challenge, raw = self._take_challenge(db, credential, purpose="authenticate",
                                                  browser_hash=form.get("_browser"),
                                                  session_id=session.id if session else None, now=now)
            row, event = self._check_assertion(db, credential, challenge=challenge, raw=raw, now=now)
        except WebAuthnError:
            return None
        if row.account_id != account.id:
            return None
        return event

    # -- challenges ------------------------------------------------------------------------------
    def _store_challenge(self, db, *, challenge: bytes, purpose: str, browser_hash: str, account_id: str | None,
                         session_id: str | None, require_uv: bool, now: int) -> None:
        db.add(WebAuthnChallenge(id=sha256_hex(_b64(challenge)), purpose=purpose, browser_hash=browser_hash,
                                 account_id=account_id, session_id=session_id, require_uv=require_uv,
                                 created_at=now, expires_at=now + CHALLENGE_TTL))

    def _take_challenge(self, db, credential: dict, *, purpose: str, browser_hash: str | None,
                        session_id: str | None, now: int) -> tuple[WebAuthnChallenge, bytes]:
        """Find and delete (single use) the challenge the browser signed; it must be ours, fresh,
        for this purpose, from this browser and, when it was bound to one, this session."""
        challenge = _client_challenge(credential)
        row = db.get(WebAuthnChallenge, sha256_hex(_b64(challenge)))
        if row is None:
            raise WebAuthnError("this passkey request is unknown or was already used")
        db.delete(row)
        db.flush()
        if row.purpose != purpose or row.expires_at <= now or row.browser_hash != browser_hash:
            raise WebAuthnError("this passkey request has expired; please try again")
        if row.session_id is not None and row.session_id != session_id:
            raise WebAuthnError("this passkey request belongs to another sign-in")
        return row, challenge

    # -- registration ----------------------------------------------------------------------------
    def registration_options(self, db, *, account: Account, session_id: str, browser_hash: str, now: int) -> str:
        existing = self._credentials(db, account.id)
        options = generate_registration_options(
            rp_id=self.rp_id, rp_name=self.rp_name, user_name=account.username,
            user_id=account.id.encode(), user_display_name=account.given_name or account.username,
            attestation=AttestationConveyancePreference.DIRECT if self.aal3_aaguids
            else AttestationConveyancePreference.NONE,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED, user_verification=UserVerificationRequirement.REQUIRED),
            exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(r.credential_id))
                                 for r in existing],
        )
        self._store_challenge(db, challenge=options.challenge, purpose="register", browser_hash=browser_hash,
                              account_id=account.id, session_id=session_id, require_uv=True, now=now)
        # credProps tells us whether a discoverable credential (a passkey) was made (WebAuthn §10.1.3).
        data = json.loads(options_to_json(options))
        data["extensions"] = {"credProps": True}
        return json.dumps(data)

    def register(self, db, *, account: Account, session_id: str, credential_json: str | None, browser_hash: str,
                 name: str, now: int) -> AccountAuthenticator:
        credential = parse_credential(credential_json)
        challenge, raw = self._take_challenge(db, credential, purpose="register", browser_hash=browser_hash,
                                              session_id=session_id, now=now)
        if challenge.account_id != account.id:
            raise WebAuthnError("this passkey request belongs to another account")
        try:
            verified = verify_registration_response(
                credential=credential, expected_challenge=raw, expected_rp_id=self.rp_id,
                expected_origin=self.origin, require_user_verification=True)
        except WebAuthnException as exc:
            # The library's refusals are not all InvalidRegistrationResponse: a malformed credential
            # is InvalidJSONStructure, a bad attestation InvalidCBORData, ... (each was a 500; found by
            # tests/security/test_fuzz.py).
            raise WebAuthnError(f"the passkey could not be verified ({exc})") from None
        credential_id = _b64(verified.credential_id)
        if db.scalar(select(AccountAuthenticator.id).where(AccountAuthenticator.credential_id == credential_id)):
            raise WebAuthnError("this passkey is already registered")
        aaguid = str(verified.aaguid).lower()
        attested = verified.fmt != "none" and aaguid in self.aal3_aaguids
        row = AccountAuthenticator(
            id=str(uuid.uuid4()), account_id=account.id, kind=self.kind, name=(name or "Passkey").strip()[:100],
            created_at=now, confirmed_at=now, credential_id=credential_id,
            public_key=_b64(verified.credential_public_key), sign_count=verified.sign_count, aaguid=aaguid,
            transports=(credential.get("response") or {}).get("transports"),
            discoverable=bool(((credential.get("clientExtensionResults") or {}).get("credProps") or {}).get("rk")),
            attested=attested,
        )
        db.add(row)
        return row

    # -- authentication ------------------------------------------------------------------------------
    def authentication_options(self, db, *, account: Account | None, session_id: str | None, browser_hash: str,
                               now: int) -> str:
        """Usernameless (``account`` None: any discoverable credential) or for one account's
        credentials (step-up). User verification is always required."""
        allow = None
        if account is not None:
            allow = [PublicKeyCredentialDescriptor(id=base64url_to_bytes(r.credential_id))
                     for r in self._credentials(db, account.id)]
        options = generate_authentication_options(rp_id=self.rp_id, allow_credentials=allow,
                                                  user_verification=UserVerificationRequirement.REQUIRED)
        self._store_challenge(db, challenge=options.challenge, purpose="authenticate", browser_hash=browser_hash,
                              account_id=account.id if account else None, session_id=session_id, require_uv=True,
                              now=now)
        return options_to_json(options)

    def login(self, db, *, credential_json: str | None, browser_hash: str, now: int) -> tuple[Account, AuthnEvent]:
        """Usernameless sign-in: the credential names the account."""
        credential = parse_credential(credential_json)
        challenge, raw = self._take_challenge(db, credential, purpose="authenticate", browser_hash=browser_hash,
                                              session_id=None, now=now)
        row, event = self._check_assertion(db, credential, challenge=challenge, raw=raw, now=now)
        return db.get(Account, row.account_id), event

    def _check_assertion(self, db, credential: dict, *, challenge: WebAuthnChallenge, raw: bytes,
                         now: int) -> tuple[AccountAuthenticator, AuthnEvent]:
        row = db.scalar(select(AccountAuthenticator).where(AccountAuthenticator.credential_id == credential["rawId"],
                                                           AccountAuthenticator.kind == self.kind))
        if row is None or row.confirmed_at is None:
            raise WebAuthnError("this passkey is not registered here (it may have been removed)")
        if row.flagged_at is not None:
            raise WebAuthnError("this passkey is blocked")
        try:
            verified = verify_authentication_response(
                credential=credential, expected_challenge=raw, expected_rp_id=self.rp_id,
                expected_origin=self.origin, credential_public_key=base64url_to_bytes(row.public_key),
                credential_current_sign_count=row.sign_count, require_user_verification=challenge.require_uv)
        except WebAuthnException as exc:  # InvalidAuthenticationResponse, InvalidJSONStructure, ... (as above)
            if "sign count" in str(exc).lower():
                row.flagged_at = now
                audit.record(db, "authenticator.flagged", at=now, actor=row.account_id, authenticator_id=row.id,
                             reason="sign_count_regressed")
                raise WebAuthnError("this passkey is blocked: its counter went backwards (possible clone)") from None
            raise WebAuthnError(f"the passkey could not be verified ({exc})") from None
        row.sign_count = verified.new_sign_count
        row.last_used_at = now
        factor = "hwk_uv_attested" if (verified.user_verified and row.attested) else (
            "hwk_uv" if verified.user_verified else "hwk")
        amr = ("hwk", "user") if verified.user_verified else ("hwk",)
        return row, AuthnEvent(kind=self.kind, factor=factor, amr=amr, at=now)


