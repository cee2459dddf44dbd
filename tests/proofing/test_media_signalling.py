"""The proofing call's media and signalling (idgw.proofing.media, .signalling, .ice, static/call.js)
over real sockets: a small FastAPI app served by uvicorn (the gateway's uvicorn options and
security headers), Debian's Chromium with fake cameras showing known colours, and hostile clients
speaking raw WebSocket."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import time
from types import SimpleNamespace

import numpy as np
import pytest

from idgw.proofing.ice import ice_servers
from idgw.proofing.media import CallMedia, MediaError, check_offer
from tests.proofing.call_app import SAMPLE_REMOTE, TOLERANCE, Server, remote_shows, wait
from tests.proofing.fakecam import camera_browser, halves, playwright_sync, write_y4m  # noqa: F401 (fixtures)

CITIZEN = ((230, 120, 30), (40, 90, 220))  # the citizen's camera: orange | blue
OFFICER = ((30, 200, 60), (200, 40, 160))  # the officer's camera: green | magenta


# -- ICE servers ---------------------------------------------------------------------------------
def _settings(**kw):
    base = {"stun_urls": "", "turn_urls": "", "turn_secret": "", "turn_ttl": 600}
    return SimpleNamespace(**{**base, **kw})


def test_ice_servers_turn_rest_credentials():
    settings = _settings(stun_urls="stun:stun.example:3478, ", turn_secret="s3cret", turn_ttl=600,
                         turn_urls="turn:turn.example:3478?transport=udp,turns:turn.example:5349?transport=tcp")
    servers = ice_servers(settings, now=1_700_000_000, label="case-1-citizen")
    assert servers == [
        {"urls": ["stun:stun.example:3478"]},
        {"urls": ["turn:turn.example:3478?transport=udp", "turns:turn.example:5349?transport=tcp"],
         "username": "1700000600:case-1-citizen",  # expiry = now + ttl
         # printf '1700000600:case-1-citizen' | openssl dgst -sha1 -hmac s3cret -binary | base64
         "credential": "QzXYd9YYWy8YMPviZCjclFE++fk="},
    ]
    assert ice_servers(_settings(turn_urls="turn:t", turn_secret="s", turn_ttl=60), now=10,
                       label="x")[0]["username"] == "70:x"


def test_ice_servers_empty_and_refusals():
    assert ice_servers(_settings(), now=1, label="x") == []
    with pytest.raises(ValueError):
        ice_servers(_settings(turn_urls="turn:t"), now=1, label="x")
    with pytest.raises(ValueError):
        ice_servers(_settings(turn_urls="turn:t", turn_secret="s"), now=1, label="a:b")


# -- offers refused before any peer connection -------------------------------------------------------
def _offer(*kinds: str, candidates: int = 1, direction: str = "sendrecv") -> str:
    lines = ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0"]
    for kind in kinds:
        lines += [f"m={kind} 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", f"a=mid:{kind}", f"a={direction}",
                  "a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx", "a=setup:actpass",
                  "a=fingerprint:sha-256 " + ":".join(["AB"] * 32), "a=rtpmap:96 VP8/90000"]
        lines += [f"a=candidate:{i} 1 udp 2122260223 192.0.2.{i % 250 + 1} {50000 + i} typ host"
                  for i in range(candidates)]
    return "\r\n".join(lines) + "\r\n"


@pytest.mark.parametrize("sdp, code", [
    (None, "bad_sdp"), ("", "bad_sdp"), ("hello", "bad_sdp"), ("v=0\r\nm=video oops\r\n", "bad_sdp"),
    ("v=0\r\n" + "a=x\r\n" * 20000, "bad_sdp"),  # larger than 32 KiB
    (_offer("video", "video"), "bad_sdp"), (_offer("video", candidates=40), "bad_sdp"),
    (_offer("audio"), "no_video"), (_offer("video", direction="recvonly"), "no_video"),
])
def test_check_offer_refusals(sdp, code):
    with pytest.raises(MediaError) as refused:
        check_offer("citizen", sdp)
    assert refused.value.code == code
    check_offer("citizen", _offer("audio", "video"))
    check_offer("officer", _offer("audio", "video", direction="recvonly"))


def test_fast_audio_level_is_aiortcs():
    import av
    from aiortc import rtp

    from idgw.proofing.relay import fast_audio_level

    assert rtp.compute_audio_level_dbov is fast_audio_level  # installed on import
    rng = np.random.default_rng(1)
    for layout, channels in (("stereo", 2), ("mono", 1)):
        for amplitude in (0, 1, 7, 300, 32767):
            samples = rng.integers(-amplitude, amplitude + 1, (1, 960 * channels)).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout=layout)
            total = float(np.dot(samples[0].astype(float), samples[0].astype(float)))
            rms = (total / (960 * 32767 * 32767)) ** 0.5  # RFC 6465 Appendix A, as aiortc computes it
            expected = round(min(max(20 * np.log10(rms), -127), 0)) if rms > 0 else -127
            assert fast_audio_level(frame) == expected


# -- CallMedia with aiortc peers (no browser) -----------------------------------------------------------
def test_call_media_keeps_a_subsample_scaled_down(monkeypatch):
    """1280x720 at 30 fps in; 5 fps kept for 1 s, scaled to 640 wide; the officer gets the relay; a
    stalled camera is reported as disconnected, then connected again."""
    import av
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import VideoStreamTrack

    from idgw.proofing import media as media_module

    monkeypatch.setattr(media_module, "STALL_SECONDS", 0.6)

    class Solid(VideoStreamTrack):
        running = None

        async def recv(self):
            await self.running.wait()
            pts, time_base = await self.next_timestamp()
            frame = av.VideoFrame.from_ndarray(halves(*CITIZEN, width=1280, height=720), format="rgb24")
            frame.pts, frame.time_base = pts, time_base
            return frame

    async def peer(media, role, track=None):
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        if track:
            pc.addTrack(track)
        else:
            pc.addTransceiver("video", "recvonly")
        got = []
        pc.on("track", lambda t: got.append(t))
        await pc.setLocalDescription(await pc.createOffer())
        answer = await media.answer(role, pc.localDescription.sdp)
        assert "a=candidate" in answer  # gathered before answering: no trickle
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        return pc, got

    async def run():
        states = []

        async def on_state(role, state):
            states.append((role, state))

        Solid.running = asyncio.Event()
        Solid.running.set()
        media = CallMedia("unit", ice_servers=[], fps=5, keep_seconds=1, on_state=on_state)
        citizen, _ = await peer(media, "citizen", Solid())
        officer, tracks = await peer(media, "officer")
        await asyncio.sleep(3)
        kept = media.frames(0, float("inf"))
        relayed = await asyncio.wait_for(tracks[0].recv(), 5)
        Solid.running.clear()  # the camera stalls...
        await asyncio.sleep(1.5)
        Solid.running.set()  # ...and comes back
        await asyncio.sleep(1)
        await media.close("officer")
        connected = media.connected("citizen"), media.connected("officer")
        await media.close()
        for pc in (citizen, officer):
            await pc.close()
        return states, kept, relayed.to_ndarray(format="rgb24"), connected, media.latest()

    states, kept, relayed, connected, after = asyncio.run(run())
    assert 4 <= len(kept) <= 7, len(kept)  # ~5 a second over the last second
    assert all(b - a >= 0.05 for (a, _), (b, _) in zip(kept, kept[1:], strict=False))
    t, rgb = kept[-1]
    assert rgb.shape == (360, 640, 3) and not rgb.flags.writeable
    _close(rgb[:, :300], CITIZEN[0]), _close(rgb[:, 340:], CITIZEN[1])
    _close(relayed[:, :600], CITIZEN[0])
    assert ("citizen", "connected") in states and ("officer", "connected") in states
    citizen_states = [s for r, s in states if r == "citizen"]
    assert citizen_states[:3] == ["connected", "disconnected", "connected"], states
    assert ("officer", "closed") in states and connected == (True, False)
    assert after is None  # close() drops the kept frames


def _close(pixels, colour, tolerance=TOLERANCE):
    mean = np.asarray(pixels, dtype=float).reshape(-1, 3).mean(axis=0)
    assert np.abs(mean - np.asarray(colour)).max() <= tolerance, (mean.round(), colour)
    return True


@pytest.fixture(scope="module")
def world(tmp_path_factory, camera_browser):  # noqa: F811 (fixture)
    tmp = tmp_path_factory.mktemp("cams")
    cams = {role: write_y4m([halves(*colours)] * 4, tmp / f"{role}.y4m", fps=15)
            for role, colours in (("citizen", CITIZEN), ("officer", OFFICER))}
    server = Server().start()
    browsers = {role: camera_browser(path) for role, path in cams.items()}

    def open_page(who, case, role):
        context = browsers[role].new_context()
        context.add_cookies([{"name": "who", "value": who, "url": server.origin}])
        page = context.new_page()
        page.goto(f"{server.origin}/proofing/test/{case}/{role}")
        return page

    citizen = open_page("alice", "c1", "citizen")
    yield SimpleNamespace(server=server, open_page=open_page, citizen=citizen)
    server.stop()


# -- the browsers -----------------------------------------------------------------------------------
def test_gateway_receives_the_citizens_camera(world):
    server = world.server
    t, rgb = wait(server.latest, 20, "no citizen frame reached the gateway")
    assert rgb.shape == (480, 640, 3)
    _close(rgb[:, :300], CITIZEN[0]) and _close(rgb[:, 340:], CITIZEN[1])
    time.sleep(1.5)
    kept = server.run(lambda: server.hub.get("c1").frames(t, t + 60))
    assert 10 <= len(kept) <= 20, len(kept)  # about 10 a second
    assert ("join", "citizen", "alice") in server.hooks
    assert ("c1", "citizen", "connected") in server.states
    # The page's own view: status, its role's camera in the preview.
    assert world.citizen.get_attribute("#call", "data-state") == "waiting_officer"
    assert world.citizen.text_content("#call-status") == "Connected. Waiting for the officer…"
    assert world.citizen.evaluate("document.getElementById('local').videoWidth") == 640


def test_officer_sees_the_citizen_and_reconnects(world):
    server, citizen = world.server, world.citizen
    citizen.evaluate("""() => { window.seen = [];
        document.getElementById('call').addEventListener('call-event', e => window.seen.push(e.detail)); }""")
    officer = world.open_page("olga", "c1", "officer")
    assert remote_shows(officer, CITIZEN)["width"] == 640
    remote_shows(citizen, OFFICER)
    wait(lambda: officer.get_attribute("#call", "data-state") == "connected", 10)
    assert officer.text_content("#call-status") == "Connected"
    events = citizen.evaluate("window.seen")
    assert {"type": "event", "name": "presence", "role": "officer", "present": True} in events

    # The server drops the officer's socket (as a restart would): call.js reconnects, offers again.
    answers_before = server.hooks.count(("join", "officer", "olga"))
    server.run(lambda: server.rooms.close("c1", "officer", code=1012))
    wait(lambda: server.hooks.count(("join", "officer", "olga")) > answers_before, 10, "no reconnect")
    remote_shows(officer, CITIZEN)
    assert server.rooms.connected("c1", "citizen")

    # A pushed event reaches the page script as a DOM event.
    assert server.run(lambda: server.rooms.send("c1", "citizen", {"type": "event", "name": "cue", "cue": "turn"}))
    wait(lambda: any(e.get("name") == "cue" for e in citizen.evaluate("window.seen")), 5)

    # The officer leaves (page closed: bye); the citizen sees dark frames; another officer page joins.
    officer.context.close()
    wait(lambda: not server.rooms.connected("c1", "officer"), 10, "the officer's socket stayed")
    assert ("leave", "officer", "olga") in server.hooks
    wait(lambda: (s := citizen.evaluate(SAMPLE_REMOTE)) and max(s["left"]) < 40, 10, "no dark frame")
    again = world.open_page("olga", "c1", "officer")
    remote_shows(again, CITIZEN)
    remote_shows(citizen, OFFICER)
    world.officer = again


# -- hostile clients -----------------------------------------------------------------------------------
def _in_thread(coro):
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(90)


async def _hostile(server: Server) -> dict:
    from aiortc import RTCConfiguration, RTCPeerConnection
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    url = f"ws://127.0.0.1:{server.port}/proofing/ws/"
    out: dict = {}

    def ws(case, who=None, origin=server.origin):
        headers = {"Cookie": f"who={who}"} if who else {}
        return connect(url + case, origin=origin, additional_headers=headers, proxy=None, compression=None,
                       max_size=None, open_timeout=5)

    async def recv(sock, *, events=False):
        while True:
            message = json.loads(await asyncio.wait_for(sock.recv(), 10))
            if events or message["type"] != "event":
                return message

    async def closed(sock):
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.wait_for(sock.recv(), 10)
        return sock.close_code

    async def refused(**kw):
        try:
            async with ws(**kw):
                return "accepted"
        except InvalidStatus as exc:
            return exc.response.status_code

    out["foreign_origin"] = await refused(case="c1", who="alice", origin="http://evil.example")
    out["no_origin"] = await refused(case="c1", who="alice", origin=None)

    for name, case, who in (("nobody", "c1", "nobody"), ("other_case", "c2", "alice"), ("bad_case", "c%20", "alice")):
        async with ws(case, who) as sock:
            out[name] = ((await recv(sock))["code"], await closed(sock))

    async with ws("c1", "alice") as sock:  # the citizen's page holds c1/citizen
        message = await recv(sock)
        out["second"] = (message["code"], message["message"], await closed(sock))

    async with ws("c2", "mallory") as sock:
        out["config"] = await recv(sock)
        out["presence"] = await recv(sock, events=True)
        await sock.send(json.dumps({"type": "ping"}))
        out["pong"] = await recv(sock)
        await sock.send(json.dumps({"type": "offer", "sdp": "v=0\r\nm=video garbage\r\n"}))
        out["garbage_sdp"] = (await recv(sock))["code"]
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver("audio")
        await pc.setLocalDescription(await pc.createOffer())
        await sock.send(json.dumps({"type": "offer", "sdp": pc.localDescription.sdp}))
        out["audio_only"] = (await recv(sock))["code"]
        await pc.close()
        await sock.send(json.dumps({"type": "ping"}))
        out["still_open"] = (await recv(sock))["type"]
        await sock.send("{not json")
        out["third_strike"] = ((await recv(sock))["code"], await closed(sock))

    async with ws("c2", "mallory") as sock:
        await recv(sock)
        for bad in (json.dumps({"type": "dance"}), b"\x00binary", "[]"):
            await sock.send(bad)
            out.setdefault("malformed", []).append((await recv(sock))["code"])
        out["malformed_closed"] = await closed(sock)

    async with ws("c2", "mallory") as sock:  # a real offer from a peer without a browser
        await recv(sock)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver("video", "recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        await sock.send(json.dumps({"type": "offer", "sdp": pc.localDescription.sdp}))
        answer = await recv(sock)
        out["answer"] = answer["type"], "m=video" in answer["sdp"], "a=candidate" in answer["sdp"]
        await pc.close()
        await sock.send(json.dumps({"type": "bye"}))
        out["bye"] = await closed(sock)

    async with ws("c2", "mallory") as sock:
        await recv(sock)
        await sock.send(json.dumps({"type": "ping", "pad": "x" * (70 * 1024)}))
        out["too_large"] = ((await recv(sock))["code"], await closed(sock))

    async with ws("c2", "mallory") as sock:
        await recv(sock)
        await sock.send("x" * (300 * 1024))  # over uvicorn's ws_max_size: cut by the protocol
        out["way_too_large"] = await closed(sock)

    async with ws("c2", "mallory") as sock:
        await recv(sock)
        for _ in range(21):
            await sock.send(json.dumps({"type": "ping"}))
        replies = [await recv(sock) for _ in range(21)]
        out["rate"] = ([r["type"] for r in replies].count("pong"), replies[-1].get("code"), await closed(sock))
    return out


def test_hostile_sockets_get_their_errors_and_the_call_goes_on(world):
    server = world.server
    if not hasattr(world, "officer"):
        world.officer = world.open_page("olga", "c1", "officer")
    remote_shows(world.officer, CITIZEN)
    t0, _ = wait(server.latest, 20, "no citizen frame")
    out = _in_thread(_hostile(server))
    assert out["foreign_origin"] == 403 and out["no_origin"] == 403  # closed with 1008 before the handshake
    assert out["nobody"] == ("unauthorized", 1008)
    assert out["other_case"] == ("unauthorized", 1008)
    assert out["bad_case"] == ("unauthorized", 1008)
    code, message, close = out["second"]
    assert (code, close) == ("already_connected", 4409) and message["th"] and message["en"]
    assert out["config"] == {"type": "config", "role": "officer", "ice_servers": []}
    assert out["presence"] == {"type": "event", "name": "presence", "role": "citizen", "present": False}
    assert out["pong"] == {"type": "pong"}
    assert out["garbage_sdp"] == "bad_sdp" and out["audio_only"] == "no_video" and out["still_open"] == "pong"
    assert out["third_strike"] == ("malformed", 1008)
    assert out["malformed"] == ["malformed"] * 3 and out["malformed_closed"] == 1008
    assert out["answer"] == ("answer", True, True) and out["bye"] == 1000
    assert out["too_large"] == ("too_large", 1009)
    assert out["way_too_large"] == 1009
    assert out["rate"] == (20, "rate_limited", 4429)

    # The legitimate sockets were never disturbed: the citizen's frames still come, the officer sees her.
    assert server.rooms.connected("c1", "citizen") and server.rooms.connected("c1", "officer")
    t1, rgb = wait(lambda: (f := server.latest()) and f[0] > t0 + 1 and f, 5, "the citizen's frames stopped")
    _close(rgb[:, :300], CITIZEN[0])
    remote_shows(world.officer, CITIZEN, timeout=5)
    assert server.run(lambda: server.hub.get("c1").connected("citizen"))
    assert not server.rooms.connected("c2", "officer")
