"""The proofing call's WebSocket, ``/proofing/ws/{case_id}``: signalling for the peer connection each
browser has with the gateway (idgw.proofing.media), and the channel the gateway pushes events on.

Connecting. The ``Origin`` header must equal the gateway's origin (cross-site WebSocket hijacking),
else the socket is closed with 1008 before the handshake completes (uvicorn answers HTTP 403).
``authorize(websocket, case_id)`` (injected: cookies and the database) names the ``Participant``;
none, or one for another case or an unknown role: the socket is accepted, sent an ``unauthorized``
error and closed with 1008. One live socket per (case, role): a second one is sent
``already_connected`` and closed with 4409; the first stays. Then the server sends::

    {"type": "config", "role": "citizen"|"officer", "ice_servers": [RTCIceServer, ...]}

Client -> server (JSON text messages, at most 64 KiB each, at most 20 in any 10 seconds)::

    {"type": "offer", "sdp": "<SDP with all candidates>"}  -> {"type": "answer", "sdp": "..."}
                                                              or an error bad_sdp / no_video
    {"type": "ping"}                                       -> {"type": "pong"}
    {"type": "bye"}                                        -> the server closes with 1000
    {"type": "<other>", ...}                               -> Rooms.on_message, if set (else malformed)

An offer replaces the role's previous peer connection (a reconnect): send one after each
``config``, and again when the peer connection fails. Server -> client pushes::

    {"type": "event", "name": "<name>", ...}   (Rooms.send / Rooms.broadcast; the lead's events)
    {"type": "event", "name": "presence", "role": "<the other role>", "present": true|false}

``presence`` is sent by this module: to a newcomer about the other role, and to the other role
when someone joins or leaves. Errors are ``{"type": "error", "code": ..., "message": {"th", "en"}}``.

Close codes: 1000 after ``bye`` or ``Rooms.close``; 1008 foreign Origin (HTTP 403), unauthorized,
or the third malformed message; 1009 a message over 64 KiB (error ``too_large`` first; uvicorn's
``ws_max_size`` cuts anything over 128 KiB with a bare 1009); 1011 an unexpected server error;
4409 ``already_connected``; 4429 ``rate_limited`` (a 21st message within 10 s).

Malformed messages (not JSON, not an object, binary, unknown ``type``, an offer that is not a
string) and refused offers (``bad_sdp``, ``no_video``) are answered with their error and the socket
stays, up to the third such message, which also closes it (1008): a browser sends at most one bad
offer per connection (no camera), a broken or hostile client is cut off quickly.

When a socket closes, its role's peer connection is closed (the other side then gets a dark frame
and silence), its slot is freed and ``Rooms.on_leave(participant)`` is awaited; the case's
``CallMedia`` (and its kept frames) stays until ``MediaHub.close(case_id)``. ``on_leave`` runs on
every close, a reconnect's included: a grace period, if wanted, belongs in the hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import APIRouter, WebSocket

from idgw.proofing.media import ROLES, MediaError, MediaHub

MAX_MESSAGE_BYTES = 64 * 1024
RATE_MESSAGES, RATE_WINDOW = 20, 10.0
MAX_STRIKES = 3
ANSWER_TIMEOUT = 20.0  # ICE gathering with an unreachable TURN server
CASE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

CLOSE_NORMAL, CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_ERROR = 1000, 1008, 1009, 1011
CLOSE_ALREADY_CONNECTED, CLOSE_RATE_LIMITED = 4409, 4429

MESSAGES = {
    "unauthorized": ("ไม่มีสิทธิ์เข้าร่วมการสนทนานี้ หรือการเข้าสู่ระบบหมดอายุแล้ว",
                     "You may not join this call, or your sign-in has expired."),
    "already_connected": ("การสนทนานี้เปิดอยู่ในหน้าต่างอื่นแล้ว", "This call is already open in another window."),
    "too_large": ("ข้อความใหญ่เกินไป", "The message is too large."),
    "malformed": ("ข้อความไม่ถูกต้อง", "The message is malformed."),
    "rate_limited": ("ส่งข้อความถี่เกินไป", "Too many messages."),
    "bad_sdp": ("ข้อมูลการเชื่อมต่อวิดีโอไม่ถูกต้อง", "The video connection offer was refused."),
    "no_video": ("ไม่พบภาพจากกล้อง ต้องเปิดกล้องเพื่อยืนยันตัวตน", "No camera video: the call needs your camera."),
    "internal": ("ระบบขัดข้อง โปรดลองใหม่อีกครั้ง", "Something went wrong on our side; please try again."),
}

log = logging.getLogger("idgw.proofing.signalling")


@dataclass(frozen=True)
class Participant:
    case_id: str
    role: str  # "citizen" or "officer"
    account_id: str


Authorize = Callable[[WebSocket, str], Awaitable[Participant | None]]
Hook = Callable[[Participant], Awaitable[None]]
MessageHook = Callable[[Participant, dict], Awaitable[bool]]


def error(code: str, detail: str | None = None) -> dict:
    th, en = MESSAGES[code]
    message = {"type": "error", "code": code, "message": {"th": th, "en": en}}
    if detail:
        message["detail"] = detail
    return message


class _Conn:
    """One accepted socket: sends are serialized (the handler's answers and pushes from Rooms)."""

    def __init__(self, websocket: WebSocket, participant: Participant) -> None:
        self.websocket = websocket
        self.participant = participant
        self.open = True
        self._lock = asyncio.Lock()

    async def send(self, message: dict) -> bool:
        async with self._lock:
            if not self.open:
                return False
            try:
                await self.websocket.send_text(json.dumps(message, ensure_ascii=False))
                return True
            except Exception:  # the client went away
                self.open = False
                return False

    async def close(self, code: int, reason: str = "") -> None:
        async with self._lock:
            if self.open:
                self.open = False
                with contextlib.suppress(Exception):
                    await self.websocket.close(code=code, reason=reason)


class Rooms:
    """This process's live sockets, one per (case, role). ``on_join`` / ``on_leave``: async hooks
    ``(participant)``, awaited after a socket is set up (config sent) and after it closed (its
    slot already free); an exception in a hook is logged, never sent to the client.
    ``on_message``: async ``(participant, message) -> bool`` for the page scripts' own message types
    (anything but offer/ping/bye; a dict with a string ``type``): True if it handled the message
    (it replies, if at all, with ``send``), False to refuse it as ``malformed``. Without the hook
    every other type is malformed."""

    def __init__(self, *, on_join: Hook | None = None, on_leave: Hook | None = None,
                 on_message: MessageHook | None = None) -> None:
        self.on_join = on_join
        self.on_leave = on_leave
        self.on_message = on_message
        self._conns: dict[tuple[str, str], _Conn] = {}

    def cases(self) -> set[str]:
        """The cases with at least one socket in this process."""
        return {case_id for case_id, _role in self._conns}

    def connected(self, case_id: str, role: str) -> bool:
        return (case_id, role) in self._conns

    def participant(self, case_id: str, role: str) -> Participant | None:
        conn = self._conns.get((case_id, role))
        return conn.participant if conn else None

    async def send(self, case_id: str, role: str, message: dict) -> bool:
        """Send one JSON message to the role's socket; False when there is none (or it just went)."""
        conn = self._conns.get((case_id, role))
        return await conn.send(message) if conn else False

    async def broadcast(self, case_id: str, message: dict) -> int:
        """Send to every socket of the case; how many got it."""
        sent = await asyncio.gather(*(self.send(case_id, role, message) for role in ROLES))
        return sum(sent)

    async def close(self, case_id: str, role: str | None = None, *, code: int = CLOSE_NORMAL,
                    reason: str = "") -> None:
        """Close the case's sockets (or one role's) from the server side: the case ended. Each one's
        peer connection is closed and ``on_leave`` runs, as for any close."""
        for r in (role,) if role else ROLES:
            conn = self._conns.get((case_id, r))
            if conn:
                await conn.close(code, reason)

    # -- used by the handler -----------------------------------------------------------------------
    def _claim(self, conn: _Conn) -> bool:
        key = (conn.participant.case_id, conn.participant.role)
        if key in self._conns:
            return False
        self._conns[key] = conn
        return True

    def _release(self, conn: _Conn) -> None:
        key = (conn.participant.case_id, conn.participant.role)
        if self._conns.get(key) is conn:
            del self._conns[key]

    async def _hook(self, hook: Hook | None, participant: Participant) -> None:
        if hook is None:
            return
        try:
            await hook(participant)
        except Exception:
            log.exception("proofing %s hook failed for case %s (%s)", getattr(hook, "__name__", "a"),
                          participant.case_id, participant.role)

    async def _presence(self, conn: _Conn, present: bool) -> None:
        p = conn.participant
        other = next(r for r in ROLES if r != p.role)
        await self.send(p.case_id, other, {"type": "event", "name": "presence", "role": p.role, "present": present})
        if present:
            await conn.send({"type": "event", "name": "presence", "role": other,
                             "present": self.connected(p.case_id, other)})


async def handle(websocket: WebSocket, case_id: str, *, hub: MediaHub, authorize: Authorize, origin: str,
                 ice: Callable[[Participant], list[dict] | Awaitable[list[dict]]], rooms: Rooms) -> None:
    """The whole life of one socket (see the module docstring)."""
    if websocket.headers.get("origin") != origin:
        log.info("proofing socket refused: Origin %r is not %r", websocket.headers.get("origin"), origin)
        await websocket.close(code=CLOSE_POLICY)
        return
    try:
        participant = await authorize(websocket, case_id) if CASE_ID.fullmatch(case_id) else None
    except Exception:
        log.exception("proofing authorize failed for case %r", case_id)
        await websocket.close(code=CLOSE_ERROR)
        return
    await websocket.accept()
    if participant is None or participant.case_id != case_id or participant.role not in ROLES:
        conn = _Conn(websocket, Participant(case_id, "", ""))
        await conn.send(error("unauthorized"))
        await conn.close(CLOSE_POLICY)
        return
    conn = _Conn(websocket, participant)
    if not rooms._claim(conn):
        await conn.send(error("already_connected"))
        await conn.close(CLOSE_ALREADY_CONNECTED)
        return
    try:
        servers = ice(participant)
        if inspect.isawaitable(servers):
            servers = await servers
        await conn.send({"type": "config", "role": participant.role, "ice_servers": servers})
        await rooms._hook(rooms.on_join, participant)
        await rooms._presence(conn, True)
        code = await _serve(conn, hub, rooms)
    except Exception:
        log.exception("proofing socket of case %s (%s) failed", case_id, participant.role)
        code = CLOSE_ERROR
    finally:
        media = hub.get(case_id)
        if media is not None:
            with contextlib.suppress(Exception):
                await media.close(participant.role)
        rooms._release(conn)
    if code is not None:
        await conn.close(code)
    conn.open = False
    await rooms._presence(conn, False)
    await rooms._hook(rooms.on_leave, participant)


async def _serve(conn: _Conn, hub: MediaHub, rooms: Rooms) -> int | None:
    """Read messages until the socket closes (None) or must be closed (the close code)."""
    websocket, participant = conn.websocket, conn.participant
    loop = asyncio.get_running_loop()
    recent: deque[float] = deque()
    strikes = 0
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text, data = message.get("text"), message.get("bytes")
        size = len(text.encode("utf-8", "surrogatepass")) if text is not None else len(data or b"")
        if size > MAX_MESSAGE_BYTES:
            await conn.send(error("too_large", f"at most {MAX_MESSAGE_BYTES} bytes"))
            return CLOSE_TOO_BIG
        now = loop.time()
        recent.append(now)
        while recent[0] < now - RATE_WINDOW:
            recent.popleft()
        if len(recent) > RATE_MESSAGES:
            await conn.send(error("rate_limited", f"at most {RATE_MESSAGES} messages in {RATE_WINDOW:g} s"))
            return CLOSE_RATE_LIMITED
        refusal = await _answer(conn, hub, rooms, text)
        if refusal == "bye":
            return CLOSE_NORMAL
        if refusal is not None:
            strikes += 1
            await conn.send(refusal)
            if strikes >= MAX_STRIKES:
                log.info("proofing socket of case %s (%s) closed after %d refused messages",
                         participant.case_id, participant.role, strikes)
                return CLOSE_POLICY


async def _answer(conn: _Conn, hub: MediaHub, rooms: Rooms, text: str | None) -> dict | str | None:
    """Handle one message: None when it was fine, ``"bye"``, or the error it earns (a strike)."""
    try:
        message = json.loads(text) if text is not None else None
    except ValueError:
        message = None
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "ping":
        await conn.send({"type": "pong"})
    elif kind == "bye":
        return "bye"
    elif kind == "offer" and isinstance(message.get("sdp"), str):
        media = hub.open(conn.participant.case_id)
        try:
            sdp = await asyncio.wait_for(media.answer(conn.participant.role, message["sdp"]), ANSWER_TIMEOUT)
        except MediaError as exc:
            return error(exc.code, exc.message)
        except Exception:
            log.exception("no answer for case %s (%s)", conn.participant.case_id, conn.participant.role)
            await conn.send(error("internal"))
            return None
        await conn.send({"type": "answer", "sdp": sdp})
    elif isinstance(kind, str) and kind not in ("offer", "answer", "config", "error") and rooms.on_message:
        try:
            handled = await rooms.on_message(conn.participant, message)
        except Exception:
            log.exception("proofing on_message hook failed for case %s", conn.participant.case_id)
            await conn.send(error("internal"))
            return None
        if not handled:
            return error("malformed", "unknown message type")
    else:
        return error("malformed", "not a JSON object" if kind is None else "unknown or incomplete message")
    return None


def router(*, hub: MediaHub, authorize: Authorize, origin: str,
           ice: Callable[[Participant], list[dict] | Awaitable[list[dict]]], rooms: Rooms | None = None) -> APIRouter:
    """The WebSocket route. ``origin``: the gateway's (settings.origin); ``ice(participant)``: the
    RTCIceServer list sent to that browser (idgw.proofing.ice.ice_servers with a fresh ``now``);
    ``rooms``: the Rooms to use (a new one if not given); it is also the router's ``rooms``."""
    rooms = rooms if rooms is not None else Rooms()
    api = APIRouter()

    @api.websocket("/proofing/ws/{case_id}")
    async def proofing_ws(websocket: WebSocket, case_id: str) -> None:
        await handle(websocket, case_id, hub=hub, authorize=authorize, origin=origin, ice=ice, rooms=rooms)

    api.rooms = rooms
    return api
