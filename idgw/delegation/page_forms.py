"""The create form of the delegation pages (``/delegations/new``): showing it, and making the
draft from it. A company is looked up in the registry before the transaction (a slow registry
never holds a database connection); every refusal shows the form again with what was typed."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from idgw.delegation import mandates
from idgw.delegation import model as m
from idgw.delegation.model import MandateError, ScopeItem
from idgw.delegation.page_logic import (
    MAX_FIELDS,
    TEXT_FIELDS,
    chosen_scope,
    day_of,
    echo,
    field_of,
    fit_to_parent,
    parse_draft,
)
from idgw.delegation.page_views import Names, error_words, form_services, person_name, principal_words
from idgw.httpio import read_form
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.storage.delegation import Mandate
from idgw.web.i18n import t
from idgw.web.pages import MAX_FORM_BYTES
from providers.dbd import CompanyLookupError

PURPOSE = "delegation:new"
LOOKUP_STATUS = {"invalid_id": 400, "not_found": 400}  # else the registry failed: 503


def form_page(gw, request: Request, db, account, now: int, *, render, parent: Mandate | None = None,
              values: dict | None = None, errors: dict | None = None, status: int = 200) -> Response:
    """The form, empty (starting today; a sub-delegation within its parent's dates) or as sent
    with ``errors`` (field -> words)."""
    locale = gw.pages.locale(request)
    today = day_of(now)
    first_day = max(today, day_of(parent.valid_from)) if parent is not None else today
    last_day = day_of(parent.valid_until) if parent is not None else None
    if values is None:
        values = {**dict.fromkeys(TEXT_FIELDS, ""), "principal": "person", "single_use": False,
                  "subdelegation": False, "ticked": set(), "valid_from": first_day.isoformat(),
                  "valid_until": last_day.isoformat() if last_day else "", "parent": parent.id if parent else ""}
    ticked = [(cid, tuple(acts)) for cid, acts in chosen_scope(dict.fromkeys(values["ticked"], "yes")) if acts]
    amount = m.stamp_duty_amount(tuple(ScopeItem(cid, acts) for cid, acts in ticked)) if ticked else None
    if parent is not None:
        title = t("dgp_new_sub_title", locale)
        intro = t("dgp_sub_intro", locale, principal=principal_words(parent, locale)["name"])
    else:
        title, intro = t("dgp_new_title", locale), t("dgp_new_intro", locale)
    return render(gw, request, "delegation_form.html", status=status, title=title, intro=intro, values=values,
                  errors=errors or {}, services=form_services(db, locale=locale, parent=parent),
                  registry=gw.delegation.registry is not None and parent is None, parent=parent,
                  my_name=person_name(account, locale), amount=amount, purpose=PURPOSE,
                  min_day=first_day.isoformat(), max_day=last_day.isoformat() if last_day else "")


async def create_draft(gw, request: Request, *, render, signed_in) -> Response:
    """``POST /delegations/new``: the draft, then its review page (303); or the form again."""
    form = await read_form(request, limit=2 * MAX_FORM_BYTES, timeout=gw.settings.body_timeout,
                           max_fields=MAX_FIELDS)
    if not gw.pages.check_csrf(request, form, PURPOSE):
        return gw.pages.error(request, "err_csrf", status=403)
    ip = gw.client_ip(request)
    draft = parse_draft(form)

    def who():
        found = signed_in(gw, request, current_db.get(), gw.clock.now(), "/delegations/new")
        return None if isinstance(found, tuple) else found

    stop = await in_transaction(gw.sessionmaker, ip, who)
    if stop is not None:
        return stop
    registry = gw.delegation.registry
    company, lookup_error = None, None
    if draft.principal == "company" and draft.parent_id is None and registry is not None and not draft.errors:
        try:
            company = await run_in_threadpool(registry.lookup, draft.juristic_id)
        except CompanyLookupError as exc:
            lookup_error = exc

    def work():
        db, now = current_db.get(), gw.clock.now()
        found = signed_in(gw, request, db, now, "/delegations/new")
        if not isinstance(found, tuple):
            return found
        _session, account = found
        locale = gw.pages.locale(request)
        parent = None
        if draft.parent_id:
            parent = db.get(Mandate, draft.parent_id) if len(draft.parent_id) == 36 else None
            if parent is None or parent.delegate_account_id != account.id:
                return gw.pages.error(request, "dgp_err_not_found", status=404)

        def again(errors: dict, status: int = 400) -> Response:
            return form_page(gw, request, db, account, now, render=render, parent=parent, values=echo(form),
                             errors=errors, status=status)

        if draft.errors:
            return again({field: t(key, locale) for field, key in draft.errors.items()})
        if lookup_error is not None:
            text = lookup_error.text_th if locale == "th" else lookup_error.text_en
            return again({"juristic_id": text}, LOOKUP_STATUS.get(lookup_error.code, 503))
        kind = "person" if parent is not None else draft.principal
        valid_from, valid_until = draft.valid_from, draft.valid_until
        if parent is not None:
            valid_from, valid_until = fit_to_parent(valid_from=valid_from, valid_until=valid_until,
                                                    parent_from=parent.valid_from, parent_until=parent.valid_until)
        try:
            if kind == "company" and registry is None:
                raise MandateError("principal_kind_invalid")
            row = mandates.create(
                db, creator=account, principal_kind=kind, delegate_citizen_id=draft.delegate_citizen_id,
                scope=draft.scope, single_use=draft.single_use, valid_from=valid_from, valid_until=valid_until,
                subdelegation_allowed=draft.subdelegation_allowed, now=now, company=company,
                stamp_reference=draft.stamp_reference or None, stamp_receipt=draft.stamp_receipt or None,
                parent=parent)
        except MandateError as err:
            db.rollback()  # nothing of a refused draft is kept
            return again({field_of(err.code): error_words(Names(db), err, locale=locale, scope=draft.scope)},
                         err.status)
        return RedirectResponse(f"/delegations/{row.id}", status_code=303)

    return await in_transaction(gw.sessionmaker, ip, work)
