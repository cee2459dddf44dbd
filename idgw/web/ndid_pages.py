"""NDID sign-in after its start (idgw.web.upstream opens the request): the waiting page
/interaction/{id}/upstream/{name}/wait/{attempt} shows a short reference that the IdP app also
shows, the time left in minutes, and Cancel / "choose another way". With script it polls
``.../wait/{attempt}/status`` (JSON; static/ndid_wait.js); without script it refreshes itself
slowly. The platform's callback (to a capability URL per attempt) is only a hint: each poll reads
the request from the node, which alone decides (security review item 1).

The look at the attempt behind the page and its status endpoint, and what the page shows while
waiting, are ``idgw.web.ndid_poll``'s. Each handler here reads the request and runs named step
functions, one per transaction (``callback_step``; ``cancel_check`` and ``cancel_settle``, with
the node's ``cancel`` between them). Faults end as in ``idgw.web.upstream_steps``: a Thai/English
page with a way on, audited as ``upstream.failed``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from idgw import audit
from idgw.depends import gateway_of
from idgw.httpio import NDID_CALLBACK_MAX, BodyError, InvalidJSONError, json_error, read_json
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.storage.models import UpstreamAttempt
from idgw.web.cookies import set_session_cookie
from idgw.web.i18n import t
from idgw.web.ndid_poll import close_quietly, finished_result, locate, open_now, poll, wait_path
from idgw.web.upstream import callback_lookup
from idgw.web.upstream_steps import (
    Failure,
    expired,
    finished,
    links,
    locale_of,
    render,
    ui_of,
)
from providers import UpstreamError

router = APIRouter()
CALLBACK_MAX = NDID_CALLBACK_MAX


# -- the platform's callbacks --------------------------------------------------------------------
@router.post("/upstream/{name}/ndid-callback/{secret}", include_in_schema=False)
async def ndid_callback(name: str, secret: str, request: Request, gw=Depends(gateway_of)) -> Response:
    """The platform's notifications (rp_callback.yaml). A callback is a hint, never proof: it
    only makes the waiting page read the request from the node sooner (providers.ndid). JSON in,
    JSON out, never a page."""
    provider = gw.upstreams.get(name)
    if provider is None or provider.mode != "async" or not 20 <= len(secret) <= 64:
        return json_error(404, "not_found")
    try:
        payload = await read_json(request, limit=CALLBACK_MAX, timeout=gw.settings.body_timeout)
    except InvalidJSONError as exc:
        return json_error(exc.status, exc.code, str(exc))
    except BodyError as exc:
        if exc.status is None:
            raise
        return json_error(exc.status, exc.code)
    status, code = await in_transaction(gw.sessionmaker, gw.client_ip(request), callback_step, provider, name,
                                        secret, payload)
    return Response(status_code=204) if status == 204 else json_error(status, code)


def callback_step(provider, name: str, secret: str, payload) -> tuple[int, str | None]:
    """A callback's hint added to its attempt's state: (status, error code) to answer with."""
    db = current_db.get()
    # One callback at a time per attempt (row lock on PostgreSQL; SQLite serialises writers).
    attempt = db.scalar(select(UpstreamAttempt).where(UpstreamAttempt.lookup == callback_lookup(name, secret))
                        .with_for_update())
    if attempt is None or attempt.provider != name:
        # The platform may call back before begin() has returned and the attempt is stored:
        # 409 makes it retry. The URL holds a 256-bit secret, so this reveals nothing.
        return 409, "unknown_request"
    if attempt.finished_at is not None:
        return 204, None  # nothing left to learn; the platform stops retrying
    try:
        attempt.state = provider.handle_callback(state=attempt.state, payload=payload)
    except UpstreamError as exc:
        return 400, exc.code
    return 204, None


# -- the waiting page, its status endpoint and Cancel ----------------------------------------------
@router.get("/interaction/{iid}/upstream/{name}/wait/{attempt_id}", include_in_schema=False)
async def ndid_wait(iid: str, name: str, attempt_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    result = await poll(gw, request, iid, name, attempt_id)
    if isinstance(result, Failure):
        return render(gw, request, result)
    if result[0] == "gone":
        return render(gw, request, result[1])
    if result[0] == "pending":
        return gw.pages.render(request, "ndid_wait.html", **result[1])  # its ui_locales picks the language
    return render(gw, request, result)


@router.get("/interaction/{iid}/upstream/{name}/wait/{attempt_id}/status", include_in_schema=False)
async def ndid_wait_status(iid: str, name: str, attempt_id: str, request: Request,
                           gw=Depends(gateway_of)) -> Response:
    """The waiting page's poll (static/ndid_wait.js), JSON: ``{"state": "pending", "seconds_left",
    "time_left", "message"}`` while the node's answer is pending, ``{"state": "done", "next": url}``
    once the attempt has ended (after a sign-in ``next`` is the interaction and the session
    cookie comes with this answer; after a failure it is the waiting page, which shows it);
    404 ``not_found`` for an attempt that is not this browser's."""
    result = await poll(gw, request, iid, name, attempt_id)
    headers = {"Cache-Control": "no-store"}
    if isinstance(result, tuple) and result[0] == "gone":
        return json_error(404, "not_found")
    if isinstance(result, Failure):
        return JSONResponse({"state": "done", "next": wait_path(iid, name, attempt_id)}, headers=headers)
    if result[0] == "pending":
        context = result[1]
        return JSONResponse({"state": "pending", "next": None, "seconds_left": context["seconds_left"],
                             "time_left": context["time_left"], "message": context["status_text"],
                             "others_can_answer": context["others_can_answer"]}, headers=headers)
    response = JSONResponse({"state": "done", "next": result[1]}, headers=headers)
    if len(result) > 2 and result[2]:
        set_session_cookie(gw.settings, response, result[2])
    return response


@router.post("/interaction/{iid}/upstream/{name}/wait/{attempt_id}/cancel", include_in_schema=False)
async def ndid_cancel(iid: str, name: str, attempt_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    """Cancel: close the request at the node (so the IdP app stops offering it), end the attempt
    (audited as ``upstream.failed`` with code ``cancelled``) and go back to the sign-in choices."""
    form = await gw.pages.read_form(request)
    csrf_ok = gw.pages.check_csrf(request, form, f"ndid-wait:{attempt_id}")
    ip = gw.client_ip(request)
    checked = await in_transaction(gw.sessionmaker, ip, cancel_check, gw, request, iid, name, attempt_id, csrf_ok)
    if isinstance(checked, Failure) or checked[0] != "open":
        return render(gw, request, checked)
    closed = await close_quietly(gw.upstreams.get(name), checked[1])  # network I/O outside the transaction
    return render(gw, request, await in_transaction(gw.sessionmaker, ip, cancel_settle, gw, request, iid, name,
                                                    attempt_id, closed))


def cancel_check(gw, request: Request, iid: str, name: str, attempt_id: str, csrf_ok: bool):
    """Whether Cancel may close this browser's open attempt: ``("open", its state)``, or the page
    to show (the expired page, the CSRF refusal, an ended attempt's result)."""
    db = current_db.get()
    attempt, ia = locate(gw, db, request, iid, name, attempt_id)
    if attempt is None:
        return expired(gw, db, request, ia)
    if not csrf_ok:
        return Failure(t("err_csrf", locale_of(gw, request, ia)), "csrf", ui_locales=ui_of(ia),
                       links={**links(gw, db, request, ia), "retry_url": wait_path(iid, name, attempt_id)})
    if attempt.finished_at is not None:
        return finished_result(gw, db, request, attempt, ia)
    return ("open", attempt.state)


def cancel_settle(gw, request: Request, iid: str, name: str, attempt_id: str, closed: bool):
    """The attempt ended as cancelled (audited, with whether the node closed the request) and back
    to the sign-in choices; an attempt a poll finished meanwhile keeps its outcome."""
    ip = gw.client_ip(request)
    db = current_db.get()
    now = gw.clock.now()
    attempt, ia = locate(gw, db, request, iid, name, attempt_id, lock=True)
    if attempt is None:
        return expired(gw, db, request, ia)
    if attempt.finished_at is not None:  # the poll finished it meanwhile: its outcome stands
        return finished_result(gw, db, request, attempt, ia)
    attempt.finished_at = now
    finished(attempt, "cancelled")
    audit.record(db, "upstream.failed", at=now, ip=ip, client_id=ia.client_id, provider=name,
                 code="cancelled", detail=f"cancelled by the citizen; closed at the node: {closed}")
    if not open_now(ia, now):
        return expired(gw, db, request, ia)
    return ("redirect", f"/interaction/{ia.id}")
