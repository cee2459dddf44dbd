"""The account's sign-in methods: adding an authenticator app (TOTP) or a passkey, new recovery
codes, removing a factor and unlinking a source (each asked first on a confirmation page), and
setting a password. The shared plumbing (gate, CSRF, rendering) is ``idgw.account.routes``; each
handler runs one step function (``confirm_totp``, ``remove_factor``, ``set_password``, ...) behind
it. A staff role's floor (``STAFF_FLOOR``) is the staff pages' own (``idgw.web.signin``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select

from idgw import audit
from idgw.account.access import check, factor_kinds
from idgw.account.routes import (
    PASSWORD_MIN_ALONE,
    PASSWORD_MIN_WITH_FACTOR,
    account_csrf,
    account_page,
    browser,
    confirm_page,
    cookie,
    finish,
    get,
    password_problem,
    post,
    upstream_name,
)
from idgw.account.rules import check_factor_removal, check_unlink
from idgw.authn.totp import new_recovery_codes
from idgw.authn.webauthn import WebAuthnError
from idgw.depends import gateway_of
from idgw.login.password import on_hashing_threads
from idgw.login.sessions import add_factor
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.security import hash_password, sha256_hex
from idgw.storage.models import AccountAuthenticator, AccountLink, RecoveryCode
from idgw.upstream import unlink
from idgw.web.i18n import t
from idgw.web.signin import STAFF_POLICY
from policies import AAL

#: The level a staff role's local factors must keep reaching (``idgw.account.rules``): the staff
#: pages' floor, so that a removal never locks an admin or officer out of them.
STAFF_FLOOR: AAL = STAFF_POLICY.min_aal

router = APIRouter()


# -- TOTP enrolment -------------------------------------------------------------------------------
def enrol_page(gw, totp, request, account, row, secret, *, error=None, status=200, name=""):
    uri, qr = totp.provisioning(account=account, secret=secret)
    return ("page", "totp_enrol.html", status, dict(qr=qr, uri=uri, secret=secret, authenticator_id=row.id,
                                                    csrf_token=account_csrf(gw, request),
                                                    error=error, name=name or row.name))


# -- removing a factor, unlinking: confirmation first ---------------------------------------------
def factor_of(db, account, authenticator_id) -> AccountAuthenticator | None:
    row = db.get(AccountAuthenticator, authenticator_id) if len(authenticator_id) <= 36 else None
    return row if row is not None and row.account_id == account.id else None


def ask_factor_removal(gw, request, db, account, row, *, staff_floor: AAL, status=200):
    locale = gw.pages.locale(request)
    result = check_factor_removal(db, gw.authenticators, account, authenticator_id=row.id, staff_floor=staff_floor)
    return confirm_page(gw, request, status=status if result.refusal is None else 409, check_result=result,
                        title=t("account_confirm_remove_title", locale),
                        question=t("account_confirm_remove", locale, name=f"{t('kind_' + row.kind, locale)} "
                                                                          f"“{row.name}”"),
                        action=f"/account/factors/{row.id}/remove",
                        button=t("account_remove_named", locale, name=row.name))


def link_of(db, account, link_id) -> AccountLink | None:
    row = db.get(AccountLink, link_id) if len(link_id) <= 36 else None
    return row if row is not None and row.account_id == account.id else None


def ask_unlink(gw, request, db, account, link, *, status=200):
    locale = gw.pages.locale(request)
    result = check_unlink(db, gw.authenticators, account, link_id=link.id)
    name = upstream_name(gw, link.provider, locale)
    return confirm_page(gw, request, status=status if result.refusal is None else 409, check_result=result,
                        title=t("account_confirm_unlink_title", locale),
                        question=t("account_confirm_unlink", locale, name=name),
                        action=f"/account/links/{link.id}/remove",
                        button=t("account_unlink_named", locale, name=name))


# -- setting a password ---------------------------------------------------------------------------
def only_factor(gw, db, account) -> bool:
    """Whether a password set now would be the account's only local factor."""
    return not (factor_kinds(gw.authenticators, db, account) - {"pwd"})


def password_page(gw, request, account, *, least: int, error=None, status=200):
    return ("page", "account_password.html", status, dict(
        username=account.username, least=least, error=error, csrf_token=account_csrf(gw, request)))


# -- TOTP and passkey enrolment, recovery codes -----------------------------------------------------
def begin_totp(gw, request: Request, db, now: int, session, account, form):
    """A new authenticator app, pending until a code from it confirms it: its enrolment page."""
    totp = gw.authenticators.get("totp")
    row, secret = totp.enrol_begin(db, account=account, name="Authenticator", now=now)
    db.flush()
    return enrol_page(gw, totp, request, account, row, secret)


@router.post("/account/totp", include_in_schema=False)
async def totp_new(request: Request, gw=Depends(gateway_of)) -> Response:
    return await post(gw, request, begin_totp)


def confirm_totp(gw, request: Request, db, now: int, session, account, form, authenticator_id: str, locale: str,
                 ip: str):
    """A pending app confirmed by its code: counted in the session at once, and the first recovery
    codes when the account has none left; a wrong code shows the enrolment page again."""
    totp = gw.authenticators.get("totp")
    pending = totp.pending_secret(db, account=account, authenticator_id=authenticator_id)
    if pending is None:
        return ("redirect", "/account")
    row, secret = pending
    if form.get("name"):
        row.name = form["name"].strip()[:100] or row.name
    if not totp.enrol_confirm(db, account=account, authenticator_id=authenticator_id,
                              code=form.get("code", ""), now=now):
        audit.record(db, "authenticator.failed", at=now, actor=account.id, session_id=session.id,
                     reason="enrolment_code_rejected", kind="totp")
        return enrol_page(gw, totp, request, account, row, secret, error=t("factor_invalid", locale),
                          status=400, name=form.get("name", ""))
    audit.record(db, "authenticator.added", at=now, actor=account.id, session_id=session.id, kind="totp",
                 authenticator_id=row.id, label=row.name)
    # The code just confirmed is a factor used now: the session counts it at once, so the
    # person is not sent to sign in again by the level the new app makes the page ask for.
    add_factor(db, session=session, factor="otp", amr=["otp"], now=now, ip=ip)
    has_codes = db.scalar(select(RecoveryCode.id).where(RecoveryCode.account_id == account.id,
                                                         RecoveryCode.used_at.is_(None)).limit(1))
    if has_codes:
        return account_page(gw, db, request, session, account, message=t("factor_added", locale))
    codes = new_recovery_codes(db, account=account, now=now)
    audit.record(db, "recovery_codes.generated", at=now, actor=account.id, session_id=session.id)
    return ("page", "recovery_codes.html", 200, dict(codes=codes, message=t("factor_added", locale)))


@router.post("/account/totp/{authenticator_id}/confirm", include_in_schema=False)
async def totp_confirm(authenticator_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await post(gw, request, confirm_totp, authenticator_id, gw.pages.locale(request), gw.client_ip(request))


def add_passkey(gw, request: Request, db, now: int, session, account, form, browser_hash: str, locale: str):
    """The passkey the browser created, registered (bound to this browser), or the account page
    saying why it was refused."""
    try:
        row = gw.authenticators.get("webauthn").register(
            db, account=account, session_id=session.id, credential_json=form.get("credential"),
            browser_hash=browser_hash, name=form.get("name", ""), now=now)
    except WebAuthnError as exc:
        audit.record(db, "authenticator.failed", at=now, actor=account.id, session_id=session.id,
                     reason="registration_rejected", kind="webauthn")
        return account_page(gw, db, request, session, account, status=400, error=True,
                            message=t("passkey_rejected", locale, reason=str(exc)))
    db.flush()
    audit.record(db, "authenticator.added", at=now, actor=account.id, session_id=session.id, kind="webauthn",
                 authenticator_id=row.id, label=row.name, aaguid=row.aaguid, attested=row.attested)
    return account_page(gw, db, request, session, account, message=t("passkey_added", locale))


@router.post("/account/passkeys", include_in_schema=False)
async def passkey_add(request: Request, gw=Depends(gateway_of)) -> Response:
    locale = gw.pages.locale(request)
    browser_hash = sha256_hex(browser(gw, request))
    return await post(gw, request, add_passkey, browser_hash, locale)


def renew_recovery_codes(gw, request: Request, db, now: int, session, account, form):
    """New recovery codes (the old ones no longer work), shown once."""
    codes = new_recovery_codes(db, account=account, now=now)
    audit.record(db, "recovery_codes.generated", at=now, actor=account.id, session_id=session.id)
    return ("page", "recovery_codes.html", 200, dict(codes=codes, message=None))


@router.post("/account/recovery", include_in_schema=False)
async def recovery_new(request: Request, gw=Depends(gateway_of)) -> Response:
    return await post(gw, request, renew_recovery_codes)


# -- removing a factor, unlinking -------------------------------------------------------------------
def ask_factor_removal_step(gw, request: Request, db, now: int, session, account, authenticator_id: str):
    """The confirmation page for removing one of the account's factors (404 for any other)."""
    row = factor_of(db, account, authenticator_id)
    if row is None:
        return ("error", "account_gone", 404)
    return ask_factor_removal(gw, request, db, account, row, staff_floor=STAFF_FLOOR)


@router.get("/account/factors/{authenticator_id}/remove", include_in_schema=False)
async def factor_remove_confirm(authenticator_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await get(gw, request, ask_factor_removal_step, authenticator_id, fresh=True)


def remove_factor(gw, request: Request, db, now: int, session, account, form, authenticator_id: str, locale: str):
    """The factor removed, unless ``idgw.account.rules`` refuses or warns about a service and the
    warning was not answered (``confirm=yes``): then the confirmation page (409)."""
    row = factor_of(db, account, authenticator_id)
    if row is None:
        return account_page(gw, db, request, session, account, status=404, error=True,
                            message=t("account_gone", locale))
    result = check_factor_removal(db, gw.authenticators, account, authenticator_id=row.id, staff_floor=STAFF_FLOOR)
    if result.refusal is not None or (result.services and form.get("confirm") != "yes"):
        return ask_factor_removal(gw, request, db, account, row, staff_floor=STAFF_FLOOR, status=409)
    db.delete(row)
    audit.record(db, "authenticator.removed", at=now, actor=account.id, session_id=session.id,
                 kind=row.kind, authenticator_id=row.id, label=row.name,
                 services_warned=[s.client_id for s in result.services])
    db.flush()
    return account_page(gw, db, request, session, account, message=t("factor_removed", locale))


@router.post("/account/factors/{authenticator_id}/remove", include_in_schema=False)
async def factor_remove(authenticator_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await post(gw, request, remove_factor, authenticator_id, gw.pages.locale(request))


def ask_unlink_step(gw, request: Request, db, now: int, session, account, link_id: str):
    """The confirmation page for unlinking one of the account's sources (404 for any other)."""
    link = link_of(db, account, link_id)
    if link is None:
        return ("error", "account_gone", 404)
    return ask_unlink(gw, request, db, account, link)


@router.get("/account/links/{link_id}/remove", include_in_schema=False)
async def link_remove_confirm(link_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await get(gw, request, ask_unlink_step, link_id, fresh=True)


def unlink_source(gw, request: Request, db, now: int, session, account, form, link_id: str, ip: str, locale: str):
    """The source unlinked, unless refused or a warning was not answered (the confirmation page, 409)."""
    link = link_of(db, account, link_id)
    if link is None:
        return account_page(gw, db, request, session, account, status=404, error=True,
                            message=t("account_gone", locale))
    result = check_unlink(db, gw.authenticators, account, link_id=link.id)
    if result.refusal is not None or (result.services and form.get("confirm") != "yes"):
        return ask_unlink(gw, request, db, account, link, status=409)
    unlink(db, account=account, link_id=link.id, now=now, ip=ip)
    db.flush()
    return account_page(gw, db, request, session, account, message=t("account_unlinked", locale))


@router.post("/account/links/{link_id}/remove", include_in_schema=False)
async def link_remove(link_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await post(gw, request, unlink_source, link_id, gw.client_ip(request), gw.pages.locale(request))


# -- setting a password -------------------------------------------------------------------------------
def password_form_step(gw, request: Request, db, now: int, session, account):
    """The form for a first password (back to /account when passwords are off or one is set)."""
    if not gw.settings.local_passwords or account.password_hash:
        return ("redirect", "/account")
    least = PASSWORD_MIN_ALONE if only_factor(gw, db, account) else PASSWORD_MIN_WITH_FACTOR
    return password_page(gw, request, account, least=least)


@router.get("/account/password", include_in_schema=False)
async def password_form(request: Request, gw=Depends(gateway_of)) -> Response:
    return await get(gw, request, password_form_step, fresh=True)


def _may_set_password(gw, db, request: Request, now: int):
    """The gate of both password transactions: the gate's answer when this person may set a
    password now (local passwords on, none set yet, even by another request meanwhile), else the
    redirect to give instead (to sign in, or back to /account)."""
    gate = check(gw, db, cookie=cookie(gw, request), now=now, fresh=True, next_path="/account/password")
    if gate.redirect:
        return ("redirect", gate.redirect)
    if not gw.settings.local_passwords or gate.account.password_hash:
        return ("redirect", "/account")
    return gate


def vet_password(gw, request: Request, password: str, again: str, locale: str):
    """Before hashing: None when this person may set ``password`` now, else the answer (to sign
    in, back to /account, or the form with what is wrong)."""
    db = current_db.get()
    gate = _may_set_password(gw, db, request, gw.clock.now())
    if isinstance(gate, tuple):
        return gate
    account = gate.account
    alone = only_factor(gw, db, account)
    problem = password_problem(password, again, username=account.username, only_factor=alone)
    if problem:
        least = PASSWORD_MIN_ALONE if alone else PASSWORD_MIN_WITH_FACTOR
        return password_page(gw, request, account, least=least, error=t(problem[0], locale, **problem[1]),
                             status=400)
    return None


def set_password(gw, request: Request, hashed: str, ip: str, locale: str):
    """The hashed password stored, the gate asked again (unless one was set meanwhile)."""
    db = current_db.get()
    now = gw.clock.now()
    gate = _may_set_password(gw, db, request, now)
    if isinstance(gate, tuple):
        return gate
    session, account = gate.session, gate.account
    account.password_hash = hashed
    audit.record(db, "account.password_set", at=now, actor=account.id, session_id=session.id, ip=ip)
    db.flush()
    return account_page(gw, db, request, session, account, message=t("account_password_set", locale))


@router.post("/account/password", include_in_schema=False)
async def password_set(request: Request, gw=Depends(gateway_of)) -> Response:
    pages = gw.pages
    locale = pages.locale(request)
    form = await pages.read_form(request)
    if not pages.check_csrf(request, form, "account"):
        return pages.error(request, "err_csrf", status=403)
    password, again = str(form.get("password") or ""), str(form.get("password_again") or "")
    ip = gw.client_ip(request)
    refused = await in_transaction(gw.sessionmaker, ip, vet_password, gw, request, password, again, locale)
    if refused is not None:
        return finish(gw, request, refused)
    # argon2id with no transaction open (as idgw.login.password does for checking)
    hashed = await on_hashing_threads(gw.hashing, hash_password, password)
    return finish(gw, request, await in_transaction(gw.sessionmaker, ip, set_password, gw, request, hashed, ip, locale))
