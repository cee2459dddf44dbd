"""The citizen's delegation pages (ETDA ขมธอ. 31-2565; docs/delegation.md):

* ``/delegations``: what I gave, what I hold (accept or decline), my companies' delegations;
* ``/delegations/new``: the create form (for myself, for a company I direct, or ``?parent=`` a
  sub-delegation of one I hold), which makes a draft and shows it for review;
* ``/delegations/{id}``: the whole document in words, its signatures, what is missing, and the
  buttons this person gets: sign, accept, decline, revoke (confirmed first), sub-delegate, print;
* ``POST /delegations/{id}/sign``: the signing gate (``page_logic.signing_gate``) then
  ``mandates.approve``, with the company's record read afresh from the registry.

Every page needs a signed-in session; a mandate's pages are shown only to those related to it
(404 otherwise). Every form is CSRF-protected; every refusal changes nothing; the transaction
commits at the request's edge (``in_transaction``). Decisions are in ``mandates``; this module
reads forms and picks the page.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from idgw.account.access import signin_url
from idgw.delegation import catalogue, mandates
from idgw.delegation import model as m
from idgw.delegation import page_texts as _texts  # noqa: F401  (registers the pages' words)
from idgw.delegation.document import sign as sign_document
from idgw.delegation.mandates import Signer
from idgw.delegation.model import MandateError
from idgw.delegation.ndid_approval import ndid_offer
from idgw.delegation.page_forms import create_draft, form_page
from idgw.delegation.page_logic import IDENTITY, identity_routes, signing_gate
from idgw.delegation.page_views import (
    Names,
    actions,
    approvals_view,
    document_view,
    error_words,
    missing_view,
    open_descendants,
    related,
    row_view,
)
from idgw.depends import gateway_of
from idgw.login.raising import upstream_reaches
from idgw.login.sessions import load_session
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.storage.delegation import Mandate
from idgw.storage.models import Account
from idgw.web.i18n import t
from idgw.web.pages import BROWSER_COOKIE
from idgw.web.raising import needs_in_words
from policies import AAL, IAL
from providers.dbd import CompanyLookupError

router = APIRouter()
DONE = {"signed": "dgp_done_signed", "accepted": "dgp_accepted_done", "revoked": "dgp_revoked_done",
        "declined": "dgp_declined_done"}


# -- shared steps ------------------------------------------------------------------------------------

def signed_in(gw, request: Request, db, now: int, come_back: str):
    """(session, account), or the redirect to the gateway's sign-in coming back to ``come_back``."""
    session = load_session(db, cookie=request.cookies.get(gw.settings.cookie_name), now=now)
    if session is None:
        return RedirectResponse(signin_url(come_back, AAL("1")), status_code=303)
    return session, db.get(Account, session.account_id)


def render(gw, request: Request, template: str, *, status: int = 200, **context) -> Response:
    """A page with this browser's CSRF tokens (``csrf(purpose)``), issuing a browser id if it has none."""
    browser = gw.pages.browser_id(request)
    response = gw.pages.render(request, template, status=status,
                               csrf=lambda purpose: gw.pages.csrf_token(browser, purpose), **context)
    if browser != request.cookies.get(BROWSER_COOKIE):
        gw.pages.set_browser_cookie(response, browser)
    return response


def _theirs(gw, request: Request, db, now: int, mandate_id: str, *, form: dict | None = None, lock: bool = False):
    """(session, account, mandate, role) for a person related to the mandate; else the response:
    403 for a form without this mandate's CSRF token, the sign-in, or 404 (the same for a
    mandate that does not exist and one that is not theirs). ``lock``: the mandate's row is
    locked for the transaction and read afresh (PostgreSQL; SQLite writes one at a time), so
    two directors signing at once, or a revocation racing an acceptance, go one after the other."""
    if form is not None and not gw.pages.check_csrf(request, form, f"delegation:{mandate_id}"):
        return gw.pages.error(request, "err_csrf", status=403)
    found = signed_in(gw, request, db, now, f"/delegations/{mandate_id}")
    if not isinstance(found, tuple):
        return found
    session, account = found
    row = db.get(Mandate, mandate_id, with_for_update=lock, populate_existing=lock)
    role = related(db, row, account) if row is not None else None
    if role is None:
        return gw.pages.error(request, "dgp_err_not_found", status=404)
    return session, account, row, role


def detail_page(gw, request: Request, db, row: Mandate, account: Account, role: str, now: int, *,
                error: str | None = None, status: int = 200, notice: str | None = None) -> Response:
    locale = gw.pages.locale(request)
    names = Names(db)
    current = m.status_at(status=row.status, valid_until=row.valid_until, now=now)
    need_ial, need_aal = catalogue.required_levels(db, m.scope_of(row.scope))
    return render(gw, request, "delegation_detail.html", status=status, id=row.id, error=error, notice=notice,
                  ndid_offer=ndid_offer(gw),
                  status_words=t(f"dgp_status_{current}", locale), doc=document_view(names, row, locale=locale),
                  approvals=approvals_view(db, row, locale=locale),
                  missing=missing_view(db, row, status=current, locale=locale),
                  actions=actions(db, row, account=account, role=role, now=now), need_ial=need_ial.value,
                  need_aal=need_aal.value, sha256=row.document_sha256)


def refused(gw, request: Request, db, err: MandateError, now: int, mandate_id: str, account: Account, role: str):
    """The detail page again with why (nothing done: the transaction's changes are dropped)."""
    db.rollback()
    row = db.get(Mandate, mandate_id)
    text = error_words(Names(db), err, locale=gw.pages.locale(request), scope=row.scope)
    return detail_page(gw, request, db, row, account, role, now, error=text, status=err.status)


# -- 1. the lists --------------------------------------------------------------------------------------

@router.get("/delegations", include_in_schema=False)
async def list_page(request: Request, gw=Depends(gateway_of)) -> Response:
    def work():
        db, now = current_db.get(), gw.clock.now()
        found = signed_in(gw, request, db, now, "/delegations")
        if not isinstance(found, tuple):
            return found
        _session, account = found
        mandates.expire_due(db, now=now)  # so that what ran out shows as expired
        locale = gw.pages.locale(request)
        names = Names(db)

        def rows(found_rows):
            return [row_view(names, r, locale=locale, now=now) for r in found_rows]

        return render(gw, request, "delegation_list.html", given=rows(mandates.given_by(db, account)),
                      held=rows(mandates.held_by(db, account)), companies=rows(mandates.of_companies(db, account)))

    return await in_transaction(gw.sessionmaker, gw.client_ip(request), work)


# -- 2. the create form -------------------------------------------------------------------------------

@router.get("/delegations/new", include_in_schema=False)
async def new_form(request: Request, gw=Depends(gateway_of)) -> Response:
    parent_id = request.query_params.get("parent")

    def work():
        db, now = current_db.get(), gw.clock.now()
        come_back = "/delegations/new" + (f"?parent={parent_id}" if parent_id else "")
        found = signed_in(gw, request, db, now, come_back)
        if not isinstance(found, tuple):
            return found
        _session, account = found
        parent = None
        if parent_id:
            parent = db.get(Mandate, parent_id) if len(parent_id) == 36 else None
            if parent is None or parent.delegate_account_id != account.id:
                return gw.pages.error(request, "dgp_err_not_found", status=404)
        return form_page(gw, request, db, account, now, render=render, parent=parent)

    return await in_transaction(gw.sessionmaker, gw.client_ip(request), work)


@router.post("/delegations/new", include_in_schema=False)
async def create(request: Request, gw=Depends(gateway_of)) -> Response:
    return await create_draft(gw, request, render=render, signed_in=signed_in)


# -- 3. the detail page ---------------------------------------------------------------------------------

@router.get("/delegations/{mandate_id:uuid}", include_in_schema=False)
async def detail(mandate_id: uuid.UUID, request: Request, gw=Depends(gateway_of)) -> Response:
    def work():
        db, now = current_db.get(), gw.clock.now()
        found = _theirs(gw, request, db, now, str(mandate_id))
        if not isinstance(found, tuple):
            return found
        _session, account, row, role = found
        done = DONE.get(request.query_params.get("done") or "")
        return detail_page(gw, request, db, row, account, role, now,
                           notice=t(done, gw.pages.locale(request)) if done else None)

    return await in_transaction(gw.sessionmaker, gw.client_ip(request), work)


# -- 4. signing -----------------------------------------------------------------------------------------

@router.post("/delegations/{mandate_id:uuid}/sign", include_in_schema=False)
async def sign(mandate_id: uuid.UUID, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)
    ip, key, come_back = gw.client_ip(request), str(mandate_id), f"/delegations/{mandate_id}"

    def gate():
        """Who signs and whether their sign-in may: the page to show instead, or the company to
        read from the registry (None for a person's mandate)."""
        db, now = current_db.get(), gw.clock.now()
        found = _theirs(gw, request, db, now, key, form=form)
        if not isinstance(found, tuple):
            return found
        session, account, row, role = found
        current = m.status_at(status=row.status, valid_until=row.valid_until, now=now)
        if current not in (m.DRAFT, m.AWAITING_SIGNATURES):
            err = MandateError("not_awaiting_signature", status=409, status_=current)
            return refused(gw, request, db, err, now, key, account, role)
        if form.get("document_sha256") != row.document_sha256:
            return refused(gw, request, db, MandateError("document_changed", status=409), now, key, account, role)
        if not actions(db, row, account=account, role=role, now=now)["sign"]:
            needed = mandates.signers_needed(db, row)
            code = ("already_approved" if account.citizen_id in needed["approved"] else
                    "not_a_director" if needed["kind"] == "company" else "not_the_signer")
            err = MandateError(code, status=409 if code == "already_approved" else 403)
            return refused(gw, request, db, err, now, key, account, role)
        need = catalogue.required_levels(db, m.scope_of(row.scope))
        stop = signing_gate(need=need, session_ial=IAL(session.ial), session_aal=AAL(session.aal),
                            auth_time=session.auth_time, now=now, come_back=come_back)
        if stop is None:
            company = mandates.signers_needed(db, row)["kind"] == "company"
            return {"juristic_id": row.principal_juristic_id if company else None}
        if stop.kind == IDENTITY:
            return level_page(gw, request, need=need, have=session.ial, come_back=come_back)
        return RedirectResponse(stop.redirect, status_code=303)

    first = await in_transaction(gw.sessionmaker, ip, gate)
    if not isinstance(first, dict):
        return first
    company, lookup_error = None, None
    if first["juristic_id"] and gw.delegation.registry is not None:
        try:  # the registry's current answer decides who binds the company (a director may have left)
            company = await run_in_threadpool(gw.delegation.registry.lookup, first["juristic_id"])
        except CompanyLookupError as exc:
            lookup_error = exc

    def work():
        db, now = current_db.get(), gw.clock.now()
        found = _theirs(gw, request, db, now, key, lock=True)
        if not isinstance(found, tuple):
            return found
        session, account, row, role = found
        if lookup_error is not None:
            locale = gw.pages.locale(request)
            text = lookup_error.text_th if locale == "th" else lookup_error.text_en
            status = 409 if lookup_error.code in ("not_found", "invalid_id") else 503
            return detail_page(gw, request, db, row, account, role, now, error=text, status=status)

        def signature(mandate, approvals):
            return sign_document(gw.keys.signer("ES256"), issuer=gw.settings.issuer, now=now, row=mandate,
                                 approvals=approvals)

        signer = Signer(account=account, ial=IAL(session.ial), aal=AAL(session.aal), auth_time=session.auth_time)
        try:
            mandates.approve(db, row=row, signer=signer, document_sha256=form.get("document_sha256") or "", now=now,
                             sign=signature, company=company, sealed=form.get("sealed") == "yes")
        except MandateError as err:
            return refused(gw, request, db, err, now, key, account, role)
        return RedirectResponse(f"/delegations/{key}?done=signed", status_code=303)

    return await in_transaction(gw.sessionmaker, ip, work)


def level_page(gw, request: Request, *, need: tuple[IAL, AAL], have: str, come_back: str) -> Response:
    """The session's identity level is below what signing needs: which level, and the sign-ins
    through an upstream (ThaiD gives IAL 2.3) that reach it and come back here."""
    locale = gw.pages.locale(request)
    routes = [{"href": href, "label": t("sign_in_with", locale, name=gw.upstreams[name].display_name.get(locale, name))}
              for name, href in identity_routes(upstreams=gw.upstreams, need=need, come_back=come_back,
                                                reaches=upstream_reaches)]
    return render(gw, request, "delegation_level.html", status=403, routes=routes, have=have, back_url=come_back,
                  needs=needs_in_words(need_ial=need[0], need_aal=need[1], locale=locale))


# -- 5. accept, decline, revoke -------------------------------------------------------------------------

@router.post("/delegations/{mandate_id:uuid}/accept", include_in_schema=False)
async def accept(mandate_id: uuid.UUID, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)
    key = str(mandate_id)

    def work():
        db, now = current_db.get(), gw.clock.now()
        found = _theirs(gw, request, db, now, key, form=form, lock=True)
        if not isinstance(found, tuple):
            return found
        _session, account, row, role = found
        try:
            mandates.accept(db, row=row, account=account, now=now)
        except MandateError as err:
            return refused(gw, request, db, err, now, key, account, role)
        return RedirectResponse(f"/delegations/{key}?done=accepted", status_code=303)

    return await in_transaction(gw.sessionmaker, gw.client_ip(request), work)


@router.post("/delegations/{mandate_id:uuid}/decline", include_in_schema=False)
async def decline(mandate_id: uuid.UUID, request: Request, gw=Depends(gateway_of)) -> Response:
    return await _end(gw, request, str(mandate_id), declining=True)


@router.get("/delegations/{mandate_id:uuid}/revoke", include_in_schema=False)
async def revoke_confirm(mandate_id: uuid.UUID, request: Request, gw=Depends(gateway_of)) -> Response:
    key = str(mandate_id)

    def work():
        db, now = current_db.get(), gw.clock.now()
        found = _theirs(gw, request, db, now, key)
        if not isinstance(found, tuple):
            return found
        _session, account, row, role = found
        current = m.status_at(status=row.status, valid_until=row.valid_until, now=now)
        if current in m.FINAL_STATES:
            err = MandateError("already_final", status=409, status_=current)
            return refused(gw, request, db, err, now, key, account, role)
        if role == "creator":
            return refused(gw, request, db, MandateError("not_allowed", status=403), now, key, account, role)
        kind = ("renounce" if current == m.EFFECTIVE else "decline") if role == "delegate" else "revoke"
        return render(gw, request, "delegation_revoke.html", id=key, kind=kind, children=open_descendants(db, row),
                      summary=row_view(Names(db), row, locale=gw.pages.locale(request), now=now))

    return await in_transaction(gw.sessionmaker, gw.client_ip(request), work)


@router.post("/delegations/{mandate_id:uuid}/revoke", include_in_schema=False)
async def revoke(mandate_id: uuid.UUID, request: Request, gw=Depends(gateway_of)) -> Response:
    return await _end(gw, request, str(mandate_id), declining=False)


async def _end(gw, request: Request, key: str, *, declining: bool) -> Response:
    """Revoke (or, for the delegate, decline): the mandate, its sub-delegations and their tokens
    end in this transaction; the e-services are told once it has committed."""
    form = await gw.pages.read_form(request)

    def work():
        db, now = current_db.get(), gw.clock.now()
        found = _theirs(gw, request, db, now, key, form=form, lock=True)
        if not isinstance(found, tuple):
            return found
        _session, account, row, role = found
        if declining and role != "delegate":
            return refused(gw, request, db, MandateError("not_the_delegate", status=403), now, key, account, role)
        try:
            mandates.revoke(db, row=row, account=account, now=now)
        except MandateError as err:
            return refused(gw, request, db, err, now, key, account, role)
        return RedirectResponse(f"/delegations/{key}?done={'declined' if declining else 'revoked'}", status_code=303)

    response = await in_transaction(gw.sessionmaker, gw.client_ip(request), work)
    if response.status_code == 303 and "?done=" in response.headers.get("location", ""):
        gw.delegation.events.wake()  # committed: send the Security Event Tokens now
    return response
