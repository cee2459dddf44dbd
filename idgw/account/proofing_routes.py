"""Video identity checks on the account page (PDPA s.19 and s.26: the person sees the explicit
consent they gave to biometric processing and can withdraw it as easily as they gave it).

``proofing_section`` is what the account page shows: each consent (newest first) with its notice
version, the retention of still frames it told of and its state, and each case with its date,
service, outcome and until when its images are kept. ``withdraw`` (POST
/account/proofing/withdraw) ends every active consent: no new video check without consenting
again (``idgw.proofing.cases.current_consent`` skips a withdrawn one); an identity already
confirmed stays (the case record rests on the audit duty, not on consent); the images of the
account's finished cases are deleted at once (``media_store.purge_for_account``); a live case's
images keep their retention. Its page is the step ``withdraw_step``, run behind the account pages'
gate (``idgw.account.routes.post``)."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy import func, select, update

from idgw import audit
from idgw.account import routes as account_routes  # the module: it imports this one (the account page)
from idgw.account.words import duration_words, ial_words
from idgw.depends import gateway_of
from idgw.proofing import cases, media_store
from idgw.storage.models import Client
from idgw.storage.proofing import ProofingCase, ProofingConsent, ProofingMedia
from idgw.web.i18n import format_datetime, t

WITHDRAW_PATH = "/account/proofing/withdraw"
DAY = 86400

router = APIRouter()


def outcome_words(case: ProofingCase, locale: str) -> str:
    if case.state == "approved":
        return t("account_pf_approved", locale, ial=ial_words(case.grant_ial, locale))
    if case.state in ("rejected", "cancelled", "expired"):
        return t(f"account_pf_{case.state}", locale)
    return t("account_pf_waiting", locale)


def proofing_section(db, account_id: str, locale: str) -> dict:
    """The account page's "Video identity checks": consents and cases, newest first, in words."""
    consents = list(db.scalars(select(ProofingConsent).where(ProofingConsent.account_id == account_id)
                               .order_by(ProofingConsent.granted_at.desc(), ProofingConsent.id)))
    found = list(db.scalars(select(ProofingCase).where(ProofingCase.account_id == account_id)
                            .order_by(ProofingCase.created_at.desc(), ProofingCase.id)))
    names = dict(db.execute(select(Client.client_id, Client.name).where(
        Client.client_id.in_({c.client_id for c in found if c.client_id}))).all()) if found else {}
    # Per case: how many images it ever had, and the last moment any still-kept one is deleted.
    media = {case_id: (count, until) for case_id, count, until in db.execute(
        select(ProofingMedia.case_id, func.count(),
               func.max(ProofingMedia.delete_after).filter(ProofingMedia.deleted_at.is_(None)))
        .where(ProofingMedia.case_id.in_([c.id for c in found])).group_by(ProofingMedia.case_id))} if found else {}

    def frames(case_id: str) -> str:
        count, until = media.get(case_id, (0, None))
        if not count:
            return t("account_pf_frames_none", locale)
        if until is None:
            return t("account_pf_frames_deleted", locale)
        return t("account_pf_frames_until", locale, when=format_datetime(until, locale))

    def state(row: ProofingConsent) -> str:
        if row.withdrawn_at is None:
            return t("services_active", locale)
        return t("services_withdrawn_status", locale, when=format_datetime(row.withdrawn_at, locale))

    return dict(
        consents=[t("account_pf_consent_line", locale, when=format_datetime(c.granted_at, locale),
                    version=c.notice_version, days=duration_words(c.media_retention_days * DAY, locale),
                    state=state(c)) for c in consents],
        cases=[t("account_pf_case_line", locale, when=format_datetime(c.created_at, locale),
                 service=(names.get(c.client_id) or c.client_id) if c.client_id
                 else t("account_pf_gateway", locale),
                 outcome=outcome_words(c, locale), frames=frames(c.id)) for c in found],
        active=any(c.withdrawn_at is None for c in consents),
    )


def withdraw(db, *, account_id: str, now: int, ip: str | None, session_id: str | None) -> tuple[int, int] | None:
    """End every active proofing consent of the account and delete the images of its finished
    cases; (consents withdrawn, images deleted), or None when no consent was active."""
    active = list(db.scalars(select(ProofingConsent.id).where(ProofingConsent.account_id == account_id,
                                                              ProofingConsent.withdrawn_at.is_(None))))
    if not active:
        return None
    db.execute(update(ProofingConsent).where(ProofingConsent.id.in_(active), ProofingConsent.withdrawn_at.is_(None))
               .values(withdrawn_at=now))
    # A check under way stops: the consent was what it ran on.
    for case in db.scalars(select(ProofingCase).where(ProofingCase.account_id == account_id,
                                                      ProofingCase.state.in_(cases.LIVE))):
        with contextlib.suppress(cases.CaseError):
            cases.cancel(db, case, now=now)
    deleted = media_store.purge_for_account(db, account_id, now)
    audit.record(db, "proofing.consent_withdrawn", at=now, actor=account_id, session_id=session_id, ip=ip,
                 consents=sorted(active), media_deleted=deleted)
    return len(active), deleted


def withdraw_step(gw, request: Request, db, now: int, session, account, form, ip: str, locale: str):
    """Every active proofing consent withdrawn (``withdraw``), or the account page saying there
    was none (409)."""
    done = withdraw(db, account_id=account.id, now=now, ip=ip, session_id=session.id)
    if done is None:
        return account_routes.account_page(gw, db, request, session, account, status=409, error=True,
                                           message=t("account_pf_nothing", locale))
    db.flush()
    return account_routes.account_page(gw, db, request, session, account,
                                       message=t("account_pf_withdrawn", locale, n=done[1]))


@router.post(WITHDRAW_PATH, include_in_schema=False)
async def withdraw_consent(request: Request, gw=Depends(gateway_of)) -> Response:
    """Withdrawing only takes away, so a live sign-in that proves control is enough (no fresh
    sign-in): as easy to withdraw as it was to give (PDPA s.19)."""
    return await account_routes.post(gw, request, withdraw_step, gw.client_ip(request), gw.pages.locale(request),
                                     fresh=False)
