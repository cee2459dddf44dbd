"""Staff pages of the admin console (role ``admin``): ``/admin/staff`` lists the people holding a
staff role (admin, officer, auditor) with their roles, whether they are disabled or locked and
their last sign-in, and finds any account to grant a role; ``/admin/staff/{account_id}`` grants and
removes roles, disables, re-enables and unlocks the account.

Reading needs ``view_gate``; every change (a POST) ``change_gate`` (a fresh sign-in) and the
page's CSRF token. The decisions are ``idgw.console.staff``; a refusal re-renders the person's
page with what was typed and the reason in words; a change answers with a redirect to the page.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from idgw.admin import SEARCH_MIN_CHARS, search_too_short
from idgw.console import staff
from idgw.console.gate import gated_work
from idgw.console.staff_texts import DONE, refusal, role_name
from idgw.depends import gateway_of
from idgw.storage.models import Account
from idgw.web.i18n import t

router = APIRouter()
LIST = "/admin/staff"


def person_path(account_id: str) -> str:
    return f"{LIST}/{quote(account_id, safe='')}"


def purpose(account_id: str) -> str:
    return f"console-staff:{account_id}"


def person_context(gw, request: Request, db, account: Account, admin: Account, now: int, *,
                   error: str | None = None, reason: str = "", message: str | None = None) -> dict:
    locale = gw.pages.locale(request)
    member = staff.members(db, [account], now=now)[0]
    pending = staff.pending_admin_grant(db, account_id=account.id, now=now)
    grantable = [r for r in staff.STAFF_ROLES if r not in member.roles]
    browser = request.cookies.get("idgw_browser") or ""
    return dict(member=member, email=account.email, own=account.id == admin.id, pending=pending,
                grantable=[(r, role_name(r, locale)) for r in grantable],
                role_names={r: role_name(r, locale) for r in staff.STAFF_ROLES}, error=error, reason=reason,
                message=message, page=person_path(account.id),
                csrf_token=gw.pages.csrf_token(browser, purpose(account.id)))


async def _person_work(gw, request: Request, account_id: str, work, *, form: dict | None = None) -> Response:
    """Run ``work(db, now, account, admin)`` behind the console's gate (``gated_work``: a POST
    through the change gate and with the page's CSRF token), the account locked for a change.
    ``work`` answers a Response or (template context, status)."""

    def on_account(db, now, admin):
        account = db.get(Account, account_id, with_for_update=form is not None)
        if account is None:
            return gw.pages.error(request, "err_not_found", status=404)
        return work(db, now, account, admin)

    ok, answer = await gated_work(gw, request, on_account, here=person_path(account_id), form=form,
                                  purpose=purpose(account_id))
    if not ok or isinstance(answer, Response):
        return answer
    context, status = answer
    return gw.pages.render(request, "console_staff_person.html", status=status, **context)


def _done(account_id: str, done: str) -> Response:
    return RedirectResponse(f"{person_path(account_id)}?done={done}", status_code=303)


@router.get(LIST, include_in_schema=False)
async def staff_list(request: Request, gw=Depends(gateway_of)) -> Response:
    q = (request.query_params.get("q") or "").strip()[:200]
    locale = gw.pages.locale(request)

    ok, found = await gated_work(gw, request, lambda db, now, admin: (
        staff.staff(db, now=now), staff.find(db, q, now=now) if q else []), here=LIST)
    if not ok:
        return found
    members, results = found
    return gw.pages.render(request, "console_staff.html", members=members, results=results, q=q,
                           too_short=search_too_short(q), min_chars=SEARCH_MIN_CHARS,
                           role_names={r: role_name(r, locale) for r in staff.STAFF_ROLES})


@router.get(LIST + "/{account_id}", include_in_schema=False)
async def person(account_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    done = request.query_params.get("done")
    message = t(f"cst_done_{done}", gw.pages.locale(request)) if done in DONE else None

    def work(db, now, account, admin):
        return person_context(gw, request, db, account, admin, now, message=message), 200

    return await _person_work(gw, request, account_id, work)


def _refused(gw, request, db, account, admin, now, exc, *, reason: str = ""):
    context = person_context(gw, request, db, account, admin, now, reason=reason,
                             error=refusal(exc, gw.pages.locale(request)))
    return context, exc.status


@router.post(LIST + "/{account_id}/grant", include_in_schema=False)
async def grant(account_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)
    role = str(form.get("role") or "")[:40]
    reason = str(form.get("reason") or "").strip()[:500]

    def work(db, now, account, admin):
        try:
            if role == "admin":
                staff.request_admin(db, account=account, actor=admin, now=now, ttl=gw.settings.four_eyes_ttl,
                                    reason=reason or None)
                return _done(account.id, "requested")
            staff.grant(db, account=account, role=role, actor=admin, now=now)
        except staff.StaffError as exc:
            return _refused(gw, request, db, account, admin, now, exc, reason=reason)
        return _done(account.id, "granted")

    return await _person_work(gw, request, account_id, work, form=form)


@router.post(LIST + "/{account_id}/remove", include_in_schema=False)
async def remove(account_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)
    role = str(form.get("role") or "")[:40]

    def work(db, now, account, admin):
        try:
            staff.remove(db, account=account, role=role, actor=admin, now=now)
        except staff.StaffError as exc:
            return _refused(gw, request, db, account, admin, now, exc)
        return _done(account.id, "removed")

    return await _person_work(gw, request, account_id, work, form=form)


@router.post(LIST + "/{account_id}/disable", include_in_schema=False)
async def disable(account_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)
    ip = gw.client_ip(request)

    def work(db, now, account, admin):
        try:
            staff.disable(db, account=account, actor=admin, now=now, ip=ip)
        except staff.StaffError as exc:
            return _refused(gw, request, db, account, admin, now, exc)
        return _done(account.id, "disabled")

    response = await _person_work(gw, request, account_id, work, form=form)
    gw.backchannel.wake()  # the logout notices queued for the e-services of the ended sessions
    return response


@router.post(LIST + "/{account_id}/enable", include_in_schema=False)
async def enable(account_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)
    ip = gw.client_ip(request)

    def work(db, now, account, admin):
        try:
            staff.enable(db, account=account, actor=admin, now=now, ip=ip)
        except staff.StaffError as exc:
            return _refused(gw, request, db, account, admin, now, exc)
        return _done(account.id, "enabled")

    return await _person_work(gw, request, account_id, work, form=form)


@router.post(LIST + "/{account_id}/unlock", include_in_schema=False)
async def unlock(account_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)

    def work(db, now, account, admin):
        return _done(account.id, "unlocked" if staff.unlock(db, account=account, actor=admin, now=now) else "nothing")

    return await _person_work(gw, request, account_id, work, form=form)
