"""The per-request steps of a sign-in through an upstream identity source, shared by its start
and OIDC callback (``idgw.web.upstream``) and NDID's pages (``idgw.web.ndid_pages``,
``idgw.web.ndid_poll``), as plain functions of the gateway (``gw``), the database session and the
request: the failure page and its ways on (``fail``, ``expired``, ``needs_local``, ``links``),
how an attempt ended (``finished``), turning a verified identity into the interaction's session
(``sign_in``), and ``render``, which answers with any of them.

Every fault ends on a Thai/English page that offers a way on (retry, another way to sign in, or
back to the service), changes no account, issues nothing to the e-service, and is audited as
``upstream.failed``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from idgw import audit
from idgw.login.interaction import mark_signed_in
from idgw.login.sessions import load_session
from idgw.security import sha256_hex
from idgw.storage.models import Interaction, UpstreamAttempt
from idgw.upstream import resolve_account, start_session
from idgw.web.cookies import set_session_cookie
from idgw.web.errors import back_link
from idgw.web.i18n import add_messages, t
from idgw.web.refusals import disabled_text
from providers import UpstreamError

add_messages({
    "upstream_choose_another": {"th": "เลือกวิธีเข้าสู่ระบบอื่น", "en": "Choose another way to sign in"},
    "upstream_sign_in_existing": {"th": "เข้าสู่ระบบบัญชีเดิม", "en": "Sign in to your existing account"},
    "ndid_outcome_rejected": {"th": "คำขอถูกปฏิเสธในแอปธนาคารหรือถูกยกเลิก ท่านจึงยังไม่ได้เข้าสู่ระบบ "
                                    "หากไม่ได้ตั้งใจปฏิเสธ ลองใหม่อีกครั้งหรือเลือกวิธีอื่น",
                              "en": "The request was declined in your bank app, or cancelled, so you are not "
                                    "signed in. If you did not mean to decline it, try again or choose another way."},
    "ndid_outcome_errored": {"th": "ธนาคารหรือผู้ให้บริการยืนยันตัวตนของท่านไม่ได้ (เช่น ไม่พบข้อมูลของท่านที่นั่น) "
                                   "ลองใหม่โดยยืนยันในแอปของธนาคารอื่น หรือเลือกวิธีเข้าสู่ระบบอื่น",
                             "en": "Your bank or provider could not confirm your identity (for example, it holds "
                                   "no identity for this citizen ID). Try again and approve in another bank's app, "
                                   "or choose another way to sign in."},
    "ndid_outcome_timed_out": {"th": "ไม่ได้รับคำตอบจากแอปธนาคารภายในเวลาที่กำหนด ท่านจึงยังไม่ได้เข้าสู่ระบบ",
                               "en": "No answer came from your bank app in time, so you are not signed in."},
    "ndid_outcome_complicated": {"th": "ธนาคารตอบไม่ตรงกัน (รายหนึ่งยืนยัน อีกรายปฏิเสธ) ระบบจึงให้เข้าสู่ระบบไม่ได้",
                                 "en": "Your banks gave different answers (one approved, another declined), so we "
                                       "cannot sign you in."},
})

_NDID_OUTCOMES = {f"ndid_outcome_{code}" for code in ("rejected", "errored", "timed_out", "complicated")}


@dataclass
class Failure:
    """An error page: the message, its code, and the ways on (error.html's ``retry_url``,
    ``back_url``, ``back_label``)."""

    message: str
    code: str
    status: int = 400
    links: dict = field(default_factory=dict)
    ui_locales: str | None = None  # the interaction's, so that the page speaks the message's language


def finished(attempt: UpstreamAttempt, code: str) -> None:
    """Remember how an attempt ended (``signed_in``, ``cancelled``, or an error code), so that a
    reload of its waiting page, or the page after the status endpoint saw the end, shows the same."""
    attempt.state = {**(attempt.state or {}), "gateway_outcome": {"code": code}}


def ui_of(ia: Interaction | None) -> str | None:
    return (ia.params.get("request") or {}).get("ui_locales") if ia is not None else None


def locale_of(gw, request: Request, ia: Interaction | None) -> str:
    return gw.pages.locale(request, ui_of(ia))


def browser_hash(request: Request) -> str:
    return sha256_hex(request.cookies.get("idgw_browser") or "")


def links(gw, db, request: Request, ia: Interaction | None, *, retry: str | None = None) -> dict:
    """Where an upstream failure page sends the person: back to the sign-in choices while the
    interaction can go on (and ``retry`` there), else back to the service (``back_link``);
    nothing for an interaction of another browser (error.html then offers the home page)."""
    if ia is None or ia.params.get("browser") != browser_hash(request):
        return {}
    locale = locale_of(gw, request, ia)
    if ia.completed_at is None and ia.expires_at > gw.clock.now():
        return {"back_url": f"/interaction/{ia.id}", "back_label": t("upstream_choose_another", locale),
                "retry_url": retry}
    return back_link(gw, db, ia, locale)


def message_for(code: str, locale: str, *, ndid: bool, error: UpstreamError | None = None) -> str:
    if ndid and f"ndid_outcome_{code}" in _NDID_OUTCOMES:
        return t(f"ndid_outcome_{code}", locale)
    if code == "link_needs_sign_in":
        return t("upstream_needs_local", locale)
    if code == "interaction_expired":
        return t("err_interaction_expired", locale)
    try:
        error = error or UpstreamError(code)
    except ValueError:
        return t("err_unexpected", locale)
    return error.message_th if locale == "th" else error.message_en


def fail(gw, request: Request, db, *, ia: Interaction | None, provider: str, error: UpstreamError, now: int,
         ip: str | None) -> Failure:
    audit.record(db, "upstream.failed", at=now, ip=ip, client_id=ia.client_id if ia else None,
                 provider=provider, code=error.code, detail=error.detail[:300])
    upstream = gw.upstreams.get(provider)
    message = message_for(error.code, locale_of(gw, request, ia), error=error,
                          ndid=upstream is not None and upstream.mode == "async")
    return Failure(message, error.code, ui_locales=ui_of(ia),
                   links=links(gw, db, request, ia, retry=f"/interaction/{ia.id}/upstream/{provider}" if ia else None))


def expired(gw, db, request: Request, ia: Interaction | None) -> Failure:
    own = ia if ia is not None and ia.params.get("browser") == browser_hash(request) else None
    return Failure(t("err_interaction_expired", locale_of(gw, request, own)), "interaction_expired",
                   links=links(gw, db, request, own), ui_locales=ui_of(own))


def needs_local(gw, request: Request, ia: Interaction) -> Failure:
    locale = locale_of(gw, request, ia)
    return Failure(t("upstream_needs_local", locale), "link_needs_sign_in", ui_locales=ui_of(ia),
                   links={"back_url": f"/interaction/{ia.id}",
                          "back_label": t("upstream_sign_in_existing", locale)})


def render(gw, request: Request, result) -> Response:
    """A ``Failure`` as error.html, ``("redirect", url[, cookie])``, or ``("page", template, status,
    context)``."""
    if isinstance(result, Failure):
        status = {"not_found": 404, "rate_limited": 429, "csrf": 403}.get(result.code, result.status)
        return gw.pages.render(request, "error.html", status=status, ui_locales=result.ui_locales,
                               message=result.message, code=result.code, **result.links)
    kind = result[0]
    if kind == "redirect":
        response: Response = RedirectResponse(result[1], status_code=303 if request.method == "POST" else 302)
        if len(result) > 2 and result[2]:
            set_session_cookie(gw.settings, response, result[2])
        return response
    _, template, status, context = result
    return gw.pages.render(request, template, status=status, **context)


def sign_in(gw, db, request: Request, *, ia: Interaction, attempt: UpstreamAttempt, identity, now: int, ip):
    """Turn a verified upstream identity into the interaction's session (or ask to sign in to
    the existing account first, when the link needs that)."""
    cookie_name = gw.settings.cookie_name
    current = load_session(db, cookie=request.cookies.get(cookie_name), now=now)
    resolution = resolve_account(db, identity=identity, now=now, ip=ip,
                                 signed_in_account_id=current.account_id if current else None)
    attempt.finished_at = now
    if resolution.account is None:
        finished(attempt, "state_mismatch")
        return fail(gw, request, db, ia=ia, provider=identity.provider, now=now, ip=ip,
                    error=UpstreamError("state_mismatch", "the upstream subject now names another citizen"))
    if resolution.needs_local_sign_in:
        finished(attempt, "link_needs_sign_in")
        audit.record(db, "upstream.failed", at=now, ip=ip, client_id=ia.client_id, provider=identity.provider,
                     code="link_needs_sign_in")
        return needs_local(gw, request, ia)
    if resolution.account.disabled_at is not None:  # an administrator disabled it: no session
        finished(attempt, "account_disabled")
        audit.record(db, "upstream.failed", at=now, ip=ip, client_id=ia.client_id, provider=identity.provider,
                     code="account_disabled")
        return Failure(disabled_text(locale=locale_of(gw, request, ia), help_desk=gw.settings.help_desk),
                       "account_disabled", status=403, ui_locales=ui_of(ia), links=links(gw, db, request, ia))
    session, cookie = start_session(db, old_cookie=request.cookies.get(cookie_name),
                                    account=resolution.account, identity=identity, now=now, ip=ip,
                                    client_id=ia.client_id, user_agent=request.headers.get("user-agent"))
    mark_signed_in(ia, session)
    finished(attempt, "signed_in")
    return ("redirect", f"/interaction/{ia.id}", cookie)
