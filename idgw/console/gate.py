"""Who may use the admin console, decided by the same staff gate as every staff page
(``idgw.web.staff``): a role on the account and a session at AAL 2.2; a change (any POST)
additionally needs a fresh sign-in, at most ``FRESH`` seconds old, so a session left open on a desk
cannot be used to change the gateway.

``view_gate``/``change_gate`` run inside the caller's transaction; ``gated_response`` turns their
outcome into the page's answer outside it (None: go on)."""

from __future__ import annotations

from fastapi import Request

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


__all__ = ["AUDIT_ROLES", "CHANGE_POLICY", "FRESH", "change_gate", "gated_response", "view_gate"]
