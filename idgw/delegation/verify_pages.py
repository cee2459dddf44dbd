"""Checking a delegation, for anyone (no sign-in): ``/delegations/verify`` (a page: by number, or a
pasted signed document) and ``/delegations/verify.json`` (the same for machines); and the
printable signed document, ``/delegations/{id}/print``, for the people the mandate concerns.

A verifier learns no more than ``idgw.delegation.document.summary`` holds (names and kinds, masked
citizen IDs, the juristic ID, scope, window, status) and only for a document that verified: a
refusal says why (``not_found``, ``signature_invalid``, ``document_mismatch``, ``not_signed``) and
nothing else. Both endpoints spend the caller's per-IP budget (``idgw.ratelimit``), since anyone
can make them read the database and check signatures.
"""

from __future__ import annotations

from urllib.parse import quote

import segno
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from markupsafe import Markup

from idgw.delegation import catalogue, mandates
from idgw.delegation import model as m
from idgw.delegation import verify_texts as _texts  # noqa: F401  (registers the pages' words)
from idgw.delegation.document import MAX_JWS_LENGTH, Verification, every_key, verify
from idgw.depends import gateway_of
from idgw.httpio import BodyError, InvalidJSONError, json_error, media_type, read_json
from idgw.login.sessions import load_session
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.oidc.provider import ENDPOINT_PATHS
from idgw.ratelimit import spend
from idgw.storage.delegation import Mandate
from idgw.storage.models import Account, Client
from idgw.web.i18n import format_datetime, t
from providers.dbd import Company, SigningRule

router = APIRouter()
PURPOSE = "delegation-verify"
#: A pasted JWS as a form (line breaks become %0D%0A) or in a JSON body, with room to spare.
FORM_LIMIT = MAX_JWS_LENGTH + MAX_JWS_LENGTH // 4
JSON_LIMIT = MAX_JWS_LENGTH + 1024
NO_STORE = {"Cache-Control": "no-store"}


# -- verification --------------------------------------------------------------------------------

def _checked(gw, request: Request, *, mandate_id: str | None = None, jws: str | None = None):
    """Spend the caller's budget, then verify: ``(seconds to wait, None)`` when over budget, else
    ``(0, (Verification, view))`` with ``view`` the summary in words (None unless valid)."""
    locale = gw.pages.locale(request)

    def work():
        db, now = current_db.get(), gw.clock.now()
        wait = spend(db, bucket="delegation-verify", ip=gw.client_ip(request), limit=gw.settings.rate_per_ip,
                     window=gw.settings.rate_window, now=now)
        if wait:
            return wait, None
        found = verify(db, now=now, issuer=gw.settings.issuer, mandate_id=mandate_id, jws=jws)
        return 0, (found, summary_view(db, found.summary, locale=locale, now=now) if found.valid else None)

    return in_transaction(gw.sessionmaker, gw.client_ip(request), work)


def public(found: Verification) -> dict:
    """The JSON answer: the summary only for a document that verified."""
    return {"valid": found.valid, "status": found.status, "reason": found.reason,
            "delegation": found.summary if found.valid else None}


def _status_of(found: Verification) -> int:
    return 404 if found.reason == "not_found" else 200


def one_line(jws: str) -> str:
    """A JWS as pasted from the printed page: line breaks and spaces removed (a compact JWS has none)."""
    return "".join(jws.split())


def summary_view(db, summary: dict | None, *, locale: str, now: int) -> dict | None:
    """``document.summary`` in words for the page: service and act names, dates in ``locale``
    (Buddhist era in Thai), yes/no."""
    if summary is None:
        return None
    principal = summary["principal"]
    why_not = m.usable(status=summary["status"], valid_from=summary["valid_from"],
                       valid_until=summary["valid_until"], now=now)
    return {
        "id": summary["id"], "status": t(f"dlv_status_{summary['status']}", locale),
        "usable": why_not is None, "not_yet": why_not == "not_yet_valid",
        "principal_kind": t(f"dlv_kind_{principal['kind']}", locale), "principal_name": _name(principal, locale),
        "principal_id_label": t("dlv_juristic_id" if principal["kind"] == "company" else "dlv_citizen_id", locale),
        "principal_id": principal.get("juristic_id") or principal.get("citizen_id"),
        "delegate_id": summary["delegate"]["citizen_id"], "scope": scope_view(db, summary["scope"], locale),
        "window": t("dlv_window_range", locale, start=format_datetime(summary["valid_from"], locale),
                    end=format_datetime(summary["valid_until"], locale)),
        "single_use": _yes(summary["single_use"], locale), "stamp_duty": _yes(summary["stamp_duty"], locale),
        "subdelegation": _yes(summary["subdelegation_allowed"], locale), "parent": summary["parent"],
        "sha256": summary["document_sha256"],
    }


def scope_view(db, scope: list, locale: str) -> list[dict]:
    """Each service of a scope by name, with its acts named from its catalogue (retired acts too:
    they still name what was signed)."""
    out = []
    for item in scope:
        client = db.get(Client, item["client_id"])
        names = catalogue.act_names(db, item["client_id"])
        acts = [t("dlv_any_act", locale) if a == m.ANY_ACT else names.get(a, {}).get(locale, a) for a in item["acts"]]
        out.append({"client_id": item["client_id"], "service": client.name if client else item["client_id"],
                    "acts": acts})
    return out


def _name(principal: dict, locale: str) -> str:
    name = principal.get("name") or {}
    return name.get(locale) or name.get("th") or name.get("en") or ""


def _yes(value, locale: str) -> str:
    return t("dlv_yes" if value else "dlv_no", locale)


def _verify_page(gw, request: Request, *, browser: str, result=None, mandate_id: str = "", status: int = 200):
    locale = gw.pages.locale(request)
    verdict = None
    if result is not None:
        found = result[0]
        verdict = {"valid": found.valid, "reason": t(f"dlv_reason_{found.reason}", locale) if found.reason else None}
    response = gw.pages.render(request, "delegation_verify.html", status=status, verdict=verdict,
                               d=result[1] if result else None, mandate_id=mandate_id[:64],
                               csrf_token=gw.pages.csrf_token(browser, PURPOSE))
    gw.pages.set_browser_cookie(response, browser)
    return response


def _rate_limited_page(gw, request: Request, wait: int) -> Response:
    response = gw.pages.render(request, "error.html", status=429,
                               message=t("dlv_rate_limited", gw.pages.locale(request), seconds=wait))
    response.headers["Retry-After"] = str(wait)
    return response


def _json_error(status: int, error: str, description: str | None = None, *, headers: dict | None = None):
    return json_error(status, error, description, headers=headers, valid=False)


@router.get("/delegations/verify", include_in_schema=False)
async def verify_page(request: Request, gw=Depends(gateway_of)) -> Response:
    """The form; with ``?id=`` the verdict for that delegation as well."""
    browser = gw.pages.browser_id(request)  # the JWS form is bound to it (CSRF), as /signin's is
    mandate_id = (request.query_params.get("id") or "").strip()
    if not mandate_id:
        return _verify_page(gw, request, browser=browser)
    wait, result = await _checked(gw, request, mandate_id=mandate_id)
    if wait:
        return _rate_limited_page(gw, request, wait)
    return _verify_page(gw, request, browser=browser, result=result, mandate_id=mandate_id,
                        status=_status_of(result[0]))


@router.post("/delegations/verify", include_in_schema=False)
async def verify_posted(request: Request, gw=Depends(gateway_of)) -> Response:
    """A pasted signed document (JWS), from the page's form."""
    form = await gw.pages.read_form(request, max_bytes=FORM_LIMIT)
    if not gw.pages.check_csrf(request, form, PURPOSE):
        return gw.pages.error(request, "err_csrf", status=403)
    wait, result = await _checked(gw, request, jws=one_line(form.get("jws") or ""))
    if wait:
        return _rate_limited_page(gw, request, wait)
    return _verify_page(gw, request, browser=gw.pages.browser_id(request), result=result,
                        status=_status_of(result[0]))


@router.get("/delegations/verify.json", include_in_schema=False)
async def verify_json(request: Request, gw=Depends(gateway_of)) -> Response:
    mandate_id = request.query_params.get("id")
    if not mandate_id:
        return _json_error(400, "invalid_request", "give the delegation's id as ?id=")
    return await _json_answer(gw, request, mandate_id=mandate_id)


@router.post("/delegations/verify.json", include_in_schema=False)
async def verify_json_posted(request: Request, gw=Depends(gateway_of)) -> Response:
    """``{"jws": "<compact JWS>"}`` as ``application/json``."""
    if media_type(request.scope["headers"])[0] != "application/json":
        return _json_error(415, "unsupported_media_type", "send application/json")
    try:
        payload = await read_json(request, limit=JSON_LIMIT, timeout=gw.settings.body_timeout, max_depth=2)
    except InvalidJSONError as exc:
        return _json_error(exc.status, exc.code, str(exc))
    except BodyError as exc:
        if exc.status is None:
            raise
        return _json_error(exc.status, exc.code, headers={"Connection": "close"})
    if not isinstance(payload, dict) or not isinstance(payload.get("jws"), str) or not payload["jws"].strip():
        return _json_error(400, "invalid_request", 'send {"jws": "<the signed document>"}')
    return await _json_answer(gw, request, jws=one_line(payload["jws"]))


async def _json_answer(gw, request: Request, **what) -> Response:
    wait, result = await _checked(gw, request, **what)
    if wait:
        return _json_error(429, "rate_limited", headers={"Retry-After": str(wait)})
    found = result[0]
    return JSONResponse(public(found), status_code=_status_of(found), headers=NO_STORE)


# -- the printable document ------------------------------------------------------------------------

def concerns(db, *, row: Mandate, account: Account) -> bool:
    """Whether ``account`` is one of the people the mandate concerns: its principal, a director of
    its company, the holder who sub-delegated it, its delegate, or whoever drafted it."""
    return mandates.may_revoke(db, row=row, account=account) is not None or row.created_by == account.id


def qr_svg(url: str, *, title: str) -> Markup:
    """``url`` as a QR code, an inline SVG made here (no external service, no script)."""
    return Markup(segno.make(url, error="m").svg_inline(scale=4, border=4, svgclass="qr", title=title,  # noqa: S704
                                                        light="#fff"))


def print_view(gw, db, row: Mandate, *, locale: str, now: int) -> dict:
    """Every field of the signed content, the approvals and acceptance, in words."""
    content = m.json_of(row.document)
    principal = content["principal"]
    rule_text = None
    if principal["kind"] == "company" and principal.get("signing_rule"):
        names = {}
        if row.company:
            company = Company.from_json(row.company)
            names = {d.citizen_id: (d.name_th if locale == "th" else d.name_en) for d in company.directors}
        rule_text = SigningRule.from_json(principal["signing_rule"]).text(names=names, locale=locale)
    stamp = content.get("stamp_duty")
    approvals = [{"role": t(f"dlv_role_{a.role}", locale), "citizen_id": a.citizen_id,
                  "method": t(f"dlv_method_{a.method}", locale), "levels": f"IAL {a.ial} · AAL {a.aal}",
                  "sealed": _yes(a.sealed, locale), "at": format_datetime(a.at, locale)}
                 for a in mandates.approvals_of(db, row.id)]
    verify_url = f"{gw.settings.issuer}/delegations/verify?id={row.id}"
    status = m.status_at(status=row.status, valid_until=row.valid_until, now=now)
    return {
        "id": row.id, "model": content["model"], "status": t(f"dlv_status_{status}", locale),
        "created": format_datetime(content["created_at"], locale),
        "principal_kind": t(f"dlv_kind_{principal['kind']}", locale), "principal_name": principal["name"],
        "principal_id_label": t("dlv_juristic_id" if principal["kind"] == "company" else "dlv_citizen_id", locale),
        "principal_id": principal.get("juristic_id") or principal.get("citizen_id"), "rule": rule_text,
        "delegate_id": content["delegate"]["citizen_id"], "scope": scope_view(db, content["scope"], locale),
        "window": t("dlv_window_range", locale, start=format_datetime(content["valid_from"], locale),
                    end=format_datetime(content["valid_until"], locale)),
        "single_use": _yes(content["single_use"], locale),
        "subdelegation": _yes(content["subdelegation_allowed"], locale),
        "parent": content["parent"], "depth": content["depth"],
        "stamp": stamp and {"reference": stamp.get("reference"), "receipt": stamp.get("receipt"),
                            "amount": t("dlv_baht", locale, amount=stamp.get("amount"))},
        "approvals": approvals, "accepted": format_datetime(row.accepted_at, locale) if row.accepted_at else None,
        "sha256": row.document_sha256, "jws": row.jws,
        "jwks_url": gw.settings.issuer + ENDPOINT_PATHS["jwks"], "verify_url": verify_url,
        "qr": qr_svg(verify_url, title=t("dlv_qr_title", locale)),
    }


@router.get("/delegations/{mandate_id}/print", include_in_schema=False)
async def print_page(mandate_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    locale = gw.pages.locale(request)

    def work():
        db, now = current_db.get(), gw.clock.now()
        session = load_session(db, cookie=request.cookies.get(gw.settings.cookie_name), now=now)
        if session is None:
            return "signin", None
        account = db.get(Account, session.account_id)
        row = db.get(Mandate, mandate_id) if len(mandate_id) == 36 else None
        if account is None or row is None or not concerns(db, row=row, account=account):
            return "missing", None  # the same answer whether it exists or not
        return "ok", print_view(gw, db, row, locale=locale, now=now)

    state, view = await in_transaction(gw.sessionmaker, gw.client_ip(request), work)
    if state == "signin":
        return RedirectResponse(f"/signin?next={quote(request.url.path)}", status_code=303)
    if state == "missing":
        return gw.pages.error(request, "err_not_found", status=404)
    return gw.pages.render(request, "delegation_print.html", d=view)


@router.get("/delegations/keys.json", include_in_schema=False)
async def every_signing_key(gw=Depends(gateway_of)) -> Response:
    """Every public key that ever signed for the gateway (JWKS), for checking a delegation's signed
    document offline after its key left ``/jwks.json``."""
    def work():
        return every_key(current_db.get())

    keys = await in_transaction(gw.sessionmaker, None, work)
    return JSONResponse(keys, headers={"Cache-Control": "public, max-age=300"})
