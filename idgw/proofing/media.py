"""The media of a proofing call, with the gateway as a participant (aiortc).

The citizen and the officer each have one WebRTC peer connection *to the gateway*, never to each
other: the gateway receives the citizen's camera and microphone, relays them to the officer and
the officer's to the citizen (idgw.proofing.relay: decoded, re-encoded), and keeps the citizen's
frames for the face checks. No HTTP endpoint accepts a face image; evidence comes from here.

``CallMedia`` is one case's media; ``MediaHub`` the per-process registry of them.

A case's media lives in the process that holds its WebSockets (idgw.proofing.signalling): in a
deployment with several processes or instances, both WebSockets of a case must reach the same one
(`idgw serve --workers N` spreads connections over N processes at random; route by case, e.g. a
load balancer hashing on the ``/proofing/ws/<case>`` path, or serve proofing from one process).

CPU: each call decodes both sides and encodes both (VP8 or H.264, at most ``relay_fps`` video
frames a second each way); a kept frame is converted (and scaled to at most 640 px wide) only when
it is kept. Memory: the ring buffer holds ``fps * keep_seconds`` RGB frames (640x480: 0.9 MB each,
about 110 MB a call at the defaults).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import SessionDescription

from idgw.proofing.relay import Feed, RelayAudioTrack, RelayVideoTrack

ROLES = ("citizen", "officer")
OTHER = {"citizen": "officer", "officer": "citizen"}
MAX_SDP_BYTES = 32 * 1024  # a browser's offer with its candidates is 4-8 KiB
MAX_CANDIDATES = 32  # each one is a destination the gateway sends connectivity checks to
STALL_SECONDS = 3.0  # connected but no media for this long: reported as "disconnected"

log = logging.getLogger("idgw.proofing.media")

StateHook = Callable[[str, str], Awaitable[None]]


class MediaError(Exception):
    """An offer the gateway will not answer. ``code``: ``bad_sdp`` (unparseable, oversized, more
    than one audio or video section, too many candidates) or ``no_video`` (no video section, or a
    citizen's offer that does not send video)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def check_offer(role: str, sdp: object) -> None:
    """Refuse an offer before any peer connection is made for it."""
    if not isinstance(sdp, str) or not sdp.strip():
        raise MediaError("bad_sdp", "the offer is not an SDP text")
    if len(sdp.encode("utf-8", "replace")) > MAX_SDP_BYTES:
        raise MediaError("bad_sdp", f"the offer is larger than {MAX_SDP_BYTES} bytes")
    if not sdp.startswith("v=0") or "\x00" in sdp:
        raise MediaError("bad_sdp", "the offer is not an SDP text")
    try:
        parsed = SessionDescription.parse(sdp)
    except Exception as exc:  # aiortc's parser raises whatever the line it chokes on causes
        raise MediaError("bad_sdp", "the offer cannot be parsed") from exc
    kinds = [m.kind for m in parsed.media]
    if any(k not in ("audio", "video", "application") for k in kinds) or any(kinds.count(k) > 1 for k in kinds):
        raise MediaError("bad_sdp", "the offer may have one audio and one video section")
    if sum(len(m.ice_candidates) for m in parsed.media) > MAX_CANDIDATES:
        raise MediaError("bad_sdp", f"the offer has more than {MAX_CANDIDATES} candidates")
    video = next((m for m in parsed.media if m.kind == "video" and m.port != 0), None)
    if video is None:
        raise MediaError("no_video", "the offer has no video")
    if role == "citizen" and (video.direction or "sendrecv") not in ("sendrecv", "sendonly"):
        raise MediaError("no_video", "the citizen's offer does not send video")


def _ice_config(servers: list[dict]) -> RTCConfiguration:
    # Always a list: with none at all aiortc would use a public Google STUN server.
    return RTCConfiguration(iceServers=[RTCIceServer(urls=s["urls"], username=s.get("username"),
                                                     credential=s.get("credential")) for s in servers])


@dataclass(eq=False)
class _Peer:
    pc: RTCPeerConnection
    tracks: list = field(default_factory=list)  # the relay tracks it sends
    tasks: list = field(default_factory=list)  # consumers of the tracks it receives, the stall watch
    last_media: float = 0.0
    receiving: bool = False  # it sends the gateway some media (an offer may only receive)
    reported: str | None = None


class CallMedia:
    """One case's media: a peer connection per role (``answer``), the relay between them and the
    citizen's recent frames (``frames``, ``latest``).

    ``ice_servers``: RTCIceServer dicts for the gateway's own side, or a callable returning them
    (called at each ``answer``, so time-limited TURN credentials are fresh). ``fps``: kept frames
    a second at most; ``keep_seconds``: how far back they are kept; ``clock``: the time source of
    the kept frames' timestamps. ``relay_fps``: the relayed video's frame rate cap each way;
    ``max_width``: kept frames are scaled down to it.

    ``on_state``: an async ``(role, state)`` hook, state one of ``connected``, ``disconnected``
    (connected, but no media has come for 3 s; ``connected`` again when it does), ``failed``
    (ICE or DTLS failed: the peer connection is closed; the browser makes a new offer) and
    ``closed`` (the browser closed it, or ``close``). Only the role's current peer connection
    reports: one replaced by a reconnect (a new ``answer``) goes silently. aiortc has no
    "disconnected" state of its own; a vanished peer shows as ``disconnected`` here after 3 s and
    as ``failed`` when ICE consent expires (about 30 s).
    """

    def __init__(self, case_id: str, *, ice_servers: list[dict] | Callable[[], list[dict]], fps: float = 10,
                 keep_seconds: float = 12, clock: Callable[[], float] = time.monotonic, relay_fps: float = 15,
                 max_width: int = 640, on_state: StateHook | None = None) -> None:
        if fps <= 0 or keep_seconds <= 0 or relay_fps <= 0 or max_width < 2:
            raise ValueError("fps, keep_seconds, relay_fps and max_width must be positive")
        self.case_id = case_id
        self.fps = fps
        self.keep_seconds = keep_seconds
        self.relay_fps = relay_fps
        self.max_width = max_width
        self.on_state = on_state
        self._ice = ice_servers
        self._clock = clock
        self._feeds = {(role, kind): Feed(depth=1 if kind == "video" else 10)
                       for role in ROLES for kind in ("video", "audio")}
        self._peers: dict[str, _Peer] = {}
        self._locks = {role: asyncio.Lock() for role in ROLES}
        self._frames: deque[tuple[float, np.ndarray]] = deque()
        self._next_keep = -math.inf
        self._hooks: set[asyncio.Task] = set()
        self.closed = False

    # -- the interface -------------------------------------------------------------------------
    async def answer(self, role: str, offer_sdp: str) -> str:
        """The answer SDP (with the gateway's candidates: aiortc gathers them all before it
        returns) to a browser's offer for ``role``, replacing that role's previous peer connection
        if any. The answer sends the other role's media (or a dark frame and silence while it is
        absent). Raises ``MediaError`` for an offer it refuses."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}")
        if self.closed:
            raise RuntimeError(f"the media of case {self.case_id} is closed")
        check_offer(role, offer_sdp)
        async with self._locks[role]:
            await self._drop(role)
            servers = self._ice() if callable(self._ice) else self._ice
            peer = _Peer(RTCPeerConnection(_ice_config(servers)), last_media=self._clock())
            self._peers[role] = peer
            peer.pc.on("track", lambda track: self._received(role, peer, track))
            peer.pc.on("connectionstatechange", lambda: self._pc_state(role, peer))
            try:
                try:
                    await peer.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
                except Exception as exc:
                    raise MediaError("bad_sdp", "the offer was refused by the WebRTC stack") from exc
                for kind in {t.kind for t in peer.pc.getTransceivers()}:
                    feed = self._feeds[(OTHER[role], kind)]
                    track = RelayVideoTrack(feed, max_fps=self.relay_fps) if kind == "video" else RelayAudioTrack(feed)
                    peer.tracks.append(track)
                    peer.pc.addTrack(track)
                await peer.pc.setLocalDescription(await peer.pc.createAnswer())
            except BaseException:
                await self._drop(role)
                raise
            peer.tasks.append(asyncio.create_task(self._watch(role, peer), name=f"proofing-watch-{role}"))
            return peer.pc.localDescription.sdp

    def frames(self, since: float, until: float) -> list[tuple[float, np.ndarray]]:
        """The kept citizen frames with ``since <= time <= until`` (``clock`` times), oldest first.
        Arrays are HxWx3 RGB uint8, read-only (shared)."""
        return [(t, a) for t, a in self._frames if since <= t <= until]

    def latest(self) -> tuple[float, np.ndarray] | None:
        return self._frames[-1] if self._frames else None

    def connected(self, role: str) -> bool:
        peer = self._peers.get(role)
        return peer is not None and peer.pc.connectionState == "connected"

    async def close(self, role: str | None = None) -> None:
        """Close one role's peer connection (the other side then gets a dark frame and silence),
        or, with no role, both and drop the kept frames: the case's media is over."""
        for r in (role,) if role else ROLES:
            async with self._locks[r]:
                had = await self._drop(r)
            if had:
                self._report(r, None, "closed")
        if role is None:
            self.closed = True
            self._frames.clear()
            if self._hooks:
                await asyncio.gather(*self._hooks, return_exceptions=True)

    # -- inside --------------------------------------------------------------------------------
    async def _drop(self, role: str) -> bool:
        peer = self._peers.pop(role, None)
        if peer is None:
            return False
        for track in peer.tracks:
            track.stop()
        for task in peer.tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await peer.pc.close()
        await asyncio.gather(*peer.tasks, return_exceptions=True)
        for kind in ("video", "audio"):
            self._feeds[(role, kind)].gone()
        return True

    def _received(self, role: str, peer: _Peer, track) -> None:
        peer.receiving = True
        peer.tasks.append(asyncio.create_task(self._consume(role, peer, track), name=f"proofing-{role}-{track.kind}"))

    async def _consume(self, role: str, peer: _Peer, track) -> None:
        """Read one incoming track for as long as it lasts (an unread aiortc track queues its
        frames without limit): hand each frame to the relay, keep some of the citizen's."""
        feed = self._feeds[(role, track.kind)]
        keep = role == "citizen" and track.kind == "video"
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                peer.last_media = self._clock()
                if peer.reported == "disconnected":
                    self._report(role, peer, "connected")
                if keep:
                    self._keep(frame, peer.last_media)
                if self._peers.get(role) is peer:
                    feed.put(frame)

    def _keep(self, frame, t: float) -> None:
        # Due every 1/fps s; a frame up to a quarter period early counts (network jitter would
        # otherwise skip every other frame of a source sending at exactly ``fps``); after a gap the
        # schedule restarts half a period on, never with a burst.
        period = 1 / self.fps
        if t < self._next_keep - period / 4:
            return  # decoded (it had to be) but never converted
        self._next_keep = max(self._next_keep + period, t + period / 2)
        width, height = frame.width, frame.height
        if width > self.max_width:
            width, height = self.max_width, max(2, round(height * self.max_width / width / 2) * 2)
        rgb = frame.to_ndarray(format="rgb24", width=width, height=height)
        rgb.flags.writeable = False
        self._frames.append((t, rgb))
        while self._frames and self._frames[0][0] < t - self.keep_seconds:
            self._frames.popleft()

    async def _watch(self, role: str, peer: _Peer) -> None:
        while True:
            await asyncio.sleep(STALL_SECONDS / 3)
            if peer.reported == "connected" and peer.receiving and self._clock() - peer.last_media > STALL_SECONDS:
                self._report(role, peer, "disconnected")

    def _pc_state(self, role: str, peer: _Peer) -> None:
        state = peer.pc.connectionState
        if self._peers.get(role) is not peer:
            return
        if state == "connected":
            peer.last_media = self._clock()
            self._report(role, peer, "connected")
        elif state in ("failed", "closed"):  # closed: the browser closed it (DTLS close_notify)
            self._report(role, peer, state)
            self._spawn(self._drop_ended(role, peer))

    async def _drop_ended(self, role: str, peer: _Peer) -> None:
        async with self._locks[role]:
            if self._peers.get(role) is peer:
                await self._drop(role)

    def _report(self, role: str, peer: _Peer | None, state: str) -> None:
        if peer is not None:
            if peer.reported == state:
                return
            peer.reported = state
        if self.on_state is not None:
            self._spawn(self._call_hook(role, state))

    async def _call_hook(self, role: str, state: str) -> None:
        try:
            await self.on_state(role, state)
        except Exception:
            log.exception("on_state hook failed for case %s (%s %s)", self.case_id, role, state)

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._hooks.add(task)
        task.add_done_callback(self._hooks.discard)


class MediaHub:
    """This process's ``case_id -> CallMedia``. A case's media lives in the process that holds its
    WebSockets: a deployment of several processes must send both WebSockets of a case to the same
    one (see the module docstring). ``ice_servers``: a list, or a callable ``(case_id) -> list``
    (fresh TURN credentials for each offer); ``on_state``: an async ``(case_id, role, state)`` hook
    given to every case's media; other keywords go to each ``CallMedia``."""

    def __init__(self, *, ice_servers: list[dict] | Callable[[str], list[dict]] = (),
                 on_state: Callable[[str, str, str], Awaitable[None]] | None = None, **media_options) -> None:
        self._ice = ice_servers
        self.on_state = on_state
        self._options = media_options
        self._media: dict[str, CallMedia] = {}

    def open(self, case_id: str) -> CallMedia:
        """The case's media, made on first use."""
        media = self._media.get(case_id)
        if media is None:
            ice = (lambda: self._ice(case_id)) if callable(self._ice) else list(self._ice)
            media = CallMedia(case_id, ice_servers=ice, on_state=self._hook(case_id), **self._options)
            self._media[case_id] = media
        return media

    def get(self, case_id: str) -> CallMedia | None:
        return self._media.get(case_id)

    def __contains__(self, case_id: str) -> bool:
        return case_id in self._media

    def __len__(self) -> int:
        return len(self._media)

    async def close(self, case_id: str) -> None:
        """The case is over: both peer connections closed and its frames dropped."""
        media = self._media.pop(case_id, None)
        if media is not None:
            await media.close()

    async def close_all(self) -> None:
        """Shutdown (the application's lifespan)."""
        media, self._media = list(self._media.values()), {}
        await asyncio.gather(*(m.close() for m in media), return_exceptions=True)

    def _hook(self, case_id: str) -> StateHook | None:
        if self.on_state is None:
            return None

        async def on_state(role: str, state: str) -> None:
            if self.on_state is not None:
                await self.on_state(case_id, role, state)

        return on_state
