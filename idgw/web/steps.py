"""The steps of a pending authorization request, shared by its pages (``idgw.web.routes``) and
by RP-initiated logout (``idgw.web.logout``), as plain functions taking ``gw``: what a handler
decided (``Outcome``) and its response (``respond``), loading the interaction or explaining why
it cannot go on (``load_interaction``, ``way_back``), and deciding and rendering the next step
(``advance``: sign-in, a further factor, consent, or back to the service with a code or an
error; ``local_step`` for a sign-in to the gateway's own pages)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from idgw import audit
from idgw.account.consents import access_lasts
from idgw.assurance import current_policy
from idgw.delegation.choice import options as acting_options
from idgw.delegation.choice import principal_words
from idgw.delegation.use import login_choice, usable_mandates
from idgw.login.interaction import finish, open_interaction, repeated
from idgw.login.raising import accepted_upstreams
from idgw.login.sessions import load_session
from idgw.oidc.models import GrantSubject
from idgw.oidc.routes import issue_code
from idgw.release import SCOPE_CLAIMS, describe
from idgw.security import sha256_hex
from idgw.storage import memo
from idgw.storage.models import Account, Interaction
from idgw.web.cookies import clear_session_cookie, set_session_cookie
from idgw.web.errors import back_link
from idgw.web.i18n import add_messages, format_datetime, t
from idgw.web.raising import decide_for, raise_context, route_links, unmet_context, upstream_choices
from policies import AAL

add_messages({
    "consent_how_long": {"th": "การเข้าถึงนานเท่าใดและการถอนความยินยอม", "en": "How long access lasts, and withdrawing it"},
    "consent_withdraw_how": {"th": "ท่านถอนความยินยอมได้ทุกเมื่อ บริการจะหมดสิทธิ์เข้าถึงทันที ที่หน้า",
                             "en": "You can withdraw this at any time, and the service loses access at once, on"},
    "consent_connected_services": {"th": "บริการที่เชื่อมต่อในบัญชีของฉัน", "en": "Connected services in my account"},
    "consent_privacy": {"th": "ประกาศความเป็นส่วนตัว: ระบบนี้ใช้ข้อมูลของท่านอย่างไร",
                        "en": "Privacy notice: how this gateway uses your information"},
})

# Read on every interaction step: plain column reads, no ORM objects.


_UNLOADED = object()


class Outcome:
    """What a page handler decided, computed inside the transaction and rendered outside it."""

    def __init__(self, *, redirect: str | None = None, page: str | None = None, status: int = 200,
                 context: dict | None = None, cookie: str | None = None, clear_cookie: bool = False,
                 error_key: str | None = None, code: str | None = None, ui_locales: str | None = None,
                 headers: dict | None = None):
        self.redirect, self.page, self.status, self.context = redirect, page, status, context or {}
        self.headers = headers or {}
        self.cookie, self.clear_cookie, self.error_key, self.code = cookie, clear_cookie, error_key, code
        self.ui_locales = ui_locales
        self.redirect_status: int | None = None


def respond(gw, request: Request, out: Outcome) -> Response:
    """The response for an outcome: a redirect, the error page or a page, with the session cookie
    set or cleared and any extra headers."""
    pages, settings = gw.pages, gw.settings
    if out.redirect:
        status = out.redirect_status or (303 if request.method == "POST" else 302)
        response: Response = RedirectResponse(out.redirect, status_code=status)
    elif out.error_key:
        response = pages.render(request, "error.html", status=out.status, ui_locales=out.ui_locales,
                                message=t(out.error_key, pages.locale(request, out.ui_locales)), code=out.code,
                                **out.context)
    else:
        response = pages.render(request, out.page, status=out.status, ui_locales=out.ui_locales, **out.context)
    if out.cookie:
        set_session_cookie(settings, response, out.cookie)
    response.headers.update(out.headers)
    if out.clear_cookie:
        clear_session_cookie(settings, response)
    return response


def load_interaction(gw, db, iid: str, request: Request, now: int, *, csrf_ok: bool = True):
    """The pending interaction, or the page that explains why it cannot continue."""
    browser = request.cookies.get("idgw_browser") or ""
    ia, reason = open_interaction(db, iid=iid, browser=browser, now=now)
    if reason == "not_found":
        return None, Outcome(error_key="err_not_found", status=404)
    if reason is not None:
        # A repeated submit of a finished sign-in (double click, reload): the same answer again.
        result = repeated(db, iid=iid, browser=browser, now=now, within=gw.settings.code_ttl)
        if result and result.get("kind") == "code":
            done = db.get(Interaction, iid)
            return None, Outcome(redirect=gw.provider.code_location(
                params=done.params["request"], code=gw.provider.derived_code(iid)))
        if result and result.get("kind") == "error":
            return None, Outcome(redirect=result["location"])
        return None, Outcome(error_key="err_interaction_expired", status=400,
                             context=way_back(gw, db, request, iid, browser))
    if not csrf_ok:
        # A stale form: the sign-in itself goes on; offer its current step again.
        return None, Outcome(error_key="err_csrf", status=403, context=dict(
            back_url=f"/interaction/{ia.id}", back_label=t("errpage_sign_in_again", gw.pages.locale(request))))
    return ia, None


def way_back(gw, db, request: Request, iid: str, browser: str) -> dict:
    """For a sign-in that cannot go on: a link back to its service (with access_denied and the
    service's state), only for the browser that started it."""
    ia = db.get(Interaction, iid) if len(iid) <= 64 else None
    if ia is None or sha256_hex(browser) != ia.params.get("browser"):
        return {}
    return back_link(gw, db, ia, gw.pages.locale(request, ia.params["request"].get("ui_locales")))


def advance(gw, db, ia: Interaction, request: Request, now: int, *, cookie_value: str | None,
            set_cookie: str | None = None, error: str | None = None, username: str | None = None,
            session=_UNLOADED, browser: str | None = None) -> Outcome:
    """Decide and perform the next step of an interaction (``session``: already loaded for
    ``cookie_value`` in this transaction, if the caller has it; ``browser``: the browser id
    when it is being set by this very response)."""
    pages, settings = gw.pages, gw.settings
    params = ia.params["request"]
    progress = ia.params["progress"]
    if session is _UNLOADED:
        session = load_session(db, cookie=cookie_value, now=now)
    if ia.client_id is None:
        return local_step(db, ia, session, now, set_cookie=set_cookie)
    client = memo.client_row(db, ia.client_id)
    if client.disabled_at is not None:  # disabled by an admin during this sign-in (Provider.query_client)
        return Outcome(error_key="err_service_disabled", status=403, cookie=set_cookie)
    account = db.get(Account, session.account_id) if session else None
    policy = current_policy(db, ia.client_id)  # read once per step
    step = decide_for(gw, db, ia, session, account, now, policy=policy)
    browser = browser if browser is not None else request.cookies.get("idgw_browser") or ""
    ui = params.get("ui_locales")
    locale = pages.locale(request, ui)
    if step.kind == "unmet":
        # Nothing here can reach the level: say why first, then back to the service with the error.
        location = gw.provider.authorization_error_redirect(
            redirect_uri=params["redirect_uri"], error=step.error, description=step.description,
            state=params.get("state"))
        if finish(db, ia=ia, now=now, result={"kind": "error", "location": location}):
            audit.record(db, "authorization.unmet", at=now, actor=account.id if account else None,
                         client_id=ia.client_id, session_id=session.id if session else None,
                         ip=gw.client_ip(request), error=step.error, reason=step.description)
        return Outcome(page="unmet.html", status=403, ui_locales=ui, cookie=set_cookie,
                       context=unmet_context(step=step, client_name=client.name, locale=locale,
                                             back_url=location))
    if step.kind == "raise":
        return Outcome(page="raise.html", ui_locales=ui, cookie=set_cookie, status=401 if error else 200,
                       context=dict(error=error, cancel_csrf=pages.csrf_token(browser, f"cancel:{ia.id}"),
                                    **raise_context(gw, ia=ia, step=step, client_name=client.name,
                                                    locale=locale, browser=browser,
                                                    cancel_url=f"/interaction/{ia.id}/cancel")))
    if step.kind == "error":
        location = gw.provider.authorization_error_redirect(
            redirect_uri=params["redirect_uri"], error=step.error, description=step.description,
            state=params.get("state"))
        if finish(db, ia=ia, now=now, result={"kind": "error", "location": location}) \
                and step.error in ("unmet_authentication_requirements", "access_denied"):
            audit.record(db, "authorization.unmet", at=now, actor=account.id if account else None,
                         client_id=ia.client_id, session_id=session.id if session else None,
                         ip=gw.client_ip(request), error=step.error, reason=step.description)
        return Outcome(redirect=location, cookie=set_cookie)
    if step.kind == "login":
        return Outcome(page="login.html", status=401 if error else 200, ui_locales=ui, cookie=set_cookie,
                       context=dict(action=f"/interaction/{ia.id}/login", client_name=client.name,
                                    csrf_token=pages.csrf_token(browser, f"login:{ia.id}"), error=error,
                                    passkey_action=f"/interaction/{ia.id}/passkey",
                                    upstreams=upstream_choices(ia.id, accepted_upstreams(gw.upstreams, policy),
                                                               policy=policy,
                                                               requested=ia.params.get("requested") or {},
                                                               locale=locale),
                                    cancel_url=f"/interaction/{ia.id}/cancel",
                                    cancel_csrf=pages.csrf_token(browser, f"cancel:{ia.id}"),
                                    passkey_csrf=pages.csrf_token(browser, f"login:{ia.id}"),
                                    options_csrf=pages.csrf_token(browser, "webauthn"),
                                    username=(username or params.get("login_hint") or "")[:200]))
    if step.kind == "factor":
        return factor_page(gw, db, ia, request, now, kind=step.factors[0], step=step, account=account,
                           session=session, client=client, set_cookie=set_cookie, error=error, browser=browser)
    acting = None
    if step.kind in ("consent", "done"):
        # Delegation of authority: for myself, or on behalf of someone whose mandate covers this service.
        act = (ia.params.get("requested") or {}).get("delegation_act")
        what, found = login_choice(db, chosen=progress.get("acting"), session_id=session.id, account=account,
                                   client_id=ia.client_id, act=act,
                                   delegation_allowed=bool(policy and policy.delegation_allowed), now=now)
        if what in ("ask", "gone") and "none" in (params.get("prompt") or "").split():
            what, found = "self", None  # prompt=none: no page; the person acts for themselves
        if what in ("ask", "gone"):
            # A chosen mandate that stopped meanwhile is said, never silently replaced by "myself".
            rows = found or usable_mandates(db, account=account, client_id=ia.client_id, act=act, now=now)
            return Outcome(page="delegation_choose.html", ui_locales=ui, cookie=set_cookie, context=dict(
                action=f"/interaction/{ia.id}/acting", client_name=client.name, gone=what == "gone",
                csrf_token=pages.csrf_token(browser, f"acting:{ia.id}"), account_name=display_name(account, locale),
                options=acting_options(db, rows, client_id=ia.client_id, locale=locale),
                cancel_url=f"/interaction/{ia.id}/cancel", cancel_csrf=pages.csrf_token(browser, f"cancel:{ia.id}")))
        acting = found if what == "mandate" else None
    if step.kind == "consent":
        locale = pages.locale(request, ui)
        scopes = [t(f"scope_{s}", locale) for s in params["scope"].split() if f"scope_{s}" in _SCOPE_KEYS]
        shown = describe(step.release, scope=params["scope"])
        # what this page shows is what the Allow button records (not a later recomputation)
        ia.params = {**ia.params, "progress": {**progress, "shown": list(step.release)}}
        return Outcome(page="consent.html", ui_locales=ui, cookie=set_cookie,
                       context=dict(action=f"/interaction/{ia.id}/consent", client_name=client.name,
                                    csrf_token=pages.csrf_token(browser, f"consent:{ia.id}"), scopes=scopes,
                                    extra_claims=[t(f"claim_{c}", locale) for c in shown["extra"]],
                                    verified_claims=[t(f"claim_{c}", locale) for c in shown["verified"]],
                                    ial=account.ial, account_name=display_name(account, locale),
                                    acting_for=principal_words(acting, locale) if acting else None,
                                    auth_time=format_datetime(session.auth_time, locale),
                                    lasts=access_lasts(scope=params["scope"], settings=settings, locale=locale),
                                    cancel_url=f"/interaction/{ia.id}/cancel",
                                    cancel_csrf=pages.csrf_token(browser, f"cancel:{ia.id}")))
    if not finish(db, ia=ia, now=now, result={"kind": "code"}):
        # Another submit of this interaction got there first: answer with its code, not a new one.
        return Outcome(redirect=gw.provider.code_location(params=params, code=gw.provider.derived_code(ia.id)),
                       cookie=set_cookie)
    subject = GrantSubject(account_id=session.account_id, session_id=session.id, auth_time=session.auth_time,
                           acr=step.acr, amr=list(session.amr), ial=session.ial, aal=session.aal,
                           claims=(ia.params.get("requested") or {}).get("claims"), release=step.release,
                           code_seed=ia.id, mandate_id=acting.id if acting else None,
                           mandate_act=(ia.params.get("requested") or {}).get("delegation_act") if acting else None)
    return Outcome(redirect=issue_code(gw, params=params, subject=subject), cookie=set_cookie)


def local_step(db, ia: Interaction, session, now: int, *, set_cookie=None) -> Outcome:
    """A sign-in to the gateway's own pages begun through an upstream (/signin): on to ``next``
    once the session reaches the page's AAL, else back to /signin to go on from there."""
    local = ia.params["local"]
    query = urlencode({"next": local["next"], "aal": local.get("aal") or "1"})
    if session is None:
        return Outcome(redirect=f"/signin?{query}", cookie=set_cookie)
    if AAL(session.aal) < AAL(local.get("aal") or "1"):
        return Outcome(redirect=f"/signin/stepup?{query}", cookie=set_cookie)
    finish(db, ia=ia, now=now, result={"kind": "local"})
    return Outcome(redirect=local["next"], cookie=set_cookie)


def factor_page(gw, db, ia, request, now, *, kind, step, account, session, client, set_cookie=None, error=None,
                browser=None) -> Outcome:
    """The page asking for a further factor (``kind``), with the other routes to the level."""
    pages = gw.pages
    locale = pages.locale(request, ia.params["request"].get("ui_locales"))
    challenge = gw.authenticators.get(kind).begin(db, account=account, session=session, now=now)
    if browser is None:
        browser = request.cookies.get("idgw_browser") or ""
    # "Use another method": every other route that reaches the level (recovery codes included).
    others = [(x["href"], x["label"]) for x in route_links(gw, iid=ia.id, routes=step.routes, locale=locale,
                                                           skip=kind) if x["method"] == "get"]
    return Outcome(page="factor.html", status=401 if error else 200, cookie=set_cookie,
                   ui_locales=ia.params["request"].get("ui_locales"),
                   context=dict(action=f"/interaction/{ia.id}/factor/{kind}", client_name=client.name,
                                csrf_token=pages.csrf_token(browser, f"factor:{ia.id}"),
                                webauthn=bool(challenge.extra.get("webauthn")),
                                options_csrf=pages.csrf_token(browser, "webauthn"),
                                title=challenge.title[locale], prompt=challenge.prompt[locale],
                                input_label=challenge.input_label[locale], error=error, others=others,
                                cancel_url=f"/interaction/{ia.id}/cancel",
                                cancel_csrf=pages.csrf_token(browser, f"cancel:{ia.id}")))


_SCOPE_KEYS = {f"scope_{s}" for s in ["openid", *SCOPE_CLAIMS, "offline_access"]}


def display_name(account: Account, locale: str) -> str:
    if locale == "th" and account.given_name_th:
        return f"{account.given_name_th} {account.family_name_th or ''}".strip()
    name = " ".join(p for p in (account.given_name, account.family_name) if p)
    return name or account.username
