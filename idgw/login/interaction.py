"""What the person must do next for a pending authorization request.

Ordered small steps, failing closed: the service's policy decides (``policies.evaluate``), then
consent must cover the requested scopes. A decision to step up becomes a concrete route: sign in
again, a further factor from the authenticator registry, or (when nothing available can reach
the level) ``unmet_authentication_requirements`` for the client (OpenID Connect EAP ACR Values
§3). ``prompt=none`` turns a needed step into an error instead of a page.
"""

from __future__ import annotations

from dataclasses import dataclass

from idgw.login.sessions import kinds, session_state
from idgw.security import sha256_hex
from idgw.storage.models import Account, Interaction, LoginSession
from policies import AAL, IAL, AuthRequest, ServicePolicy, default_rules, evaluate


def open_interaction(db, *, iid: str, browser: str, now: int) -> tuple[Interaction | None, str | None]:
    """(interaction, None) while it can go on, else (None, reason): ``not_found`` or ``expired``.
    An interaction belongs to the browser that started it (no login CSRF through a link)."""
    ia = db.get(Interaction, iid) if len(iid) <= 64 else None
    if ia is None:
        return None, "not_found"
    if ia.completed_at is not None or ia.expires_at <= now or sha256_hex(browser) != ia.params.get("browser"):
        return None, "expired"
    return ia, None


def mark_signed_in(ia: Interaction, session: LoginSession) -> None:
    """The person authenticated within this request: prompt=login and max_age are satisfied."""
    ia.params = {**ia.params, "progress": {**ia.params["progress"], "session_id": session.id}}


@dataclass(frozen=True)
class Step:
    kind: str  # login | factor | consent | done | error
    error: str | None = None
    description: str | None = None
    factors: tuple[str, ...] = ()


def auth_request(requested: dict) -> AuthRequest:
    """The parsed request stored at /authorize (``acr_values``, essential ``acr``, ``max_age``)."""
    return AuthRequest(ial=IAL(requested["ial"]) if requested.get("ial") else None,
                       aal=AAL(requested["aal"]) if requested.get("aal") else None,
                       essential=bool(requested.get("essential")), max_age=requested.get("max_age"))


def factor_routes(*, registry, db, account: Account, session: LoginSession, need: AAL) -> tuple[str, ...]:
    """Authenticators this account has that, added to the session's factors, reach ``need``."""
    rules = default_rules()
    used = kinds(session)
    routes = []
    for auth in registry.all():
        for factor in auth.factors(db, account):
            reached = rules.aal_for(used | {factor})
            if reached is not None and reached >= need:
                routes.append(auth.kind)
                break
    return tuple(routes)


def next_step(*, db, params: dict, requested: dict, progress: dict, session: LoginSession | None,
              account: Account | None, policy: ServicePolicy | None, consented_scope: str | None, registry,
              now: int) -> Step:
    prompts = set((params.get("prompt") or "").split())
    none = "none" in prompts
    fresh = session is not None and progress.get("session_id") == session.id
    request = auth_request(requested)
    if fresh:
        # Authenticated within this very request: prompt=login and max_age are satisfied.
        request = AuthRequest(ial=request.ial, aal=request.aal, essential=request.essential, max_age=None)
    elif session is not None and "login" in prompts:
        session = None
    decision = evaluate(policy=policy, request=request, session=session_state(session), now=now)
    if decision.outcome == "deny":
        return Step("error", "access_denied", "; ".join(f"{r.code}: {r.detail}" for r in decision.reasons))
    if decision.outcome == "step_up":
        detail = "; ".join(f"{r.code}: {r.detail}" for r in decision.reasons)
        if decision.need_login:
            if none:
                return Step("error", "login_required", detail)
            return Step("login")
        if decision.need_ial is not None:
            # No proofing route exists yet (upstream providers and officer proofing plug in here).
            return Step("error", "unmet_authentication_requirements",
                        f"{detail}; no identity proofing route can reach IAL {decision.need_ial} here")
        routes = factor_routes(registry=registry, db=db, account=account, session=session, need=decision.need_aal)
        if not routes:
            return Step("error", "unmet_authentication_requirements",
                        f"{detail}; no authenticator of this account can reach AAL {decision.need_aal}")
        if none:
            return Step("error", "interaction_required", detail)
        return Step("factor", factors=routes)
    requested_scopes = set((params.get("scope") or "").split())
    granted = set((consented_scope or "").split())
    if (not requested_scopes <= granted or "consent" in prompts) and not progress.get("consented"):
        if none:
            return Step("error", "consent_required", "The person has not consented to these scopes")
        return Step("consent")
    return Step("done")
