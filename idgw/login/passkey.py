"""Usernameless sign-in with a passkey (a discoverable WebAuthn credential), shared by the login
page of an e-service's sign-in and /signin for the gateway's own pages."""

from __future__ import annotations

from dataclasses import dataclass

from idgw.authn import AuthnEvent
from idgw.authn.webauthn import WebAuthnError
from idgw.login.password import PasswordOutcome, locked_outcome, record_failure
from idgw.storage.models import Account


@dataclass(frozen=True)
class PasskeySignIn:
    account: Account | None = None
    event: AuthnEvent | None = None
    rejected: str | None = None  # why the ceremony did not verify (safe to show)
    locked: PasswordOutcome | None = None  # the account may not sign in now (throttled or locked)


def passkey_sign_in(db, *, registry, credential_json, browser_hash: str, ip: str, now: int, settings,
                    client_id: str | None = None) -> PasskeySignIn:
    """Verify the assertion (single-use challenge bound to this browser) and the account's lock;
    a refused ceremony counts as a failure from this IP (``authenticator.failed``)."""
    try:
        account, event = registry.get("webauthn").login(db, credential_json=credential_json,
                                                        browser_hash=browser_hash, now=now)
    except WebAuthnError as exc:
        record_failure(db, account=None, ip=ip, now=now, settings=settings, client_id=client_id,
                       reason="passkey_rejected", event="authenticator.failed", detail=str(exc))
        return PasskeySignIn(rejected=str(exc))
    locked = locked_outcome(account, now)
    if locked is not None:
        return PasskeySignIn(locked=locked)
    return PasskeySignIn(account=account, event=event)
