"""Approving a delegation in one's own NDID IdP app (request type ``dsign.dcontract``; domain brief
§3, §6; docs/delegation.md "Who signs"), instead of signing on the delegation's page.

* ``GET /delegations/document/{sha256}``: the canonical document of the mandate open for
  signatures with that SHA-256, for the IdP node to fetch and hash. No sign-in; 404 otherwise.
* ``POST /delegations/{id}/ndid`` (CSRF purpose ``ndid:{id}``): someone who may sign now
  (``mandates.may_sign``) opens a request for their own citizen ID at the mandate's levels; the attempt (an
  ``UpstreamAttempt``, provider ``ndid-dsign:<upstream>``) is bound to the browser and the account.
  Then the waiting page ``/delegations/{id}/ndid/{attempt}``, its ``/status`` JSON (polled by
  ``static/ndid_wait.js``) and ``/cancel``.
* ``POST /delegations/ndid-callback/{secret}``: the platform's callbacks (``idgw.web.ndid_pages``'s
  callback knows sign-in attempts only). A hint, never proof: it makes the gateway read the node in
  the background, so an approval given in the app is recorded even when the browser is gone.

``settle`` decides from the node alone: once the request is not pending, an approval from
``complete_document_approval`` of exactly this document by this account's citizen ID becomes
``mandates.approve(method="ndid_dsign")`` at the IdP's levels (a company's record read afresh from
the registry), which judges the levels and the signer again. Anything else ends the attempt with
its reason in words (``ndid_texts``) and records no approval.
"""

from __future__ import annotations

import logging
import re
import uuid

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from idgw import audit
from idgw.account.access import signin_url
from idgw.delegation import catalogue, mandates
from idgw.delegation import model as m
from idgw.delegation.document import sign as sign_document
from idgw.delegation.mandates import Signer
from idgw.delegation.model import MandateError
from idgw.delegation.ndid_texts import (
    NO_STORE,
    error_page,
    outcome_words,
    person_words,
    request_texts,
    status_answer,
    wait_page,
    wait_path,
)
from idgw.depends import gateway_of
from idgw.httpio import NDID_CALLBACK_MAX, BodyError, json_error, read_json
from idgw.login.sessions import load_session
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.ratelimit import spend
from idgw.security import random_token, sha256_hex
from idgw.storage.delegation import Mandate
from idgw.storage.models import Account, UpstreamAttempt
from idgw.web.i18n import t
from idgw.web.ndid_poll import READING, close_quietly, reading
from idgw.web.pages import BROWSER_COOKIE
from policies import AAL, IAL
from providers import UpstreamError
from providers.dbd import CompanyLookupError
from providers.ndid import short_reference
from providers.ndid_dsign import DocumentUnverified

log = logging.getLogger(__name__)
router = APIRouter()

KIND = "ndid-dsign:"  # UpstreamAttempt.provider prefix: never a sign-in attempt
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
OPEN = (m.DRAFT, m.AWAITING_SIGNATURES)
CALLBACK_MAX = NDID_CALLBACK_MAX
GRACE = 300  # seconds an attempt row outlives the request's own deadline
# Keys the gateway adds to the connector's state.
MANDATE, SEALED, JURISTIC, OUTCOME = "gateway_mandate", "gateway_sealed", "gateway_juristic_id", "gateway_outcome"


def _lookup(secret: str) -> str:
    return f"{KIND}cb:{sha256_hex(secret)}"


def ndid_upstream(gw):
    """The configured NDID upstream that can carry a document approval (modes 2 and 3), or None."""
    return next((p for p in gw.upstreams.values()
                 if getattr(p, "type", None) == "ndid" and getattr(p, "request_mode", None) in (2, 3)), None)


def ndid_offer(gw) -> bool:
    """Whether the detail page offers "Approve with my NDID app"."""
    return ndid_upstream(gw) is not None


@router.get("/delegations/document/{sha256}", include_in_schema=False)
async def document(sha256: str, request: Request, gw=Depends(gateway_of)) -> Response:
    """What the IdP node fetches: exactly the bytes hashed, while the mandate awaits signatures."""
    def work():
        now = gw.clock.now()
        row = current_db.get().scalar(select(Mandate).where(Mandate.document_sha256 == sha256,
                                                            Mandate.status.in_(OPEN)))
        if row is None or m.status_at(status=row.status, valid_until=row.valid_until, now=now) not in OPEN:
            return None
        if m.digest(row.document) != sha256:
            log.warning("mandate %s: the stored document no longer hashes to its SHA-256; not published", row.id)
            return None
        return row.document

    text = await in_transaction(gw.sessionmaker, gw.client_ip(request), work) \
        if SHA256_HEX.fullmatch(sha256) else None
    if text is None:
        return json_error(404, "not_found")
    return Response(text.encode("utf-8"), media_type="application/json; charset=utf-8", headers=NO_STORE)


@router.post("/delegations/{mandate_id:uuid}/ndid", include_in_schema=False)
async def start(mandate_id: uuid.UUID, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)
    key, ip, locale = str(mandate_id), gw.client_ip(request), gw.pages.locale(request)
    csrf_ok = gw.pages.check_csrf(request, form, f"ndid:{key}")
    provider, own = ndid_upstream(gw), sha256_hex(request.cookies.get(BROWSER_COOKIE) or "")

    def prepare():
        db, now = current_db.get(), gw.clock.now()
        if not csrf_ok:
            return error_page(gw, request, t("err_csrf", locale), status=403, key=key)
        session = load_session(db, cookie=request.cookies.get(gw.settings.cookie_name), now=now)
        if session is None:
            return RedirectResponse(signin_url(f"/delegations/{key}", AAL("1")), status_code=303)
        account, row = db.get(Account, session.account_id), db.get(Mandate, key)
        if provider is None or row is None:
            return error_page(gw, request, t("dgn_not_offered" if row else "err_not_found", locale), status=404,
                          key=key if row else None)
        try:
            needed = mandates.may_sign(db, row=row, account=account, now=now)
        except MandateError as err:
            return error_page(gw, request, outcome_words({"code": err.code}, locale), status=err.status, key=key)
        if spend(db, bucket="delegation-ndid", ip=ip, limit=gw.settings.rate_per_ip, window=gw.settings.rate_window,
                 now=now):
            return error_page(gw, request, t("err_rate_limited", locale), status=429, key=key)
        for attempt in db.scalars(select(UpstreamAttempt).where(  # a second click: the same wait
                UpstreamAttempt.provider == KIND + provider.name, UpstreamAttempt.link_account_id == account.id,
                UpstreamAttempt.browser_hash == own, UpstreamAttempt.finished_at.is_(None))):
            if attempt.state.get(MANDATE) == key and int(attempt.state.get("expires_at", 0)) > now:
                return RedirectResponse(wait_path(key, attempt.id), status_code=303)
        need_ial, need_aal = catalogue.required_levels(db, m.scope_of(row.scope))
        delegate = db.scalar(select(Account).where(Account.citizen_id == row.delegate_citizen_id))
        return dict(account_id=account.id, citizen_id=account.citizen_id, ial=need_ial.value, aal=need_aal.value,
                    sha256=row.document_sha256, principal=row.principal_name,
                    delegate=person_words(delegate, citizen_id=row.delegate_citizen_id),
                    juristic_id=row.principal_juristic_id if needed["kind"] == "company" else None)

    ready = await in_transaction(gw.sessionmaker, ip, prepare)
    if isinstance(ready, Response):
        return ready
    reference_id, secret, attempt_id = random_token(12), random_token(32), random_token(24)
    message_th, message_en = request_texts(mandate_id=key, principal=ready["principal"], delegate=ready["delegate"],
                                           reference=short_reference(reference_id))
    issuer = gw.settings.issuer
    try:
        # Network I/O outside the database transaction. The callback URL's secret is neither the
        # attempt id (the browser sees it) nor the reference (shown to the citizen); only its hash is kept.
        begun = await run_in_threadpool(lambda: provider.begin_document_approval(
            citizen_id=ready["citizen_id"], document_url=f"{issuer}/delegations/document/{ready['sha256']}",
            message_th=message_th, message_en=message_en, min_ial=ready["ial"], min_aal=ready["aal"],
            callback_url=f"{issuer}/delegations/ndid-callback/{secret}", reference_id=reference_id))
    except UpstreamError as exc:
        failure = exc
        await in_transaction(gw.sessionmaker, ip, lambda: audit.record(
            current_db.get(), "upstream.failed", at=gw.clock.now(), actor=ready["account_id"], ip=ip,
            provider=KIND + provider.name, code=failure.code, detail=failure.detail[:300], mandate_id=key))
        return error_page(gw, request, outcome_words({"code": failure.code}, locale), status=502, key=key)

    def store():
        now = gw.clock.now()
        state = {**begun.state, MANDATE: key, SEALED: form.get("sealed") == "yes", JURISTIC: ready["juristic_id"]}
        current_db.get().add(UpstreamAttempt(
            id=attempt_id, provider=KIND + provider.name, interaction_id=None, browser_hash=own,
            lookup=_lookup(secret), state=state, link_account_id=ready["account_id"], created_at=now,
            expires_at=max(now, int(begun.expires_at)) + GRACE))

    await in_transaction(gw.sessionmaker, ip, store)
    return RedirectResponse(wait_path(key, attempt_id), status_code=303)


# -- settling an attempt: the node decides ------------------------------------------------------------

def _attempt(db, attempt_id: str, *, lock: bool = False) -> UpstreamAttempt | None:
    attempt = db.get(UpstreamAttempt, attempt_id, with_for_update=lock) if len(attempt_id) <= 64 else None
    return attempt if attempt is not None and attempt.provider.startswith(KIND) else None


def _done(attempt: UpstreamAttempt) -> tuple:
    return ("done", attempt.state.get(OUTCOME) or {"code": "errored"})


def _end(db, attempt: UpstreamAttempt, *, now: int, ip: str | None, code: str, detail: str = "", **words) -> tuple:
    """Finish ``attempt`` with ``code`` (and what its words need); every end but an approval is
    audited as ``upstream.failed``."""
    attempt.finished_at = now
    attempt.state = {**attempt.state, OUTCOME: {"code": code, **words}}
    if code != "approved":
        audit.record(db, "upstream.failed", at=now, actor=attempt.link_account_id, ip=ip, provider=attempt.provider,
                     code=code, detail=detail[:300], mandate_id=attempt.state.get(MANDATE))
    return _done(attempt)


def _keep(attempt_id: str, refreshed: dict) -> None:
    """Store a node read that is still pending, keeping callback hints that arrived meanwhile."""
    attempt = _attempt(current_db.get(), attempt_id, lock=True)
    if attempt is not None and attempt.finished_at is None:
        current = attempt.state
        attempt.state = {**refreshed, "hint": current.get("hint"),
                         READING: None if current.get(READING) == refreshed.get(READING) else current.get(READING)}


async def settle(gw, *, attempt_id: str, ip: str | None, owner=None):
    """One look at an approval attempt (``owner(db, attempt) -> bool``: only the browser's own).
    Returns None (no such attempt, or not the owner's), ``("pending", state, unreachable)`` or
    ``("done", outcome)``, ``outcome["code"]`` being ``approved``, ``cancelled`` or why not."""
    def claim():
        db, now = current_db.get(), gw.clock.now()
        # Locked: deciding whether to read the node and claiming that read is one step (READING).
        attempt = _attempt(db, attempt_id, lock=True)
        if attempt is None or (owner is not None and not owner(db, attempt)):
            return None
        if attempt.finished_at is not None:
            return _done(attempt)
        provider = gw.upstreams.get(attempt.provider[len(KIND):])
        if getattr(provider, "type", None) != "ndid":
            return _end(db, attempt, now=now, ip=ip, code="bad_configuration", detail="the upstream is gone")
        if reading(provider, attempt.state, now):
            return ("pending", attempt.state, False)  # another look is reading the node right now
        if provider.needs_refresh(state=attempt.state, now=now):
            attempt.state = {**attempt.state, READING: now}
            return ("read", attempt.state, provider)
        return ("state", attempt.state, provider)

    checked = await in_transaction(gw.sessionmaker, ip, claim)
    if checked is None or checked[0] in ("done", "pending"):
        return checked
    kind, state, provider = checked
    error = approval = company = None
    if kind == "read":
        try:
            state = await run_in_threadpool(lambda: provider.refresh(state=state))
        except UpstreamError as exc:
            error = exc  # the claim stays: the node is read again after poll_interval
    if error is None and provider.status(state=state, now=gw.clock.now()) == "pending":
        if kind == "read":
            await in_transaction(gw.sessionmaker, ip, _keep, attempt_id, state)
        return ("pending", state, False)
    try:
        if error is None:  # closes the request, reads the node once more and decides from that alone
            approval = await run_in_threadpool(lambda: provider.complete_document_approval(state=state))
        if approval is not None and state.get(JURISTIC) and gw.delegation.registry is not None:
            # The registry's current answer decides who binds the company (a director may have left).
            company = await run_in_threadpool(gw.delegation.registry.lookup, state[JURISTIC])
    except (UpstreamError, CompanyLookupError) as exc:
        error = exc
    return await in_transaction(gw.sessionmaker, ip, lambda: _finish(
        gw, attempt_id=attempt_id, state=state, approval=approval, company=company, error=error, ip=ip))


def _finish(gw, *, attempt_id: str, state: dict, approval, company, error, ip: str | None) -> tuple:
    db, now = current_db.get(), gw.clock.now()
    attempt = _attempt(db, attempt_id, lock=True)
    if attempt.finished_at is not None:  # another look (or Cancel) ended it meanwhile: that stands
        return _done(attempt)
    if isinstance(error, CompanyLookupError):
        return _end(db, attempt, now=now, ip=ip, code="company_lookup", detail=str(error),
                    text_th=error.text_th, text_en=error.text_en)
    if error is not None:
        if error.code in ("upstream_unreachable", "upstream_timeout") and int(state.get("expires_at", 0)) > now:
            return ("pending", state, True)  # say so, keep waiting: the next look tries again
        code = "document_unverified" if isinstance(error, DocumentUnverified) else error.code
        return _end(db, attempt, now=now, ip=ip, code=code, detail=error.detail, ial=state.get("min_ial"),
                    aal=state.get("min_aal"))
    account = db.get(Account, attempt.link_account_id)
    row = db.scalar(select(Mandate).where(Mandate.id == state[MANDATE]).with_for_update())
    if row is None or approval.document_sha256 != row.document_sha256:
        return _end(db, attempt, now=now, ip=ip, code="document_changed", detail=approval.request_id)
    if account is None or approval.citizen_id != account.citizen_id:
        return _end(db, attempt, now=now, ip=ip, code="other_person", detail=approval.request_id)

    def signature(mandate, approvals):
        return sign_document(gw.keys.signer("ES256"), issuer=gw.settings.issuer, now=now, row=mandate,
                             approvals=approvals)

    signer = Signer(account=account, ial=IAL(approval.ial), aal=AAL(approval.aal), auth_time=approval.answered_at)
    try:
        mandates.approve(db, row=row, signer=signer, document_sha256=approval.document_sha256, now=now,
                         sign=signature, sealed=bool(state.get(SEALED)), company=company, method="ndid_dsign",
                         reference=approval.request_id)
    except MandateError as err:
        db.rollback()  # nothing of the refused approval stays
        attempt = _attempt(db, attempt_id, lock=True)
        return _done(attempt) if attempt.finished_at is not None else _end(
            db, attempt, now=now, ip=ip, code=err.code, detail=approval.request_id,
            **{k: err.params[k] for k in ("ial", "aal") if k in err.params})
    return _end(db, attempt, now=now, ip=ip, code="approved")


async def _settle_quietly(gw, attempt_id: str, ip: str | None) -> None:
    try:
        await settle(gw, attempt_id=attempt_id, ip=ip)
    except Exception:  # a background look: the next one (the page's poll) tries again
        log.exception("settling NDID approval attempt %s failed", attempt_id)


# -- the waiting page, its status JSON, Cancel --------------------------------------------------------

def _owner(gw, request: Request, key: str):
    """Whether an attempt is this browser's and this signed-in account's, for this mandate."""
    own, cookie = sha256_hex(request.cookies.get(BROWSER_COOKIE) or ""), request.cookies.get(gw.settings.cookie_name)

    def check(db, attempt: UpstreamAttempt) -> bool:
        session = load_session(db, cookie=cookie, now=gw.clock.now())
        return attempt.browser_hash == own and attempt.state.get(MANDATE) == key and session is not None \
            and session.account_id == attempt.link_account_id

    return check


@router.get("/delegations/{mandate_id:uuid}/ndid/{attempt_id}", include_in_schema=False)
async def wait(mandate_id: uuid.UUID, attempt_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    key = str(mandate_id)
    result = await settle(gw, attempt_id=attempt_id, ip=gw.client_ip(request), owner=_owner(gw, request, key))
    return wait_page(gw, request, key=key, attempt_id=attempt_id, result=result)


@router.get("/delegations/{mandate_id:uuid}/ndid/{attempt_id}/status", include_in_schema=False)
async def status(mandate_id: uuid.UUID, attempt_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    key = str(mandate_id)
    result = await settle(gw, attempt_id=attempt_id, ip=gw.client_ip(request), owner=_owner(gw, request, key))
    return status_answer(gw, request, key=key, attempt_id=attempt_id, result=result)


@router.post("/delegations/{mandate_id:uuid}/ndid/{attempt_id}/cancel", include_in_schema=False)
async def cancel(mandate_id: uuid.UUID, attempt_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    """End the attempt (an answer arriving later is never used), then close the request at the
    node so that the IdP app stops offering it."""
    form = await gw.pages.read_form(request)
    key, ip = str(mandate_id), gw.client_ip(request)
    csrf_ok, owner = gw.pages.check_csrf(request, form, f"ndid-wait:{attempt_id}"), _owner(gw, request, key)

    def end():
        db = current_db.get()
        attempt = _attempt(db, attempt_id, lock=True)
        if attempt is None or not owner(db, attempt):
            return None, None
        if not csrf_ok or attempt.finished_at is not None:
            return ("csrf",) if not csrf_ok else _done(attempt), None
        return _end(db, attempt, now=gw.clock.now(), ip=ip, code="cancelled", detail="by the signer"), attempt.state

    result, state = await in_transaction(gw.sessionmaker, ip, end)
    if result == ("csrf",):
        return error_page(gw, request, t("err_csrf", gw.pages.locale(request)), status=403, key=key)
    provider = gw.upstreams.get(state.get("provider")) if state else None
    if provider is not None:
        await close_quietly(provider, state)  # network I/O outside the transaction; failure: it times out
    return wait_page(gw, request, key=key, attempt_id=attempt_id, result=result)


@router.post("/delegations/ndid-callback/{secret}", include_in_schema=False)
async def callback(secret: str, request: Request, gw=Depends(gateway_of)) -> Response:
    """The platform's notification (rp_callback.yaml), never proof: kept as a hint, then the node is
    read in the background. JSON in, JSON out."""
    if not 20 <= len(secret) <= 64:
        return json_error(404, "not_found")
    try:
        payload = await read_json(request, limit=CALLBACK_MAX, timeout=gw.settings.body_timeout)
    except BodyError as exc:  # InvalidJSONError included: 400 invalid_json
        if exc.status is None:
            raise
        return json_error(exc.status, exc.code)
    ip = gw.client_ip(request)
    code, found = await in_transaction(gw.sessionmaker, ip, callback_step, gw, secret, payload)
    if code != 204:
        return json_error(code, found)
    return Response(status_code=204, background=BackgroundTask(_settle_quietly, gw, found, ip) if found else None)


def callback_step(gw, secret: str, payload) -> tuple[int, str | None]:
    """A callback's hint added to its attempt's state: (204, the attempt's id to settle, or None
    when there is nothing left to learn) or (status, error code) to answer with."""
    # One callback at a time per attempt (row lock on PostgreSQL; SQLite serialises writers).
    attempt = current_db.get().scalar(select(UpstreamAttempt).where(UpstreamAttempt.lookup == _lookup(secret))
                                      .with_for_update())
    provider = gw.upstreams.get(attempt.provider[len(KIND):]) \
        if attempt is not None and attempt.provider.startswith(KIND) else None
    if provider is None:  # perhaps called back before the attempt was stored: 409 makes it retry
        return 409, "unknown_request"
    if attempt.finished_at is not None:
        return 204, None  # nothing left to learn
    try:
        attempt.state = provider.handle_callback(state=attempt.state, payload=payload)
    except UpstreamError as exc:
        return 400, exc.code
    return 204, attempt.id
