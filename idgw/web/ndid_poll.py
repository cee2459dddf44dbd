"""One look at an NDID sign-in attempt, the same for its waiting page and the page's status
endpoint (``idgw.web.ndid_pages``): ``poll`` reads the request from the node when the connector
asks for it (at most one read per attempt per ``poll_interval``, claimed as ``READING``), and once
the node's answer is no longer pending completes from that answer alone and signs in, or fails
(security review item 1). Each transaction is a named step (``poll_check``, ``keep_refreshed``,
``poll_finish``); the node is read between them, outside any transaction.

Also what the waiting page shows while the answer is pending (``pending_context``: the short
reference, the time left in minutes, the status line), in Thai and English.
"""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.storage.models import Interaction, UpstreamAttempt
from idgw.web.i18n import add_messages, t
from idgw.web.upstream_steps import (
    Failure,
    browser_hash,
    expired,
    fail,
    finished,
    links,
    locale_of,
    message_for,
    needs_local,
    sign_in,
    ui_of,
)
from providers import UpstreamError
from providers.ndid import short_reference

#: Seconds between reloads of the waiting page when the browser runs no script (with script,
#: static/ndid_wait.js polls the status endpoint every few seconds instead).
NOSCRIPT_REFRESH = 15
#: Where an attempt's state records when a poll began reading the node (gateway clock), until it
#: stores what it read (``poll``).
READING = "gateway_reading_since"
#: Outcomes of an NDID attempt that send the person on to the interaction instead of a page.
_ONWARD = ("signed_in", "cancelled")

# The waiting page's texts (the delegation's NDID waiting page, idgw.delegation.ndid_texts, uses them too).
add_messages({
    "ndid_wait_match": {"th": "ตรวจสอบว่าคำขอในแอปแสดงรหัสอ้างอิงเดียวกับหน้านี้:",
                        "en": "Check that the request in your app shows the same reference as this page:"},
    "ndid_waiting": {"th": "กำลังรอคำตอบจากแอปธนาคารของท่าน", "en": "Waiting for your answer in your bank app."},
    "ndid_other_bank": {"th": "ธนาคารหรือผู้ให้บริการรายหนึ่งแจ้งว่ายืนยันตัวตนของท่านไม่ได้ ท่านยังยืนยันได้ในแอปของธนาคารอื่น"
                              "ที่ท่านลงทะเบียน NDID ไว้ หน้านี้ยังรอคำตอบอยู่",
                        "en": "One bank or provider could not confirm your identity. Another bank where you "
                              "registered with NDID can still answer: approve the request in its app. This page "
                              "is still waiting."},
    "ndid_one_approved": {"th": "ได้รับการยืนยันแล้ว {done} จาก {needed} แห่ง กรุณายืนยันในแอปของอีกแห่งหนึ่ง",
                          "en": "{done} of {needed} confirmations received. Please approve in another app as well."},
    "ndid_node_unreachable": {"th": "ยังติดต่อระบบ NDID ไม่ได้ชั่วคราว ระบบจะลองใหม่ให้โดยอัตโนมัติ",
                              "en": "We cannot reach NDID at the moment; we keep trying."},
    "ndid_minutes_left": {"th": "เหลือเวลาประมาณ {minutes} นาที", "en": "About {minutes} minutes left."},
    "ndid_minute_left": {"th": "เหลือเวลาประมาณ 1 นาที", "en": "About 1 minute left."},
    "ndid_under_a_minute": {"th": "เหลือเวลาไม่ถึง 1 นาที", "en": "Less than a minute left."},
    "ndid_time_up": {"th": "หมดเวลาแล้ว กำลังตรวจสอบผลครั้งสุดท้าย", "en": "Time is up; checking one last time."},
    "ndid_cancel": {"th": "ยกเลิกคำขอนี้", "en": "Cancel this request"},
    "ndid_noscript": {"th": "หน้านี้จะตรวจสอบผลใหม่ทุก {seconds} วินาที หรือกดตรวจสอบตอนนี้ได้",
                      "en": "This page checks again every {seconds} seconds, or you can check now."},
})


def _hint_count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def time_left(seconds: int, locale: str) -> str:
    """The time an NDID request has left, in minutes (people plan in minutes; a ticking seconds
    count only adds pressure)."""
    if seconds <= 0:
        return t("ndid_time_up", locale)
    minutes = (seconds + 30) // 60
    if minutes == 0:
        return t("ndid_under_a_minute", locale)
    return t("ndid_minute_left", locale) if minutes == 1 else t("ndid_minutes_left", locale, minutes=minutes)


async def close_quietly(provider, state: dict) -> bool:
    """Close an NDID request at the node (``cancel``); False when that failed (logged by the
    connector: the request then ends at its own timeout)."""
    try:
        return await run_in_threadpool(lambda: provider.cancel(state=state))
    except UpstreamError:
        return False


def wait_path(iid: str, name: str, attempt_id: str) -> str:
    return f"/interaction/{iid}/upstream/{name}/wait/{attempt_id}"


def reading(provider, state: dict, now: int) -> bool:
    """Another poll of this attempt began reading the node less than ``poll_interval`` ago and
    has not stored its answer (or it failed): this poll does not read it too. So a browser
    polling as fast or as many times at once as it likes, or a node that does not answer, costs
    the node at most one read per attempt per ``poll_interval``."""
    started = state.get(READING)
    return isinstance(started, int) and not isinstance(started, bool) and 0 <= now - started < provider.poll_interval


def open_now(ia: Interaction, now: int) -> bool:
    return ia.completed_at is None and ia.expires_at > now


def locate(gw, db, request: Request, iid: str, name: str, attempt_id: str, *, lock: bool = False):
    """(attempt, interaction) when the attempt is this browser's NDID attempt of this
    interaction, else (None, this browser's interaction or None). The interaction may have
    expired or finished (the caller decides)."""
    provider = gw.upstreams.get(name)
    own = browser_hash(request)
    attempt = db.get(UpstreamAttempt, attempt_id, with_for_update=lock) if len(attempt_id) <= 64 else None
    ia = db.get(Interaction, iid) if len(iid) <= 64 else None
    if ia is not None and ia.params.get("browser") != own:
        ia = None
    if provider is None or provider.mode != "async" or attempt is None or ia is None \
            or attempt.interaction_id != ia.id or attempt.provider != name or attempt.browser_hash != own:
        return None, ia
    return attempt, ia


def finished_result(gw, db, request: Request, attempt: UpstreamAttempt, ia: Interaction):
    """The page for an attempt that has already ended: on to the interaction after a sign-in or
    a cancel, else its failure again (a reload shows the same page)."""
    if ia is None:
        return expired(gw, db, request, None)
    outcome = (attempt.state.get("gateway_outcome") or {}).get("code") if isinstance(attempt.state, dict) \
        else None
    if outcome is None or outcome in _ONWARD:
        return ("redirect", f"/interaction/{ia.id}")
    if outcome == "link_needs_sign_in":
        return needs_local(gw, request, ia)
    if outcome == "interaction_expired":
        return expired(gw, db, request, ia)
    return Failure(message_for(outcome, locale_of(gw, request, ia), ndid=True), outcome, ui_locales=ui_of(ia),
                   links=links(gw, db, request, ia, retry=f"/interaction/{ia.id}/upstream/{attempt.provider}"))


def pending_context(gw, request: Request, ia_params: dict, iid: str, name: str, attempt_id: str, state: dict,
                    *, unreachable: bool = False) -> dict:
    provider = gw.upstreams[name]
    locale = gw.pages.locale(request, ia_params["request"].get("ui_locales"))
    left = max(0, int(state.get("expires_at", 0)) - gw.clock.now())
    progress = provider.progress(state=state)
    if unreachable:
        message = t("ndid_node_unreachable", locale)
    elif progress.others_can_answer:
        message = t("ndid_other_bank", locale)
    elif 0 < progress.accepted < progress.needed:
        message = t("ndid_one_approved", locale, done=progress.accepted, needed=progress.needed)
    else:
        message = t("ndid_waiting", locale)
    here = wait_path(iid, name, attempt_id)
    return dict(reference=short_reference(str(state.get("reference_id", ""))), time_left=time_left(left, locale),
                seconds_left=left, status_text=message, others_can_answer=progress.others_can_answer,
                here=here, status_url=f"{here}/status", cancel_action=f"{here}/cancel",
                csrf_token=gw.pages.csrf_token(request.cookies.get("idgw_browser") or "", f"ndid-wait:{attempt_id}"),
                choose_url=f"/interaction/{iid}", refresh_seconds=NOSCRIPT_REFRESH,
                ui_locales=ia_params["request"].get("ui_locales"))


async def poll(gw, request: Request, iid: str, name: str, attempt_id: str):
    """One look at an NDID attempt, the same for the page and its status endpoint: read the node
    when the connector asks for it, and once the node's answer is no longer pending, complete
    from the node's answer alone and sign in (or fail). Returns a ``Failure``,
    ``("redirect", url[, cookie])`` or ``("pending", context)``; ``("gone", failure)`` when the
    attempt is not this browser's (or does not exist)."""
    ip = gw.client_ip(request)
    provider = gw.upstreams.get(name)
    checked = await in_transaction(gw.sessionmaker, ip, poll_check, gw, request, iid, name, attempt_id)
    if checked[0] == "gone":
        return checked
    if checked[0] == "done":
        return checked[1]
    if checked[0] == "close":
        # Nobody can use the answer any more: let the IdP app stop offering the request.
        await close_quietly(provider, checked[2])
        return checked[1]
    kind, state, ia_params = checked
    if kind == "busy":
        # Another poll of this attempt is reading the node: answer from the last view, decide nothing.
        return ("pending", pending_context(gw, request, ia_params, iid, name, attempt_id, state))
    error = None
    if kind == "read":
        try:
            # The node's view of the request (network I/O, outside the database transaction).
            state = await run_in_threadpool(lambda: provider.refresh(state=state))
        except UpstreamError as exc:
            error = exc  # the claim stays: the node is read again after poll_interval, not at every poll
    if error is None and provider.status(state=state, now=gw.clock.now()) == "pending":
        if kind != "read":  # nothing new to store
            return ("pending", pending_context(gw, request, ia_params, iid, name, attempt_id, state))
        ended = await in_transaction(gw.sessionmaker, ip, keep_refreshed, gw, request, iid, attempt_id, state)
        if ended is not None:
            return ended
        return ("pending", pending_context(gw, request, ia_params, iid, name, attempt_id, state))
    identity = None
    if error is None:
        try:
            # complete() reads the request from the node once more and decides from that alone
            # (accepted answers from listed IdPs within their levels, meeting the floors), and
            # always closes the request.
            identity = await run_in_threadpool(lambda: provider.complete(state=state))
        except UpstreamError as exc:
            error = exc
    return await in_transaction(gw.sessionmaker, ip, poll_finish, gw, request, iid, name, attempt_id, state,
                                identity, error)


def poll_check(gw, request: Request, iid: str, name: str, attempt_id: str):
    """What a poll does next, decided and claimed under the attempt's row lock: ``("gone",
    failure)``, ``("done", result)`` for an attempt that has ended, ``("close", failure, state)``
    for an interaction that has, or ``(kind, state, interaction params)``: ``busy`` (another poll
    is reading the node), ``read`` (this poll reads it: claimed as ``READING``) or ``state``."""
    provider = gw.upstreams.get(name)
    db = current_db.get()
    now = gw.clock.now()
    # Locked: deciding whether to read the node and claiming that read is one step (``READING``).
    attempt, ia = locate(gw, db, request, iid, name, attempt_id, lock=True)
    if attempt is None:
        return ("gone", expired(gw, db, request, ia))
    if attempt.finished_at is not None:
        return ("done", finished_result(gw, db, request, attempt, ia))
    if not open_now(ia, now):
        attempt.finished_at = now
        finished(attempt, "interaction_expired")
        return ("close", expired(gw, db, request, ia), attempt.state)
    state = attempt.state
    if reading(provider, state, now):
        return ("busy", state, ia.params)
    if provider.needs_refresh(state=state, now=now):
        attempt.state = {**state, READING: now}
        return ("read", attempt.state, ia.params)
    return ("state", state, ia.params)


def keep_refreshed(gw, request: Request, iid: str, attempt_id: str, refreshed: dict):
    """The node's still-pending view stored (None), keeping the callback hints that arrived while
    the node was being read and a newer claim; or, if the attempt ended meanwhile, its result."""
    db = current_db.get()
    attempt = db.get(UpstreamAttempt, attempt_id, with_for_update=True)
    if attempt.finished_at is None:
        # keep callback hints that arrived while the node was being read, and a newer claim
        current = attempt.state
        attempt.state = {**refreshed, "hint": current.get("hint"),
                         "hint_seen": min(_hint_count(refreshed.get("hint_seen")),
                                          _hint_count((current.get("hint") or {}).get("count"))),
                         READING: None if current.get(READING) == refreshed.get(READING)
                         else current.get(READING)}
        return None
    return finished_result(gw, db, request, attempt, db.get(Interaction, iid))


def poll_finish(gw, request: Request, iid: str, name: str, attempt_id: str, state: dict, identity,
                error: UpstreamError | None):
    """The node's final answer (``identity``, or its ``error``) for the attempt: signed in, the
    failure page, or still waiting when the node could not be read in time; an attempt another
    poll or Cancel finished meanwhile keeps its outcome."""
    ip = gw.client_ip(request)
    db = current_db.get()
    now = gw.clock.now()
    ia = db.get(Interaction, iid)
    attempt = db.get(UpstreamAttempt, attempt_id, with_for_update=True)
    if attempt.finished_at is not None:
        return finished_result(gw, db, request, attempt, ia)
    if error is not None:
        if error.code in ("upstream_unreachable", "upstream_timeout") \
                and int(state.get("expires_at", 0)) > now:
            # The node could not be read: say so, but keep waiting (the next poll retries).
            return ("pending", pending_context(gw, request, ia.params, iid, name, attempt_id, state,
                                               unreachable=True))
        attempt.finished_at = now
        finished(attempt, error.code)
        return fail(gw, request, db, ia=ia, provider=name, error=error, now=now, ip=ip)
    if ia is None or not open_now(ia, now):
        attempt.finished_at = now
        finished(attempt, "interaction_expired")
        return expired(gw, db, request, ia)
    return sign_in(gw, db, request, ia=ia, attempt=attempt, identity=identity, now=now, ip=ip)
