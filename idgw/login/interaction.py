"""What the person must do next for a pending authorization request.

Ordered small steps, failing closed: the service's policy decides (``policies.evaluate``), then
consent must cover the requested scopes. A decision to step up becomes a concrete route: sign in
again, a further factor from the authenticator registry, or (when nothing available can reach
the level) ``unmet_authentication_requirements`` for the client (OpenID Connect EAP ACR Values
§3). ``prompt=none`` turns a needed step into an error instead of a page.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm.attributes import set_committed_value

from idgw.login.raising import (  # noqa: F401 (factor_routes: re-exported)
    ENROL_FRESH_SECONDS,
    Route,
    enrol_routes,
    factor_routes,
    routes_to,
)
from idgw.login.sessions import session_state
from idgw.release import covered, is_verified, plan
from idgw.security import sha256_hex
from idgw.storage import raw
from idgw.storage.models import Account, Interaction, LoginSession
from policies import (
    AAL,
    IAL,
    AcrValue,
    AuthRequest,
    ServicePolicy,
    acr_alternatives,
    combined_acr,
    evaluate,
    first_satisfied,
    parse_acr,
)

# Built once: ``db.get`` builds its SELECT anew each time, and deriving that statement's cache key
# was a fifth of a step's interaction lookup (py-spy, password sign-ins). The identity map still
# answers with the object already loaded in the transaction, as ``db.get`` would.
_BY_ID = select(Interaction).where(Interaction.id == bindparam("p_id"))


def open_interaction(db, *, iid: str, browser: str, now: int) -> tuple[Interaction | None, str | None]:
    """(interaction, None) while it can go on, else (None, reason): ``not_found`` or ``expired``.
    An interaction belongs to the browser that started it (no login CSRF through a link)."""
    ia = db.scalar(_BY_ID, {"p_id": iid}) if len(iid) <= 64 else None
    if ia is None:
        return None, "not_found"
    if ia.completed_at is not None or ia.expires_at <= now or sha256_hex(browser) != ia.params.get("browser"):
        return None, "expired"
    return ia, None


_INSERT = raw.insert_into(Interaction.__table__)


def keep_new(db, ia: Interaction) -> None:
    """Store a new interaction that later steps need (the first page of a sign-in): one INSERT on
    the driver's cursor instead of the session's unit of work, once per /authorize that shows a
    page. ``ia`` stays outside the session: the request that made it changes it no further."""
    raw.execute(db.connection(), _INSERT, {
        "id": ia.id, "client_id": ia.client_id, "params": raw.json_param(ia.params), "created_at": ia.created_at,
        "expires_at": ia.expires_at, "completed_at": ia.completed_at})


def finish(db, *, ia: Interaction, now: int, result: dict) -> bool:
    """Claim the interaction's one outcome: True for the first caller only, also when two submits
    of one interaction run at once (the conditional UPDATE is serialised by the database: on
    PostgreSQL the second waits for the first to commit, then finds it completed). ``result``
    ({"kind": "code"} or {"kind": "error", "location": ...}) lets a repeated submit answer the same."""
    params = {**ia.params, "result": result}
    if ia not in db or ia in db.new:  # created by this very request: nobody else can have it
        ia.completed_at, ia.params = now, params
        return True
    # One statement claims the outcome and writes this request's changes to the interaction with
    # it (on the driver's cursor, so nothing is flushed first): they are written only if it wins.
    claimed = raw.execute(db.connection(), _CLAIM, {"p_id": ia.id, "p_now": now,
                                                    "p_params": raw.json_param(params)}) == 1
    if claimed:  # the row now holds these: nothing left for the unit of work to write
        set_committed_value(ia, "completed_at", now)
        set_committed_value(ia, "params", params)
    else:
        db.expire(ia)  # drop this request's unsaved changes: the first outcome stands as it was
    return claimed


_CLAIM = raw.Statement("UPDATE interactions SET completed_at = :p_now, params = :p_params"
                       " WHERE id = :p_id AND completed_at IS NULL")


_SEED_CONSENT = raw.Statement(
    'INSERT INTO consents (account_id, client_id, "scope", claims, granted_at) '
    "VALUES (:p_account_id, :p_client_id, '', '[]', :p_now) ON CONFLICT (account_id, client_id) DO NOTHING")
_CONSENT_WHERE = "account_id = :p_account_id AND client_id = :p_client_id"
_CONSENT_ROW = f'SELECT "scope", claims FROM consents WHERE {_CONSENT_WHERE}'  # noqa: S608
_READ_CONSENT = {  # PostgreSQL locks the row; SQLite runs one writer at a time anyway
    dialect: raw.Statement(sql, columns=("scope", "claims"), json_columns=frozenset({"claims"}))
    for dialect, sql in (("sqlite", _CONSENT_ROW), ("postgresql", _CONSENT_ROW + " FOR UPDATE"))
}


def consented(db, *, account_id: str, client_id: str):
    """The person's consent for the service (``scope``, ``claims``) or None, read on the driver's
    cursor as ``record_consent`` writes it (read on every interaction step; no row lock)."""
    return raw.first(db.connection(), _READ_CONSENT["sqlite"], {"p_account_id": account_id, "p_client_id": client_id})
_UPDATE_CONSENT = raw.Statement(
    f'UPDATE consents SET "scope" = :p_scope, claims = :p_claims, granted_at = :p_now WHERE {_CONSENT_WHERE}')  # noqa: S608


def record_consent(db, *, account_id: str, client_id: str, scope: str, release: tuple[str, ...], now: int) -> None:
    """Add what the person agreed to now (scopes and released claims) to their consent for the
    service. Safe when two submits run at once: the row is created once (INSERT ... ON CONFLICT DO
    NOTHING) and then updated under a row lock (PostgreSQL; SQLite runs writers one at a time).
    Three statements on the driver's cursor (idgw.storage.raw): consent is on every sign-in."""
    conn = db.connection()
    key = {"p_account_id": account_id, "p_client_id": client_id}
    raw.execute(conn, _SEED_CONSENT, {**key, "p_now": now})
    row = raw.first(conn, _READ_CONSENT[conn.dialect.name], key)
    raw.execute(conn, _UPDATE_CONSENT, {
        **key, "p_now": now, "p_scope": " ".join(sorted(set(row.scope.split()) | set(scope.split()))),
        "p_claims": raw.json_param(sorted(set(row.claims or []) | set(release)))})


def repeated(db, *, iid: str, browser: str, now: int, within: int) -> dict | None:
    """The outcome an interaction already had, for a repeated submit from the same browser within
    ``within`` seconds (a double click, a reload): its ``result``, else None."""
    ia = db.scalar(_BY_ID, {"p_id": iid}) if len(iid) <= 64 else None
    if ia is None or ia.completed_at is None or now - ia.completed_at > within \
            or sha256_hex(browser) != ia.params.get("browser"):
        return None
    return ia.params.get("result")


def mark_signed_in(ia: Interaction, session: LoginSession) -> None:
    """The person authenticated within this request: prompt=login and max_age are satisfied."""
    ia.params = {**ia.params, "progress": {**ia.params["progress"], "session_id": session.id}}


@dataclass(frozen=True)
class Step:
    kind: str  # login | factor | raise | unmet | consent | done | error
    error: str | None = None
    description: str | None = None
    factors: tuple[str, ...] = ()
    # factor, raise: every route that reaches the level (idgw.login.raising); factor, raise, unmet:
    # what the service needs (the page says it in words) and the decision's reason codes
    routes: tuple[Route, ...] = ()
    need_ial: IAL | None = None
    need_aal: AAL | None = None
    reasons: tuple[str, ...] = ()
    release: tuple[str, ...] = ()  # consent, done: what the service will receive (idgw.release)
    acr: str | None = None  # done: the acr claim (policies.acr)


def alternatives(requested: dict) -> list[AcrValue | None]:
    """The acr alternatives stored at /authorize, most preferred first; [None] when none."""
    values = requested.get("acr")
    if values is None and (requested.get("ial") or requested.get("aal")):  # stored before alternatives
        return [AcrValue("", IAL(requested["ial"]) if requested.get("ial") else None,
                         AAL(requested["aal"]) if requested.get("aal") else None)]
    return [a for a in (parse_acr(v) for v in values or []) if a is not None] or [None]


def next_step(*, db, params: dict, requested: dict, progress: dict, session: LoginSession | None,
              account: Account | None, policy: ServicePolicy | None, consented_scope: str | None, registry,
              now: int, consented_claims: list | None = None, upstreams: list | tuple = (),
              proofing_ial: IAL | None = None) -> Step:
    """The next step; ``upstreams``: the upstreams this service accepts (routes to a higher level);
    ``proofing_ial``: the IAL officer video proofing grants for this service (None: not offered)."""
    prompts = set((params.get("prompt") or "").split())
    if requested.get("max_age") == 0:
        prompts.add("login")  # OIDC Core §3.1.2.1: max_age=0 is equivalent to prompt=login
    none = "none" in prompts
    fresh = session is not None and progress.get("session_id") == session.id
    if not fresh and session is not None and "login" in prompts:
        session = None
    # Authenticated within this very request: prompt=login and max_age are satisfied.
    max_age = None if fresh else requested.get("max_age")
    decision, chosen = _decide(db=db, policy=policy, options=alternatives(requested), session=session,
                               account=account, essential=bool(requested.get("essential")), max_age=max_age,
                               registry=registry, now=now, upstreams=list(upstreams), proofing_ial=proofing_ial)
    if decision.outcome == "deny":
        return Step("error", "access_denied", "; ".join(f"{r.code}: {r.detail}" for r in decision.reasons))
    if decision.outcome == "step_up":
        detail = "; ".join(f"{r.code}: {r.detail}" for r in decision.reasons)
        if decision.need_login:
            if none:
                return Step("error", "login_required", detail)
            return Step("login")
        recent = fresh or now - session.auth_time <= ENROL_FRESH_SECONDS
        routes = routes_to(decision=decision, registry=registry, db=db, account=account, session=session,
                           upstreams=list(upstreams), may_enrol=recent, proofing_ial=proofing_ial)
        if not recent and decision.need_aal is not None and decision.need_ial is None and enrol_routes(
                registry=registry, db=db, account=account, session=session, need=decision.need_aal):
            # Setting up a factor needs a recent sign-in: sign in again, then every route is offered.
            return Step("error", "login_required", detail) if none else Step("login")
        need = dict(need_ial=decision.need_ial, need_aal=decision.need_aal, reasons=decision.codes)
        if not routes:
            what = f"IAL {decision.need_ial}" if decision.need_ial is not None else f"AAL {decision.need_aal}"
            description = f"{detail}; no route available here can reach {what}"
            if none:
                return Step("error", "unmet_authentication_requirements", description)
            # The person is told why first, with a link back to the service carrying this error.
            return Step("unmet", "unmet_authentication_requirements", description, **need)
        if none:
            return Step("error", "interaction_required", detail)
        factors = tuple(r.name for r in routes if r.kind == "factor")
        # Authenticators the person already has: straight to the first, the rest offered beside it.
        return Step("factor" if factors else "raise", factors=factors, routes=routes, **need)
    acr = _acr_claim(chosen, requested, session)
    # Consent must cover the scopes and every claim to be released (security review item 3: claims
    # outside what the consent page showed were released).
    release = plan(scope=params.get("scope") or "", claims_request=requested.get("claims"), policy=policy,
                   verified=account is not None and is_verified(account))
    requested_scopes = set((params.get("scope") or "").split())
    granted = set((consented_scope or "").split())
    agreed = requested_scopes <= granted and covered(release, consented_scope=consented_scope,
                                                     consented_claims=consented_claims)
    # The consent page records exactly what it showed (progress["shown"]); if more is to be released
    # by the time the code is issued (the policy changed meanwhile), the page comes again.
    if not agreed or ("consent" in prompts and not progress.get("consented")):
        if none:
            return Step("error", "consent_required", "The person has not agreed to release this information")
        return Step("consent", release=release)
    return Step("done", release=release, acr=acr)


def _decide(*, db, policy, options, session, account, essential: bool, max_age, registry, now, upstreams=(),
            proofing_ial=None):
    """The decision for the first alternative the session satisfies; when none does, for the first
    one whose step-up can be done here (signing in again, or any route of idgw.login.raising), else
    the most preferred one (then unmet). Returns (decision, the alternative it is for)."""
    state = session_state(session)
    if len(options) == 1:  # the usual case: nothing to choose between
        request = AuthRequest(ial=options[0].ial if options[0] else None, aal=options[0].aal if options[0] else None,
                              essential=essential, max_age=max_age)
        return evaluate(policy=policy, request=request, session=state, now=now), options[0]
    tried = []
    for option in options:
        request = AuthRequest(ial=option.ial if option else None, aal=option.aal if option else None,
                              essential=essential, max_age=max_age)
        decision = evaluate(policy=policy, request=request, session=state, now=now)
        if decision.outcome == "allow":
            return decision, option
        tried.append((decision, option))
    for decision, option in tried:
        if decision.outcome == "deny" or decision.need_login:
            return decision, option
        if routes_to(decision=decision, registry=registry, db=db, account=account, session=session,
                     upstreams=list(upstreams), proofing_ial=proofing_ial):
            return decision, option
    return tried[0]


def _acr_claim(chosen: AcrValue | None, requested: dict, session: LoginSession) -> str:
    """OIDC Core §5.5.1.1: the requested value the sign-in satisfies; with none requested, the
    first preferred (non-essential ``claims`` acr) value it satisfies, else the combined value of
    what it reached (policies.acr)."""
    if chosen is not None and chosen.value:
        return chosen.value
    ial, aal = IAL(session.ial), AAL(session.aal)
    preferred = first_satisfied(acr_alternatives(requested.get("acr_preferred") or []), ial=ial, aal=aal)
    return preferred.value if preferred else combined_acr(ial=ial, aal=aal)
