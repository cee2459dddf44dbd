"""The signing-keys page of the admin console (role ``admin``): ``/admin/keys`` shows every key
(kid, algorithm, created, age, state, "rotate soon" past 90 days) and the schedule on which retired
public keys leave /jwks.json; "Rotate now" (``POST /admin/keys/rotate``) makes new keys at once;
removing a retired public key before its time (``POST /admin/keys/{kid}/remove-early``) is a
four-eyes request that a second admin approves at /admin/changes. Decisions: ``idgw.console.keys``.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from idgw.console import keys as console_keys
from idgw.console.gate import gated_work
from idgw.console.keys_texts import DONE, days, refusal, rotate_soon_text, state_text, ttl_words
from idgw.depends import gateway_of
from idgw.web.i18n import t

router = APIRouter()
PAGE = "/admin/keys"
PURPOSE = "console-keys"


def page_context(gw, request: Request, db, now: int, *, message: str | None = None, error: str | None = None,
                 error_kid: str | None = None, reason: str = "") -> dict:
    locale = gw.pages.locale(request)
    keys = console_keys.views(db, now=now)
    rows = [{"key": k, "state": state_text(k, locale), "age": days(k.age_days, locale)} for k in keys]
    browser = request.cookies.get("idgw_browser") or ""
    return dict(rows=rows, schedule=[k for k in keys if k.state == "retired"], rotate_soon=rotate_soon_text(locale),
                ttl=ttl_words(gw.settings.max_token_ttl, locale), message=message, error=error, error_kid=error_kid,
                reason=reason, csrf_token=gw.pages.csrf_token(browser, PURPOSE))


async def _admin_work(gw, request: Request, work, *, form: dict | None = None):
    """``work(db, now, admin)`` behind the console's gate (``idgw.console.gate.gated_work``)."""
    return await gated_work(gw, request, work, here=PAGE, form=form, purpose=PURPOSE)


def _render(gw, request, answer) -> Response:
    if isinstance(answer, Response):
        return answer
    context, status = answer
    return gw.pages.render(request, "console_keys.html", status=status, **context)


@router.get(PAGE, include_in_schema=False)
async def keys_page(request: Request, gw=Depends(gateway_of)) -> Response:
    locale = gw.pages.locale(request)
    done = request.query_params.get("done")
    kids = (request.query_params.get("kids") or "")[:200]
    message = t(f"ckey_done_{done}", locale, kids=kids) if done in DONE else None
    _outcome, answer = await _admin_work(gw, request, lambda db, now, admin: (
        page_context(gw, request, db, now, message=message), 200))
    return _render(gw, request, answer)


@router.post(PAGE + "/rotate", include_in_schema=False)
async def rotate(request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)
    outcome, answer = await _admin_work(gw, request, lambda db, now, admin: console_keys.rotate(
        db, keys=gw.keys, actor=admin.username), form=form)
    if not outcome or isinstance(answer, Response):
        return answer
    await run_in_threadpool(gw.keys.refresh, force=True)  # sign with the new keys, publish them, now
    return RedirectResponse(f"{PAGE}?done=rotated&kids={quote(', '.join(answer))}", status_code=303)


@router.post(PAGE + "/{kid}/remove-early", include_in_schema=False)
async def remove_early(kid: str, request: Request, gw=Depends(gateway_of)) -> Response:
    form = await gw.pages.read_form(request)
    reason = str(form.get("reason") or "").strip()[:500]

    def work(db, now, admin):
        try:
            console_keys.request_remove_early(db, kid=kid[:64], requester=admin, now=now,
                                              ttl=gw.settings.four_eyes_ttl, reason=reason or None)
        except console_keys.KeysError as exc:
            return page_context(gw, request, db, now, error=refusal(exc, gw.pages.locale(request)), error_kid=kid,
                                reason=reason), exc.status
        return RedirectResponse(f"{PAGE}?done=requested", status_code=303)

    _outcome, answer = await _admin_work(gw, request, work, form=form)
    return _render(gw, request, answer)
