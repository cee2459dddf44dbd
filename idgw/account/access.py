"""Who may use the account pages: a session that proves control of the account.

Any combination of the account's own factors that proves control will do, so that a person who
lost one device can still reach the page and remove it: a password with an authenticator app or
a recovery code, a passkey, or (for an account without a password) a sign-in through a linked
upstream such as ThaiD or NDID. Concretely the session needs the lower of what the account's
factors can reach and two-step sign-in (AAL 2.1); a password-only or upstream-only account needs
AAL 1. Changes also need a fresh sign-in (``FRESH_SECONDS``).

Staff roles do not raise this: admins and officers meet their own AAL 2.2 floor on the staff
pages (``idgw.web.signin.STAFF_POLICY``), not here; the account page only refuses to remove the
factor that floor depends on (``idgw.account.rules``)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from fastapi import Request

from idgw.login.raising import factor_routes
from idgw.login.sessions import load_session
from idgw.storage.models import Account, LoginSession
from policies import AAL, default_rules

FRESH_SECONDS = 300
#: The most the account page asks for: two-step sign-in. Higher factors (a passkey) still serve,
#: and a person without their passkey proves control with a password and a recovery code.
ACCESS_CAP = AAL("2.1")


def factor_kinds(registry, db, account: Account, *, without: str | None = None) -> set[str]:
    """The factor kinds (policies/data/aal-rules.yaml) the account's local factors can produce,
    as if the authenticator row ``without`` were gone."""
    kinds = {"pwd"} if account.password_hash else set()
    for auth in registry.all():
        kinds |= auth.factors(db, account, without=without)
    return kinds


def reach_of(kinds: set[str]) -> AAL:
    """The highest AAL these factor kinds reach together (AAL 1 when none does)."""
    return default_rules().aal_for(kinds) or AAL("1")


def factor_reach(registry, db, account: Account, *, without: str | None = None) -> AAL:
    return reach_of(factor_kinds(registry, db, account, without=without))


def needed_aal(reach: AAL) -> AAL:
    """What the account page asks of a session, for an account whose factors reach ``reach``."""
    return min(reach, ACCESS_CAP)


def shortfall(*, reach: AAL, has_password: bool, session_aal: AAL, upstream: bool, age: int,
              fresh: bool) -> AAL | None:
    """None when a session proves control of the account (and, when ``fresh`` is asked for,
    was signed in within ``FRESH_SECONDS``); otherwise the level to sign in at.

    ``upstream``: the session was started by a linked upstream (ThaiD, NDID). For an account
    without a password that upstream is how the account came to be and how its owner signs in,
    so it proves control whatever level it asserted; when it is too old, a new sign-in through
    it is what is asked (AAL 1: the sign-in page, where it is offered), not a factor the person
    may have lost (asking for the account's level sent them to step up with that factor alone)."""
    need = needed_aal(reach)
    by_upstream = upstream and not has_password
    if fresh and age > FRESH_SECONDS:
        return AAL("1") if by_upstream else need
    if by_upstream:
        return None
    return None if session_aal >= need else need


def signin_url(next_path: str, aal: AAL) -> str:
    """The gateway's own sign-in, asked to come back to ``next_path`` at ``aal`` or higher."""
    return f"/signin?next={quote(next_path, safe='/')}&aal={aal.value}"


@dataclass(frozen=True)
class Gate:
    session: LoginSession | None
    account: Account | None
    redirect: str | None


def check(gw, db, *, cookie: str | None, now: int, fresh: bool, next_path: str = "/account") -> Gate:
    """The session behind ``cookie`` and its account when they may use the account pages, else
    where to sign in (``/signin?next=...&aal=...``)."""
    session = load_session(db, cookie=cookie, now=now)
    if session is None:
        return Gate(None, None, signin_url(next_path, AAL("1")))
    account = db.get(Account, session.account_id)
    reach = factor_reach(gw.authenticators, db, account)
    gap = shortfall(reach=reach, has_password=bool(account.password_hash), session_aal=AAL(session.aal),
                    upstream=session.provider is not None, age=now - session.auth_time, fresh=fresh)
    if gap is None:
        return Gate(session, account, None)
    if AAL(session.aal) < gap and not factor_routes(registry=gw.authenticators, db=db, account=account,
                                                     session=session, need=gap):
        # No factor of the account raises this session (one from an upstream, for an account
        # with a password and an app: the step-up had nothing to offer and sent the person back
        # here): a new sign-in, on the sign-in page, which the session's own level opens.
        gap = AAL(session.aal)
    return Gate(None, None, signin_url(next_path, gap))


def account_access(gw, db, request: Request, now: int, *, fresh: bool, next_path: str = "/account"):
    """(session, account, None) when the account pages may be used, else (None, None, redirect)."""
    gate = check(gw, db, cookie=request.cookies.get(gw.settings.cookie_name), now=now, fresh=fresh,
                 next_path=next_path)
    return gate.session, gate.account, gate.redirect
