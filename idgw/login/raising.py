"""Raise my sign-in: every route available here that closes an assurance gap (issue 12).

When the decision says a session is below what a service (or a gateway page) needs, the person
stays on the gateway and is offered every route that reaches the level, instead of being sent
back with ``unmet_authentication_requirements``:

- ``factor``: an authenticator the account already has (an app code, a passkey, a recovery code)
  that, added to the factors used in this session, reaches the AAL;
- ``enrol``: set up an authenticator app or a passkey now, inside the sign-in, when the account
  has no second factor yet (NIST SP 800-63B §6.1.2.1: an account protected by one factor may bind
  another after signing in with it; once an account has a second factor, a password alone must
  never be enough to bind a new one, or a stolen password would bypass it);
- ``upstream``: sign in through a configured upstream whose levels (``levels_offered``) meet both
  floors (the upstream's session replaces this one);
- ``proofing``: identity proofing routes (officer video proofing plugs in here, issue 13).

Identity assurance can only be raised by an upstream or proofing: local factors never prove who
someone is. The service's ``allowed_providers`` is applied by the caller (the upstreams passed in).
"""

from __future__ import annotations

from dataclasses import dataclass

from idgw.login.sessions import kinds
from policies import AAL, IAL, Decision, default_rules

# Factor kinds a new enrolment adds to the session (policies/data/aal-rules.yaml).
ENROL_FACTORS = {"totp": "otp", "webauthn": "hwk_uv"}
# Binding a new authenticator needs a recent authentication (NIST SP 800-63B §6.1.2.1; the account
# page asks the same, idgw.account.access): an old session in an unattended browser must not add
# a factor of its own. Older sessions sign in again first.
ENROL_FRESH_SECONDS = 300


@dataclass(frozen=True)
class Route:
    kind: str  # factor | enrol | upstream | proofing
    name: str  # the authenticator kind, the enrolment (totp | webauthn) or the upstream's name


def has_second_factor(*, registry, db, account) -> bool:
    """Whether the account has any enrolled authenticator beyond the password (app, passkey,
    unused recovery codes)."""
    return any(auth.factors(db, account) for auth in registry.all())


def factor_routes(*, registry, db, account, session, need: AAL) -> tuple[str, ...]:
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


def enrol_routes(*, registry, db, account, session, need: AAL) -> tuple[str, ...]:
    """Authenticators that may be set up now and would, with this session's factors, reach ``need``."""
    if account is None or has_second_factor(registry=registry, db=db, account=account):
        return ()
    rules = default_rules()
    used = kinds(session)
    routes = []
    for kind, factor in ENROL_FACTORS.items():
        reached = rules.aal_for(used | {factor})
        if reached is not None and reached >= need:
            routes.append(kind)
    return tuple(routes)


def upstream_reaches(upstream, *, ial: IAL, aal: AAL) -> bool:
    offered = getattr(upstream, "levels_offered", None)
    if offered is None:
        return False
    max_ial, max_aal = offered()
    return IAL(max_ial) >= ial and AAL(max_aal) >= aal


def accepted_upstreams(upstreams: dict, policy) -> list:
    """The upstreams a service's policy accepts (every configured one when it names none, or when
    there is no service: the gateway's own pages)."""
    names = policy.allowed_providers if policy is not None else None
    return [p for name, p in upstreams.items() if names is None or name in names]


def floors(policy, first) -> tuple[IAL, AAL]:
    """The service's floors raised by the request's most preferred acr alternative ``first``."""
    ial = policy.min_ial if policy else IAL("1.1")
    aal = policy.min_aal if policy else AAL("1")
    if first is not None and first.ial is not None:
        ial = max(ial, first.ial)
    if first is not None and first.aal is not None:
        aal = max(aal, first.aal)
    return ial, aal


def routes_to(*, decision: Decision, registry, db, account, session, upstreams: list,
              may_enrol: bool = True, proofing_ial: IAL | None = None) -> tuple[Route, ...]:
    """Every route that closes the gap ``decision`` (a step-up without need_login) names, in the
    order the page offers them: what the person already has first, then upstreams, then officer
    video proofing (when it grants ``proofing_ial`` >= the IAL needed), then set-up (only with
    ``may_enrol``: a recent authentication). Proofing raises the IAL only; a factor the service
    also needs is asked for after it."""
    ial = decision.required_ial or IAL("1.1")
    aal = decision.required_aal or AAL("1")
    routes: list[Route] = []
    if decision.need_ial is None and decision.need_aal is not None and account is not None:
        routes += [Route("factor", k) for k in factor_routes(registry=registry, db=db, account=account,
                                                              session=session, need=decision.need_aal)]
    routes += [Route("upstream", u.name) for u in upstreams if upstream_reaches(u, ial=ial, aal=aal)]
    if decision.need_ial is not None and proofing_ial is not None and proofing_ial >= ial and account is not None:
        routes.append(Route("proofing", "video"))
    if may_enrol and decision.need_ial is None and decision.need_aal is not None:
        routes += [Route("enrol", k) for k in enrol_routes(registry=registry, db=db, account=account,
                                                            session=session, need=decision.need_aal)]
    return tuple(routes)
