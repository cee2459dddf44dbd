"""Who may act as a proofing officer: the ``officer`` role, a phishing-resistant sign-in (AAL 2.2,
like every staff page) and a fresh one: signed in within one shift (8 hours, ``OFFICER_POLICY.max_age``;
``policies.evaluate`` sends an older sign-in to sign in again, not to step up).

``current_officer`` is for pages (a redirect to sign in or step up, 403 for anyone without the
role); ``officer_json_gate`` for the JSON endpoints a call page's script calls (401/403 JSON, never
a redirect a ``fetch`` would follow into an HTML page).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from idgw.proofing.cases import Officer
from idgw.web.staff import gated_response, staff_gate
from policies import AAL, IAL, ServicePolicy

ROLE = "officer"
SHIFT = 8 * 3600
OFFICER_POLICY = ServicePolicy(min_ial=IAL("1.1"), min_aal=AAL("2.2"), max_age=SHIFT)


def officer_gate(gw, db, request: Request, now: int) -> tuple:
    """The staff gate's outcome for an officer (``idgw.web.staff.staff_gate``)."""
    return staff_gate(gw, db, request, now, role=ROLE, policy=OFFICER_POLICY)


def current_officer(gw, db, request: Request, now: int, *, here: str | None = None) -> Officer | Response:
    """The officer behind this request, or the page's answer for anyone else: a redirect to sign in
    (none, or signed in more than 8 hours ago) or to step up (below AAL 2.2), 403 for a citizen.
    ``here``: where to come back after signing in (default: this path)."""
    outcome = officer_gate(gw, db, request, now)
    if outcome[0] == "ok":
        return Officer(account_id=outcome[2].id, session_id=outcome[1].id)
    return gated_response(gw, request, outcome, here=here)


def officer_json_gate(gw, db, request: Request, now: int) -> Officer | JSONResponse:
    """As ``current_officer`` for a JSON endpoint: 401 ``{"error": "signin"|"step_up", "aal"}`` for a
    session that must sign in again or step up (the page reloads to be sent there), 403
    ``{"error": "forbidden"}`` without the officer role."""
    outcome = officer_gate(gw, db, request, now)
    state = outcome[0]
    if state == "ok":
        return Officer(account_id=outcome[2].id, session_id=outcome[1].id)
    if state == "forbidden":
        return JSONResponse({"error": "forbidden"}, status_code=403)
    error = "signin" if state == "signin" else "step_up"
    return JSONResponse({"error": error, "aal": OFFICER_POLICY.min_aal.value}, status_code=401,
                        headers={"Cache-Control": "no-store"})


__all__ = ["OFFICER_POLICY", "ROLE", "SHIFT", "current_officer", "officer_gate", "officer_json_gate"]
