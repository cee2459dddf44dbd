"""E-services in the admin console (Thai and English): register a service, edit its settings,
disable and enable it, issue a new secret, and request its deletion (four eyes).

* ``/admin/services/new``: the registration form; registering answers with the client_id and
  the secret, shown once, and links to the service's policy page and settings.
* ``/admin/services/{client_id}/settings``: the settings as they are; its forms save them,
  disable or enable the service, lead to ``/secret`` (confirm, then the new secret once) and
  request the deletion (typing the client_id), which a second admin approves at /admin/changes.

Reading a page needs the ``admin`` role and a staff session (``idgw.console.gate.view_gate``);
every form needs a fresh sign-in (``change_gate``) and its CSRF token, bound to the page. The
decisions are ``idgw.console.services``'s; a refusal shows the form again with what was typed
and the reason worded from its code (``services_texts.refusal``), with a link to the field.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from idgw.admin import DEFAULT_SCOPE, SECRET_AUTH_METHODS, AdminError, _new_client_id
from idgw.console import four_eyes, services
from idgw.console.gate import gated_work
from idgw.console.services_texts import field_of, refusal
from idgw.depends import gateway_of
from idgw.oidc.keys import SUPPORTED_ALGS
from idgw.oidc.models import SCOPES_SUPPORTED, TOKEN_AUTH_METHODS
from idgw.storage.models import Client
from idgw.web.i18n import t

router = APIRouter()
NEW = "/admin/services/new"
NEW_PURPOSE = "console-service-new"
DONE = ("saved", "disabled", "enabled", "delete")


def service_path(client_id: str) -> str:
    """The service's own pages are under this path (its policy page is this path itself)."""
    return f"/admin/services/{quote(client_id, safe='')}"


def settings_path(client_id: str) -> str:
    return service_path(client_id) + "/settings"


def purpose(client_id: str) -> str:
    return f"console-service:{client_id}"


def _csrf(gw, request: Request, what: str) -> str:
    return gw.pages.csrf_token(request.cookies.get("idgw_browser") or "", what)


def _status(exc) -> int:
    if getattr(exc, "code", None) == "no_client":
        return 404
    return 409 if getattr(exc, "code", None) in ("client_exists", "duplicate", "no_secret") else 400


def form_context(gw, request: Request, *, values: dict, what: str, error=None) -> dict:
    """The registration or settings form: ``values`` as shown, ``error`` a refusal to word."""
    locale = gw.pages.locale(request)
    return dict(values=values, methods=TOKEN_AUTH_METHODS, algs=SUPPORTED_ALGS, scopes=" ".join(SCOPES_SUPPORTED),
                error=refusal(error, locale) if error is not None else None,
                error_field=field_of(error) if error is not None else None,
                error_code=getattr(error, "code", None), csrf_token=_csrf(gw, request, what))


def settings_context(gw, request: Request, db, row: Client, now: int, *, values: dict | None = None, error=None,
                     error_form: str | None = None, confirm: str = "", message: str | None = None) -> dict:
    """The settings page of ``row``: its form (``values``: as typed, else as stored), its state,
    the pending deletion if any; ``error`` belongs to the form ``error_form`` (settings, delete)."""
    form_error = error if error_form == "settings" else None
    locale = gw.pages.locale(request)
    return dict(
        form_context(gw, request, values=values or services.form_of(row), what=purpose(row.client_id),
                     error=form_error),
        client=row, base=service_path(row.client_id), message=message, error_form=error_form,
        action_error=refusal(error, locale) if error is not None and error_form != "settings" else None,
        confirm=confirm, has_secret=row.token_endpoint_auth_method in SECRET_AUTH_METHODS,
        pending=four_eyes.pending_for(db, kind=services.DELETE_KIND, target=row.client_id, now=now),
        ttl_hours=gw.settings.four_eyes_ttl // 3600)


async def _console(gw, request: Request, work, *, here: str, form: dict | None = None, what: str | None = None):
    """Run ``work(db, now, admin)`` in one transaction behind the console's gate
    (``idgw.console.gate.gated_work``; a form needs the CSRF token for ``what``). ``work`` answers
    with a Response or (template, context, status)."""
    ok, answer = await gated_work(gw, request, work, here=here, form=form, purpose=what)
    if not ok or isinstance(answer, Response):
        return answer
    template, context, status = answer
    return gw.pages.render(request, template, status=status, **context)


def _missing(gw, request: Request) -> Response:
    return gw.pages.error(request, "err_not_found", status=404)


def _secret_page(row: Client, secret: str | None, *, rotated: bool) -> tuple:
    return "console_service_secret.html", dict(client=row, secret=secret, rotated=rotated,
                                                page=settings_path(row.client_id)), 200


# -- register ---------------------------------------------------------------------------------
@router.get(NEW, include_in_schema=False)
async def new_page(request: Request, gw=Depends(gateway_of)) -> Response:
    def work(db, now, admin):
        # A client_id chosen now: submitting the same form twice (a reload) cannot register twice.
        values = services.typed({"client_id": _new_client_id(), "auth_method": "client_secret_basic",
                                 "subject_type": "pairwise", "id_token_alg": "ES256",
                                 "scope": DEFAULT_SCOPE})
        return "console_service_new.html", form_context(gw, request, values=values, what=NEW_PURPOSE), 200

    return await _console(gw, request, work, here=NEW)


@router.post(NEW, include_in_schema=False)
async def register(request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)

    def work(db, now, admin):
        try:
            row, secret = services.register(db, form, actor=admin.username, now=now, dev=gw.settings.dev)
        except AdminError as exc:
            context = form_context(gw, request, values=services.typed(form), what=NEW_PURPOSE, error=exc)
            return "console_service_new.html", context, _status(exc)
        return _secret_page(row, secret, rotated=False)

    return await _console(gw, request, work, here=NEW, form=form, what=NEW_PURPOSE)


# -- settings ---------------------------------------------------------------------------------
@router.get("/admin/services/{client_id}/settings", include_in_schema=False)
async def settings_page(client_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    done = request.query_params.get("done")
    message = t(f"svc_done_{done}", gw.pages.locale(request)) if done in DONE else None

    def work(db, now, admin):
        row = db.get(Client, client_id) if len(client_id) <= 64 else None
        if row is None:
            return _missing(gw, request)
        return "console_service_settings.html", settings_context(gw, request, db, row, now, message=message), 200

    return await _console(gw, request, work, here=settings_path(client_id))


def _changed(client_id: str, done: str) -> Response:
    return RedirectResponse(f"{settings_path(client_id)}?done={done}", status_code=303)


async def _settings_form(request: Request, gw, client_id: str, act) -> Response:
    """A form of the settings page: ``act(db, now, admin, row, form)`` answers; a refusal
    (``AdminError``, ``FourEyesError``) it raises shows the page again, worded, with what was typed."""
    form = await gw.pages.read_form(request)

    def work(db, now, admin):
        row = db.get(Client, client_id) if len(client_id) <= 64 else None
        if row is None:
            return _missing(gw, request)
        try:
            return act(db, now, admin, row, form)
        except (AdminError, four_eyes.FourEyesError) as exc:
            which = form.get("form") if form.get("form") in ("delete", "status", "secret") else "settings"
            values = services.typed({**form, "client_id": row.client_id}) if which == "settings" else None
            context = settings_context(gw, request, db, row, now, values=values, error=exc, error_form=which,
                                       confirm=str(form.get("confirm") or "")[:64])
            return "console_service_settings.html", context, _status(exc)

    return await _console(gw, request, work, here=settings_path(client_id), form=form, what=purpose(client_id))


@router.post("/admin/services/{client_id}/settings", include_in_schema=False)
async def save_settings(client_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    def act(db, now, admin, row, form):
        row, secret = services.update(db, row.client_id, form, actor=admin.username, now=now, dev=gw.settings.dev)
        if secret is not None:  # moved to a secret-based method: its first secret, shown once
            return _secret_page(row, secret, rotated=True)
        return _changed(row.client_id, "saved")

    return await _settings_form(request, gw, client_id, act)


@router.post("/admin/services/{client_id}/disable", include_in_schema=False)
async def disable(client_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    def act(db, now, admin, row, form):
        services.disable(db, row.client_id, actor=admin.username, now=now)
        return _changed(row.client_id, "disabled")

    return await _settings_form(request, gw, client_id, act)


@router.post("/admin/services/{client_id}/enable", include_in_schema=False)
async def enable(client_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    def act(db, now, admin, row, form):
        services.enable(db, row.client_id, actor=admin.username, now=now)
        return _changed(row.client_id, "enabled")

    return await _settings_form(request, gw, client_id, act)


# -- a new secret -----------------------------------------------------------------------------
@router.get("/admin/services/{client_id}/secret", include_in_schema=False)
async def rotate_page(client_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    def work(db, now, admin):
        row = db.get(Client, client_id) if len(client_id) <= 64 else None
        if row is None:
            return _missing(gw, request)
        if row.token_endpoint_auth_method not in SECRET_AUTH_METHODS:
            error = AdminError("no secret", code="no_secret", method=row.token_endpoint_auth_method)
            return "console_service_settings.html", settings_context(gw, request, db, row, now, error=error,
                                                                     error_form="secret"), 409
        return "console_service_rotate.html", dict(client=row, page=settings_path(row.client_id),
                                                   base=service_path(row.client_id),
                                                   csrf_token=_csrf(gw, request, purpose(row.client_id))), 200

    return await _console(gw, request, work, here=settings_path(client_id))


@router.post("/admin/services/{client_id}/secret", include_in_schema=False)
async def rotate(client_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    def act(db, now, admin, row, form):
        secret = services.rotate_secret(db, row.client_id, actor=admin.username, now=now)
        return _secret_page(row, secret, rotated=True)

    return await _settings_form(request, gw, client_id, act)


# -- delete (four eyes) -----------------------------------------------------------------------
@router.post("/admin/services/{client_id}/delete", include_in_schema=False)
async def request_delete(client_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    def act(db, now, admin, row, form):
        services.request_delete(db, row.client_id, confirm=str(form.get("confirm") or ""), requester=admin, now=now,
                                ttl=gw.settings.four_eyes_ttl, reason=str(form.get("reason") or "").strip()[:500]
                                or None)
        return _changed(row.client_id, "delete")

    return await _settings_form(request, gw, client_id, act)
