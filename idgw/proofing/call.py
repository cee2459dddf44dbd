"""The call around a case: who may join its WebSocket, what happens when someone leaves, the
officer's live checks (face comparison, random cues) and the sweeper that ends abandoned cases.

- ``authorize``: the citizen's browser session that opened the case (queued or in the call), or
  the officer who claimed it (officer role, AAL 2.2, a sign-in within the shift).
- Leaving: an officer whose socket stays closed for ``grace["officer"]`` seconds hands the case
  back to the queue (first in line again) and the citizen is told; a citizen gone from the call
  (the case claimed) for ``grace["citizen"]`` seconds ends the case (``expired``) and the officer
  is told.
- The sweeper ends cases whose citizen page has not been seen for ``UNSEEN_SECONDS`` (a tab
  closed while queued) or whose browser session was signed out (its call socket is closed too),
  and drops the media of finished cases.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from idgw.depends import gateway_of
from idgw.login.sessions import load_session
from idgw.oidc.adapter import in_transaction
from idgw.oidc.context import current_db
from idgw.proofing import analysis, cases, media_store, signals
from idgw.proofing.ice import ice_servers
from idgw.proofing.media import MediaHub
from idgw.proofing.officers import officer_gate, officer_json_gate
from idgw.proofing.signalling import Participant, Rooms
from idgw.proofing.signalling import router as signalling_router
from idgw.security import constant_time_equal
from idgw.storage.proofing import ProofingCase, ProofingMedia

log = logging.getLogger("idgw.proofing.call")
UNSEEN_SECONDS = 60
SWEEP_EVERY = 10.0
CITIZEN_ON_CALL = ("queued", "claimed", "awaiting_second")

r = APIRouter()


def install(app, gw) -> None:
    """Give the gateway its media hub and rooms, and mount the WebSocket and the officer's live routes."""
    runtime, settings = gw.proofing, gw.settings
    runtime.hub = MediaHub(ice_servers=lambda case_id: ice_servers(settings, now=int(time.time()), label=case_id))
    runtime.rooms = Rooms(on_join=lambda p: on_join(gw, p), on_leave=lambda p: on_leave(gw, p))
    app.include_router(signalling_router(hub=runtime.hub, authorize=lambda ws, cid: authorize(gw, ws, cid),
                                         origin=settings.origin, rooms=runtime.rooms,
                                         ice=lambda p: ice_servers(settings, now=int(time.time()), label=p.case_id)))
    app.include_router(r)


# -- who is on the call ----------------------------------------------------------------------------

async def authorize(gw, websocket, case_id: str) -> Participant | None:
    def work():
        db, now = current_db.get(), gw.clock.now()
        case = db.get(ProofingCase, case_id) if len(case_id) <= 36 else None
        session = load_session(db, cookie=websocket.cookies.get(gw.settings.cookie_name), now=now)
        if case is None or session is None:
            return None
        if case.account_id == session.account_id and case.session_id == session.id:
            return Participant(case.id, "citizen", session.account_id) if case.state in CITIZEN_ON_CALL else None
        outcome = officer_gate(gw, db, websocket, now)
        if outcome[0] == "ok" and case.state == "claimed" and case.claimed_by == outcome[2].id:
            return Participant(case.id, "officer", outcome[2].id)
        return None

    return await in_transaction(gw.sessionmaker, _ip(websocket), work)


async def on_join(gw, participant: Participant) -> None:
    if participant.role == "citizen":
        await _in_db(gw, lambda db, now: _seen(db, participant.case_id, now))


async def on_leave(gw, participant: Participant) -> None:
    """Settle the case after the grace period, if that side has not come back: in a background task
    of this process, so the socket's handler ends at once (a shutdown does not wait out a grace
    period; ``ProofingRuntime.aclose`` cancels it)."""
    task = asyncio.create_task(settle_leave(gw, participant), name=f"proofing-leave-{participant.role}")
    gw.proofing.tasks.add(task)
    task.add_done_callback(gw.proofing.tasks.discard)


async def settle_leave(gw, participant: Participant) -> None:
    await asyncio.sleep(gw.proofing.grace[participant.role])
    rooms = gw.proofing.rooms
    if rooms.connected(participant.case_id, participant.role):
        return  # reconnected

    def settle(db, now):
        case = db.get(ProofingCase, participant.case_id)
        if case is None:
            return None
        # The other side is told through idgw.proofing.signals, once this is committed: with sticky
        # routing its socket is in this process, but it need not be (docs/proofing.md).
        if participant.role == "officer" and case.state == "claimed" and case.claimed_by == participant.account_id:
            cases.release(db, case, now=now, reason="officer_disconnected",
                          officer=cases.Officer(participant.account_id, ""))
            signals.publish(db, case.id, "released", to="citizen")
            return "released"
        # Only a call is ended: a queued citizen's page holds no socket (after a release or a hand
        # over it reloads into the queue view and keeps polling); an abandoned queue is the sweeper's.
        if participant.role == "citizen" and case.state == "claimed":
            cases.expire(db, case, now=now, reason="citizen_left")
            signals.publish(db, case.id, "expired", to="officer")
            return "expired"
        return case.state if case.state in cases.FINAL else None

    outcome = await _in_db(gw, settle)
    # The media lives in this process (the leaving socket's): dropped here once nobody is on the call.
    if outcome in cases.FINAL and not rooms.connected(participant.case_id, "citizen") \
            and not rooms.connected(participant.case_id, "officer"):
        await gw.proofing.hub.close(participant.case_id)


async def sweep(gw) -> None:
    """Forever (a task of the app's lifespan): end abandoned cases, drop finished cases' media."""
    while True:
        await asyncio.sleep(SWEEP_EVERY)
        with contextlib.suppress(Exception):
            await sweep_once(gw)


async def sweep_once(gw) -> list[str]:
    def work(db, now):
        ended = []
        for case, reason in cases.stale_cases(db, now=now, unseen_for=UNSEEN_SECONDS):
            with contextlib.suppress(cases.CaseError):
                cases.expire(db, case, now=now, reason=reason)
                # Whichever instance holds the call's sockets (idgw.proofing.signals): the officer
                # is told, a signed-out browser's call ends with it, and the media goes.
                signals.publish(db, case.id, "expired", to="officer", close=("citizen",), drop_media=True)
                ended.append(case.id)
        return ended

    return await _in_db(gw, work)


# -- the officer's live checks ---------------------------------------------------------------------

def _officer_case(gw, request: Request, case_id: str, db, now: int, *, json: bool = True, reviewer: bool = False):
    """(officer, case) for the officer holding the case (or, with ``reviewer``, any officer for a
    case awaiting a second officer); else the refusal."""
    officer = officer_json_gate(gw, db, request, now) if json else None
    if not json:
        outcome = officer_gate(gw, db, request, now)
        if outcome[0] != "ok":
            return JSONResponse({"error": "forbidden"}, status_code=403)
        officer = cases.Officer(outcome[2].id, outcome[1].id)
    if isinstance(officer, Response):
        return officer
    case = db.get(ProofingCase, case_id) if len(case_id) <= 36 else None
    if reviewer and case is not None and case.state == "awaiting_second":
        return officer, case
    try:
        return officer, cases.held_by(case, officer)
    except cases.CaseError as exc:
        return JSONResponse({"error": exc.code}, status_code=exc.status)


def _csrf_ok(gw, request: Request, case_id: str) -> bool:
    sent = request.headers.get("x-csrf-token") or ""
    browser = request.cookies.get("idgw_browser") or ""
    return bool(browser) and constant_time_equal(sent, gw.pages.csrf_token(browser, f"officer:{case_id}"))


@r.post("/officer/case/{case_id}/compare", include_in_schema=False)
async def compare(case_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    """Compare the citizen's live face (frames the gateway received) with the reference photo."""
    if not _csrf_ok(gw, request, case_id):
        return JSONResponse({"error": "csrf"}, status_code=403)

    def load(db, now):
        found = _officer_case(gw, request, case_id, db, now)
        if isinstance(found, Response):
            return found
        return media_store.read(gw.proofing.sealer, media_store.reference_of(db, case_id))

    reference = await _in_db(gw, load, request)
    if isinstance(reference, Response):
        return reference
    if reference is None:
        return JSONResponse({"error": "no_reference"}, status_code=409)
    media = gw.proofing.hub.get(case_id)
    clock = time.monotonic()
    frames = media.frames(clock - analysis.PROBE_SECONDS, clock) if media is not None else []
    if not frames:
        return JSONResponse({"error": "no_video"}, status_code=409)
    try:
        face, frame = await asyncio.to_thread(analysis.compare_live, frames, reference, now=gw.clock.now())
    except analysis.NoFace as exc:
        return JSONResponse({"error": "no_face", "reason": exc.reason}, status_code=422)

    def keep(db, now):
        case = db.get(ProofingCase, case_id)
        if case is None or case.state != "claimed":
            return JSONResponse({"error": "finished"}, status_code=409)
        row = media_store.keep(db, gw.proofing.sealer, case_id=case_id, kind="frame", content=frame,
                               media_type="image/jpeg", now=now,
                               retention_days=gw.settings.proofing_media_retention_days)
        cases.note_face(db, case, {**face, "frame": row.id}, now=now)
        return {**face, "frame": row.id}

    result = await _in_db(gw, keep)
    return result if isinstance(result, Response) else JSONResponse(result)


@r.post("/officer/case/{case_id}/cue", include_in_schema=False)
async def cue(case_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    """Show the citizen a cue the server picks at random, and judge it from the frames of its window."""
    if not _csrf_ok(gw, request, case_id):
        return JSONResponse({"error": "csrf"}, status_code=403)
    rooms = gw.proofing.rooms

    def give(db, now):
        found = _officer_case(gw, request, case_id, db, now)
        if isinstance(found, Response):
            return found
        # Only after the gate: whether the citizen is on the call is for the officer holding the case.
        if not rooms.connected(case_id, "citizen") or gw.proofing.hub.get(case_id) is None:
            return JSONResponse({"error": "citizen_not_connected"}, status_code=409)
        officer, case = found
        if any(c.get("result") is None for c in case.cues):
            return JSONResponse({"error": "cue_running"}, status_code=409)
        chosen = analysis.pick_cue(allowed=gw.settings.proofing_cue_set, previous=[c["cue"] for c in case.cues])
        entry = {"id": uuid.uuid4().hex[:12], "cue": chosen, "window": analysis.CUE_WINDOW, "shown_at": now,
                 "result": None}
        cases.note_cue_shown(db, case, entry, officer, now=now)
        return entry

    entry = await _in_db(gw, give, request)
    if isinstance(entry, Response):
        return entry
    shown_at = time.monotonic()
    await rooms.send(case_id, "citizen", {"type": "event", "name": "cue", "cue": entry["cue"],
                                          "window": entry["window"]})
    task = asyncio.create_task(_judge_later(gw, case_id, entry, shown_at))
    gw.proofing.tasks.add(task)
    task.add_done_callback(gw.proofing.tasks.discard)
    return JSONResponse({k: entry[k] for k in ("id", "cue", "window")})


async def _judge_later(gw, case_id: str, entry: dict, shown_at: float) -> None:
    window = entry["window"]
    await asyncio.sleep(window + 0.5)
    media = gw.proofing.hub.get(case_id)
    frames = media.frames(shown_at - 0.5, shown_at + window + 0.5) if media is not None else []
    try:
        result, frame = await asyncio.to_thread(analysis.judge, frames, cue=entry["cue"], shown_at=shown_at,
                                                window=window)
    except Exception as exc:  # a judgement that could not run is recorded as not performed
        log.warning("cue judgement failed: %s", type(exc).__name__)
        result, frame = {"performed": False, "failed": ["not_judged"], "signals": [], "frames_used": 0}, None

    def keep(db, now):
        case = db.get(ProofingCase, case_id)
        if case is None:
            return
        if frame is not None:
            row = media_store.keep(db, gw.proofing.sealer, case_id=case_id, kind="frame", content=frame,
                                   media_type="image/jpeg", now=now,
                                   retention_days=gw.settings.proofing_media_retention_days)
            result["frame"] = row.id
            result["frame_sha256"] = row.sha256
        cases.note_cue_result(db, case, entry["id"], result, now=now)

    await _in_db(gw, keep)
    await gw.proofing.rooms.send(case_id, "officer", {"type": "event", "name": "cue_result", "id": entry["id"],
                                                      "performed": result["performed"]})


@r.get("/officer/case/{case_id}/reference", include_in_schema=False)
async def reference(case_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await _image(gw, request, case_id, None)


@r.get("/officer/case/{case_id}/frame/{media_id}", include_in_schema=False)
async def frame(case_id: str, media_id: str, request: Request, gw=Depends(gateway_of)) -> Response:
    return await _image(gw, request, case_id, media_id)


async def _image(gw, request: Request, case_id: str, media_id: str | None) -> Response:
    def work(db, now):
        found = _officer_case(gw, request, case_id, db, now, json=False, reviewer=True)
        if isinstance(found, Response):
            return found
        row = media_store.reference_of(db, case_id) if media_id is None else db.get(ProofingMedia, media_id[:36])
        if row is None or row.case_id != case_id or row.sealed is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        return Response(media_store.read(gw.proofing.sealer, row), media_type=row.media_type,
                        headers={"cache-control": "no-store"})

    return await _in_db(gw, work, request)


# -- internals -------------------------------------------------------------------------------------

def _seen(db, case_id: str, now: int) -> None:
    case = db.get(ProofingCase, case_id)
    if case is not None:
        cases.seen(db, case, now=now)


async def _in_db(gw, fn, request=None):
    def work():
        return fn(current_db.get(), gw.clock.now())

    return await in_transaction(gw.sessionmaker, gw.client_ip(request) if request is not None else None, work)


def _ip(websocket) -> str | None:
    return websocket.client.host if websocket.client else None

