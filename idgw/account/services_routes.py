"""Where the account is used: signing out of one session or everywhere, the connected services
and withdrawing consent (asked first on a confirmation page), consent receipts, "download my
data", and the privacy notice (/privacy). The shared plumbing is ``idgw.account.routes``."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
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
from idgw.login.sessions import group_of, sign_out, sign_out_everywhere
from idgw.storage.models import Client, Consent, ConsentReceipt, LoginSession
from idgw.web.i18n import t


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


def router(gw) -> APIRouter:
    r = APIRouter()
    pages = gw.pages
    settings = gw.settings

    # -- sessions -----------------------------------------------------------------------------------
    @r.post("/account/sessions/{session_id}/end", include_in_schema=False)
    async def end_one(session_id: str, request: Request) -> Response:
        """Sign out of one session (its browser's whole group, as the sign-out there would): its
        tokens are revoked and its services told. Protective, so no fresh sign-in is needed."""
        ip = gw.client_ip(request)
        locale = pages.locale(request)

        def work(db, now, session, account, form):
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

        response = await post(gw, request, work, fresh=False)
        gw.backchannel.wake()
        return response

    @r.get("/account/sessions/end-all", include_in_schema=False)
    async def end_all_confirm(request: Request) -> Response:
        def work(db, now, session, account):
            locale = pages.locale(request)
            return confirm_page(gw, request, title=t("account_confirm_end_all_title", locale),
                                question=t("account_confirm_end_all", locale), action="/account/sessions/end-all",
                                button=t("account_end_all", locale))

        return await get(gw, request, work)

    @r.post("/account/sessions/end-all", include_in_schema=False)
    async def end_all(request: Request) -> Response:
        ip = gw.client_ip(request)

        def work(db, now, session, account, form):
            done = sign_out_everywhere(db, account_id=account.id, now=now, ip=ip, reason="signed_out_everywhere")
            audit.record(db, "sessions.ended_everywhere", at=now, actor=account.id, ip=ip, sessions=done.sessions,
                         revoked_tokens=done.tokens, notices=done.notices)
            return ("signed_out",)

        response = await post(gw, request, work, fresh=False)
        gw.backchannel.wake()
        return response

    # -- connected services and consent receipts ----------------------------------------------------
    @r.get("/account/services", include_in_schema=False)
    async def services(request: Request) -> Response:
        return await get(gw, request, lambda db, now, session, account: services_page(gw, db, request, account))

    @r.get("/account/services/{client_id}/withdraw", include_in_schema=False)
    async def withdraw_confirm(client_id: str, request: Request) -> Response:
        def work(db, now, session, account):
            locale = pages.locale(request)
            name = consented_name(db, account, client_id)
            if name is None:
                return ("error", "account_gone", 404)
            return confirm_page(gw, request, title=t("services_withdraw", locale),
                                question=t("services_confirm_withdraw", locale, service=name),
                                action=withdraw_path(client_id), back="/account/services",
                                button=t("services_withdraw_named", locale, service=name))

        return await get(gw, request, work)

    @r.post("/account/services/{client_id}/withdraw", include_in_schema=False)
    async def withdraw_consent(client_id: str, request: Request) -> Response:
        """Withdrawing consent only takes access away, so a live sign-in that proves control is
        enough (no fresh sign-in): as easy to withdraw as it was to give (PDPA s.19)."""
        ip = gw.client_ip(request)
        locale = pages.locale(request)

        def work(db, now, session, account, form):
            name = consented_name(db, account, client_id)
            done = withdraw(db, account_id=account.id, client_id=client_id, now=now, ip=ip,
                            session_id=session.id) if name is not None else None
            if done is None:
                return services_page(gw, db, request, account, status=404, message=t("account_gone", locale))
            db.flush()
            return services_page(gw, db, request, account, message=t("services_withdrawn", locale, service=name))

        response = await post(gw, request, work, fresh=False, back="/account/services")
        gw.backchannel.wake()
        return response

    # (the .json route first: "{receipt_id}" alone would also match "<id>.json")
    @r.get("/account/receipts/{receipt_id}.json", include_in_schema=False)
    async def receipt_json(receipt_id: str, request: Request) -> Response:
        def work(db, now, session, account):
            row = receipt_of(db, account, receipt_id)
            if row is None:
                return ("json", {"error": "not_found"}, 404, {})
            return ("json", receipt_document(row, account=account, issuer=settings.issuer,
                                             privacy_url=settings.privacy_notice_url), 200, {})

        return await get(gw, request, work)

    @r.get("/account/receipts/{receipt_id}", include_in_schema=False)
    async def receipt_page(receipt_id: str, request: Request) -> Response:
        def work(db, now, session, account):
            locale = pages.locale(request)
            row = receipt_of(db, account, receipt_id)
            if row is None:
                return ("error", "account_gone", 404)
            return ("page", "account_receipt.html", 200, dict(
                receipt=row, who=display_name(account, locale), account_id=account.id,
                data=data_words(scope=row.scope, release=row.claims, locale=locale),
                purpose=t("receipt_purpose_text", locale, service=row.client_name),
                withdraw_url=settings.issuer + withdraw_path(row.client_id)))

        return await get(gw, request, work)

    # -- download my data ---------------------------------------------------------------------------
    @r.get("/account/export.json", include_in_schema=False)
    async def export(request: Request) -> Response:
        ip = gw.client_ip(request)

        def work(db, now, session, account):
            document = export_document(db, account=account, now=now, issuer=settings.issuer)
            audit.record(db, "account.exported", at=now, actor=account.id, session_id=session.id, ip=ip)
            day = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
            return ("json", document, 200,
                    {"Content-Disposition": f'attachment; filename="idgw-my-data-{day}.json"'})

        return await get(gw, request, work, fresh=True)

    # -- the privacy notice -------------------------------------------------------------------------
    @r.get("/privacy", include_in_schema=False)
    async def privacy(request: Request) -> Response:
        return pages.render(request, "privacy.html", proofing_days=settings.proofing_media_retention_days)

    return r
