"""What the person must do next for a pending authorization request.

Ordered small steps, failing closed (node-oidc-provider's interaction policy): a session must
exist and satisfy ``prompt=login`` and ``max_age`` (OIDC Core §3.1.2.1), then consent must cover
the requested scopes. ``prompt=none`` turns a needed step into an error for the client.
"""

from __future__ import annotations

from dataclasses import dataclass

from idgw.storage.models import LoginSession


@dataclass(frozen=True)
class Step:
    kind: str  # login | consent | done | error
    error: str | None = None
    description: str | None = None


def next_step(*, params: dict, progress: dict, session: LoginSession | None, consented_scope: str | None,
              now: int) -> Step:
    prompts = set((params.get("prompt") or "").split())
    fresh = session is not None and progress.get("session_id") == session.id
    need_login = session is None
    if session is not None and not fresh:
        if "login" in prompts:
            need_login = True
        max_age = params.get("max_age")
        if max_age is not None and now - session.auth_time > int(max_age):
            need_login = True
    if need_login:
        if "none" in prompts:
            return Step("error", "login_required", "The person is not signed in or must sign in again")
        return Step("login")
    requested = set((params.get("scope") or "").split())
    granted = set((consented_scope or "").split())
    need_consent = not requested <= granted or ("consent" in prompts and not progress.get("consented"))
    if need_consent and not progress.get("consented"):
        if "none" in prompts:
            return Step("error", "consent_required", "The person has not consented to these scopes")
        return Step("consent")
    return Step("done")
