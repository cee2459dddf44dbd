"""The account page (/account: how you sign in, where you are signed in, recent sign-ins) and the
request plumbing every account page shares: ``get`` (a page) and ``post`` (a change: the CSRF
token first) run one step function in one transaction behind the gate (``gated_page``,
``gated_change``) and ``finish`` turns its answer into the response; the page's context, and the
confirmation page. A step is a plain module-level function ``step(gw, request, db, now, session,
account, [form,] *args)`` that tests can call directly; the handlers are module-level, on
``router``, and take the gateway as a dependency (``idgw.depends.gateway_of``). The other pages
are ``idgw.account.factors_routes`` (sign-in methods, recovery codes, linked sources, setting a
password) and ``idgw.account.services_routes`` (sessions, connected services, receipts, "download
my data", the privacy notice) and ``idgw.account.proofing_routes`` (video identity checks: consent
and its withdrawal); ``idgw.account.router`` mounts all.

Who may use them is ``idgw.account.access`` (proof of control of the account; changes need a
fresh sign-in); what may be taken away is ``idgw.account.rules``. Removing, unlinking, signing
out everywhere and withdrawing are asked through a confirmation page (a GET) whose button posts
the change; a direct POST still acts (the CSRF token is the protection), except that a change a
service would feel (its floor no longer reachable) acts only with ``confirm=yes``, the answer to
the warning that page shows."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from idgw.account import texts as _texts  # noqa: F401  (registers the pages' words)
from idgw.account.access import check, factor_reach
from idgw.account.consents import display_names
from idgw.account.proofing_routes import WITHDRAW_PATH, proofing_section
from idgw.account.rules import RemovalCheck
from idgw.account.words import aal_words, device_words, ial_words
from idgw.depends import gateway_of
from idgw.login.sessions import group_of
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.storage.models import (
    Account,
    AccountAuthenticator,
    AccountLink,
    AuditEvent,
    Client,
    LoginSession,
    RecoveryCode,
)
from idgw.web.cookies import clear_session_cookie
from idgw.web.i18n import t

RECENT_EVENTS = ("session.created", "login.failed", "authenticator.failed", "session.stepped_up")
#: NIST SP 800-63B-4 §3.1.1.2: at least 15 characters for a password that is the only factor,
#: 8 for one used with another factor (the rule ``idgw.admin.add_user`` applies); at most 1024.
PASSWORD_MIN_ALONE = 15
PASSWORD_MIN_WITH_FACTOR = 8
PASSWORD_MAX = 1024

router = APIRouter()


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


def upstream_name(gw, provider: str, locale: str) -> str:
    upstream = gw.upstreams.get(provider)
    names = getattr(upstream, "display_name", None) or {}
    return names.get(locale) or provider


# -- running a request ----------------------------------------------------------------------------
def cookie(gw, request: Request) -> str | None:
    return request.cookies.get(gw.settings.cookie_name)


async def get(gw, request: Request, step, *args, fresh: bool = False, next_path: str | None = None) -> Response:
    """A page for a signed-in person who proves control (``fresh``: within FRESH_SECONDS): one
    transaction runs ``step(gw, request, db, now, session, account, *args)`` behind the gate."""
    next_path = next_path or request.url.path
    return finish(gw, request, await in_transaction(gw.sessionmaker, gw.client_ip(request), gated_page,
                                                    gw, request, fresh, next_path, step, args))


async def post(gw, request: Request, step, *args, fresh: bool = True, back: str = "/account") -> Response:
    """A change: the CSRF token first (nothing is read or written without it), then the gate;
    an expired or too-weak sign-in goes to /signin and comes back to ``back``. One transaction
    runs ``step(gw, request, db, now, session, account, form, *args)`` behind the gate."""
    pages = gw.pages
    form = await pages.read_form(request)
    if not pages.check_csrf(request, form, "account"):
        return pages.error(request, "err_csrf", status=403)
    return finish(gw, request, await in_transaction(gw.sessionmaker, gw.client_ip(request), gated_change,
                                                    gw, request, fresh, back, step, form, args))


def gated_page(gw, request: Request, fresh: bool, next_path: str, step, args: tuple):
    """A page's transaction: the gate (``idgw.account.access.check``), then ``step``'s answer."""
    db = current_db.get()
    now = gw.clock.now()
    gate = check(gw, db, cookie=cookie(gw, request), now=now, fresh=fresh, next_path=next_path)
    if gate.redirect:
        return ("redirect", gate.redirect)
    return step(gw, request, db, now, gate.session, gate.account, *args)


def gated_change(gw, request: Request, fresh: bool, back: str, step, form: dict, args: tuple):
    """A change's transaction (its CSRF token already checked): the gate, then ``step``'s answer."""
    db = current_db.get()
    now = gw.clock.now()
    gate = check(gw, db, cookie=cookie(gw, request), now=now, fresh=fresh, next_path=back)
    if gate.redirect:
        return ("redirect", gate.redirect)
    return step(gw, request, db, now, gate.session, gate.account, form, *args)


def finish(gw, request: Request, result) -> Response:
    pages, settings = gw.pages, gw.settings
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
        clear_session_cookie(settings, response)
        return response
    raise AssertionError(kind)


def browser(gw, request: Request) -> str:
    """This browser's id for the forms' CSRF tokens: the gateway-issued one, or a new one that
    ``finish`` sets with the page (one per request)."""
    known = getattr(request.state, "browser_id", None)
    if known is None:
        known = request.state.browser_id = gw.pages.browser_id(request)
    return known


def account_csrf(gw, request: Request) -> str:
    """The CSRF token for this browser's account forms."""
    return gw.pages.csrf_token(browser(gw, request), "account")


# -- the account page -----------------------------------------------------------------------------
def page_context(gw, db, request: Request, session: LoginSession, account: Account, **extra) -> dict:
    pages, settings = gw.pages, gw.settings
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
        links=[dict(id=link.id, name=upstream_name(gw, link.provider, locale), linked_at=link.linked_at,
                    ial=ial_words(link.ial, locale)) for link in links],
        sessions=[dict(id=s.id, device=device_words(s.user_agent, locale),
                       ip=s.ip or t("account_ip_unknown", locale), auth_time=s.auth_time,
                       service=(services.get(s.client_id) or s.client_id) if s.client_id
                       else t("account_this_gateway", locale),
                       current=group_of(s) == mine) for s in live],
        proofing=proofing_section(db, account.id, locale), proofing_withdraw=WITHDRAW_PATH,
        recent=recent, csrf_token=account_csrf(gw, request),
        options_csrf=pages.csrf_token(browser(gw, request), "webauthn"), privacy_url=settings.privacy_notice_url,
        **extra)


def account_page(gw, db, request, session, account, *, status=200, message=None, error=False):
    return ("page", "account.html", status,
            page_context(gw, db, request, session, account, message=message, error=error))


# -- the confirmation page (removing, unlinking, signing out everywhere, withdrawing) -------------
def confirm_page(gw, request, *, status=200, title: str, question: str, action: str, button: str,
                 check_result: RemovalCheck | None = None, back: str = "/account", hidden: dict | None = None):
    locale = gw.pages.locale(request)
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
        csrf_token=account_csrf(gw, request)))


def show_account(gw, request: Request, db, now: int, session: LoginSession, account: Account):
    """The account page, for a person the gate let through."""
    return account_page(gw, db, request, session, account)


@router.get("/account", include_in_schema=False)
async def show(request: Request, gw=Depends(gateway_of)) -> Response:
    return await get(gw, request, show_account)
