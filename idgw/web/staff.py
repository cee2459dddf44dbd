"""The gate in front of staff pages (admins, officers): a role on the account and a session that
meets a staff policy (default ``STAFF_POLICY``: AAL 2.2), decided by the same engine as for
e-services (``policies.evaluate``), so a weaker session is sent to step up rather than refused.

``staff_gate`` decides inside the caller's transaction; ``gated_response`` turns its outcome into
the page's answer outside it (None: let the visitor in).
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from idgw.login.interaction import factor_routes
from idgw.login.sessions import load_session, session_state
from idgw.storage.models import Account
from idgw.web.signin import STAFF_POLICY
from policies import AAL, AuthRequest, ServicePolicy, evaluate


class StaffGate(NamedTuple):
    """``state``: 'ok' | 'signin' | 'stepup' | 'forbidden' | 'unmet'. ``routes``: the factor routes
    that raise the session (for 'stepup'); ``need``: the AAL the policy asks for."""

    state: str
    session: object | None
    account: Account | None
    routes: tuple | list = ()
    need: AAL | None = None


def staff_gate(gw, db, request: Request, now: int, *, role: str, policy: ServicePolicy = STAFF_POLICY) -> tuple:
    """('ok', session, account, ()) | ('signin'|'stepup'|'forbidden'|'unmet', session, account, routes)
    (a ``StaffGate``: a tuple with ``need`` = the policy's AAL floor as a fifth item)."""
    need = policy.min_aal
    session = load_session(db, cookie=request.cookies.get(gw.settings.cookie_name), now=now)
    if session is None:
        return StaffGate("signin", None, None, (), need)
    account = db.get(Account, session.account_id)
    if account is None or role not in (account.roles or []):
        return StaffGate("forbidden", session, account, (), need)
    decision = evaluate(policy=policy, request=AuthRequest(), session=session_state(session), now=now)
    if decision.outcome == "allow":
        return StaffGate("ok", session, account, (), need)
    if decision.need_login or decision.need_aal is None:
        return StaffGate("signin", session, account, (), need)
    routes = factor_routes(registry=gw.authenticators, db=db, account=account, session=session,
                           need=decision.need_aal)
    return StaffGate("stepup" if routes else "unmet", session, account, routes, decision.need_aal)


def gated_response(gw, request: Request, outcome, *, here: str | None = None) -> Response | None:
    """The answer for a visitor the gate stops (None: let them in). ``here``: where to come back
    after signing in (default: this page; a form's page for a POST)."""
    state, routes = outcome[0], outcome[3]
    need = outcome[4] if len(outcome) > 4 and outcome[4] is not None else STAFF_POLICY.min_aal
    here = here or request.url.path
    if state == "signin":
        return RedirectResponse(f"/signin?next={quote(here)}", status_code=303)
    if state == "stepup":
        return RedirectResponse(f"/signin/factor/{routes[0]}?next={quote(here)}", status_code=303)
    if state == "forbidden":
        return gw.pages.error(request, "err_forbidden", status=403)
    if state == "unmet":
        # No factor of theirs reaches the staff floor: /signin says what to do (add a passkey on
        # the account page, with the link), or offers an upstream that reaches it.
        return RedirectResponse(f"/signin/stepup?next={quote(here)}&aal={need.value}", status_code=303)
    return None


__all__ = ["StaffGate", "gated_response", "staff_gate"]
