"""The console's home (``/admin``) and the four-eyes change requests (``/admin/changes``).

The home links the console's sections (an auditor who is not an admin sees only the audit log)
and says how many changes wait for a second admin. The change requests page lists what waits
(what, on what, by whom, when, the time left, the reason) with Approve and Reject (with a note)
for every admin but the requester, and Withdraw for the requester; below, the recently decided.
Each decision is a POST through the change gate (a fresh sign-in) with a CSRF token bound to the
request; ``decide`` makes it (``idgw.console.four_eyes``, which applies an approved change through
its kind) and a refusal is worded from ``FourEyesError.code``.

An approval whose change cannot be applied (the kind's apply refuses) rolls back as a whole: the
request stays pending and nothing is audited. An approval that comes too late is refused and the
request is marked expired (that much is kept).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from idgw.console import (
    four_eyes,
    policy_change,  # noqa: F401  (registers the policy.lower kind)
)
from idgw.console.changes_texts import STATUSES, refusal, time_left
from idgw.console.gate import AUDIT_ROLES, change_gate, gated_response, gated_work, view_gate
from idgw.depends import gateway_of
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.storage.console import ChangeRequest
from idgw.web.i18n import format_datetime, t

router = APIRouter()
CHANGES = "/admin/changes"
DONE = {"approve": "approved", "reject": "rejected", "cancel": "cancelled"}
# The console's sections: (key of the link's words, address, roles that see it).
SECTIONS = (("services", "/admin/services", ("admin",)), ("upstreams", "/admin/upstreams", ("admin",)),
            ("keys", "/admin/keys", ("admin",)), ("staff", "/admin/staff", ("admin",)),
            ("audit", "/admin/audit", AUDIT_ROLES), ("changes", CHANGES, ("admin",)))


def purpose(change_id: str) -> str:
    return f"change:{change_id}"


def sections(roles) -> list[dict]:
    """The console's sections the holder of ``roles`` may open."""
    return [{"key": key, "href": href} for key, href, allowed in SECTIONS if set(allowed) & set(roles or ())]


def decide(db, *, action: str, change_id: str, admin, now: int, note: str | None = None) -> ChangeRequest:
    """Approve (and so apply), reject or withdraw (``cancel``) a request as ``admin``. Raises
    ``FourEyesError``, or the kind's own error when an approved change cannot be applied."""
    if action == "approve":
        return four_eyes.approve(db, request_id=change_id, approver=admin, now=now)
    if action == "reject":
        return four_eyes.reject(db, request_id=change_id, approver=admin, now=now, note=note)
    return four_eyes.cancel(db, request_id=change_id, requester=admin, now=now)


def request_view(row: ChangeRequest, *, locale: str, now: int) -> dict:
    return {"id": row.id, "kind": row.kind, "target": row.target, "description": four_eyes.describe(row, locale),
            "reason": row.reason, "by": row.requested_by_name, "by_id": row.requested_by, "at": row.requested_at,
            "left": time_left(row.expires_at - now, format_datetime(row.expires_at, locale), locale),
            "status": t(f"chg_status_{row.status}", locale) if row.status in STATUSES else row.status,
            "decided_by": row.decided_by_name or (t("chg_system", locale) if row.status == "expired" else ""),
            "decided_at": row.decided_at, "note": row.decision_note}


def changes_context(gw, request: Request, db, now: int, admin) -> dict:
    """The page: pending requests with their forms' tokens, and the recently decided ones."""
    locale = gw.pages.locale(request)
    browser = request.cookies.get("idgw_browser") or ""
    pending = [{**request_view(row, locale=locale, now=now), "own": row.requested_by == admin.id,
                "csrf_token": gw.pages.csrf_token(browser, purpose(row.id))}
               for row in four_eyes.pending(db, now=now)]
    recent = [request_view(row, locale=locale, now=now) for row in four_eyes.recent(db, limit=20)]
    return dict(pending=pending, recent=recent, me=admin.username)


@router.get("/admin", include_in_schema=False)
async def home(request: Request, gw=Depends(gateway_of)) -> Response:
    def work(db, now, me):
        roles = list(me.roles or [])
        waiting = len(four_eyes.pending(db, now=now)) if "admin" in roles else None
        return dict(sections=sections(roles), waiting=waiting, me=me.username, auditor_only="admin" not in roles)

    ok, context = await gated_work(gw, request, work, here="/admin", roles=AUDIT_ROLES)
    return gw.pages.render(request, "console_home.html", **context) if ok else context


async def changes_page(gw, request: Request, *, message: str | None = None, error: str | None = None,
                       status: int = 200) -> Response:
    def run():
        db, now = current_db.get(), gw.clock.now()
        outcome = view_gate(gw, db, request, now)
        if outcome[0] != "ok":
            return outcome, None
        return outcome, changes_context(gw, request, db, now, outcome[2])

    outcome, context = await in_transaction(gw.sessionmaker, gw.client_ip(request), run)
    blocked = gated_response(gw, request, outcome, here=CHANGES)
    if blocked is not None:
        return blocked
    return gw.pages.render(request, "console_changes.html", status=status, message=message, error=error, **context)


@router.get(CHANGES, include_in_schema=False)
async def changes(request: Request, gw=Depends(gateway_of)) -> Response:
    done = request.query_params.get("done")
    message = t(f"chg_done_{done}", gw.pages.locale(request)) if done in DONE.values() else None
    return await changes_page(gw, request, message=message)


async def decision(gw, request: Request, change_id: str, action: str) -> Response:
    form = await gw.pages.read_form(request)
    note = (form.get("note") or "").strip()[:2000] or None
    csrf_ok = gw.pages.check_csrf(request, form, purpose(change_id))

    def run():
        db, now = current_db.get(), gw.clock.now()
        outcome = change_gate(gw, db, request, now)
        if outcome[0] != "ok":
            return outcome, None
        if not csrf_ok:
            return ("csrf",), None
        try:
            decide(db, action=action, change_id=change_id, admin=outcome[2], now=now, note=note)
        except four_eyes.FourEyesError as exc:
            if exc.code != "expired":
                raise  # nothing was written
            return outcome, exc  # committed: the request is now marked expired
        return outcome, None

    try:
        outcome, refused = await in_transaction(gw.sessionmaker, gw.client_ip(request), run)
    except ValueError as exc:  # refused, or the change could not be applied: all rolled back
        outcome, refused = None, exc
    if outcome is not None:
        if outcome[0] == "csrf":
            return gw.pages.error(request, "err_csrf", status=403)
        blocked = gated_response(gw, request, outcome, here=CHANGES)
        if blocked is not None:
            return blocked
    if refused is None:
        return RedirectResponse(f"{CHANGES}?done={DONE[action]}", status_code=303)
    return await changes_page(gw, request, error=refusal(refused, gw.pages.locale(request)),
                              status=getattr(refused, "status", 409))


@router.post(CHANGES + "/{change_id}/approve", include_in_schema=False)
async def approve(change_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await decision(gw, request, change_id, "approve")


@router.post(CHANGES + "/{change_id}/reject", include_in_schema=False)
async def reject(change_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await decision(gw, request, change_id, "reject")


@router.post(CHANGES + "/{change_id}/cancel", include_in_schema=False)
async def cancel(change_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await decision(gw, request, change_id, "cancel")
