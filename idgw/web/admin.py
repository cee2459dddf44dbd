"""Staff pages: the services list and each service's assurance policy page (the accounts page is
``idgw.web.admin_accounts``; sign-in to them: ``idgw.web.signin``).

Admin pages need the ``admin`` role and a session at AAL 2.2 or higher (``STAFF_POLICY``); the
gate (``idgw.web.staff``) is the same decision engine as for e-services (``policies.evaluate`` with
the staff floors), so a weaker session is sent to step up rather than refused outright. Each
handler reads the request and runs one step function (``services_step``, ``service_step``,
``save_service_step``) in one transaction; ``service_context`` is the policy page's content.

Everything a page says is in its language: the reasons for the computed floors are worded here
from their reason codes (``policies.risk.Reason``), and refused changes from
``PolicyChangeError.code``; the English ``describe()`` and error texts stay for the CLI and logs.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select

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
from idgw.depends import gateway_of
from idgw.login.raising import accepted_upstreams
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.proofing.cases import proofing_reach
from idgw.storage.models import Client
from idgw.web.i18n import add_messages, t
from idgw.web.staff import gated_response, staff_gate
from policies import AAL, IAL, AssessmentError, LevelError, assess, default_matrix

router = APIRouter()

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


# -- services and their policies ---------------------------------------------------------------
@router.get("/admin/services", include_in_schema=False)
async def services(request: Request, gw=Depends(gateway_of)) -> Response:
    outcome, rows = await in_transaction(gw.sessionmaker, gw.client_ip(request), services_step, gw, request)
    return gated_response(gw, request, outcome) or gw.pages.render(request, "admin_services.html", services=rows)


def services_step(gw, request: Request):
    """The services list for an admin (the gate's outcome, and each service with its floors)."""
    db = current_db.get()
    outcome = staff_gate(gw, db, request, gw.clock.now(), role="admin")
    if outcome[0] != "ok":
        return outcome, None
    rows = []
    for client in db.scalars(select(Client).order_by(Client.name)):
        current = current_row(db, client.client_id)
        rows.append({"client_id": client.client_id, "name": client.name,
                     "disabled": client.disabled_at is not None,  # the console's settings page says why
                     "ial": current.min_ial if current else None, "aal": current.min_aal if current else None})
    return outcome, rows


def service_context(gw, db, client: Client, request: Request, *, form: dict | None, assessment=None,
                    message=None, error=False) -> dict:
    """The policy page. ``assessment``: floors just computed from ``form`` (None: show the
    stored policy's); the reachability warning is for the floors the page proposes (chosen or
    computed) when a form was posted, else for the current policy's."""
    pages, settings = gw.pages, gw.settings
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


@router.get("/admin/services/{client_id}", include_in_schema=False)
async def service(client_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    outcome, context = await in_transaction(gw.sessionmaker, gw.client_ip(request), service_step, gw, request,
                                            client_id)
    blocked = gated_response(gw, request, outcome)
    if blocked:
        return blocked
    if context is None:
        return gw.pages.error(request, "err_not_found", status=404)
    return gw.pages.render(request, "admin_service.html", **context)


def service_step(gw, request: Request, client_id: str):
    """A service's policy page for an admin (the gate's outcome, and the page's context: None for
    no such service)."""
    db = current_db.get()
    outcome = staff_gate(gw, db, request, gw.clock.now(), role="admin")
    if outcome[0] != "ok":
        return outcome, None
    client = db.get(Client, client_id)
    return outcome, (service_context(gw, db, client, request, form=None) if client else None)


@router.post("/admin/services/{client_id}", include_in_schema=False)
async def save_service(client_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    pages = gw.pages
    form = await pages.read_form(request)
    csrf_ok = pages.check_csrf(request, form, f"admin:{client_id}")
    locale = pages.locale(request)
    outcome, context, status = await in_transaction(gw.sessionmaker, gw.client_ip(request), save_service_step, gw,
                                                    request, client_id, form, csrf_ok, locale)
    if outcome[0] == "csrf":
        return pages.error(request, "err_csrf", status=403)
    if outcome[0] == "missing":
        return pages.error(request, "err_not_found", status=404)
    return gated_response(gw, request, outcome) or pages.render(request, "admin_service.html", status=status,
                                                                **context)


def save_service_step(gw, request: Request, client_id: str, form: dict, csrf_ok: bool, locale: str):
    """The policy form's answer (the gate's outcome, the page's context, the status): the floors
    computed from the answers (``action`` other than save), the policy saved or, below the
    computed floors, a change request for a second admin; or the form again with the refusal."""
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
    data = policy_input(form, current_row(db, client_id))
    try:
        assessment, policy = compute(data)
    except PolicyChangeError as exc:
        return outcome, service_context(gw, db, client, request, form=form, assessment=answers_floors(data),
                                        message=policy_error_text(exc, locale), error=True), 400
    if form.get("action") != "save":
        return outcome, service_context(gw, db, client, request, form=form, assessment=assessment), 200
    try:  # below the computed floors: a change request, for a second admin (four eyes)
        done, _row = policy_change.save(db, client=client, data=data, assessment=assessment, policy=policy,
                                        admin=outcome[2], now=now, ttl=gw.settings.four_eyes_ttl)
    except FourEyesError as exc:
        return outcome, service_context(gw, db, client, request, form=form, assessment=assessment,
                                        message=change_refusal(exc, locale), error=True), exc.status
    message = t("admin_saved" if done == "saved" else "chg_policy_requested", locale)
    return outcome, service_context(gw, db, client, request, form=None, assessment=assessment,
                                    message=message), 200


def policy_input(form: dict, current) -> PolicyInput:
    """What the policy form asks for; the policy fields the page does not edit are kept as they
    are in ``current`` (the stored policy row, or None)."""
    matrix = default_matrix()
    return PolicyInput(
        needs_verified_identity=form.get("needs_verified_identity") == "1",
        proofing_impacts={c.id: form.get(f"p_{c.id}", "none") for c in matrix.categories},
        authentication_impacts={c.id: form.get(f"a_{c.id}", "none") for c in matrix.categories},
        min_ial=form.get("min_ial") or None, min_aal=form.get("min_aal") or None,
        justification=form.get("justification") or None,
        **_kept_fields(current))


def answers_floors(data: PolicyInput):
    """The floors computed from the answers alone, when the answers themselves are valid (None
    when they are not): shown with a refused change."""
    try:
        shown, _ = compute(PolicyInput(needs_verified_identity=data.needs_verified_identity,
                                       proofing_impacts=data.proofing_impacts,
                                       authentication_impacts=data.authentication_impacts))
    except PolicyChangeError:
        shown = None
    return shown


def _kept_fields(row) -> dict:
    if row is None:
        return {}
    return {"max_age": row.max_age, "allowed_providers": row.allowed_providers,
            "allowed_authenticators": row.allowed_authenticators, "release_citizen_id": row.release_citizen_id,
            "citizen_id_legal_basis": row.citizen_id_legal_basis, "delegation_allowed": row.delegation_allowed,
            "release_verified_claims": row.release_verified_claims}
