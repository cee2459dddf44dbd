"""Local authenticators behind one small contract, and the registry the login interaction asks
for step-up routes.

Contract (py_webauthn style, keyword-only):
- ``factors(db, account, *, without=None) -> set[str]``: the factor kinds
  (``policies/data/aal-rules.yaml``) this account can produce with it now, as if the enrolled
  authenticator ``without`` were gone; empty when it has none.
- ``begin(db, *, account, session, now) -> Challenge``: what the step-up page shows.
- ``verify(db, *, account, session, form, now) -> AuthnEvent | None``.
The password is verified in ``idgw.login.password``; TOTP, recovery codes and WebAuthn live here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class AuthnEvent:
    """One successful factor verification: ``factor`` is its kind for the AAL rules, ``amr``
    the RFC 8176 values it contributes to tokens."""

    kind: str
    factor: str
    amr: tuple[str, ...]
    at: int


@dataclass(frozen=True)
class Challenge:
    """What the step-up page shows for one authenticator."""

    kind: str
    title: dict  # {"th": ..., "en": ...}
    prompt: dict
    input_label: dict
    extra: dict = field(default_factory=dict)


class Authenticator(Protocol):
    kind: str

    def factors(self, db, account, *, without: str | None = None) -> set[str]: ...

    def begin(self, db, *, account, session, now: int) -> Challenge: ...

    def verify(self, db, *, account, session, form: dict, now: int) -> AuthnEvent | None: ...


class UnknownAuthenticatorError(KeyError):
    pass


class Registry:
    """An explicit registry: kinds are registered by name at start-up."""

    def __init__(self) -> None:
        self._by_kind: dict[str, Authenticator] = {}

    def register(self, authenticator: Authenticator) -> None:
        if authenticator.kind in self._by_kind:
            raise ValueError(f"authenticator {authenticator.kind!r} registered twice")
        self._by_kind[authenticator.kind] = authenticator

    def get(self, kind: str) -> Authenticator:
        try:
            return self._by_kind[kind]
        except KeyError:
            raise UnknownAuthenticatorError(kind) from None

    def all(self) -> list[Authenticator]:
        return list(self._by_kind.values())
