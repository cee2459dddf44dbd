"""Raise my sign-in, in place (issue 12): the page that says in plain words what a service needs
and offers every route that reaches it (``idgw.login.raising``), the page that explains when
nothing here can, and setting up an authenticator app or a passkey inside the sign-in, after which
the step-up counts at once.

Routes (each for a pending interaction of this browser, re-deciding on every request, so a route
that is no longer offered sends the person back to ``/interaction/{id}``):

- ``POST /interaction/{id}/enrol/totp`` starts an authenticator app (QR code and secret);
- ``POST /interaction/{id}/enrol/totp/{authenticator}`` confirms its first code: the app is
  enrolled, the code counts as the ``otp`` factor of this session, recovery codes are shown once;
- ``POST /interaction/{id}/enrol/passkey`` registers a passkey (user verification required): the
  ceremony, bound to this browser and session, counts as the ``hwk_uv`` factor.

Each handler reads the form and runs one step function (``totp_start_step``, ``totp_confirm_step``,
``passkey_enrol_step``) in one transaction; each step first checks, with ``enrolling``, that
setting up that authenticator is a route the interaction offers now. The functions above the
routes (``decide_for``, ``raise_context``, ...) are what ``idgw.web.steps`` shows on the
interaction's own pages.
"""

from __future__ import annotations

from typing import NamedTuple

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from idgw import audit
from idgw.assurance import current_policy
from idgw.authn.totp import new_recovery_codes
from idgw.authn.webauthn import WebAuthnError
from idgw.depends import gateway_of
from idgw.login.interaction import Step, alternatives, consented, next_step, open_interaction
from idgw.login.raising import Route, accepted_upstreams, floors, upstream_reaches
from idgw.login.sessions import add_factor, load_session
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.proofing.cases import proofing_reach
from idgw.security import sha256_hex
from idgw.storage.models import Account, Client, Interaction
from idgw.web.i18n import add_messages, t
from policies import AAL, IAL

add_messages({
    "raise_title": {"th": "ยืนยันตัวตนเพิ่มเติมเพื่อใช้บริการต่อ", "en": "A stronger sign-in is needed to continue"},
    "raise_title_ial": {"th": "ยืนยันตัวตนของท่านเพื่อใช้บริการต่อ", "en": "Confirm your identity to continue"},
    "raise_needs": {"th": "{service} ต้องการ:", "en": "{service} needs:"},
    "raise_choose": {"th": "เลือกวิธีที่สะดวก:", "en": "Choose one way to continue:"},
    "raise_have": {"th": "ใช้สิ่งที่ท่านมีอยู่แล้ว", "en": "Use what you already have"},
    "raise_upstream": {"th": "เข้าสู่ระบบด้วยผู้ให้บริการยืนยันตัวตน", "en": "Sign in with an identity provider"},
    "raise_proofing": {"th": "ยืนยันตัวตนกับเจ้าหน้าที่ทางวิดีโอคอล",
                       "en": "Confirm your identity with an officer on a video call"},
    "raise_proofing_note": {"th": "ใช้บัตรประชาชนและกล้องของคุณ ใช้เวลาประมาณ 5–10 นาที",
                            "en": "You need your Thai ID card and a camera; it takes about 5–10 minutes."},
    "route_proofing_video": {"th": "เริ่มยืนยันตัวตนทางวิดีโอคอล", "en": "Start a video call with an officer"},
    "raise_enrol": {"th": "ตั้งค่าวิธียืนยันตัวตนใหม่ตอนนี้", "en": "Set up a new way to sign in now"},
    "raise_enrol_note": {"th": "ใช้เวลาประมาณ 2 นาที แล้วท่านจะกลับไปใช้บริการต่อได้ทันที",
                         "en": "It takes about 2 minutes, then you continue to the service straight away."},
    "raise_cancel": {"th": "ยกเลิกและกลับไปที่ {service}", "en": "Cancel and return to {service}"},
    "need_ial": {"th": "การพิสูจน์ตัวตนที่ยืนยันแล้วว่าเป็นท่านจริง ระดับ IAL {level} (เช่น ผ่านแอป ThaiD หรือ NDID)",
                 "en": "A verified identity, proven at level IAL {level} (for example through ThaiD or NDID)"},
    "need_aal_2.1": {"th": "การเข้าสู่ระบบสองขั้นตอน เช่น รหัสผ่านและรหัสจากแอปยืนยันตัวตน (AAL 2.1)",
                     "en": "A two-step sign-in, such as your password and a code from an authenticator app (AAL 2.1)"},
    "need_aal_2.2": {"th": "การเข้าสู่ระบบที่ป้องกันการหลอกลวง ด้วยพาสคีย์หรือกุญแจความปลอดภัย (AAL 2.2)",
                     "en": "A sign-in that resists phishing, with a passkey or security key (AAL 2.2)"},
    "need_aal_3": {"th": "การเข้าสู่ระบบด้วยกุญแจความปลอดภัยแบบฮาร์ดแวร์ที่ได้รับอนุญาต (AAL 3)",
                   "en": "A sign-in with an approved hardware security key (AAL 3)"},
    "route_factor_totp": {"th": "ใส่รหัสจากแอปยืนยันตัวตน", "en": "Enter a code from your authenticator app"},
    "route_factor_webauthn": {"th": "ใช้พาสคีย์หรือกุญแจความปลอดภัย", "en": "Use your passkey or security key"},
    "route_factor_recovery": {"th": "ใช้รหัสกู้คืน", "en": "Use a recovery code"},
    "route_enrol_totp": {"th": "ตั้งค่าแอปยืนยันตัวตน (เช่น Google Authenticator)",
                         "en": "Set up an authenticator app (such as Google Authenticator)"},
    "route_enrol_webauthn": {"th": "เพิ่มพาสคีย์ในอุปกรณ์นี้", "en": "Add a passkey on this device"},
    "unmet_title": {"th": "ยังไม่สามารถเข้าใช้บริการนี้ได้", "en": "You cannot use this service yet"},
    "unmet_why": {"th": "{service} ต้องการระดับการยืนยันตัวตนที่ระบบนี้ยังไม่มีวิธีให้ท่านทำได้:",
                  "en": "{service} needs a level of assurance that no method available here can give you:"},
    "unmet_help": {"th": "ท่านอาจติดต่อหน่วยงานเจ้าของบริการเพื่อขอใช้ช่องทางอื่น หรือติดต่อ {help}",
                   "en": "You may ask the agency that runs the service for another way to apply, or contact {help}."},
    "unmet_back": {"th": "กลับไปที่ {service}", "en": "Return to {service}"},
    "enrol_totp_title": {"th": "ตั้งค่าแอปยืนยันตัวตน", "en": "Set up your authenticator app"},
    "enrol_done": {"th": "ตั้งค่าเรียบร้อยแล้ว และการเข้าสู่ระบบครั้งนี้ได้รับการยืนยันเพิ่มแล้ว",
                   "en": "All set: your sign-in now counts as the stronger one."},
    "enrol_codes_intro": {"th": "เก็บรหัสกู้คืนเหล่านี้ไว้ในที่ปลอดภัย หากทำโทรศัพท์หาย ท่านใช้รหัสเหล่านี้แทนได้ "
                                "(แต่ละรหัสใช้ได้ครั้งเดียว และจะแสดงเพียงครั้งนี้)",
                          "en": "Keep these recovery codes somewhere safe. If you lose your phone, use one instead "
                                "(each works once; they are shown only now)."},
    "continue_to": {"th": "ไปต่อที่ {service}", "en": "Continue to {service}"},
    "not_enough_here": {"th": "ไม่เพียงพอสำหรับบริการนี้", "en": "not enough for this service"},
    "choose_another_way": {"th": "เลือกวิธีอื่น", "en": "Choose another way"},
    "totp_code_used": {"th": "รหัสนี้ถูกใช้ไปแล้ว กรุณารอรหัสถัดไปในแอป (ประมาณ 30 วินาที)",
                       "en": "This code was already used; wait for the next one in your app (about 30 seconds)."},
})


_UNREAD = object()

router = APIRouter()


def needs_in_words(*, need_ial: IAL | None, need_aal: AAL | None, locale: str) -> list[str]:
    """What a service needs, said in words (the level in brackets for those who know them)."""
    out = []
    if need_ial is not None:
        out.append(t("need_ial", locale, level=need_ial.value))
    if need_aal is not None:
        key = {"1": None, "2.1": "need_aal_2.1", "2.2": "need_aal_2.2", "3": "need_aal_3"}[need_aal.value]
        if key:
            out.append(t(key, locale))
    return out


def route_links(gw, *, iid: str, routes: tuple[Route, ...], locale: str, skip: str | None = None) -> list[dict]:
    """The routes as the page shows them: ``href`` and ``label``; ``method`` is ``get`` (a link),
    ``post`` (a form button) or ``passkey`` (a WebAuthn registration button)."""
    links = []
    for route in routes:
        if route.kind == "factor":
            if route.name == skip:
                continue
            links.append(dict(kind="factor", method="get", href=f"/interaction/{iid}/factor/{route.name}",
                              label=t(f"route_factor_{route.name}", locale)))
        elif route.kind == "upstream":
            upstream = gw.upstreams[route.name]
            links.append(dict(kind="upstream", method="get", href=f"/interaction/{iid}/upstream/{route.name}",
                              label=t("sign_in_with", locale,
                                      name=upstream.display_name.get(locale, route.name))))
        elif route.kind == "proofing":
            links.append(dict(kind="proofing", method="get", href=f"/interaction/{iid}/proofing",
                              label=t("route_proofing_video", locale)))
        elif route.kind == "enrol":
            links.append(dict(kind="enrol", method="passkey" if route.name == "webauthn" else "post",
                              href=f"/interaction/{iid}/enrol/{'passkey' if route.name == 'webauthn' else 'totp'}",
                              label=t(f"route_enrol_{route.name}", locale)))
    return links


def raise_context(gw, *, ia: Interaction, step: Step, client_name: str, locale: str, browser: str,
                  cancel_url: str | None) -> dict:
    pages = gw.pages
    links = route_links(gw, iid=ia.id, routes=step.routes, locale=locale)
    return dict(
        title=t("raise_title_ial" if step.need_ial is not None else "raise_title", locale),
        client_name=client_name, needs=needs_in_words(need_ial=step.need_ial, need_aal=step.need_aal, locale=locale),
        have=[x for x in links if x["kind"] == "factor"], upstreams=[x for x in links if x["kind"] == "upstream"],
        enrol=[x for x in links if x["kind"] == "enrol"], proofing=[x for x in links if x["kind"] == "proofing"],
        cancel_url=cancel_url,
        csrf_token=pages.csrf_token(browser, f"enrol:{ia.id}"), options_csrf=pages.csrf_token(browser, "webauthn"),
        context_id=ia.id)


def unmet_context(*, step: Step, client_name: str, locale: str, back_url: str | None) -> dict:
    return dict(client_name=client_name, back_url=back_url,
                needs=needs_in_words(need_ial=step.need_ial, need_aal=step.need_aal, locale=locale))


def decide_for(gw, db, ia: Interaction, session, account, now: int, *, policy=_UNREAD) -> Step:
    """The interaction's next step as /interaction/{id} decides it now (``policy``: the service's
    current policy, when the caller has already read it)."""
    if policy is _UNREAD:
        policy = current_policy(db, ia.client_id)
    consent = consented(db, account_id=session.account_id, client_id=ia.client_id) if session is not None else None
    return next_step(db=db, params=ia.params["request"], requested=ia.params.get("requested") or {},
                     progress=ia.params["progress"], session=session, account=account, policy=policy,
                     consented_scope=consent.scope if consent else None,
                     consented_claims=consent.claims if consent else None, registry=gw.authenticators,
                     now=now, upstreams=accepted_upstreams(gw.upstreams, policy),
                     proofing_ial=proofing_reach(gw.settings, policy))


def refusal_key(authenticator, db, account, form: dict, now: int) -> str:
    """The message for a refused factor: "this code was used, wait for the next one" for an app
    code already accepted once, else "that code is not correct"."""
    used = getattr(authenticator, "code_was_used", None)
    return "totp_code_used" if used is not None and used(db, account=account, form=form, now=now) else "factor_invalid"


def upstream_choices(iid: str, upstreams: list, *, policy, requested: dict, locale: str) -> list[dict]:
    """The upstreams on a login page, each marked whether a sign-in there can meet the service's
    floors (raised by the request's most preferred acr alternative); those that cannot are shown
    as not enough for this service instead of as a button."""
    ial, aal = floors(policy, alternatives(requested)[0])
    return [dict(href=f"/interaction/{iid}/upstream/{u.name}", enough=upstream_reaches(u, ial=ial, aal=aal),
                 label=t("sign_in_with", locale, name=u.display_name.get(locale, u.name)))
            for u in upstreams]


class Enrolling(NamedTuple):
    """A sign-in that offers setting up an authenticator now (``enrolling``)."""
    ia: Interaction
    session: object
    account: Account
    client_name: str
    locale: str


def enrolling(gw, db, request: Request, iid: str, kind: str, form: dict, now: int) -> Enrolling | Response:
    """The interaction, session, account, client name and locale when enrolling ``kind`` is a
    route this interaction offers now; else a response to give instead."""
    pages = gw.pages
    browser = request.cookies.get("idgw_browser") or ""
    ia, reason = open_interaction(db, iid=iid, browser=browser, now=now)
    if ia is None:
        return pages.error(request, "err_interaction_expired" if reason == "expired" else "err_not_found",
                           status=400 if reason == "expired" else 404)
    if not pages.check_csrf(request, form, f"enrol:{iid}"):
        return pages.error(request, "err_csrf", status=403)
    session = load_session(db, cookie=request.cookies.get(gw.settings.cookie_name), now=now)
    if session is None:
        return RedirectResponse(f"/interaction/{ia.id}", status_code=303)
    account = db.get(Account, session.account_id)
    step = decide_for(gw, db, ia, session, account, now)
    if Route("enrol", kind) not in step.routes:
        return RedirectResponse(f"/interaction/{ia.id}", status_code=303)
    client = db.get(Client, ia.client_id) if ia.client_id else None
    locale = pages.locale(request, ia.params["request"].get("ui_locales"))
    return Enrolling(ia, session, account, (client.name if client else t("app_name", locale)), locale)


def totp_page(gw, request: Request, *, ia, account, row, secret, locale, client_name, error=None,
              status=200) -> Response:
    """The authenticator app's set-up page: its QR code and secret, and the form for its first code."""
    pages = gw.pages
    uri, qr = gw.authenticators.get("totp").provisioning(account=account, secret=secret)
    browser = request.cookies.get("idgw_browser") or ""
    return pages.render(request, "totp_enrol.html", status=status,
                        ui_locales=ia.params["request"].get("ui_locales"),
                        qr=qr, uri=uri, secret=secret, authenticator_id=row.id, error=error, name=row.name,
                        csrf_token=pages.csrf_token(browser, f"enrol:{ia.id}"),
                        action=f"/interaction/{ia.id}/enrol/totp/{row.id}", client_name=client_name,
                        title=t("enrol_totp_title", locale), cancel_url=f"/interaction/{ia.id}")


def enrolled(gw, request: Request, db, *, ia, session, account, row, factor: str, amr: list, client_name: str,
             now: int, **detail) -> Response:
    """The new authenticator's first use counts now (``add_factor``); recovery codes are made
    and shown once, then the person continues the sign-in."""
    ip = gw.client_ip(request)
    audit.record(db, "authenticator.added", at=now, actor=account.id, session_id=session.id, ip=ip,
                 client_id=ia.client_id, kind=row.kind, authenticator_id=row.id, label=row.name,
                 during_sign_in=True, **detail)
    add_factor(db, session=session, factor=factor, amr=amr, now=now, ip=ip, client_id=ia.client_id)
    codes = new_recovery_codes(db, account=account, now=now)
    audit.record(db, "recovery_codes.generated", at=now, actor=account.id, session_id=session.id)
    return gw.pages.render(request, "enrolled.html", ui_locales=ia.params["request"].get("ui_locales"),
                           codes=codes, client_name=client_name, next_url=f"/interaction/{ia.id}")


@router.post("/interaction/{iid}/enrol/totp", include_in_schema=False)
async def totp_start(iid: str, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)
    return await in_transaction(gw.sessionmaker, gw.client_ip(request), totp_start_step, gw, request, iid, form)


def totp_start_step(gw, request: Request, iid: str, form: dict) -> Response:
    """Setting up an app, when this sign-in offers it: a pending authenticator and its QR page."""
    db = current_db.get()
    now = gw.clock.now()
    found = enrolling(gw, db, request, iid, "totp", form, now)
    if not isinstance(found, Enrolling):
        return found
    row, secret = gw.authenticators.get("totp").enrol_begin(db, account=found.account, name="Authenticator",
                                                           now=now)
    db.flush()
    return totp_page(gw, request, ia=found.ia, account=found.account, row=row, secret=secret, locale=found.locale,
                     client_name=found.client_name)


@router.post("/interaction/{iid}/enrol/totp/{authenticator_id}", include_in_schema=False)
async def totp_confirm(iid: str, authenticator_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)
    return await in_transaction(gw.sessionmaker, gw.client_ip(request), totp_confirm_step, gw, request, iid,
                                authenticator_id, form)


def totp_confirm_step(gw, request: Request, iid: str, authenticator_id: str, form: dict) -> Response:
    """The app's first code: right, the app enrolled and counted as this session's ``otp`` factor;
    wrong, the set-up page again with the refusal."""
    totp = gw.authenticators.get("totp")
    db = current_db.get()
    now = gw.clock.now()
    found = enrolling(gw, db, request, iid, "totp", form, now)
    if not isinstance(found, Enrolling):
        return found
    ia, session, account, client_name, locale = found
    pending = totp.pending_secret(db, account=account, authenticator_id=authenticator_id)
    if pending is None:
        return RedirectResponse(f"/interaction/{ia.id}", status_code=303)
    row, secret = pending
    if form.get("name"):
        row.name = str(form["name"]).strip()[:100] or row.name
    if not totp.enrol_confirm(db, account=account, authenticator_id=row.id, code=str(form.get("code") or ""),
                              now=now):
        audit.record(db, "authenticator.failed", at=now, actor=account.id, session_id=session.id,
                     ip=gw.client_ip(request), client_id=ia.client_id, reason="enrolment_code_rejected",
                     kind="totp")
        return totp_page(gw, request, ia=ia, account=account, row=row, secret=secret, locale=locale,
                         client_name=client_name, error=t("factor_invalid", locale), status=400)
    # The confirmed first code is a verified "something you have".
    return enrolled(gw, request, db, ia=ia, session=session, account=account, row=row, factor="otp",
                    amr=["otp"], client_name=client_name, now=now)


@router.post("/interaction/{iid}/enrol/passkey", include_in_schema=False)
async def passkey_enrol(iid: str, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)
    return await in_transaction(gw.sessionmaker, gw.client_ip(request), passkey_enrol_step, gw, request, iid, form)


def passkey_enrol_step(gw, request: Request, iid: str, form: dict) -> Response:
    """A passkey registered inside the sign-in: its ceremony counts as the ``hwk_uv`` factor (or
    ``hwk_uv_attested``); a refused one shows the raise page again with the reason."""
    browser = request.cookies.get("idgw_browser") or ""
    db = current_db.get()
    now = gw.clock.now()
    found = enrolling(gw, db, request, iid, "webauthn", form, now)
    if not isinstance(found, Enrolling):
        return found
    ia, session, account, client_name, locale = found
    try:
        row = gw.authenticators.get("webauthn").register(
            db, account=account, session_id=session.id, credential_json=form.get("credential"),
            browser_hash=sha256_hex(browser), name=str(form.get("name") or "Passkey"), now=now)
    except WebAuthnError as exc:
        audit.record(db, "authenticator.failed", at=now, actor=account.id, session_id=session.id,
                     ip=gw.client_ip(request), client_id=ia.client_id, reason="registration_rejected",
                     kind="webauthn")
        return gw.pages.render(request, "raise.html", status=400, ui_locales=ia.params["request"].get("ui_locales"),
                               error=t("passkey_rejected", locale, reason=str(exc)),
                               **raise_context(gw, ia=ia, step=decide_for(gw, db, ia, session, account, now),
                                               client_name=client_name, locale=locale, browser=browser,
                                               cancel_url=None))
    db.flush()
    # The registration ceremony (fresh challenge bound to this browser and session, user
    # verification required) is the passkey's first use.
    return enrolled(gw, request, db, ia=ia, session=session, account=account, row=row,
                    factor="hwk_uv_attested" if row.attested else "hwk_uv", amr=["hwk", "user"],
                    client_name=client_name, now=now, aaguid=row.aaguid, attested=row.attested)
