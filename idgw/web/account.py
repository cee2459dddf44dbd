"""The citizen's account page: sign-in methods (add TOTP, passkeys; remove), recovery codes,
sessions with "sign out everywhere", and recent sign-ins from the audit log.

Viewing needs a session at the account's own AAL (what its enrolled factors can reach).
Adding or removing a factor also needs a fresh sign-in (within ``FRESH_SECONDS``) at that AAL.
Removing a factor is refused when a service the person uses, or their staff role, needs an AAL
that the remaining factors could no longer reach.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from idgw import audit
from idgw.assurance import current_policy
from idgw.authn.totp import new_recovery_codes
from idgw.authn.webauthn import WebAuthnError
from idgw.login.sessions import load_session, sign_out_everywhere
from idgw.oidc.adapter import in_transaction
from idgw.oidc.provider import current_db
from idgw.security import sha256_hex
from idgw.storage.models import (
    Account,
    AccountAuthenticator,
    AccountLink,
    AuditEvent,
    Consent,
    LoginSession,
    RecoveryCode,
)
from idgw.upstream import unlink
from idgw.web.i18n import t
from policies import AAL, default_rules

FRESH_SECONDS = 300
RECENT_EVENTS = ("session.created", "login.failed", "authenticator.failed", "session.stepped_up")


def account_max_aal(registry, db, account: Account, *, without: str | None = None) -> AAL:
    """The highest AAL this account's factors can reach (optionally as if one authenticator
    row were removed)."""
    kinds = {"pwd"} if account.password_hash else set()
    for auth in registry.all():
        kinds |= auth.factors(db, account, without=without)
    return default_rules().aal_for(kinds) or AAL("1")


def required_aal(db, account: Account, staff_floor: AAL) -> AAL:
    """The strongest AAL a service this person uses, or their staff role, depends on."""
    need = AAL("1")
    for consent in db.scalars(select(Consent).where(Consent.account_id == account.id)):
        policy = current_policy(db, consent.client_id)
        if policy is not None and policy.min_aal > need:
            need = policy.min_aal
    if {"admin", "officer"} & set(account.roles or []):
        need = max(need, staff_floor)
    return need


def account_access(gw, db, request: Request, now: int, *, fresh: bool):
    """(session, account, None) when the account page may be used, else (None, None, redirect)."""
    session = load_session(db, cookie=request.cookies.get(gw.settings.cookie_name), now=now)
    if session is None:
        return None, None, f"/signin?next={quote('/account')}"
    account = db.get(Account, session.account_id)
    need = account_max_aal(gw.authenticators, db, account)
    if fresh and now - session.auth_time > FRESH_SECONDS:
        # Sign in again (password, then the factors the account has).
        return None, None, f"/signin?next={quote('/account')}"
    if AAL(session.aal) < need:
        return None, None, f"/signin/stepup?next={quote('/account')}&aal={need.value}"
    return session, account, None


def router(gw, *, staff_floor: AAL) -> APIRouter:
    r = APIRouter()
    pages = gw.pages
    settings = gw.settings

    def gate(db, request: Request, now: int, *, fresh: bool):
        return account_access(gw, db, request, now, fresh=fresh)

    def page_context(db, request: Request, session: LoginSession, account: Account, **extra) -> dict:
        locale = pages.locale(request)
        factors = list(db.scalars(select(AccountAuthenticator).where(
            AccountAuthenticator.account_id == account.id, AccountAuthenticator.confirmed_at.is_not(None))
            .order_by(AccountAuthenticator.created_at)))
        sessions = list(db.scalars(select(LoginSession).where(
            LoginSession.account_id == account.id, LoginSession.ended_at.is_(None),
            LoginSession.expires_at > gw.clock.now()).order_by(LoginSession.auth_time.desc())))
        recent = list(db.scalars(select(AuditEvent).where(
            AuditEvent.actor == account.id, AuditEvent.name.in_(RECENT_EVENTS))
            .order_by(AuditEvent.id.desc()).limit(10)))
        left = len(list(db.scalars(select(RecoveryCode.id).where(RecoveryCode.account_id == account.id,
                                                                  RecoveryCode.used_at.is_(None)))))
        browser = request.cookies.get("idgw_browser") or ""
        name = (f"{account.given_name_th or ''} {account.family_name_th or ''}".strip() if locale == "th" else "") \
            or " ".join(p for p in (account.given_name, account.family_name) if p) or account.username
        links = list(db.scalars(select(AccountLink).where(AccountLink.account_id == account.id)
                                .order_by(AccountLink.linked_at)))
        return dict(account_name=name, session=session, factors=factors, sessions=sessions, recent=recent, links=links,
                    recovery_left=left, csrf_token=pages.csrf_token(browser, "account"),
                    options_csrf=pages.csrf_token(browser, "webauthn"), **extra)

    async def post(request: Request, work, *, fresh: bool = True) -> Response:
        form = await pages.read_form(request)
        if not pages.check_csrf(request, form, "account"):
            return pages.error(request, "err_csrf", status=403)

        def run():
            db = current_db.get()
            now = gw.clock.now()
            session, account, redirect = gate(db, request, now, fresh=fresh)
            if redirect:
                return ("redirect", redirect)
            return work(db, now, session, account, form)

        result = await in_transaction(gw.sessionmaker, gw.client_ip(request), run)
        return finish(request, result)

    def finish(request: Request, result) -> Response:
        kind = result[0]
        if kind == "redirect":
            return RedirectResponse(result[1], status_code=303)
        if kind == "page":
            _, template, status, context = result
            return pages.render(request, template, status=status, **context)
        if kind == "signed_out":
            response = RedirectResponse("/", status_code=303)
            response.delete_cookie(settings.cookie_name, path="/", httponly=True, samesite="lax",
                                   secure=settings.cookie_secure)
            return response
        raise AssertionError(kind)

    @r.get("/account", include_in_schema=False)
    async def account_page(request: Request) -> Response:
        def run():
            db = current_db.get()
            session, account, redirect = gate(db, request, gw.clock.now(), fresh=False)
            if redirect:
                return ("redirect", redirect)
            return ("page", "account.html", 200, page_context(db, request, session, account))

        return finish(request, await in_transaction(gw.sessionmaker, gw.client_ip(request), run))

    # -- TOTP and passkey enrolment ---------------------------------------------------------------
    totp = gw.authenticators.get("totp")
    webauthn = gw.authenticators.get("webauthn")

    def enrol_page(request, account, row, secret, *, error=None, status=200, name=""):
        uri, qr = totp.provisioning(account=account, secret=secret)
        browser = request.cookies.get("idgw_browser") or ""
        return ("page", "totp_enrol.html", status, dict(qr=qr, uri=uri, secret=secret, authenticator_id=row.id,
                                                        csrf_token=pages.csrf_token(browser, "account"),
                                                        error=error, name=name or row.name))

    @r.post("/account/totp", include_in_schema=False)
    async def totp_new(request: Request) -> Response:
        def work(db, now, session, account, form):
            row, secret = totp.enrol_begin(db, account=account, name="Authenticator", now=now)
            db.flush()
            return enrol_page(request, account, row, secret)

        return await post(request, work)

    @r.post("/account/totp/{authenticator_id}/confirm", include_in_schema=False)
    async def totp_confirm(authenticator_id: str, request: Request) -> Response:
        locale = pages.locale(request)

        def work(db, now, session, account, form):
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
                return enrol_page(request, account, row, secret, error=t("factor_invalid", locale), status=400,
                                  name=form.get("name", ""))
            audit.record(db, "authenticator.added", at=now, actor=account.id, session_id=session.id, kind="totp",
                         authenticator_id=row.id, label=row.name)
            has_codes = db.scalar(select(RecoveryCode.id).where(RecoveryCode.account_id == account.id,
                                                                 RecoveryCode.used_at.is_(None)).limit(1))
            if has_codes:
                return ("page", "account.html", 200,
                        page_context(db, request, session, account, message=t("factor_added", locale)))
            codes = new_recovery_codes(db, account=account, now=now)
            audit.record(db, "recovery_codes.generated", at=now, actor=account.id, session_id=session.id)
            return ("page", "recovery_codes.html", 200, dict(codes=codes, message=t("factor_added", locale)))

        return await post(request, work)

    @r.post("/account/passkeys", include_in_schema=False)
    async def passkey_add(request: Request) -> Response:
        locale = pages.locale(request)
        browser_hash = sha256_hex(request.cookies.get("idgw_browser") or "")

        def work(db, now, session, account, form):
            try:
                row = webauthn.register(db, account=account, session_id=session.id,
                                        credential_json=form.get("credential"), browser_hash=browser_hash,
                                        name=form.get("name", ""), now=now)
            except WebAuthnError as exc:
                audit.record(db, "authenticator.failed", at=now, actor=account.id, session_id=session.id,
                             reason="registration_rejected", kind="webauthn")
                return ("page", "account.html", 400, page_context(
                    db, request, session, account, message=t("passkey_rejected", locale, reason=str(exc)), error=True))
            db.flush()
            audit.record(db, "authenticator.added", at=now, actor=account.id, session_id=session.id, kind="webauthn",
                         authenticator_id=row.id, label=row.name, aaguid=row.aaguid, attested=row.attested)
            return ("page", "account.html", 200,
                    page_context(db, request, session, account, message=t("passkey_added", locale)))

        return await post(request, work)

    @r.post("/account/recovery", include_in_schema=False)
    async def recovery_new(request: Request) -> Response:
        def work(db, now, session, account, form):
            codes = new_recovery_codes(db, account=account, now=now)
            audit.record(db, "recovery_codes.generated", at=now, actor=account.id, session_id=session.id)
            return ("page", "recovery_codes.html", 200, dict(codes=codes, message=None))

        return await post(request, work)

    @r.post("/account/factors/{authenticator_id}/remove", include_in_schema=False)
    async def factor_remove(authenticator_id: str, request: Request) -> Response:
        locale = pages.locale(request)

        def work(db, now, session, account, form):
            row = db.get(AccountAuthenticator, authenticator_id)
            if row is None or row.account_id != account.id:
                return ("redirect", "/account")
            need = required_aal(db, account, staff_floor)
            remaining = account_max_aal(gw.authenticators, db, account, without=row.id)
            if remaining < need:
                return ("page", "account.html", 409, page_context(
                    db, request, session, account, message=t("factor_last_needed", locale, aal=need.value),
                    error=True))
            db.delete(row)
            audit.record(db, "authenticator.removed", at=now, actor=account.id, session_id=session.id,
                         kind=row.kind, authenticator_id=row.id, label=row.name)
            return ("page", "account.html", 200,
                    page_context(db, request, session, account, message=t("factor_removed", locale)))

        return await post(request, work)

    @r.post("/account/links/{link_id}/remove", include_in_schema=False)
    async def link_remove(link_id: str, request: Request) -> Response:
        ip = gw.client_ip(request)

        def work(db, now, session, account, form):
            unlink(db, account=account, link_id=link_id, now=now, ip=ip)
            return ("redirect", "/account")

        return await post(request, work)

    @r.post("/account/sessions/end-all", include_in_schema=False)
    async def end_all(request: Request) -> Response:
        ip = gw.client_ip(request)

        def work(db, now, session, account, form):
            done = sign_out_everywhere(db, account_id=account.id, now=now, ip=ip, reason="signed_out_everywhere")
            audit.record(db, "sessions.ended_everywhere", at=now, actor=account.id, ip=ip, sessions=done.sessions,
                         revoked_tokens=done.tokens, notices=done.notices)
            return ("signed_out",)

        response = await post(request, work, fresh=False)
        gw.backchannel.wake()
        return response

    return r
