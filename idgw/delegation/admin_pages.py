"""A service's delegation settings, for admins (the ``admin`` role at AAL 2.2, the same gate as
the policy pages: ``idgw.web.staff``): ``/admin/services/{client_id}/delegation`` shows whether
the service's policy allows delegation, its delegation rule (the levels a principal signs at, "any
act", stamp duty, sub-delegation depth) and its catalogue of acts; its forms set the rule
(``catalogue.set_rules``), add an act (``catalogue.add_act``) and retire one
(``catalogue.retire_act``). Every form carries a CSRF token bound to the service; a refusal is
worded from its ``MandateError`` code, with what was typed kept; a change is audited by the
catalogue and answered with a redirect to the page (so a reload never posts it again).
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from idgw.assurance import PolicyChangeError, current_policy, set_delegation_allowed
from idgw.delegation import catalogue
from idgw.delegation.admin_texts import DEPTHS, SIGN_AALS, SIGN_IALS, refusal
from idgw.delegation.model import MandateError
from idgw.depends import gateway_of
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.storage.models import Client
from idgw.web.i18n import t
from idgw.web.staff import gated_response, staff_gate

router = APIRouter()
DONE = ("rules", "added", "retired", "allowed", "stopped")


def page_path(client_id: str) -> str:
    return f"/admin/services/{quote(client_id, safe='')}/delegation"


def purpose(client_id: str) -> str:
    return f"admin-delegation:{client_id}"


def rules_form(rules: catalogue.Rules) -> dict:
    return {"sign_ial": rules.sign_ial.value, "sign_aal": rules.sign_aal.value, "any_act": rules.any_act_allowed,
            "stamp_required": rules.stamp_duty_required, "max_depth": str(rules.max_depth)}


def page_context(gw, request: Request, db, client: Client, *, rules: dict | None = None, act: dict | None = None,
                 error: str | None = None, error_form: str | None = None) -> dict:
    """What the page shows: the policy's answer, the rule (``rules``: as posted, else as stored),
    the current acts, the add form's values (``act``), and a refusal (``error`` in words, for the
    form ``error_form``)."""
    policy = current_policy(db, client.client_id)
    browser = request.cookies.get("idgw_browser") or ""
    return dict(client=client, has_policy=policy is not None,
                delegation_allowed=bool(policy and policy.delegation_allowed),
                rules=rules or rules_form(catalogue.rules_for(db, client.client_id)),
                acts=catalogue.acts_of(db, client.client_id), act=act or {}, error=error, error_form=error_form,
                ial_values=SIGN_IALS, aal_values=SIGN_AALS, depths=DEPTHS, page=page_path(client.client_id),
                csrf_token=gw.pages.csrf_token(browser, purpose(client.client_id)))


async def _admin_work(gw, request: Request, client_id: str, work, *, form: dict | None = None):
    """Run ``work(db, now, client, admin)`` for an admin, in one transaction; a form (``form``)
    only with its CSRF token. Returns the page's answer: the gate's, a refusal, or ``work``'s
    (a Response, or the template context with its status)."""
    csrf_ok = form is None or gw.pages.check_csrf(request, form, purpose(client_id))

    def run():
        db, now = current_db.get(), gw.clock.now()
        outcome = staff_gate(gw, db, request, now, role="admin")
        if outcome[0] != "ok":
            return outcome, None
        if not csrf_ok:
            return ("csrf",), None
        client = db.get(Client, client_id)
        if client is None:
            return ("missing",), None
        return outcome, work(db, now, client, outcome[2])

    outcome, answer = await in_transaction(gw.sessionmaker, gw.client_ip(request), run)
    if outcome[0] == "csrf":
        return gw.pages.error(request, "err_csrf", status=403)
    if outcome[0] == "missing":
        return gw.pages.error(request, "err_not_found", status=404)
    blocked = gated_response(gw, request, outcome, here=page_path(client_id))
    if blocked is not None:
        return blocked
    if isinstance(answer, Response):
        return answer
    context, status = answer
    return gw.pages.render(request, "delegation_admin.html", status=status, **context)


def _changed(client_id: str, done: str) -> Response:
    return RedirectResponse(f"{page_path(client_id)}?done={done}", status_code=303)


@router.get("/admin/services/{client_id}/delegation", include_in_schema=False)
async def settings_page(client_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    done = request.query_params.get("done")
    message = t(f"dla_done_{done}", gw.pages.locale(request)) if done in DONE else None

    def work(db, now, client, admin):
        return {**page_context(gw, request, db, client), "message": message}, 200

    return await _admin_work(gw, request, client_id, work)


@router.post("/admin/services/{client_id}/delegation/rules", include_in_schema=False)
async def save_rules(client_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)
    locale = gw.pages.locale(request)
    posted = {"sign_ial": form.get("sign_ial", ""), "sign_aal": form.get("sign_aal", ""),
              "any_act": form.get("any_act") == "1", "stamp_required": form.get("stamp_required") == "1",
              "max_depth": form.get("max_depth", "")}

    def work(db, now, client, admin):
        try:
            depth = int(posted["max_depth"]) if posted["max_depth"].strip().isdigit() else -1
            catalogue.set_rules(db, client_id=client.client_id, sign_ial=posted["sign_ial"],
                                sign_aal=posted["sign_aal"], any_act_allowed=posted["any_act"],
                                stamp_duty_required=posted["stamp_required"], max_depth=depth, actor=admin.username,
                                now=now)
        except MandateError as exc:
            return page_context(gw, request, db, client, rules=posted, error=refusal(exc, locale),
                                error_form="rules"), exc.status
        return _changed(client.client_id, "rules")

    return await _admin_work(gw, request, client_id, work, form=form)


@router.post("/admin/services/{client_id}/delegation/acts", include_in_schema=False)
async def add_act(client_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)
    locale = gw.pages.locale(request)
    act = {"code": form.get("code", "")[:200], "name_th": form.get("name_th", "")[:400],
           "name_en": form.get("name_en", "")[:400]}

    def work(db, now, client, admin):
        try:
            catalogue.add_act(db, client_id=client.client_id, code=act["code"], name_th=act["name_th"],
                              name_en=act["name_en"], actor=admin.username, now=now)
        except MandateError as exc:
            return page_context(gw, request, db, client, act=act, error=refusal(exc, locale),
                                error_form="add"), exc.status
        return _changed(client.client_id, "added")

    return await _admin_work(gw, request, client_id, work, form=form)


@router.post("/admin/services/{client_id}/delegation/acts/retire", include_in_schema=False)
async def retire_act(client_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)
    locale = gw.pages.locale(request)

    def work(db, now, client, admin):
        try:
            catalogue.retire_act(db, client_id=client.client_id, code=form.get("code", "")[:200],
                                 actor=admin.username, now=now)
        except MandateError as exc:
            return page_context(gw, request, db, client, error=refusal(exc, locale), error_form="retire"), exc.status
        return _changed(client.client_id, "retired")

    return await _admin_work(gw, request, client_id, work, form=form)


@router.post("/admin/services/{client_id}/delegation/allowed", include_in_schema=False)
async def set_allowed(client_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    """Allow or stop delegation to the service: a new version of its policy (audited as
    ``policy.changed``); stopping it ends the choice at sign-in and the use of every mandate for it."""
    form = await gw.pages.read_form(request)
    allowed = form.get("allowed") == "1"

    def work(db, now, client, admin):
        try:
            set_delegation_allowed(db, client_id=client.client_id, allowed=allowed, actor=admin.username, now=now)
        except PolicyChangeError:
            return gw.pages.error(request, "err_not_found", status=404)
        return _changed(client.client_id, "allowed" if allowed else "stopped")

    return await _admin_work(gw, request, client_id, work, form=form)
