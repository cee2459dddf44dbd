"""The account pages: /account (how you sign in, where you are signed in, recent sign-ins),
adding and removing sign-in methods, recovery codes, linked sources, setting a password,
/account/services (connected services, withdrawing consent), consent receipts, "download my
data", and the privacy notice (/privacy).

Who may use them is ``idgw.account.access`` (proof of control of the account; changes need a
fresh sign-in); what may be taken away is ``idgw.account.rules``. Removing, unlinking, signing
out everywhere and withdrawing are asked through a confirmation page (a GET) whose button posts
the change; a direct POST still acts (the CSRF token is the protection), except that a change a
service would feel (its floor no longer reachable) acts only with ``confirm=yes``, the answer to
the warning that page shows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from idgw import audit
from idgw.account import texts as _texts  # noqa: F401  (registers the pages' words)
from idgw.account.access import check, factor_kinds, factor_reach
from idgw.account.consents import (
    access_lasts,
    connected_services,
    data_words,
    display_names,
    receipt_document,
    withdraw,
    withdraw_path,
)
from idgw.account.export import export_document
from idgw.account.rules import RemovalCheck, check_factor_removal, check_unlink
from idgw.account.words import aal_words, device_words, ial_words
from idgw.authn.totp import new_recovery_codes
from idgw.authn.webauthn import WebAuthnError
from idgw.login.sessions import add_factor, group_of, sign_out, sign_out_everywhere
from idgw.oidc.adapter import in_transaction
from idgw.oidc.provider import current_db
from idgw.security import hash_password, sha256_hex
from idgw.storage.models import (
    Account,
    AccountAuthenticator,
    AccountLink,
    AuditEvent,
    Client,
    ConsentReceipt,
    LoginSession,
    RecoveryCode,
)
from idgw.upstream import unlink
from idgw.web.i18n import t
from policies import AAL

RECENT_EVENTS = ("session.created", "login.failed", "authenticator.failed", "session.stepped_up")
#: NIST SP 800-63B-4 §3.1.1.2: at least 15 characters for a password that is the only factor,
#: 8 for one used with another factor (the rule ``idgw.admin.add_user`` applies); at most 1024.
PASSWORD_MIN_ALONE = 15
PASSWORD_MIN_WITH_FACTOR = 8
PASSWORD_MAX = 1024


def password_problem(password: str, again: str, *, username: str, only_factor: bool) -> tuple[str, dict] | None:
    """Why ``password`` may not be set (a message key and its values), or None."""
    least = PASSWORD_MIN_ALONE if only_factor else PASSWORD_MIN_WITH_FACTOR
    if len(password) < least:
        return "account_password_short", {"min": least}
    if len(password) > PASSWORD_MAX:
        return "account_password_long", {}
    if password != again:
        return "account_password_mismatch", {}
    if password.strip().casefold() == username.strip().casefold():
        return "account_password_username", {}
    return None


def display_name(account: Account, locale: str) -> str:
    return display_names(account)[locale]


def router(gw, *, staff_floor: AAL) -> APIRouter:
    r = APIRouter()
    pages = gw.pages
    settings = gw.settings
    totp = gw.authenticators.get("totp")
    webauthn = gw.authenticators.get("webauthn")

    def upstream_name(provider: str, locale: str) -> str:
        upstream = gw.upstreams.get(provider)
        names = getattr(upstream, "display_name", None) or {}
        return names.get(locale) or provider

    # -- running a request ------------------------------------------------------------------------
    def cookie(request: Request) -> str | None:
        return request.cookies.get(settings.cookie_name)

    async def get(request: Request, work, *, fresh: bool = False, next_path: str | None = None) -> Response:
        """A page for a signed-in person who proves control (``fresh``: within FRESH_SECONDS)."""
        next_path = next_path or request.url.path

        def run():
            db = current_db.get()
            now = gw.clock.now()
            gate = check(gw, db, cookie=cookie(request), now=now, fresh=fresh, next_path=next_path)
            if gate.redirect:
                return ("redirect", gate.redirect)
            return work(db, now, gate.session, gate.account)

        return finish(request, await in_transaction(gw.sessionmaker, gw.client_ip(request), run))

    async def post(request: Request, work, *, fresh: bool = True, back: str = "/account") -> Response:
        """A change: the CSRF token first (nothing is read or written without it), then the gate;
        an expired or too-weak sign-in goes to /signin and comes back to ``back``."""
        form = await pages.read_form(request)
        if not pages.check_csrf(request, form, "account"):
            return pages.error(request, "err_csrf", status=403)

        def run():
            db = current_db.get()
            now = gw.clock.now()
            gate = check(gw, db, cookie=cookie(request), now=now, fresh=fresh, next_path=back)
            if gate.redirect:
                return ("redirect", gate.redirect)
            return work(db, now, gate.session, gate.account, form)

        return finish(request, await in_transaction(gw.sessionmaker, gw.client_ip(request), run))

    def finish(request: Request, result) -> Response:
        kind = result[0]
        if kind == "redirect":
            return RedirectResponse(result[1], status_code=303)
        if kind == "page":
            _, template, status, context = result
            response = pages.render(request, template, status=status, **context)
            issued = getattr(request.state, "browser_id", None)
            if issued is not None and issued != request.cookies.get("idgw_browser"):
                pages.set_browser_cookie(response, issued)  # (its forms' tokens are bound to it)
            return response
        if kind == "error":
            return pages.error(request, result[1], status=result[2])
        if kind == "json":
            _, document, status, headers = result
            body = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=False)
            return Response(body, status_code=status, media_type="application/json",
                            headers={"Cache-Control": "no-store", **headers})
        if kind == "signed_out":
            response = RedirectResponse("/", status_code=303)
            response.delete_cookie(settings.cookie_name, path="/", httponly=True, samesite="lax",
                                   secure=settings.cookie_secure)
            return response
        raise AssertionError(kind)

    def browser(request: Request) -> str:
        """This browser's id for the forms' CSRF tokens: the gateway-issued one, or a new one that
        ``finish`` sets with the page (one per request)."""
        known = getattr(request.state, "browser_id", None)
        if known is None:
            known = request.state.browser_id = pages.browser_id(request)
        return known

    # -- the account page -----------------------------------------------------------------------
    def page_context(db, request: Request, session: LoginSession, account: Account, **extra) -> dict:
        locale = pages.locale(request)
        now = gw.clock.now()
        factors = list(db.scalars(select(AccountAuthenticator).where(
            AccountAuthenticator.account_id == account.id, AccountAuthenticator.confirmed_at.is_not(None))
            .order_by(AccountAuthenticator.created_at)))
        live = list(db.scalars(select(LoginSession).where(
            LoginSession.account_id == account.id, LoginSession.ended_at.is_(None),
            LoginSession.expires_at > now).order_by(LoginSession.auth_time.desc())))
        services = dict(db.execute(select(Client.client_id, Client.name).where(
            Client.client_id.in_({s.client_id for s in live if s.client_id}))).all()) if live else {}
        recent = list(db.scalars(select(AuditEvent).where(
            AuditEvent.actor == account.id, AuditEvent.name.in_(RECENT_EVENTS))
            .order_by(AuditEvent.id.desc()).limit(10)))
        left = len(list(db.scalars(select(RecoveryCode.id).where(RecoveryCode.account_id == account.id,
                                                                  RecoveryCode.used_at.is_(None)))))
        links = list(db.scalars(select(AccountLink).where(AccountLink.account_id == account.id)
                                .order_by(AccountLink.linked_at)))
        mine = group_of(session)
        return dict(
            account_name=display_name(account, locale), username=account.username,
            has_password=bool(account.password_hash),
            can_set_password=settings.local_passwords and not account.password_hash,
            this_level=aal_words(session.aal, locale), identity=ial_words(account.ial, locale),
            reach=aal_words(factor_reach(gw.authenticators, db, account).value, locale),
            factors=[dict(id=f.id, kind=t("kind_" + f.kind, locale), name=f.name, created_at=f.created_at,
                          last_used_at=f.last_used_at, flagged=f.flagged_at is not None) for f in factors],
            recovery_left=left,
            links=[dict(id=link.id, name=upstream_name(link.provider, locale), linked_at=link.linked_at,
                        ial=ial_words(link.ial, locale)) for link in links],
            sessions=[dict(id=s.id, device=device_words(s.user_agent, locale),
                           ip=s.ip or t("account_ip_unknown", locale), auth_time=s.auth_time,
                           service=(services.get(s.client_id) or s.client_id) if s.client_id
                           else t("account_this_gateway", locale),
                           current=group_of(s) == mine) for s in live],
            recent=recent, csrf_token=pages.csrf_token(browser(request), "account"),
            options_csrf=pages.csrf_token(browser(request), "webauthn"), privacy_url=settings.privacy_notice_url,
            **extra)

    def account_page(db, request, session, account, *, status=200, message=None, error=False):
        return ("page", "account.html", status,
                page_context(db, request, session, account, message=message, error=error))

    @r.get("/account", include_in_schema=False)
    async def show(request: Request) -> Response:
        return await get(request, lambda db, now, session, account: account_page(db, request, session, account))

    # -- TOTP and passkey enrolment ---------------------------------------------------------------
    def enrol_page(request, account, row, secret, *, error=None, status=200, name=""):
        uri, qr = totp.provisioning(account=account, secret=secret)
        return ("page", "totp_enrol.html", status, dict(qr=qr, uri=uri, secret=secret, authenticator_id=row.id,
                                                        csrf_token=pages.csrf_token(browser(request), "account"),
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
        ip = gw.client_ip(request)

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
            # The code just confirmed is a factor used now: the session counts it at once, so the
            # person is not sent to sign in again by the level the new app makes the page ask for.
            add_factor(db, session=session, factor="otp", amr=["otp"], now=now, ip=ip)
            has_codes = db.scalar(select(RecoveryCode.id).where(RecoveryCode.account_id == account.id,
                                                                 RecoveryCode.used_at.is_(None)).limit(1))
            if has_codes:
                return account_page(db, request, session, account, message=t("factor_added", locale))
            codes = new_recovery_codes(db, account=account, now=now)
            audit.record(db, "recovery_codes.generated", at=now, actor=account.id, session_id=session.id)
            return ("page", "recovery_codes.html", 200, dict(codes=codes, message=t("factor_added", locale)))

        return await post(request, work)

    @r.post("/account/passkeys", include_in_schema=False)
    async def passkey_add(request: Request) -> Response:
        locale = pages.locale(request)
        browser_hash = sha256_hex(browser(request))

        def work(db, now, session, account, form):
            try:
                row = webauthn.register(db, account=account, session_id=session.id,
                                        credential_json=form.get("credential"), browser_hash=browser_hash,
                                        name=form.get("name", ""), now=now)
            except WebAuthnError as exc:
                audit.record(db, "authenticator.failed", at=now, actor=account.id, session_id=session.id,
                             reason="registration_rejected", kind="webauthn")
                return account_page(db, request, session, account, status=400, error=True,
                                    message=t("passkey_rejected", locale, reason=str(exc)))
            db.flush()
            audit.record(db, "authenticator.added", at=now, actor=account.id, session_id=session.id, kind="webauthn",
                         authenticator_id=row.id, label=row.name, aaguid=row.aaguid, attested=row.attested)
            return account_page(db, request, session, account, message=t("passkey_added", locale))

        return await post(request, work)

    @r.post("/account/recovery", include_in_schema=False)
    async def recovery_new(request: Request) -> Response:
        def work(db, now, session, account, form):
            codes = new_recovery_codes(db, account=account, now=now)
            audit.record(db, "recovery_codes.generated", at=now, actor=account.id, session_id=session.id)
            return ("page", "recovery_codes.html", 200, dict(codes=codes, message=None))

        return await post(request, work)

    # -- removing a factor, unlinking: confirmation first -------------------------------------------
    def confirm_page(request, *, status=200, title: str, question: str, action: str, button: str,
                     check_result: RemovalCheck | None = None, back: str = "/account", hidden: dict | None = None):
        locale = pages.locale(request)
        refusal = None
        services = []
        if check_result is not None:
            if check_result.refusal == "only_way_in":
                refusal = t("account_refused_only_way", locale)
            elif check_result.refusal == "staff_floor":
                refusal = t("account_refused_staff", locale, level=aal_words(check_result.staff_floor.value, locale))
            services = [t("account_warn_service", locale, service=s.name, level=aal_words(s.min_aal.value, locale))
                        for s in check_result.services]
        return ("page", "account_confirm.html", status, dict(
            title=title, question=question, action=action, button=button, refusal=refusal, services=services,
            back=back, hidden={"confirm": "yes", **(hidden or {})},
            csrf_token=pages.csrf_token(browser(request), "account")))

    def factor_of(db, account, authenticator_id) -> AccountAuthenticator | None:
        row = db.get(AccountAuthenticator, authenticator_id) if len(authenticator_id) <= 36 else None
        return row if row is not None and row.account_id == account.id else None

    def ask_factor_removal(request, db, account, row, *, status=200):
        locale = pages.locale(request)
        result = check_factor_removal(db, gw.authenticators, account, authenticator_id=row.id, staff_floor=staff_floor)
        return confirm_page(request, status=status if result.refusal is None else 409, check_result=result,
                            title=t("account_confirm_remove_title", locale),
                            question=t("account_confirm_remove", locale, name=f"{t('kind_' + row.kind, locale)} "
                                                                              f"“{row.name}”"),
                            action=f"/account/factors/{row.id}/remove",
                            button=t("account_remove_named", locale, name=row.name))

    @r.get("/account/factors/{authenticator_id}/remove", include_in_schema=False)
    async def factor_remove_confirm(authenticator_id: str, request: Request) -> Response:
        def work(db, now, session, account):
            row = factor_of(db, account, authenticator_id)
            if row is None:
                return ("error", "account_gone", 404)
            return ask_factor_removal(request, db, account, row)

        return await get(request, work, fresh=True)

    @r.post("/account/factors/{authenticator_id}/remove", include_in_schema=False)
    async def factor_remove(authenticator_id: str, request: Request) -> Response:
        locale = pages.locale(request)

        def work(db, now, session, account, form):
            row = factor_of(db, account, authenticator_id)
            if row is None:
                return account_page(db, request, session, account, status=404, error=True,
                                    message=t("account_gone", locale))
            result = check_factor_removal(db, gw.authenticators, account, authenticator_id=row.id,
                                          staff_floor=staff_floor)
            if result.refusal is not None or (result.services and form.get("confirm") != "yes"):
                return ask_factor_removal(request, db, account, row, status=409)
            db.delete(row)
            audit.record(db, "authenticator.removed", at=now, actor=account.id, session_id=session.id,
                         kind=row.kind, authenticator_id=row.id, label=row.name,
                         services_warned=[s.client_id for s in result.services])
            db.flush()
            return account_page(db, request, session, account, message=t("factor_removed", locale))

        return await post(request, work)

    def link_of(db, account, link_id) -> AccountLink | None:
        row = db.get(AccountLink, link_id) if len(link_id) <= 36 else None
        return row if row is not None and row.account_id == account.id else None

    def ask_unlink(request, db, account, link, *, status=200):
        locale = pages.locale(request)
        result = check_unlink(db, gw.authenticators, account, link_id=link.id)
        name = upstream_name(link.provider, locale)
        return confirm_page(request, status=status if result.refusal is None else 409, check_result=result,
                            title=t("account_confirm_unlink_title", locale),
                            question=t("account_confirm_unlink", locale, name=name),
                            action=f"/account/links/{link.id}/remove",
                            button=t("account_unlink_named", locale, name=name))

    @r.get("/account/links/{link_id}/remove", include_in_schema=False)
    async def link_remove_confirm(link_id: str, request: Request) -> Response:
        def work(db, now, session, account):
            link = link_of(db, account, link_id)
            if link is None:
                return ("error", "account_gone", 404)
            return ask_unlink(request, db, account, link)

        return await get(request, work, fresh=True)

    @r.post("/account/links/{link_id}/remove", include_in_schema=False)
    async def link_remove(link_id: str, request: Request) -> Response:
        ip = gw.client_ip(request)
        locale = pages.locale(request)

        def work(db, now, session, account, form):
            link = link_of(db, account, link_id)
            if link is None:
                return account_page(db, request, session, account, status=404, error=True,
                                    message=t("account_gone", locale))
            result = check_unlink(db, gw.authenticators, account, link_id=link.id)
            if result.refusal is not None or (result.services and form.get("confirm") != "yes"):
                return ask_unlink(request, db, account, link, status=409)
            unlink(db, account=account, link_id=link.id, now=now, ip=ip)
            db.flush()
            return account_page(db, request, session, account, message=t("account_unlinked", locale))

        return await post(request, work)

    # -- setting a password ---------------------------------------------------------------------
    def only_factor(db, account) -> bool:
        """Whether a password set now would be the account's only local factor."""
        return not (factor_kinds(gw.authenticators, db, account) - {"pwd"})

    def password_page(request, account, *, least: int, error=None, status=200):
        return ("page", "account_password.html", status, dict(
            username=account.username, least=least, error=error,
            csrf_token=pages.csrf_token(browser(request), "account")))

    @r.get("/account/password", include_in_schema=False)
    async def password_form(request: Request) -> Response:
        def work(db, now, session, account):
            if not settings.local_passwords or account.password_hash:
                return ("redirect", "/account")
            least = PASSWORD_MIN_ALONE if only_factor(db, account) else PASSWORD_MIN_WITH_FACTOR
            return password_page(request, account, least=least)

        return await get(request, work, fresh=True)

    @r.post("/account/password", include_in_schema=False)
    async def password_set(request: Request) -> Response:
        locale = pages.locale(request)
        form = await pages.read_form(request)
        if not pages.check_csrf(request, form, "account"):
            return pages.error(request, "err_csrf", status=403)
        password, again = str(form.get("password") or ""), str(form.get("password_again") or "")
        ip = gw.client_ip(request)

        def vet():
            db = current_db.get()
            now = gw.clock.now()
            gate = check(gw, db, cookie=cookie(request), now=now, fresh=True, next_path="/account/password")
            if gate.redirect:
                return ("redirect", gate.redirect)
            account = gate.account
            if not settings.local_passwords or account.password_hash:
                return ("redirect", "/account")
            alone = only_factor(db, account)
            problem = password_problem(password, again, username=account.username, only_factor=alone)
            if problem:
                least = PASSWORD_MIN_ALONE if alone else PASSWORD_MIN_WITH_FACTOR
                return password_page(request, account, least=least, error=t(problem[0], locale, **problem[1]),
                                     status=400)
            return None

        refused = await in_transaction(gw.sessionmaker, ip, vet)
        if refused is not None:
            return finish(request, refused)
        # argon2id with no transaction open (as idgw.login.password does for checking)
        hashed = await run_in_threadpool(hash_password, password)

        def work():
            db = current_db.get()
            now = gw.clock.now()
            gate = check(gw, db, cookie=cookie(request), now=now, fresh=True, next_path="/account/password")
            if gate.redirect:
                return ("redirect", gate.redirect)
            session, account = gate.session, gate.account
            if not settings.local_passwords or account.password_hash:  # set by another request meanwhile
                return ("redirect", "/account")
            account.password_hash = hashed
            audit.record(db, "account.password_set", at=now, actor=account.id, session_id=session.id, ip=ip)
            db.flush()
            return account_page(db, request, session, account, message=t("account_password_set", locale))

        return finish(request, await in_transaction(gw.sessionmaker, ip, work))

    # -- sessions -------------------------------------------------------------------------------
    @r.post("/account/sessions/{session_id}/end", include_in_schema=False)
    async def end_one(session_id: str, request: Request) -> Response:
        """Sign out of one session (its browser's whole group, as the sign-out there would): its
        tokens are revoked and its services told. Protective, so no fresh sign-in is needed."""
        ip = gw.client_ip(request)
        locale = pages.locale(request)

        def work(db, now, session, account, form):
            row = db.get(LoginSession, session_id) if len(session_id) <= 36 else None
            if row is None or row.account_id != account.id or row.ended_at is not None:
                return account_page(db, request, session, account, status=404, error=True,
                                    message=t("account_gone", locale))
            mine = group_of(row) == group_of(session)
            device = device_words(row.user_agent, locale)
            sign_out(db, session=row, now=now, ip=ip, reason="signed_out_from_account")
            if mine:
                return ("signed_out",)
            db.flush()
            return account_page(db, request, session, account, message=t("account_signed_out_one", locale,
                                                                          device=device))

        response = await post(request, work, fresh=False)
        gw.backchannel.wake()
        return response

    @r.get("/account/sessions/end-all", include_in_schema=False)
    async def end_all_confirm(request: Request) -> Response:
        def work(db, now, session, account):
            locale = pages.locale(request)
            return confirm_page(request, title=t("account_confirm_end_all_title", locale),
                                question=t("account_confirm_end_all", locale), action="/account/sessions/end-all",
                                button=t("account_end_all", locale))

        return await get(request, work)

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

    # -- connected services and consent receipts ---------------------------------------------------
    def services_page(db, request, account, *, status=200, message=None):
        locale = pages.locale(request)
        services = [dict(
            client_id=s.client_id, name=s.name, granted_at=s.granted_at, legal_basis=s.legal_basis,
            data=data_words(scope=s.scope, release=s.release, locale=locale),
            lasts=access_lasts(scope=s.scope, settings=settings, locale=locale),
            withdraw=withdraw_path(s.client_id),
            receipts=[dict(id=rc.id, granted_at=rc.granted_at, withdrawn_at=rc.withdrawn_at) for rc in s.receipts],
        ) for s in connected_services(db, account_id=account.id)]
        return ("page", "account_services.html", status, dict(services=services, message=message))

    @r.get("/account/services", include_in_schema=False)
    async def services(request: Request) -> Response:
        return await get(request, lambda db, now, session, account: services_page(db, request, account))

    @r.get("/account/services/{client_id}/withdraw", include_in_schema=False)
    async def withdraw_confirm(client_id: str, request: Request) -> Response:
        def work(db, now, session, account):
            locale = pages.locale(request)
            found = [s for s in connected_services(db, account_id=account.id) if s.client_id == client_id]
            if not found:
                return ("error", "account_gone", 404)
            return confirm_page(request, title=t("services_withdraw", locale),
                                question=t("services_confirm_withdraw", locale, service=found[0].name),
                                action=withdraw_path(client_id), back="/account/services",
                                button=t("services_withdraw_named", locale, service=found[0].name))

        return await get(request, work)

    @r.post("/account/services/{client_id}/withdraw", include_in_schema=False)
    async def withdraw_consent(client_id: str, request: Request) -> Response:
        """Withdrawing consent only takes access away, so a live sign-in that proves control is
        enough (no fresh sign-in): as easy to withdraw as it was to give (PDPA s.19)."""
        ip = gw.client_ip(request)
        locale = pages.locale(request)

        def work(db, now, session, account, form):
            name = db.scalar(select(Client.name).where(Client.client_id == client_id)) if len(client_id) <= 64 \
                else None
            done = withdraw(db, account_id=account.id, client_id=client_id, now=now, ip=ip,
                            session_id=session.id) if name is not None else None
            if done is None:
                return services_page(db, request, account, status=404, message=t("account_gone", locale))
            db.flush()
            return services_page(db, request, account, message=t("services_withdrawn", locale, service=name))

        response = await post(request, work, fresh=False, back="/account/services")
        gw.backchannel.wake()
        return response

    def receipt_of(db, account, receipt_id) -> ConsentReceipt | None:
        row = db.get(ConsentReceipt, receipt_id) if len(receipt_id) <= 36 else None
        # Someone else's receipt is answered exactly as one that does not exist.
        return row if row is not None and row.account_id == account.id else None

    # (the .json route first: "{receipt_id}" alone would also match "<id>.json")
    @r.get("/account/receipts/{receipt_id}.json", include_in_schema=False)
    async def receipt_json(receipt_id: str, request: Request) -> Response:
        def work(db, now, session, account):
            row = receipt_of(db, account, receipt_id)
            if row is None:
                return ("json", {"error": "not_found"}, 404, {})
            return ("json", receipt_document(row, account=account, issuer=settings.issuer,
                                             privacy_url=settings.privacy_notice_url), 200, {})

        return await get(request, work)

    @r.get("/account/receipts/{receipt_id}", include_in_schema=False)
    async def receipt_page(receipt_id: str, request: Request) -> Response:
        def work(db, now, session, account):
            locale = pages.locale(request)
            row = receipt_of(db, account, receipt_id)
            if row is None:
                return ("error", "account_gone", 404)
            return ("page", "account_receipt.html", 200, dict(
                receipt=row, who=display_name(account, locale), account_id=account.id,
                data=data_words(scope=row.scope, release=row.claims, locale=locale),
                purpose=t("receipt_purpose_text", locale, service=row.client_name),
                withdraw_url=settings.issuer + withdraw_path(row.client_id)))

        return await get(request, work)

    # -- download my data -------------------------------------------------------------------------
    @r.get("/account/export.json", include_in_schema=False)
    async def export(request: Request) -> Response:
        ip = gw.client_ip(request)

        def work(db, now, session, account):
            document = export_document(db, account=account, now=now, issuer=settings.issuer)
            audit.record(db, "account.exported", at=now, actor=account.id, session_id=session.id, ip=ip)
            day = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
            return ("json", document, 200,
                    {"Content-Disposition": f'attachment; filename="idgw-my-data-{day}.json"'})

        return await get(request, work, fresh=True)

    # -- the privacy notice ---------------------------------------------------------------------
    @r.get("/privacy", include_in_schema=False)
    async def privacy(request: Request) -> Response:
        return pages.render(request, "privacy.html")

    return r
