"""Staff pages: the per-service assurance policy page and the accounts page (sign-in to them:
``idgw.web.signin``).

Admin pages need the ``admin`` role and a session at AAL 2.2 or higher (``STAFF_POLICY``); the
gate (``idgw.web.staff``) is the same decision engine as for e-services (``policies.evaluate`` with
the staff floors), so a weaker session is sent to step up rather than refused outright.

Everything a page says is in its language: the reasons for the computed floors are worded here
from their reason codes (``policies.risk.Reason``), and refused changes from
``PolicyChangeError.code``; the English ``describe()`` and error texts stay for the CLI and logs.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from idgw.admin import account_status, held_accounts, search_accounts, unlock_account
from idgw.assurance import (
    MIN_JUSTIFICATION,
    PolicyChangeError,
    PolicyInput,
    compute,
    current_row,
    history,
    reachable,
)
from idgw.console import policy_change
from idgw.console.changes_texts import refusal as change_refusal
from idgw.console.four_eyes import FourEyesError
from idgw.console.gate import change_gate
from idgw.login.raising import accepted_upstreams
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.proofing.cases import proofing_reach
from idgw.storage.models import Account, Client
from idgw.web.i18n import add_messages, t
from idgw.web.staff import gated_response, staff_gate
from policies import AAL, IAL, AssessmentError, LevelError, assess, default_matrix

add_messages({
    # reasons for the computed floors, by reason code (policies/risk.py)
    "admin_reason_impact": {"th": "{kind} {family} เพราะผลกระทบด้าน “{category}” อยู่ในระดับ{impact}",
                            "en": "{kind} {family} because the impact on “{category}” is {impact}"},
    "admin_reason_within_1": {"th": "{kind} 1: ผลกระทบทุกด้านอยู่ในระดับที่ระดับ 1 รับได้",
                              "en": "{kind} 1: every impact is within what level 1 tolerates"},
    "admin_reason_no_identity": {"th": "IAL {ial}: บริการนี้ไม่ต้องทราบตัวตนที่พิสูจน์แล้ว",
                                 "en": "IAL {ial}: the service does not need a verified identity"},
    # refused changes, by PolicyChangeError.code
    "admin_err_below": {"th": "{items} ต่ำกว่าระดับที่คำนวณได้ การกำหนดต่ำกว่าผลประเมินต้องเขียนเหตุผลอย่างน้อย "
                              "{n} ตัวอักษร",
                        "en": "{items}: below the computed floors. Going below them needs a written justification "
                              "of at least {n} characters."},
    "admin_err_below_item": {"th": "{kind} {chosen} (คำนวณได้ {computed})",
                             "en": "{kind} {chosen} (computed {computed})"},
    "admin_err_invalid": {"th": "ค่าที่ส่งมาไม่ถูกต้อง จึงไม่ได้บันทึก ({detail})",
                          "en": "The submitted values are not valid, so nothing was saved ({detail})."},
    "admin_justification_help": {
        "th": "ต้องเขียนเมื่อกำหนด IAL หรือ AAL ต่ำกว่าระดับที่คำนวณได้: อย่างน้อย {n} ตัวอักษร "
              "บอกเหตุผลและมาตรการที่ชดเชยความเสี่ยง",
        "en": "Needed when you set IAL or AAL below the computed floors: at least {n} characters, saying why "
              "and what makes up for the risk."},
    # floors that no sign-in method here can reach
    "admin_unreachable": {
        "th": "คำเตือน: ยังไม่มีวิธีเข้าสู่ระบบที่ตั้งค่าไว้ในระบบนี้ที่ให้ได้ถึง {levels} "
              "(ที่ทำได้สูงสุดตอนนี้: IAL {max_ial}, AAL {max_aal}) ประชาชนจะเข้าใช้บริการนี้ไม่ได้ "
              "จนกว่าจะตั้งค่าแหล่งยืนยันตัวตนที่ให้ระดับนี้ (เช่น ThaiD หรือ NDID) และบริการนี้ยอมรับ "
              "หรือจนกว่าจะปรับนโยบาย",
        "en": "Warning: no sign-in method configured here reaches {levels} (the highest reachable now: "
              "IAL {max_ial}, AAL {max_aal}). Citizens cannot sign in to this service until an identity source "
              "that offers it (such as ThaiD or NDID) is configured and accepted by this service, or the "
              "policy changes."},
    "admin_unreachable_and": {"th": " และ ", "en": " and "},
    "admin_nav": {"th": "เมนูผู้ดูแลระบบ", "en": "Administration"},
    "admin_category": {"th": "ด้านของผลกระทบ", "en": "Impact category"},
    "admin_as_computed": {"th": "ตามผลประเมิน", "en": "As computed"},
    "admin_justification_short": {"th": "เหตุผล", "en": "Justification"},
    # accounts
    "admin_accounts": {"th": "บัญชีผู้ใช้", "en": "Accounts"},
    "admin_accounts_search": {"th": "ค้นหาด้วยชื่อผู้ใช้ อีเมล หรือเลขประจำตัวประชาชน 13 หลัก",
                              "en": "Search by username, e-mail address or 13-digit citizen ID"},
    "admin_search": {"th": "ค้นหา", "en": "Search"},
    "admin_accounts_none": {"th": "ไม่พบบัญชีที่ตรงกับ “{q}”", "en": "No account matches “{q}”."},
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


def reason_texts(assessment, locale: str) -> list[str]:
    """The computed floors' reasons in ``locale``, worded from their codes."""
    matrix = default_matrix()
    names = {c.id: (c.th if locale == "th" else c.en) for c in matrix.categories}
    texts = []
    for r in assessment.reasons:
        kind = r.kind.upper()
        if r.code == "impact_requires_level" and r.category in names:
            impact = t(f"impact_{r.impact}", locale)
            texts.append(t("admin_reason_impact", locale, kind=kind, family=r.family, category=names[r.category],
                           impact=impact if locale == "th" else impact.lower()))
        elif r.code == "all_impacts_within_level_1":
            texts.append(t("admin_reason_within_1", locale, kind=kind))
        elif r.code == "no_verified_identity_needed":
            texts.append(t("admin_reason_no_identity", locale, ial=assessment.ial.value))
        else:  # a reason code this page does not know yet: its English description
            texts.append(r.describe())
    return texts


def stored_reason_texts(assessment_row: dict, locale: str) -> list[str]:
    """Reasons of a stored policy: recomputed from its answers, so that they can be worded in the
    page's language; the stored English ones if the answers no longer fit the matrix."""
    try:
        assessment = assess(impacts=assessment_row["proofing_impacts"],
                            authentication_impacts=assessment_row["authentication_impacts"],
                            needs_verified_identity=bool(assessment_row["needs_verified_identity"]))
    except (AssessmentError, KeyError, TypeError):
        return list(assessment_row.get("reasons") or [])
    return reason_texts(assessment, locale)


def policy_error_text(exc: PolicyChangeError, locale: str) -> str:
    """A refused change in ``locale``, from its code (the English message for codes not worded here)."""
    if exc.code == "floor_below_computed":
        items = ", ".join(t("admin_err_below_item", locale, kind=kind, chosen=chosen, computed=computed)
                          for kind, chosen, computed in exc.params["lowered"])
        return t("admin_err_below", locale, items=items, n=exc.params["min_chars"])
    if exc.code in ("invalid_answers", "invalid_level", "invalid_policy"):
        return t("admin_err_invalid", locale, detail=exc.params.get("detail", str(exc)))
    return str(exc)


def unreachable_text(*, ial: str | None, aal: str | None, reach: tuple[IAL, AAL], locale: str) -> str | None:
    """The warning for floors (``ial``/``aal``) above what ``reach`` (``idgw.assurance.reachable``)
    allows, or None when some method here reaches them."""
    max_ial, max_aal = reach
    missing = []
    try:
        if ial and IAL.parse(ial) > max_ial:
            missing.append(f"IAL {ial}")
        if aal and AAL.parse(aal) > max_aal:
            missing.append(f"AAL {aal}")
    except LevelError:
        return None  # not a level at all: the form's own error says so
    if not missing:
        return None
    return t("admin_unreachable", locale, levels=t("admin_unreachable_and", locale).join(missing),
             max_ial=max_ial.value, max_aal=max_aal.value)


def mask_citizen_id(value: str | None) -> str | None:
    """The last four digits only: enough to confirm with the person, not enough to copy."""
    return ("•" * 9 + value[-4:]) if value else None


def router(gw) -> APIRouter:
    r = APIRouter()
    pages = gw.pages
    settings = gw.settings

    def gate(db, request: Request, now: int, *, role: str):
        return staff_gate(gw, db, request, now, role=role)

    def gated(request: Request, outcome, *, here: str | None = None) -> Response | None:
        return gated_response(gw, request, outcome, here=here)

    # -- admin: services and their policies ----------------------------------------------------
    @r.get("/admin/services", include_in_schema=False)
    async def services(request: Request) -> Response:
        def work():
            db = current_db.get()
            outcome = gate(db, request, gw.clock.now(), role="admin")
            if outcome[0] != "ok":
                return outcome, None
            rows = []
            for client in db.scalars(select(Client).order_by(Client.name)):
                current = current_row(db, client.client_id)
                rows.append({"client_id": client.client_id, "name": client.name,
                             "disabled": client.disabled_at is not None,  # the console's settings page says why
                             "ial": current.min_ial if current else None, "aal": current.min_aal if current else None})
            return outcome, rows

        outcome, rows = await in_transaction(gw.sessionmaker, gw.client_ip(request), work)
        return gated(request, outcome) or pages.render(request, "admin_services.html", services=rows)

    def service_context(db, client: Client, request: Request, *, form: dict | None, assessment=None,
                        message=None, error=False) -> dict:
        """The policy page. ``assessment``: floors just computed from ``form`` (None: show the
        stored policy's); the reachability warning is for the floors the page proposes (chosen or
        computed) when a form was posted, else for the current policy's."""
        locale = pages.locale(request)
        matrix = default_matrix()
        current = current_row(db, client.client_id)
        answers = {"p": {}, "a": {}}
        needs_identity = True
        form_defaults: dict = {}
        computed = None
        if assessment is not None:
            computed = {"ial": assessment.ial.value, "aal": assessment.aal.value,
                        "reasons": reason_texts(assessment, locale)}
        if form is not None:
            for c in matrix.categories:
                answers["p"][c.id] = form.get(f"p_{c.id}", "none")
                answers["a"][c.id] = form.get(f"a_{c.id}", "none")
            needs_identity = form.get("needs_verified_identity") == "1"
        elif current is not None:
            answers["p"] = dict(current.assessment["proofing_impacts"])
            answers["a"] = dict(current.assessment["authentication_impacts"])
            needs_identity = current.assessment["needs_verified_identity"]
            computed = computed or {"ial": current.assessment["computed_ial"],
                                    "aal": current.assessment["computed_aal"],
                                    "reasons": stored_reason_texts(current.assessment, locale)}
            # Keep a raised (or justified lower) floor selected, so saving a changed answer does
            # not silently drop it back to the computed value.
            form_defaults = {
                "min_ial": current.min_ial if current.min_ial != current.assessment["computed_ial"] else "",
                "min_aal": current.min_aal if current.min_aal != current.assessment["computed_aal"] else "",
                "justification": current.justification or ""}
        else:
            answers = {"p": {c.id: "none" for c in matrix.categories}, "a": {c.id: "none" for c in matrix.categories}}
        reach = reachable(settings, accepted_upstreams(gw.upstreams, current),
                          proofing_ial=proofing_reach(settings, current))
        if form is not None and computed is not None:
            warning = unreachable_text(ial=form.get("min_ial") or computed["ial"],
                                       aal=form.get("min_aal") or computed["aal"], reach=reach, locale=locale)
        elif current is not None:
            warning = unreachable_text(ial=current.min_ial, aal=current.min_aal, reach=reach, locale=locale)
        else:
            warning = None
        browser = request.cookies.get("idgw_browser") or ""
        return dict(client=client, current=current, history=history(db, client.client_id), computed=computed,
                    categories=matrix.categories, impacts=matrix.impacts, answers=answers,
                    needs_identity=needs_identity, ial_values=IAL.VALUES, aal_values=AAL.VALUES,
                    form=form if form is not None else form_defaults, message=message, error=error,
                    warning=warning, min_justification=MIN_JUSTIFICATION,
                    pending_change=policy_change.pending_view(db, client.client_id, now=gw.clock.now(), locale=locale),
                    csrf_token=pages.csrf_token(browser, f"admin:{client.client_id}"))

    @r.get("/admin/services/{client_id}", include_in_schema=False)
    async def service(client_id: str, request: Request) -> Response:
        def work():
            db = current_db.get()
            outcome = gate(db, request, gw.clock.now(), role="admin")
            if outcome[0] != "ok":
                return outcome, None
            client = db.get(Client, client_id)
            return outcome, (service_context(db, client, request, form=None) if client else None)

        outcome, context = await in_transaction(gw.sessionmaker, gw.client_ip(request), work)
        blocked = gated(request, outcome)
        if blocked:
            return blocked
        if context is None:
            return pages.error(request, "err_not_found", status=404)
        return pages.render(request, "admin_service.html", **context)

    @r.post("/admin/services/{client_id}", include_in_schema=False)
    async def save_service(client_id: str, request: Request) -> Response:
        form = await pages.read_form(request)
        csrf_ok = pages.check_csrf(request, form, f"admin:{client_id}")
        locale = pages.locale(request)

        def work():
            db = current_db.get()
            now = gw.clock.now()
            outcome = change_gate(gw, db, request, now)  # a fresh sign-in
            if outcome[0] != "ok":
                return outcome, None, 200
            if not csrf_ok:
                return ("csrf", None, None, ()), None, 403
            client = db.get(Client, client_id)
            if client is None:
                return ("missing", None, None, ()), None, 404
            matrix = default_matrix()
            data = PolicyInput(
                needs_verified_identity=form.get("needs_verified_identity") == "1",
                proofing_impacts={c.id: form.get(f"p_{c.id}", "none") for c in matrix.categories},
                authentication_impacts={c.id: form.get(f"a_{c.id}", "none") for c in matrix.categories},
                min_ial=form.get("min_ial") or None, min_aal=form.get("min_aal") or None,
                justification=form.get("justification") or None,
                # the page edits the floors; the other policy fields are kept as they are
                **_kept_fields(current_row(db, client_id)))
            try:
                assessment, policy = compute(data)
            except PolicyChangeError as exc:
                # the floors computed from the answers, when the answers themselves are valid
                try:
                    shown, _ = compute(PolicyInput(needs_verified_identity=data.needs_verified_identity,
                                                   proofing_impacts=data.proofing_impacts,
                                                   authentication_impacts=data.authentication_impacts))
                except PolicyChangeError:
                    shown = None
                return outcome, service_context(db, client, request, form=form, assessment=shown,
                                                message=policy_error_text(exc, locale), error=True), 400
            if form.get("action") != "save":
                return outcome, service_context(db, client, request, form=form, assessment=assessment), 200
            try:  # below the computed floors: a change request, for a second admin (four eyes)
                done, _row = policy_change.save(db, client=client, data=data, assessment=assessment, policy=policy,
                                                admin=outcome[2], now=now, ttl=settings.four_eyes_ttl)
            except FourEyesError as exc:
                return outcome, service_context(db, client, request, form=form, assessment=assessment,
                                                message=change_refusal(exc, locale), error=True), exc.status
            message = t("admin_saved" if done == "saved" else "chg_policy_requested", locale)
            return outcome, service_context(db, client, request, form=None, assessment=assessment,
                                            message=message), 200

        outcome, context, status = await in_transaction(gw.sessionmaker, gw.client_ip(request), work)
        if outcome[0] == "csrf":
            return pages.error(request, "err_csrf", status=403)
        if outcome[0] == "missing":
            return pages.error(request, "err_not_found", status=404)
        return gated(request, outcome) or pages.render(request, "admin_service.html", status=status, **context)

    # -- admin: accounts (find a person, see why they cannot sign in, unlock) ------------------
    def account_row(account: Account, now: int) -> dict:
        names = " ".join(n for n in (account.given_name_th, account.family_name_th) if n) or " ".join(
            n for n in (account.given_name, account.family_name) if n)
        return {"id": account.id, "username": account.username, "name": names, "email": account.email,
                "citizen_id": mask_citizen_id(account.citizen_id), "roles": list(account.roles or []),
                "created_at": account.created_at, "ial": account.ial, **account_status(account, now=now),
                "holds": account.failed_logins > 0 or account.locked_until > 0}

    @r.get("/admin/accounts", include_in_schema=False)
    async def accounts(request: Request) -> Response:
        q = (request.query_params.get("q") or "").strip()[:200]

        def work():
            db = current_db.get()
            now = gw.clock.now()
            outcome = gate(db, request, now, role="admin")
            if outcome[0] != "ok":
                return outcome, None
            found = search_accounts(db, q) if q else held_accounts(db, now=now)
            return outcome, [account_row(a, now) for a in found]

        outcome, rows = await in_transaction(gw.sessionmaker, gw.client_ip(request), work)
        return gated(request, outcome) or pages.render(request, "admin_accounts.html", q=q, accounts=rows)

    @r.get("/admin/accounts/{account_id}", include_in_schema=False)
    async def account_page(account_id: str, request: Request) -> Response:
        done = request.query_params.get("done")
        locale = pages.locale(request)

        def work():
            db = current_db.get()
            now = gw.clock.now()
            outcome = gate(db, request, now, role="admin")
            if outcome[0] != "ok":
                return outcome, None
            account = db.get(Account, account_id)
            return outcome, (account_row(account, now) if account else None)

        outcome, row = await in_transaction(gw.sessionmaker, gw.client_ip(request), work)
        blocked = gated(request, outcome)
        if blocked:
            return blocked
        if row is None:
            return pages.error(request, "err_not_found", status=404)
        message = {"unlocked": t("admin_unlocked", locale), "nothing": t("admin_unlock_nothing", locale)}.get(done)
        browser = request.cookies.get("idgw_browser") or ""
        return pages.render(request, "admin_account.html", account=row, message=message,
                            csrf_token=pages.csrf_token(browser, f"admin-unlock:{account_id}"))

    @r.post("/admin/accounts/{account_id}/unlock", include_in_schema=False)
    async def unlock(account_id: str, request: Request) -> Response:
        form = await pages.read_form(request)
        csrf_ok = pages.check_csrf(request, form, f"admin-unlock:{account_id}")

        def work():
            db = current_db.get()
            now = gw.clock.now()
            outcome = gate(db, request, now, role="admin")
            if outcome[0] != "ok":
                return outcome, None
            if not csrf_ok:
                return ("csrf", None, None, ()), None
            account = db.get(Account, account_id)
            if account is None:
                return ("missing", None, None, ()), None
            return outcome, unlock_account(db, account=account, now=now, actor=outcome[2].username)

        outcome, changed = await in_transaction(gw.sessionmaker, gw.client_ip(request), work)
        if outcome[0] == "csrf":
            return pages.error(request, "err_csrf", status=403)
        if outcome[0] == "missing":
            return pages.error(request, "err_not_found", status=404)
        blocked = gated(request, outcome, here=f"/admin/accounts/{account_id}")
        if blocked:
            return blocked
        done = "unlocked" if changed else "nothing"
        return RedirectResponse(f"/admin/accounts/{quote(account_id)}?done={done}", status_code=303)

    return r


def _kept_fields(row) -> dict:
    if row is None:
        return {}
    return {"max_age": row.max_age, "allowed_providers": row.allowed_providers,
            "allowed_authenticators": row.allowed_authenticators, "release_citizen_id": row.release_citizen_id,
            "citizen_id_legal_basis": row.citizen_id_legal_basis, "delegation_allowed": row.delegation_allowed,
            "release_verified_claims": row.release_verified_claims}
