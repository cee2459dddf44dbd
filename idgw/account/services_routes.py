"""Where the account is used: signing out of one session or everywhere, the connected services
and withdrawing consent (asked first on a confirmation page), consent receipts, "download my
data", and the privacy notice (/privacy). The shared plumbing is ``idgw.account.routes``; each
handler runs one step function (``end_session``, ``withdraw_step``, ``export_step``, ...) behind it."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import select

from idgw import audit
from idgw.account.consents import (
    access_lasts,
    connected_services,
    data_words,
    receipt_document,
    withdraw,
    withdraw_path,
)
from idgw.account.export import export_document
from idgw.account.routes import account_page, confirm_page, display_name, get, post
from idgw.account.words import device_words
from idgw.depends import gateway_of
from idgw.login.sessions import group_of, sign_out, sign_out_everywhere
from idgw.storage.models import Client, Consent, ConsentReceipt, LoginSession
from idgw.web.i18n import t

router = APIRouter()


def services_page(gw, db, request, account, *, status=200, message=None):
    locale = gw.pages.locale(request)
    services = [dict(
        client_id=s.client_id, name=s.name, granted_at=s.granted_at, legal_basis=s.legal_basis,
        data=data_words(scope=s.scope, release=s.release, locale=locale),
        lasts=access_lasts(scope=s.scope, settings=gw.settings, locale=locale),
        withdraw=withdraw_path(s.client_id),
        receipts=[dict(id=rc.id, granted_at=rc.granted_at, withdrawn_at=rc.withdrawn_at) for rc in s.receipts],
    ) for s in connected_services(db, account_id=account.id)]
    return ("page", "account_services.html", status, dict(services=services, message=message))


def consented_name(db, account, client_id) -> str | None:
    """The name of the service ``client_id`` when this person has a consent for it, else None."""
    if len(client_id) > 64:
        return None
    return db.scalar(select(Client.name).join(Consent, Consent.client_id == Client.client_id)
                     .where(Consent.account_id == account.id, Consent.client_id == client_id))


def receipt_of(db, account, receipt_id) -> ConsentReceipt | None:
    row = db.get(ConsentReceipt, receipt_id) if len(receipt_id) <= 36 else None
    # Someone else's receipt is answered exactly as one that does not exist.
    return row if row is not None and row.account_id == account.id else None


# -- sessions -------------------------------------------------------------------------------------
def end_session(gw, request: Request, db, now: int, session, account, form, session_id: str, ip: str, locale: str):
    """One of the account's sessions signed out (its browser's whole group); signing out this
    browser's own group signs the person out here too."""
    row = db.get(LoginSession, session_id) if len(session_id) <= 36 else None
    if row is None or row.account_id != account.id or row.ended_at is not None:
        return account_page(gw, db, request, session, account, status=404, error=True,
                            message=t("account_gone", locale))
    mine = group_of(row) == group_of(session)
    device = device_words(row.user_agent, locale)
    sign_out(db, session=row, now=now, ip=ip, reason="signed_out_from_account")
    if mine:
        return ("signed_out",)
    db.flush()
    return account_page(gw, db, request, session, account, message=t("account_signed_out_one", locale,
                                                                      device=device))


@router.post("/account/sessions/{session_id}/end", include_in_schema=False)
async def end_one(session_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    """Sign out of one session (its browser's whole group, as the sign-out there would): its
    tokens are revoked and its services told. Protective, so no fresh sign-in is needed."""
    response = await post(gw, request, end_session, session_id, gw.client_ip(request), gw.pages.locale(request),
                          fresh=False)
    gw.backchannel.wake()
    return response


def ask_end_all(gw, request: Request, db, now: int, session, account):
    """The confirmation page for signing out everywhere."""
    locale = gw.pages.locale(request)
    return confirm_page(gw, request, title=t("account_confirm_end_all_title", locale),
                        question=t("account_confirm_end_all", locale), action="/account/sessions/end-all",
                        button=t("account_end_all", locale))


@router.get("/account/sessions/end-all", include_in_schema=False)
async def end_all_confirm(request: Request, gw=Depends(gateway_of)) -> Response:
    return await get(gw, request, ask_end_all)


def end_every_session(gw, request: Request, db, now: int, session, account, form, ip: str):
    """Every session of the account signed out, this one included."""
    done = sign_out_everywhere(db, account_id=account.id, now=now, ip=ip, reason="signed_out_everywhere")
    audit.record(db, "sessions.ended_everywhere", at=now, actor=account.id, ip=ip, sessions=done.sessions,
                 revoked_tokens=done.tokens, notices=done.notices)
    return ("signed_out",)


@router.post("/account/sessions/end-all", include_in_schema=False)
async def end_all(request: Request, gw=Depends(gateway_of)) -> Response:
    response = await post(gw, request, end_every_session, gw.client_ip(request), fresh=False)
    gw.backchannel.wake()
    return response


# -- connected services and consent receipts ------------------------------------------------------
def show_services(gw, request: Request, db, now: int, session, account):
    """The connected services page."""
    return services_page(gw, db, request, account)


@router.get("/account/services", include_in_schema=False)
async def services(request: Request, gw=Depends(gateway_of)) -> Response:
    return await get(gw, request, show_services)


def ask_withdraw(gw, request: Request, db, now: int, session, account, client_id: str):
    """The confirmation page for withdrawing consent from a service (404 for one without it)."""
    locale = gw.pages.locale(request)
    name = consented_name(db, account, client_id)
    if name is None:
        return ("error", "account_gone", 404)
    return confirm_page(gw, request, title=t("services_withdraw", locale),
                        question=t("services_confirm_withdraw", locale, service=name),
                        action=withdraw_path(client_id), back="/account/services",
                        button=t("services_withdraw_named", locale, service=name))


@router.get("/account/services/{client_id}/withdraw", include_in_schema=False)
async def withdraw_confirm(client_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await get(gw, request, ask_withdraw, client_id)


def withdraw_step(gw, request: Request, db, now: int, session, account, form, client_id: str, ip: str, locale: str):
    """The consent to ``client_id`` withdrawn (``idgw.account.consents.withdraw``), or the services
    page saying there was none (404)."""
    name = consented_name(db, account, client_id)
    done = withdraw(db, account_id=account.id, client_id=client_id, now=now, ip=ip,
                    session_id=session.id) if name is not None else None
    if done is None:
        return services_page(gw, db, request, account, status=404, message=t("account_gone", locale))
    db.flush()
    return services_page(gw, db, request, account, message=t("services_withdrawn", locale, service=name))


@router.post("/account/services/{client_id}/withdraw", include_in_schema=False)
async def withdraw_consent(client_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    """Withdrawing consent only takes access away, so a live sign-in that proves control is
    enough (no fresh sign-in): as easy to withdraw as it was to give (PDPA s.19)."""
    response = await post(gw, request, withdraw_step, client_id, gw.client_ip(request), gw.pages.locale(request),
                          fresh=False, back="/account/services")
    gw.backchannel.wake()
    return response


def receipt_json_step(gw, request: Request, db, now: int, session, account, receipt_id: str):
    """The consent receipt as JSON (404 for any but the person's own)."""
    settings = gw.settings
    row = receipt_of(db, account, receipt_id)
    if row is None:
        return ("json", {"error": "not_found"}, 404, {})
    return ("json", receipt_document(row, account=account, issuer=settings.issuer,
                                     privacy_url=settings.privacy_notice_url), 200, {})


# (the .json route first: "{receipt_id}" alone would also match "<id>.json")
@router.get("/account/receipts/{receipt_id}.json", include_in_schema=False)
async def receipt_json(receipt_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await get(gw, request, receipt_json_step, receipt_id)


def receipt_page_step(gw, request: Request, db, now: int, session, account, receipt_id: str):
    """The consent receipt as a page (404 for any but the person's own)."""
    settings = gw.settings
    locale = gw.pages.locale(request)
    row = receipt_of(db, account, receipt_id)
    if row is None:
        return ("error", "account_gone", 404)
    return ("page", "account_receipt.html", 200, dict(
        receipt=row, who=display_name(account, locale), account_id=account.id,
        data=data_words(scope=row.scope, release=row.claims, locale=locale),
        purpose=t("receipt_purpose_text", locale, service=row.client_name),
        withdraw_url=settings.issuer + withdraw_path(row.client_id)))


@router.get("/account/receipts/{receipt_id}", include_in_schema=False)
async def receipt_page(receipt_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await get(gw, request, receipt_page_step, receipt_id)


# -- download my data -------------------------------------------------------------------------------
def export_step(gw, request: Request, db, now: int, session, account, ip: str):
    """Everything kept about the account, as a JSON download (recorded in the audit log)."""
    document = export_document(db, account=account, now=now, issuer=gw.settings.issuer)
    audit.record(db, "account.exported", at=now, actor=account.id, session_id=session.id, ip=ip)
    day = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
    return ("json", document, 200,
            {"Content-Disposition": f'attachment; filename="idgw-my-data-{day}.json"'})


@router.get("/account/export.json", include_in_schema=False)
async def export(request: Request, gw=Depends(gateway_of)) -> Response:
    return await get(gw, request, export_step, gw.client_ip(request), fresh=True)


# -- the privacy notice -----------------------------------------------------------------------------
@router.get("/privacy", include_in_schema=False)
async def privacy(request: Request, gw=Depends(gateway_of)) -> Response:
    return gw.pages.render(request, "privacy.html", proofing_days=gw.settings.proofing_media_retention_days)
