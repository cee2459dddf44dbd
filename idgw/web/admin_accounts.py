"""Staff pages: the accounts page (find a person, see why they cannot sign in, unlock). The
policy pages are ``idgw.web.admin``; sign-in to them: ``idgw.web.signin``.

The pages need the ``admin`` role and a session at AAL 2.2 or higher (``idgw.web.staff``). Each
handler reads the request and runs one step function (``accounts_step``, ``account_step``,
``unlock_step``) in one transaction; the unlock is recorded in the audit log under the admin's
name (``idgw.admin.unlock_account``).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from idgw.admin import (
    SEARCH_MIN_CHARS,
    account_status,
    held_accounts,
    search_accounts,
    search_too_short,
    unlock_account,
)
from idgw.depends import gateway_of
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.storage.models import Account
from idgw.web.i18n import add_messages, t
from idgw.web.staff import gated_response, staff_gate

router = APIRouter()

add_messages({
    "admin_accounts": {"th": "บัญชีผู้ใช้", "en": "Accounts"},
    "admin_accounts_search": {"th": "ค้นหาด้วยชื่อผู้ใช้ อีเมล หรือเลขประจำตัวประชาชน 13 หลัก",
                              "en": "Search by username, e-mail address or 13-digit citizen ID"},
    "admin_search": {"th": "ค้นหา", "en": "Search"},
    "admin_accounts_none": {"th": "ไม่พบบัญชีที่ตรงกับ “{q}”", "en": "No account matches “{q}”."},
    "admin_search_too_short": {"th": "พิมพ์อย่างน้อย {n} ตัวอักษร หรือเลขประจำตัวประชาชน 13 หลัก เพื่อค้นหา",
                               "en": "Type at least {n} characters, or a 13-digit citizen ID, to search."},
    "admin_accounts_held": {"th": "บัญชีที่เข้าสู่ระบบไม่ได้ในขณะนี้", "en": "Accounts that cannot sign in now"},
    "admin_accounts_held_none": {"th": "ไม่มีบัญชีที่ถูกระงับหรือต้องรอ", "en": "No account is locked or waiting."},
    "admin_accounts_results": {"th": "ผลการค้นหา", "en": "Results"},
    "admin_name": {"th": "ชื่อ", "en": "Name"},
    "admin_email": {"th": "อีเมล", "en": "E-mail"},
    "admin_citizen_id": {"th": "เลขประจำตัวประชาชน", "en": "Citizen ID"},
    "admin_roles": {"th": "บทบาท", "en": "Roles"},
    "admin_created": {"th": "สร้างเมื่อ", "en": "Created"},
    "admin_status": {"th": "สถานะการเข้าสู่ระบบ", "en": "Sign-in status"},
    "admin_failures": {"th": "พยายามเข้าสู่ระบบไม่สำเร็จติดต่อกัน {n} ครั้ง",
                       "en": "Consecutive failed attempts: {n}"},
    "admin_state_locked": {"th": "ถูกระงับ: เข้าสู่ระบบไม่ได้จนกว่าผู้ดูแลระบบจะปลดล็อก",
                           "en": "Locked: cannot sign in until an administrator unlocks it"},
    "admin_state_waiting": {"th": "ต้องรอถึง {when} ก่อนลองใหม่", "en": "Must wait until {when} before trying again"},
    "admin_state_active": {"th": "เข้าสู่ระบบได้", "en": "Can sign in"},
    "admin_unlock": {"th": "ปลดล็อกบัญชีนี้", "en": "Unlock this account"},
    "admin_unlock_help": {"th": "ล้างจำนวนครั้งที่พยายามไม่สำเร็จและการระงับ ควรตรวจสอบตัวตนของผู้ขอก่อน "
                                "การปลดล็อกจะถูกบันทึกในบันทึกการตรวจสอบพร้อมชื่อของท่าน",
                          "en": "Clears the failed attempts and the lock. Check who is asking first; the unlock is "
                                "recorded in the audit log under your name."},
    "admin_unlocked": {"th": "ปลดล็อกแล้ว บัญชีนี้เข้าสู่ระบบได้", "en": "Unlocked: this account can sign in."},
    "admin_unlock_nothing": {"th": "บัญชีนี้ไม่ได้ถูกระงับ จึงไม่มีอะไรต้องปลดล็อก",
                             "en": "This account was not locked: nothing to unlock."},
})


def mask_citizen_id(value: str | None) -> str | None:
    """The last four digits only: enough to confirm with the person, not enough to copy."""
    return ("•" * 9 + value[-4:]) if value else None


def account_row(account: Account, now: int) -> dict:
    names = " ".join(n for n in (account.given_name_th, account.family_name_th) if n) or " ".join(
        n for n in (account.given_name, account.family_name) if n)
    return {"id": account.id, "username": account.username, "name": names, "email": account.email,
            "citizen_id": mask_citizen_id(account.citizen_id), "roles": list(account.roles or []),
            "created_at": account.created_at, "ial": account.ial, **account_status(account, now=now),
            "holds": account.failed_logins > 0 or account.locked_until > 0}


@router.get("/admin/accounts", include_in_schema=False)
async def accounts(request: Request, gw=Depends(gateway_of)) -> Response:
    q = (request.query_params.get("q") or "").strip()[:200]
    outcome, rows = await in_transaction(gw.sessionmaker, gw.client_ip(request), accounts_step, gw, request, q)
    return gated_response(gw, request, outcome) or gw.pages.render(
        request, "admin_accounts.html", q=q, accounts=rows, too_short=search_too_short(q), min_chars=SEARCH_MIN_CHARS)


def accounts_step(gw, request: Request, q: str):
    """The accounts page for an admin (the gate's outcome, and the rows): the accounts matching
    ``q``, or with no ``q`` the accounts that cannot sign in now."""
    db = current_db.get()
    now = gw.clock.now()
    outcome = staff_gate(gw, db, request, now, role="admin")
    if outcome[0] != "ok":
        return outcome, None
    found = search_accounts(db, q) if q else held_accounts(db, now=now)
    return outcome, [account_row(a, now) for a in found]


@router.get("/admin/accounts/{account_id}", include_in_schema=False)
async def account_page(account_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    pages = gw.pages
    done = request.query_params.get("done")
    locale = pages.locale(request)
    outcome, row = await in_transaction(gw.sessionmaker, gw.client_ip(request), account_step, gw, request,
                                        account_id)
    blocked = gated_response(gw, request, outcome)
    if blocked:
        return blocked
    if row is None:
        return pages.error(request, "err_not_found", status=404)
    message = {"unlocked": t("admin_unlocked", locale), "nothing": t("admin_unlock_nothing", locale)}.get(done)
    browser = request.cookies.get("idgw_browser") or ""
    return pages.render(request, "admin_account.html", account=row, message=message,
                        csrf_token=pages.csrf_token(browser, f"admin-unlock:{account_id}"))


def account_step(gw, request: Request, account_id: str):
    """One account's page for an admin (the gate's outcome, and its row: None for no such account)."""
    db = current_db.get()
    now = gw.clock.now()
    outcome = staff_gate(gw, db, request, now, role="admin")
    if outcome[0] != "ok":
        return outcome, None
    account = db.get(Account, account_id)
    return outcome, (account_row(account, now) if account else None)


@router.post("/admin/accounts/{account_id}/unlock", include_in_schema=False)
async def unlock(account_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    pages = gw.pages
    form = await pages.read_form(request)
    csrf_ok = pages.check_csrf(request, form, f"admin-unlock:{account_id}")
    outcome, changed = await in_transaction(gw.sessionmaker, gw.client_ip(request), unlock_step, gw, request,
                                            account_id, csrf_ok)
    if outcome[0] == "csrf":
        return pages.error(request, "err_csrf", status=403)
    if outcome[0] == "missing":
        return pages.error(request, "err_not_found", status=404)
    blocked = gated_response(gw, request, outcome, here=f"/admin/accounts/{account_id}")
    if blocked:
        return blocked
    done = "unlocked" if changed else "nothing"
    return RedirectResponse(f"/admin/accounts/{quote(account_id)}?done={done}", status_code=303)


def unlock_step(gw, request: Request, account_id: str, csrf_ok: bool):
    """The unlock form's answer (the gate's outcome, and whether the account had anything to
    clear), recorded under the admin's name."""
    db = current_db.get()
    now = gw.clock.now()
    outcome = staff_gate(gw, db, request, now, role="admin")
    if outcome[0] != "ok":
        return outcome, None
    if not csrf_ok:
        return ("csrf", None, None, ()), None
    account = db.get(Account, account_id)
    if account is None:
        return ("missing", None, None, ()), None
    return outcome, unlock_account(db, account=account, now=now, actor=outcome[2].username)
