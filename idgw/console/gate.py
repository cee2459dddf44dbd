"""Who may use the admin console, decided by the same staff gate as every staff page
(``idgw.web.staff``): a role on the account and a session at AAL 2.2; a change (any POST)
additionally needs a fresh sign-in, at most ``FRESH`` seconds old, so a session left open on a desk
cannot be used to change the gateway.

``view_gate``/``change_gate`` run inside the caller's transaction; ``gated_response`` turns their
outcome into the page's answer outside it (None: go on); ``gated_work`` does all three around one
transaction, for the console's pages."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.web.signin import STAFF_POLICY
from idgw.web.staff import gated_response, staff_gate
from policies import IAL, ServicePolicy

FRESH = 15 * 60
CHANGE_POLICY = ServicePolicy(min_ial=IAL("1.1"), min_aal=STAFF_POLICY.min_aal, max_age=FRESH)
AUDIT_ROLES = ("auditor", "admin")


def view_gate(gw, db, request: Request, now: int, *, roles: tuple[str, ...] = ("admin",)):
    """For reading a console page: one of ``roles`` and a staff-level session."""
    return _gate(gw, db, request, now, roles=roles, policy=STAFF_POLICY)


def change_gate(gw, db, request: Request, now: int, *, roles: tuple[str, ...] = ("admin",)):
    """For a change: one of ``roles`` and a staff-level session signed in at most FRESH s ago."""
    return _gate(gw, db, request, now, roles=roles, policy=CHANGE_POLICY)


def _gate(gw, db, request, now, *, roles, policy):
    outcome = None
    for role in roles:
        outcome = staff_gate(gw, db, request, now, role=role, policy=policy)
        if outcome[0] != "forbidden":
            return outcome
    return outcome


async def gated_work(gw, request: Request, work, *, here: str, form: dict | None = None, purpose: str | None = None,
                     roles: tuple[str, ...] = ("admin",)) -> tuple[bool, object]:
    """Run ``work(db, now, admin)`` in one transaction behind the gate: ``view_gate`` for a page,
    ``change_gate`` and the CSRF token for ``purpose`` when there is a ``form``. Returns
    (True, ``work``'s answer), or (False, the Response for a visitor the gate stops or a form
    without its token: nothing of ``work`` ran)."""
    csrf_ok = form is None or gw.pages.check_csrf(request, form, purpose)
    gate = view_gate if form is None else change_gate

    def run():
        db, now = current_db.get(), gw.clock.now()
        outcome = gate(gw, db, request, now, roles=roles)
        if outcome[0] != "ok":
            return outcome, None
        if not csrf_ok:
            return ("csrf",), None
        return outcome, work(db, now, outcome[2])

    outcome, answer = await in_transaction(gw.sessionmaker, gw.client_ip(request), run)
    if outcome[0] == "csrf":
        return False, gw.pages.error(request, "err_csrf", status=403)
    blocked: Response | None = gated_response(gw, request, outcome, here=here)
    if blocked is not None:
        return False, blocked
    return True, answer


__all__ = ["AUDIT_ROLES", "CHANGE_POLICY", "FRESH", "change_gate", "gated_response", "gated_work", "view_gate"]
