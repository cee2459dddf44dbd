"""The gateway's face checks on the media it received in a call (the only importer of face_check).

Everything here works on frames that ``idgw.proofing.media.CallMedia`` decoded from the citizen's
WebRTC video; nothing is uploaded by a browser. Results are plain dicts for the case record:
measured values, thresholds and model versions, never a verdict (the officer decides).

The comparison's threshold for the officer console is ``face_check.OFFICER_THRESHOLD`` (0.5,
stricter than the matcher's 0.6; docs/face_check.md gives held-out error rates). A distance above
it is shown as "not matched", and approving against it needs a second officer.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict

import face_check
from face_check import Cue, TimedFrame, image_from_rgb, judge_cue, load_image

OFFICER_THRESHOLD = face_check.OFFICER_THRESHOLD
CUES = tuple(c.value for c in Cue)
CUE_WINDOW = 5.0  # seconds the citizen has to perform a cue (shown on their screen as a countdown)
PROBE_SECONDS = 2.0  # the comparison looks at the frames of the last this many seconds
PROBE_CANDIDATES = 6  # ...at most this many of them, the sharpest single-face one is compared
MAX_REFERENCE_BYTES = 5 * 1024 * 1024


class NoFace(Exception):
    """No usable single face in the frames (``reason``: face_check's quality reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def pick_cue(*, allowed: tuple[str, ...], previous: list[str]) -> str:
    """A cue the citizen cannot predict: uniformly random (CSPRNG) among the allowed ones, never
    the one just given when another is allowed."""
    choices = [c for c in allowed if not previous or c != previous[-1]] or list(allowed)
    return secrets.choice(choices)


def jpeg(rgb) -> bytes:
    cv2 = _cv2()
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ValueError("frame could not be encoded")
    return data.tobytes()


def compare_live(frames: list[tuple[float, object]], reference: bytes, *, now: int) -> tuple[dict, bytes]:
    """Compare the reference photo with the best recent frame. Returns (result for the case record,
    the JPEG of the frame that was compared, to keep sealed as evidence). Raises ``NoFace``."""
    ref = face_check.embed(load_image(reference, max_bytes=MAX_REFERENCE_BYTES, max_pixels=40_000_000))
    best, best_face, reason = None, None, "no_frames"
    step = max(1, len(frames) // PROBE_CANDIDATES)
    for _t, rgb in list(reversed(frames))[::step][:PROBE_CANDIDATES]:
        image = image_from_rgb(rgb)
        try:
            probe = face_check.embed(image)
        except face_check.QualityError as exc:
            reason = str(exc.reason)
            continue
        if best_face is None or probe.face.quality.sharpness > best_face.face.quality.sharpness:
            best, best_face = rgb, probe
    if best_face is None:
        raise NoFace(reason)
    match = face_check.compare(reference=ref, probe=best_face, threshold=OFFICER_THRESHOLD)
    data = jpeg(best)
    quality = best_face.face.quality
    return {
        "distance": match.distance, "threshold": match.threshold, "match": match.same_person,
        "quality": {"face_width_px": quality.face_width_px, "sharpness": round(quality.sharpness, 2),
                    "brightness": round(quality.brightness, 1), "yaw_deg": quality.pose.yaw_deg,
                    "problems": [str(p) for p in quality.problems]},
        "reference_quality": [str(p) for p in match.reference_face.quality.problems],
        "model": match.model.name, "frame_sha256": hashlib.sha256(data).hexdigest(), "at": now,
    }, data


def judge(frames: list[tuple[float, object]], *, cue: str, shown_at: float, window: float) -> tuple[dict, bytes | None]:
    """The cue's judgement over the frames captured in its window, and one frame from the middle
    of the window (JPEG) to keep as evidence."""
    timed = [TimedFrame(t=t, image=image_from_rgb(rgb)) for t, rgb in frames]
    result = judge_cue(timed, cue=cue, shown_at=shown_at, window=window)
    inside = [rgb for t, rgb in frames if shown_at <= t <= shown_at + window]
    kept = jpeg(inside[len(inside) // 2]) if inside else None
    return {
        "performed": result.performed, "failed": list(result.failed),
        "signals": [_signal(s) for s in result.signals],
        "frames_used": result.frames_used, "frames_in_window": result.frames_in_window,
        "models": sorted({m.name for m in getattr(result, "models", ())}),
    }, kept


def _signal(signal) -> dict:
    out = asdict(signal)
    for key in ("value", "threshold"):
        if isinstance(out.get(key), float):
            out[key] = round(out[key], 4)
    return out


def _cv2():
    import cv2

    return cv2

