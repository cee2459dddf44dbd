"""Staff pages: the per-service assurance policy page (sign-in to them: ``idgw.web.signin``).

Admin pages need the ``admin`` role and a session at AAL 2.2 or higher; the gate is the same
decision engine as for e-services (``policies.evaluate`` with the staff floors), so a weaker
session is sent to step up rather than refused outright.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from idgw.assurance import PolicyChangeError, PolicyInput, compute, current_row, history, set_policy
from idgw.login.interaction import factor_routes
from idgw.login.sessions import load_session, session_state
from idgw.oidc.adapter import in_transaction
from idgw.oidc.provider import current_db
from idgw.storage.models import Account, Client
from idgw.web.i18n import t
from idgw.web.signin import STAFF_POLICY
from policies import AAL, IAL, AuthRequest, default_matrix, evaluate


def router(gw) -> APIRouter:
    r = APIRouter()
    pages = gw.pages
    settings = gw.settings

    def gate(db, request: Request, now: int, *, role: str):
        """('ok', session, account) | ('signin'|'stepup'|'forbidden'|'unmet', session, account, routes)."""
        session = load_session(db, cookie=request.cookies.get(settings.cookie_name), now=now)
        if session is None:
            return "signin", None, None, ()
        account = db.get(Account, session.account_id)
        if account is None or role not in (account.roles or []):
            return "forbidden", session, account, ()
        decision = evaluate(policy=STAFF_POLICY, request=AuthRequest(), session=session_state(session), now=now)
        if decision.outcome == "allow":
            return "ok", session, account, ()
        if decision.need_login or decision.need_aal is None:
            return "signin", session, account, ()
        routes = factor_routes(registry=gw.authenticators, db=db, account=account, session=session,
                               need=decision.need_aal)
        return ("stepup" if routes else "unmet"), session, account, routes

    def gated(request: Request, outcome) -> Response | None:
        state, _session, _account, routes = outcome
        here = request.url.path
        if state == "signin":
            return RedirectResponse(f"/signin?next={quote(here)}", status_code=303)
        if state == "stepup":
            return RedirectResponse(f"/signin/factor/{routes[0]}?next={quote(here)}", status_code=303)
        if state == "forbidden":
            return pages.error(request, "err_forbidden", status=403)
        if state == "unmet":
            return pages.error(request, "err_need_stronger", code="unmet_authentication_requirements", status=403)
        return None

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
                             "ial": current.min_ial if current else None, "aal": current.min_aal if current else None})
            return outcome, rows

        outcome, rows = await in_transaction(gw.sessionmaker, gw.client_ip(request), work)
        return gated(request, outcome) or pages.render(request, "admin_services.html", services=rows)

    def service_context(db, client: Client, request: Request, *, form: dict | None, computed=None,
                        message=None, error=False) -> dict:
        matrix = default_matrix()
        current = current_row(db, client.client_id)
        answers = {"p": {}, "a": {}}
        needs_identity = True
        form_defaults: dict = {}
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
                                    "reasons": current.assessment["reasons"]}
            # Keep a raised (or justified lower) floor selected, so saving a changed answer does
            # not silently drop it back to the computed value.
            form_defaults = {
                "min_ial": current.min_ial if current.min_ial != current.assessment["computed_ial"] else "",
                "min_aal": current.min_aal if current.min_aal != current.assessment["computed_aal"] else "",
                "justification": current.justification or ""}
        else:
            answers = {"p": {c.id: "none" for c in matrix.categories}, "a": {c.id: "none" for c in matrix.categories}}
        browser = request.cookies.get("idgw_browser") or ""
        return dict(client=client, current=current, history=history(db, client.client_id), computed=computed,
                    categories=matrix.categories, impacts=matrix.impacts, answers=answers,
                    needs_identity=needs_identity, ial_values=IAL.VALUES, aal_values=AAL.VALUES,
                    form=form if form is not None else form_defaults, message=message, error=error,
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
            outcome = gate(db, request, now, role="admin")
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
                assessment, _policy = compute(data)
            except PolicyChangeError as exc:
                return outcome, service_context(db, client, request, form=form, message=str(exc), error=True), 400
            computed = {"ial": assessment.ial.value, "aal": assessment.aal.value,
                        "reasons": [r.describe() for r in assessment.reasons]}
            if form.get("action") != "save":
                return outcome, service_context(db, client, request, form=form, computed=computed), 200
            set_policy(db, client_id=client_id, data=data, actor=outcome[2].username, now=now)
            return outcome, service_context(db, client, request, form=None, computed=computed,
                                            message=t("admin_saved", locale)), 200

        outcome, context, status = await in_transaction(gw.sessionmaker, gw.client_ip(request), work)
        if outcome[0] == "csrf":
            return pages.error(request, "err_csrf", status=403)
        if outcome[0] == "missing":
            return pages.error(request, "err_not_found", status=404)
        return gated(request, outcome) or pages.render(request, "admin_service.html", status=status, **context)

    return r


def _kept_fields(row) -> dict:
    if row is None:
        return {}
    return {"max_age": row.max_age, "allowed_providers": row.allowed_providers,
            "allowed_authenticators": row.allowed_authenticators, "release_citizen_id": row.release_citizen_id,
            "citizen_id_legal_basis": row.citizen_id_legal_basis, "delegation_allowed": row.delegation_allowed,
            "release_verified_claims": row.release_verified_claims}
