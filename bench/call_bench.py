"""Benchmark for the proofing call's media (idgw.proofing.media): the gateway's CPU per concurrent call.

The gateway side runs in its own process (this file with ``--gateway``: uvicorn serving the real
signalling router and a MediaHub with the default options, pinned to one CPU core when the machine
has two or more). This process drives N = 1, 2, 4 concurrent calls over the real WebSocket
protocol with aiortc client peers, pinned to the other cores:

- citizen: sends a synthetic 640x480 10 fps video track (a panning texture with a moving square,
  VP8) and audio (silence, Opus), receives the relay of the officer;
- officer: receives the relayed citizen video, sends audio (and, with ``--two-way``, 640x480
  10 fps video as well, as an officer with a camera does).

Each N runs for ``--seconds`` (15) after a 4 s warm-up with every call connected; the gateway
process's CPU seconds (utime + stime of all its threads, /proc/<pid>/stat) per wall second give
"CPU per call: X % of one core". Also reported: the frames the gateway kept per call and second
(its ring buffer, 10 fps target), the relayed video frames each officer got per second, and the
gateway's resident memory.

Writes bench/results/call.json (call-two-way.json with --two-way).
Run: .venv/bin/python bench/call_bench.py [--seconds 15] [--calls 1,2,4] [--two-way]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
WARM_UP = 4.0
FPS = 10


# -- the gateway process -------------------------------------------------------------------------
def gateway(port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    from idgw.proofing.media import MediaHub
    from idgw.proofing.signalling import Participant, router

    hub = MediaHub(ice_servers=[])

    async def authorize(websocket, case_id):
        role = websocket.cookies.get("who")
        return Participant(case_id, role, f"bench-{role}") if role in ("citizen", "officer") else None

    app = FastAPI()
    app.include_router(router(hub=hub, authorize=authorize, origin=f"http://127.0.0.1:{port}", ice=lambda p: []))

    @app.get("/stats")
    async def stats():
        now = time.monotonic()
        kept = {case: len(hub.get(case).frames(now - 5, now)) / 5 for case in list(hub._media)}
        return {"cases": len(hub), "kept_fps": kept}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- the clients -----------------------------------------------------------------------------------
def synthetic_frames(count: int = 30, width: int = 640, height: int = 480) -> list:
    """A 3 s loop at 10 fps (RGB arrays): a smooth texture panning 4 px a frame, a square moving across it."""
    import numpy as np

    rng = np.random.default_rng(7)
    small = rng.integers(0, 256, (height // 8 + 2, (width + 4 * count) // 8 + 2, 3), dtype=np.uint8)
    texture = np.kron(small, np.ones((8, 8, 1), np.uint8)).astype(np.float32)
    texture = (texture + np.roll(texture, 4, 0) + np.roll(texture, 4, 1) + np.roll(texture, 4, (0, 1))) / 4
    frames = []
    for i in range(count):
        img = texture[:height, 4 * i: 4 * i + width].astype(np.uint8).copy()
        x = (i * 20) % (width - 120)
        img[180:300, x: x + 120] = (230, 120, 30)
        frames.append(img)
    return frames


def video_track(images: list):
    """A 10 fps video track cycling through ``images`` (its own frame objects: the encoder runs in a
    thread, and ``pts`` is set on the frame)."""
    import av
    from aiortc.mediastreams import VIDEO_TIME_BASE, MediaStreamTrack

    frames = [av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p") for img in images]

    class Synthetic(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self._start: float | None = None
            self._n = 0

        async def recv(self):
            if self._start is None:
                self._start = time.monotonic()
            else:
                self._n += 1
                wait = self._start + self._n / FPS - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            frame = frames[self._n % len(frames)]
            frame.pts, frame.time_base = self._n * (90000 // FPS), VIDEO_TIME_BASE
            return frame

    return Synthetic()


class Peer:
    """One browser stand-in: its WebSocket and its peer connection with the gateway."""

    def __init__(self, port: int, case_id: str, role: str) -> None:
        self.url = f"ws://127.0.0.1:{port}/proofing/ws/{case_id}"
        self.origin = f"http://127.0.0.1:{port}"
        self.role = role
        self.video_frames = 0
        self.size = None
        self.ws = self.pc = None
        self.readers: list[asyncio.Task] = []

    async def start(self, send_video, frames) -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
        from aiortc.mediastreams import AudioStreamTrack
        from websockets.asyncio.client import connect

        self.ws = await connect(self.url, origin=self.origin, additional_headers={"Cookie": f"who={self.role}"},
                                proxy=None)
        config = await self._next("config")
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=config["ice_servers"]))
        self.pc.on("track", self._track)
        self.pc.addTrack(AudioStreamTrack())
        if send_video:
            self.pc.addTrack(video_track(frames))
        else:
            self.pc.addTransceiver("video", "recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        await self.ws.send(json.dumps({"type": "offer", "sdp": self.pc.localDescription.sdp}))
        answer = await self._next("answer")
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

    async def _next(self, kind: str) -> dict:
        while True:
            message = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if message["type"] == kind:
                return message
            if message["type"] == "error":
                raise RuntimeError(f"{self.role}: {message}")

    def _track(self, track) -> None:
        async def read():
            with contextlib.suppress(Exception):
                while True:
                    frame = await track.recv()
                    if track.kind == "video":
                        self.video_frames += 1
                        self.size = (frame.width, frame.height)
        self.readers.append(asyncio.ensure_future(read()))

    async def stop(self) -> None:
        for task in self.readers:
            task.cancel()
        if self.pc:
            await self.pc.close()
        if self.ws:
            with contextlib.suppress(Exception):
                await self.ws.send(json.dumps({"type": "bye"}))
                await self.ws.close()


# -- measuring -------------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15)


def rss_mb(pid: int) -> float:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 2**20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 (our own loopback server)
        return json.load(answer)


async def run_calls(port: int, pid: int, n: int, seconds: float, two_way: bool, frames) -> dict:
    calls = []
    for i in range(n):
        citizen, officer = Peer(port, f"bench-{n}-{i}", "citizen"), Peer(port, f"bench-{n}-{i}", "officer")
        await citizen.start(True, frames)
        await officer.start(two_way, frames)
        calls.append((citizen, officer))
    deadline = time.monotonic() + 20
    while not all(o.video_frames for _, o in calls):
        if time.monotonic() > deadline:
            raise RuntimeError("the relayed video did not reach every officer")
        await asyncio.sleep(0.2)
    await asyncio.sleep(WARM_UP)
    got0 = [o.video_frames for _, o in calls]
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    wall = t1 - t0
    relayed = [(o.video_frames - g) / wall for (_, o), g in zip(calls, got0, strict=True)]
    stats = await asyncio.to_thread(get_json, f"http://127.0.0.1:{port}/stats")
    memory = rss_mb(pid)
    for citizen, officer in calls:
        await citizen.stop()
        await officer.stop()
    percent = (cpu1 - cpu0) / wall * 100
    return {
        "calls": n,
        "wall_s": round(wall, 2),
        "gateway_cpu_s": round(cpu1 - cpu0, 2),
        "gateway_cpu_percent_of_one_core": round(percent, 1),
        "cpu_per_call_percent_of_one_core": round(percent / n, 1),
        "kept_fps_per_call": sorted(round(v, 1) for v in stats["kept_fps"].values()),
        "relayed_fps_per_officer": [round(v, 1) for v in relayed],
        "relayed_size": list(calls[0][1].size or ()),
        "gateway_rss_mb": round(memory, 1),
    }


def measure(n: int, seconds: float, two_way: bool, frames, cores: list[int]) -> dict:
    port = free_port()
    child = subprocess.Popen([sys.executable, __file__, "--gateway", "--port", str(port)], cwd=REPO)  # noqa: S603
    try:
        if len(cores) >= 2:
            os.sched_setaffinity(child.pid, {cores[0]})
        deadline = time.monotonic() + 30
        while True:
            try:
                get_json(f"http://127.0.0.1:{port}/stats")
                break
            except OSError:
                if time.monotonic() > deadline or child.poll() is not None:
                    raise RuntimeError("the gateway process did not start") from None
                time.sleep(0.2)
        idle0, t0 = cpu_seconds(child.pid), time.monotonic()
        time.sleep(2)
        idle = (cpu_seconds(child.pid) - idle0) / (time.monotonic() - t0) * 100
        result = asyncio.run(run_calls(port, child.pid, n, seconds, two_way, frames))
        result["gateway_idle_cpu_percent"] = round(idle, 1)
        return result
    finally:
        child.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(10)
        if child.poll() is None:
            child.kill()


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--calls", default="1,2,4")
    parser.add_argument("--two-way", action="store_true", help="the officer sends 640x480 10 fps video too")
    args = parser.parse_args()
    if args.gateway:
        return gateway(args.port)

    import aiortc
    import av

    import idgw.proofing.relay  # noqa: F401 (the clients get the gateway's faster aiortc audio level too)

    cores = sorted(os.sched_getaffinity(0))
    if len(cores) >= 2:
        os.sched_setaffinity(0, set(cores[1:]))  # the clients; the gateway gets cores[0]
    frames = synthetic_frames()
    runs = []
    for n in [int(x) for x in args.calls.split(",")]:
        result = measure(n, args.seconds, args.two_way, frames, cores)
        runs.append(result)
        print(f"N={n}: CPU per call: {result['cpu_per_call_percent_of_one_core']} % of one core "
              f"(gateway {result['gateway_cpu_percent_of_one_core']} % in all, idle "
              f"{result['gateway_idle_cpu_percent']} %; kept {result['kept_fps_per_call']} fps per call, "
              f"relayed {result['relayed_fps_per_officer']} fps per officer; RSS {result['gateway_rss_mb']} MB)",
              flush=True)
    report = {
        "machine": {"cpu": cpu_model(), "cores_available": len(cores),
                    "pinning": f"gateway on CPU {cores[0]}, clients on {cores[1:]}" if len(cores) >= 2
                    else "not pinned (one core)", "python": platform.python_version(),
                    "aiortc": aiortc.__version__, "av": av.__version__},
        "setup": {"video": "640x480 10 fps synthetic (panning texture), VP8", "audio": "Opus both ways",
                  "officer_sends_video": args.two_way, "seconds_each": args.seconds, "warm_up_s": WARM_UP,
                  "media_defaults": "fps=10 keep_seconds=12 relay_fps=15 max_width=640"},
        "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("call-two-way.json" if args.two_way else "call.json")
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
