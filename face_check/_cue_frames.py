"""Per-frame analysis behind :func:`face_check.cues.judge_cue`: one face tracked through the frames.

For each frame: a HOG detection on a copy scaled for the last face's size, the face continuing the
track (the only one, or the one overlapping the last), its 68 landmarks, yaw and eye openness. Then
each face's grey chip, similarity-aligned on the rigid landmarks and normalised for brightness and
contrast, and its change against the first chip after the best homography (ECC-refined), which marks
the frames where the face is lost or, for a hand cue, largely covered (``OCCLUDED_BLOCK_DIFF``,
``OCCLUDED_BLOCK_SHARE``). Also the landmark-shape geometry (similarity fit, deformation in eye
distances) that the checks in :mod:`face_check._cue_checks` measure with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from face_check import _runtime
from face_check.detection import _pose
from face_check.results import Cue, Image, TimedFrame
from face_check.signals import _eye_openness

# A frame counts as occluded (hand cue only) when the face is lost, or when this share of the chip's
# blocks changed by more than OCCLUDED_BLOCK_DIFF grey levels against the first frame.
OCCLUDED_BLOCK_DIFF = 25.0
OCCLUDED_BLOCK_SHARE = 0.2

_DETECT_MAX_SIDE = 640  # first detection pass (and the retry) on a copy at most this long
_DETECT_FACE_PX = 110  # later passes on a copy scaled so the last face is about this wide (HOG window: 80)
_TRACK_IOU = 0.3  # with several faces, the one overlapping the last face this much continues the track
_CHIP = 150
_BLOCK = 13
_EDGE = 10
# Points that move with the skull, not with expressions: the jaw outline at ear level, brows, nose and
# eye corners. Head-shape continuity is judged on these (mouth and eyelids move fast on their own).
_RIGID = (0, 1, 2, 3, 13, 14, 15, 16, *range(17, 36), 36, 39, 42, 45)


@dataclass
class _Frame:
    t: float
    image: Image
    faces: int = 0  # faces found
    pts: Any = None  # 68 x 2 landmarks of the tracked face, or None
    shape: Any = None  # dlib shape, for a descriptor
    box: tuple[int, int, int, int] | None = None
    yaw: float = 0.0
    openness: float = 0.0
    gray: Any = None  # the grey frame, until its chip is cut
    chip: Any = None  # normalised grey chip (zero mean, unit contrast)
    chip_pts: Any = None  # landmarks in chip coordinates
    chip_std: float = 0.0
    change: float = 0.0  # largest block change against the reference chip (grey levels)
    changed_share: float = 0.0  # share of blocks changed by more than OCCLUDED_BLOCK_DIFF
    occluded: bool = False

    @property
    def visible(self) -> bool:
        return self.pts is not None and not self.occluded


def _scaled(pixels: Any, scale: float) -> Any:
    cv2, _ = _runtime.cv2_numpy()
    if scale >= 1.0:
        return pixels
    h, w = pixels.shape[:2]
    return cv2.resize(pixels, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _find(pixels: Any, last_width: int | None) -> list[tuple[int, int, int, int]]:
    """Face boxes (left, top, right, bottom; full resolution): one HOG pass on a copy scaled for the
    last face's size, then, if nothing is found, one on a copy at most _DETECT_MAX_SIDE long."""
    models = _runtime.models()
    h, w = pixels.shape[:2]
    base = min(1.0, _DETECT_MAX_SIDE / max(h, w))
    scales = [base]
    if last_width:
        quick = min(base, _DETECT_FACE_PX / last_width)
        if quick < 0.9 * base:
            scales.insert(0, quick)
    for scale in scales:
        with models.detector_lock:
            rects, _, _ = models.detector.run(_scaled(pixels, scale), 0, 0.0)
        if len(rects):
            return [
                (
                    round(r.left() / scale),
                    round(r.top() / scale),
                    round((r.right() + 1) / scale),
                    round((r.bottom() + 1) / scale),
                )
                for r in rects
            ]
    return []


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _analyse(frame: _Frame, last_box: tuple[int, int, int, int] | None) -> None:
    """Detection, landmarks, pose and eye openness of the tracked face (the chip comes later)."""
    cv2, np = _runtime.cv2_numpy()
    dlib = _runtime.dlib_module()
    models = _runtime.models()
    pixels = frame.image.pixels
    boxes = _find(pixels, None if last_box is None else last_box[2] - last_box[0])
    frame.faces = len(boxes)
    if not boxes:
        return
    if len(boxes) == 1:
        box = boxes[0]
    else:
        if last_box is None:
            return
        box = max(boxes, key=lambda b: _iou(b, last_box))
        if _iou(box, last_box) < _TRACK_IOU:
            return
    rect = dlib.rectangle(box[0], box[1], box[2] - 1, box[3] - 1)
    with models.detector_lock:
        shape = models.predictor(pixels, rect)
    pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
    frame.gray = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    frame.pts, frame.shape, frame.box = pts, shape, box
    frame.yaw = _pose(pts).yaw_deg
    frame.openness = _eye_openness(frame.gray, pts)


def _similarity(src: Any, dst: Any) -> Any:
    """2x3 least-squares similarity transform taking points ``src`` onto ``dst`` (Umeyama)."""
    _, np = _runtime.cv2_numpy()
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_d
    var = float((a**2).sum())
    if var < 1e-9:
        return np.hstack([np.eye(2), (mu_d - mu_s)[:, None]])
    u, sig, vt = np.linalg.svd(b.T @ a)
    fix = np.diag([1.0, float(np.sign(np.linalg.det(u @ vt)) or 1.0)])
    rot = u @ fix @ vt
    scale = float((sig * np.diag(fix)).sum()) / var
    m = scale * rot
    return np.hstack([m, (mu_d - m @ mu_s)[:, None]])


def _apply(m: Any, pts: Any) -> Any:
    return pts @ m[:, :2].T + m[:, 2]


def _template(pts: Any) -> Any:
    """The first face's landmarks placed in the chip: eye centres level, 0.3 chip widths apart, at
    0.38 of its height (the chip then spans brow to chin with a margin)."""
    _, np = _runtime.cv2_numpy()
    left, right = pts[36:42].mean(axis=0), pts[42:48].mean(axis=0)
    target = np.array([[0.35 * _CHIP, 0.38 * _CHIP], [0.65 * _CHIP, 0.38 * _CHIP]])
    return _apply(_similarity(np.array([left, right]), target), pts)


def _make_chip(frame: _Frame, template: Any) -> None:
    """Grey chip of the face, similarity-aligned to ``template`` on the rigid points, lightly blurred
    against noise and normalised; ``chip_pts`` are the landmarks in chip coordinates."""
    cv2, np = _runtime.cv2_numpy()
    idx = list(_RIGID)
    m = _similarity(frame.pts[idx], template[idx])
    chip = cv2.warpAffine(frame.gray, m, (_CHIP, _CHIP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    chip = cv2.GaussianBlur(chip.astype(np.float32), (0, 0), 1.5)
    frame.chip, frame.chip_std = _normalise(chip)
    frame.chip_pts = _apply(m, frame.pts)
    frame.gray = None


def _normalise(chip: Any) -> tuple[Any, float]:
    """Zero mean and unit contrast over the chip's inside, so global brightness and contrast drop out."""
    inner = chip[_EDGE:-_EDGE, _EDGE:-_EDGE]
    mean, std = float(inner.mean()), float(inner.std())
    return (chip - mean) / max(std, 1e-3), std


def _block_change(reference: _Frame, other: _Frame) -> Any:
    """Per-block mean absolute difference (grey levels at the reference's contrast) between the two
    chips after the best homography: started from the landmarks' homography, refined by ECC on the
    pixels, both chips renormalised. A flat picture seen from another angle is a homography of
    itself, so it leaves only noise here; a head's own changes (eyes, parallax, expressions) do not.
    (A homography fitted to the landmarks alone does not tell a tilted photo from a turn: dlib places
    the landmarks of a foreshortened face as if the head had turned.)"""
    cv2, np = _runtime.cv2_numpy()
    start, _ = cv2.findHomography(reference.chip_pts.astype(np.float32), other.chip_pts.astype(np.float32), 0)
    warp = (np.eye(3) if start is None else start).astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 1e-4)
    try:
        _, warp = cv2.findTransformECC(reference.chip, other.chip, warp, cv2.MOTION_HOMOGRAPHY, criteria, None, 1)
    except cv2.error:
        pass  # no convergence (very different chips): keep the landmarks' homography, which reads larger
    aligned = cv2.warpPerspective(
        other.chip, warp, (_CHIP, _CHIP), flags=cv2.INTER_LINEAR + cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    a, _ = _normalise(aligned)
    diff = np.abs(reference.chip - a)[_EDGE:-_EDGE, _EDGE:-_EDGE] * reference.chip_std
    side = (_CHIP - 2 * _EDGE) // _BLOCK
    return cv2.resize(diff, (side, side), interpolation=cv2.INTER_AREA)


def _iod(pts: Any) -> float:
    _, np = _runtime.cv2_numpy()
    return float(np.linalg.norm(pts[36:42].mean(axis=0) - pts[42:48].mean(axis=0)))


def _similarity_residual(src: Any, dst: Any) -> float:
    """RMS distance left after the best similarity transform of ``src`` onto ``dst``."""
    _, np = _runtime.cv2_numpy()
    fitted = _apply(_similarity(src, dst), src)
    return float(np.sqrt(((fitted - dst) ** 2).sum(axis=1).mean()))


def _deformation(a: _Frame, b: _Frame, points: Sequence[int]) -> float:
    """Shape change from ``a`` to ``b`` in eye distances: what a similarity transform cannot explain."""
    idx = list(points)
    return _similarity_residual(a.pts[idx], b.pts[idx]) / max(_iod(b.pts), 1.0)


def _track(frames: Sequence[TimedFrame], cue: Cue) -> list[_Frame]:
    """Analyse ``frames`` in order, tracking one face from frame to frame, then measure each face's
    change against the first and mark the occluded frames."""
    track = [_Frame(f.t, f.image) for f in frames]
    last_box = None
    for fr in track:
        _analyse(fr, last_box)
        if fr.box is not None:
            last_box = fr.box
    faced = [fr for fr in track if fr.pts is not None]

    # Change of each face against the first: ECC-refined, brightness-normalised block differences.
    if faced:
        template = _template(faced[0].pts)
        for fr in faced:
            _make_chip(fr, template)
        ref = faced[0]
        for fr in faced[1:]:
            blocks = _block_change(ref, fr)
            fr.change = float(blocks.max())
            fr.changed_share = float((blocks > OCCLUDED_BLOCK_DIFF).mean())
    for fr in track:
        fr.occluded = fr.pts is None or (cue is Cue.HAND and fr.changed_share >= OCCLUDED_BLOCK_SHARE)
    return track
