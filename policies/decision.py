"""Per-service policy and the login decision: small named checks with reason codes, failing
closed (node-oidc-provider's interaction policy). No policy means deny."""

from __future__ import annotations

from dataclasses import dataclass

from policies.authn import AALRules, default_rules
from policies.levels import AAL, IAL
from policies.risk import Assessment


class PolicyError(ValueError):
    """A policy that cannot be valid (e.g. citizen ID release without a legal basis)."""


@dataclass(frozen=True)
class ServicePolicy:
    min_ial: IAL
    min_aal: AAL
    max_age: int | None = None
    allowed_providers: frozenset[str] | None = None  # None: any upstream; empty: local login only
    allowed_authenticators: frozenset[str] | None = None  # amr values accepted; None: any
    release_citizen_id: bool = False
    citizen_id_legal_basis: str | None = None
    delegation_allowed: bool = False
    release_verified_claims: bool = False
    assessment: Assessment | None = None

    def __post_init__(self) -> None:
        if self.release_citizen_id and not (self.citizen_id_legal_basis or "").strip():
            raise PolicyError("releasing the citizen ID requires a recorded legal basis")
        if self.max_age is not None and (not isinstance(self.max_age, int) or self.max_age < 0):
            raise PolicyError("max_age must be a non-negative number of seconds")


@dataclass(frozen=True)
class AuthRequest:
    """What the e-service asked for, already parsed (acr_values, essential acr, max_age)."""

    ial: IAL | None = None
    aal: AAL | None = None
    essential: bool = False
    max_age: int | None = None


@dataclass(frozen=True)
class SessionState:
    """What the current session has achieved."""

    ial: IAL
    aal: AAL
    auth_time: int
    last_active: int
    amr: frozenset[str] = frozenset()
    provider: str | None = None  # upstream that authenticated the session, None for local


@dataclass(frozen=True)
class Reason:
    code: str
    detail: str


@dataclass(frozen=True)
class Decision:
    outcome: str  # allow | step_up | deny
    reasons: tuple[Reason, ...] = ()
    #: what a step-up must reach: any of "login" (authenticate again), an IAL, an AAL
    need_login: bool = False
    need_ial: IAL | None = None
    need_aal: AAL | None = None
    required_ial: IAL | None = None
    required_aal: AAL | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


def evaluate(*, policy: ServicePolicy | None, request: AuthRequest, session: SessionState | None, now: int,
             rules: AALRules | None = None) -> Decision:
    """Decide whether ``session`` may receive tokens for a service under ``policy``.

    The service floors always apply; a request can only raise them. Order: policy exists →
    session exists and still counts at its AAL → max_age → provider → factors → IAL → AAL.
    """
    rules = rules or default_rules()
    if policy is None:
        return Decision("deny", (Reason("no_policy", "the service has no assurance policy"),))
    required_ial = max(policy.min_ial, request.ial) if request.ial else policy.min_ial
    required_aal = max(policy.min_aal, request.aal) if request.aal else policy.min_aal
    common = dict(required_ial=required_ial, required_aal=required_aal)

    def step_up(*reasons: Reason, login=False, ial=None, aal=None) -> Decision:
        return Decision("step_up", tuple(reasons), need_login=login, need_ial=ial, need_aal=aal, **common)

    if session is None:
        return step_up(Reason("no_session", "the person is not signed in"), login=True,
                       aal=required_aal if required_aal > AAL.lowest() else None)
    limit = rules.limit(session.aal)
    idle_for = now - session.last_active
    if now - session.auth_time >= limit.absolute or (limit.idle is not None and idle_for >= limit.idle):
        return step_up(Reason("session_too_old_for_aal",
                              f"the session no longer counts at AAL {session.aal} (absolute {limit.absolute}s, "
                              f"idle {limit.idle}s)"), login=True)
    max_ages = [m for m in (policy.max_age, request.max_age) if m is not None]
    if max_ages and now - session.auth_time > min(max_ages):
        return step_up(Reason("max_age_exceeded", f"signed in {now - session.auth_time}s ago, more than "
                                                  f"{min(max_ages)}s allowed"), login=True)
    if policy.allowed_providers is not None and session.provider is not None \
            and session.provider not in policy.allowed_providers:
        return step_up(Reason("provider_not_allowed", f"{session.provider} is not accepted by this service"),
                       login=True)
    if policy.allowed_authenticators is not None and not session.amr & policy.allowed_authenticators:
        return step_up(Reason("authenticator_not_allowed", "none of the factors used is accepted by this service"),
                       login=True)
    reasons: list[Reason] = []
    need_ial = need_aal = None
    if session.ial < required_ial:
        need_ial = required_ial
        code = "ial_below_floor" if session.ial < policy.min_ial else (
            "essential_acr_unmet" if request.essential else "requested_ial_unmet")
        reasons.append(Reason(code, f"identity assurance {session.ial} is below {required_ial}"))
    if session.aal < required_aal:
        need_aal = required_aal
        code = "aal_below_floor" if session.aal < policy.min_aal else (
            "essential_acr_unmet" if request.essential else "requested_aal_unmet")
        reasons.append(Reason(code, f"authentication assurance {session.aal} is below {required_aal}"))
    if reasons:
        return step_up(*reasons, ial=need_ial, aal=need_aal)
    return Decision("allow", (), **common)


__all__ = ["AuthRequest", "Decision", "PolicyError", "Reason", "ServicePolicy", "SessionState", "evaluate"]
