"""Benchmark for face_check (the face part of `make bench`).

Measures on this machine, pinned to one CPU core:
- detection per 640x480 frame: dlib HOG alone, and face_check.detect (HOG + 68 landmarks + quality);
- embedding per frame (ResNet 128-d descriptor);
- compare end-to-end of one 640x480 frame against a cached reference Embedding (target: median
  under 200 ms), and the same starting from the frame's JPEG bytes;
- liveness over an 8-frame sequence, and judge_cue over a 40-frame (4 s at 10 fps) window;
- genuine / impostor distance distributions over every pair of the shared photos, with FMR and FNMR
  at face_check.MATCH_THRESHOLD;
- hostile files (made here): time to refusal by load_image, against the time OpenCV takes to decode
  the same bytes, which is what load_image did with them before it walked the whole container; the
  slowest file the scan limit still lets through; the container walk on its worst input;
- detection on face-less frames: the old two passes (first, then 2x upsampled on the whole
  detection copy) against face_check.detect now (the retry capped at UPSAMPLE_MAX_PIXELS) and the
  full refusal by single_face (which also tries the picture turned 90/270/180 degrees).

Frames are made from the shared photos (../shared/data/faces beside the repository): each photo is
scaled so its face box is 200 px wide, as in a video call, and cropped to 640x480 around the face.
Prints a summary and writes bench/results/face.json. Run: .venv/bin/python bench/face_bench.py

``face_bench.py --heldout DIR`` instead measures FMR and FNMR at several thresholds on photos that
are not the shared ones (docs/face_check.md says which and how to lay them out); it writes
bench/results/face_heldout.json. Those photos are never committed.
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FACES_DIR = REPO / ".." / "shared" / "data" / "faces"
RESULTS = REPO / "bench" / "results" / "face.json"
MULTI = "multi_obama_biden.jpg"
REPEATS = 5
FACE_PX = 200
FRAME_W, FRAME_H = 640, 480


def pin_to_one_core() -> str:
    """Pin this process (and the threads OpenCV/dlib start later) to one core, as the target says."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    core = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})
    return f"pinned to CPU {core}"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def summary(samples_s: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples_s)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return {
        "median_ms": round(statistics.median(ms), 2),
        "p95_ms": round(p95, 2),
        "min_ms": round(ms[0], 2),
        "max_ms": round(ms[-1], 2),
        "samples": len(ms),
    }


def timed(fn, repeats: int = REPEATS) -> list[float]:
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def _jpeg_with_scans(cv2, np, total: int, w: int, h: int, flat: bool) -> bytes:
    """A greyscale progressive JPEG (libjpeg's 6-scan script) with its last scan, an AC refinement,
    repeated up to ``total`` scans; libjpeg-turbo only warns about the repeated progression."""
    import re

    if flat:
        pixels = np.full((h, w), 128, np.uint8)
    else:
        pixels = cv2.GaussianBlur(np.random.default_rng(0).integers(0, 256, (h, w), np.uint8), (0, 0), 3)
    data = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])[1].tobytes()
    markers = [m.start() for m in re.finditer(rb"\xff[^\x00\xd0-\xd7\xff]", data)]
    scans = [(a, b) for a, b in zip(markers, markers[1:], strict=False) if data[a + 1] == 0xDA]
    start, end = scans[-1]
    return data[:end] + data[start:end] * max(0, total - len(scans)) + data[end:]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_bomb(inflated: int) -> bytes:
    import struct
    import zlib

    co = zlib.compressobj(9)
    z = b"".join(co.compress(bytes(1 << 20)) for _ in range(inflated >> 20)) + co.flush()
    ihdr = struct.pack(">IIBBBBB", 100, 100, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", z) + _png_chunk(b"IEND", b"")


def hostile(cv2, np, face_check, models) -> dict:
    """Time to refusal of hostile files, and detection on face-less frames, before and after."""
    from face_check import ImageRejected, detection, image

    def outcome(data: bytes) -> tuple[float, str]:
        start = time.perf_counter()
        try:
            face_check.load_image(data)
            result = "decoded"
        except ImageRejected as exc:
            result = exc.reason.value
        return time.perf_counter() - start, result

    def opencv_decode(data: bytes) -> float:
        buf = np.frombuffer(data, np.uint8)
        start = time.perf_counter()
        cv2.imdecode(buf, cv2.IMREAD_COLOR)
        return time.perf_counter() - start

    small_png = cv2.imencode(".png", np.zeros((30, 40, 3), np.uint8))[1].tobytes()
    small_jpeg = cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8))[1].tobytes()
    files = {
        "jpeg_1000_scans_2048px": _jpeg_with_scans(cv2, np, 1000, 2048, 2048, flat=True),
        "jpeg_10000_scans_1024px": _jpeg_with_scans(cv2, np, 10000, 1024, 1024, flat=True),
        "jpeg_200000_com_segments": small_jpeg[:2] + b"\xff\xfe\x00\x02" * 200_000 + small_jpeg[2:],
        "png_100x100_inflating_1GiB": _png_bomb(1 << 30),
        "png_100000_text_chunks": small_png[:33] + _png_chunk(b"tEXt", b"k\x00v") * 100_000 + small_png[33:],
    }
    out: dict = {"files": {}}
    for name, data in files.items():
        before = opencv_decode(data)  # one run: these take seconds
        after = [outcome(data) for _ in range(REPEATS)]
        out["files"][name] = {
            "bytes": len(data),
            "opencv_decode_before_ms": round(before * 1000, 1),
            "refusal_after_ms": round(statistics.median(t for t, _ in after) * 1000, 3),
            "reason_after": after[0][1],
        }
    # The most a JPEG may now cost through scans: 64 scans of a 25-megapixel (6000x4000) frame,
    # against the usual 6 scans of the same flat frame and of a photo-like one.
    at_limit = _jpeg_with_scans(cv2, np, image.MAX_JPEG_SCANS, 6000, 4000, flat=True)
    flat = _jpeg_with_scans(cv2, np, 0, 6000, 4000, flat=True)
    textured = _jpeg_with_scans(cv2, np, 0, 6000, 4000, flat=False)
    out["jpeg_6000x4000_decode_ms"] = {
        "photo_like_6_scans": summary(timed(lambda: face_check.load_image(textured), 3))["median_ms"],
        "flat_6_scans": summary(timed(lambda: face_check.load_image(flat), 3))["median_ms"],
        f"flat_{image.MAX_JPEG_SCANS}_scans": summary(timed(lambda: face_check.load_image(at_limit), 3))["median_ms"],
    }
    # The walk itself on its worst input: 10 MiB of stuffed 0xFF bytes inside one scan.
    sof = b"\xff\xc0\x00\x0b\x08\x00\x10\x00\x10\x01\x01\x11\x00"
    sos = b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
    worst = b"\xff\xd8" + sof + sos + b"\xff\x00" * (5 << 20) + b"\xff\xd9"
    out["walk_10MiB_of_stuffed_ff_ms"] = summary(timed(lambda: image.declared_size(worst)))["median_ms"]

    rng = np.random.default_rng(0)
    frames = {}
    for w, h in [(640, 480), (800, 600), (1280, 960), (2560, 1920)]:
        noise = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        frames[f"{w}x{h}"] = face_check.image_from_rgb(cv2.GaussianBlur(noise, (0, 0), 2))
    out["faceless_frames_ms"] = {}
    for name, frame in frames.items():
        px = frame.pixels
        scale = min(1.0, detection.DETECT_MAX_SIDE / max(px.shape[:2]))
        copy = px if scale == 1.0 else cv2.resize(px, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)

        def old_passes(c=copy):
            models.detector.run(c, 0, 0.0)
            models.detector.run(c, 1, 0.0)

        def refusal(f=frame):
            try:
                face_check.single_face(f)
            except face_check.QualityError:
                pass

        out["faceless_frames_ms"][name] = {
            "first_pass": summary(timed(lambda c=copy: models.detector.run(c, 0, 0.0), 9))["median_ms"],
            "before_first_plus_full_upsampled_pass": summary(timed(old_passes, 9))["median_ms"],
            "after_detect": summary(timed(lambda f=frame: face_check.detect(f), 9))["median_ms"],
            "after_single_face_refusal_with_rotation_tries": summary(timed(refusal, 9))["median_ms"],
        }
    return out


HELDOUT_THRESHOLDS = (0.4, 0.45, 0.5, 0.55, 0.6)


def heldout(folder: Path) -> dict:
    """FMR / FNMR at several thresholds on photos that are not the shared ones (none is committed).

    ``folder`` holds one sub-folder per person (``<person>/<photo>``: every pair within a folder is
    genuine, every pair across folders an impostor pair) and optionally ``groups/``, photos of
    several people each: every face in them of at least MIN_FACE_PX is taken as a person of its own,
    used only in impostor pairs. The largest face of each labelled photo is used whatever its quality
    report says (how many had a problem is printed), so the figures include hard photos.
    """
    import face_check
    from face_check import _runtime
    from face_check.detection import detect_with_shapes
    from face_check.matching import descriptor, distance

    _runtime.models()
    people: dict[str, list[tuple[str, tuple[float, ...]]]] = {}
    no_face, with_problems, group_faces = [], 0, 0
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        for path in sorted(sub.iterdir()):
            if path.suffix.lower() not in {".jpg", ".jpeg", ".png"}:
                continue
            try:
                img = face_check.load_image(path.read_bytes())
            except face_check.ImageRejected:
                no_face.append(f"{sub.name}/{path.name} (unreadable)")
                continue
            found = detect_with_shapes(img)
            if sub.name == "groups":
                for i, (face, shape) in enumerate(found):
                    if face.box.width >= face_check.MIN_FACE_PX:
                        people[f"groups/{path.name}#{i}"] = [(path.name, descriptor(img.pixels, shape))]
                        group_faces += 1
                continue
            if not found:
                no_face.append(f"{sub.name}/{path.name}")
                continue
            face, shape = max(found, key=lambda fs: fs[0].box.width)
            with_problems += bool(face.quality.problems)
            people.setdefault(sub.name, []).append((path.name, descriptor(img.pixels, shape)))
    labelled = {k: v for k, v in people.items() if not k.startswith("groups/")}
    genuine = [
        (distance(a[1], b[1]), f"{p}/{a[0]}", f"{p}/{b[0]}")
        for p, shots in labelled.items()
        for a, b in itertools.combinations(shots, 2)
    ]
    impostor = [
        (distance(a[1], b[1]), f"{p}/{a[0]}", f"{q}/{b[0]}")
        for (p, shots_p), (q, shots_q) in itertools.combinations(people.items(), 2)
        for a in shots_p
        for b in shots_q
    ]
    rows = []
    for thr in HELDOUT_THRESHOLDS:
        fm = sum(d <= thr for d, _, _ in impostor)
        fnm = sum(d > thr for d, _, _ in genuine)
        rows.append(
            {
                "threshold": thr,
                "false_matches": fm,
                "impostor_pairs": len(impostor),
                "fmr": round(fm / len(impostor), 5) if impostor else None,
                "false_non_matches": fnm,
                "genuine_pairs": len(genuine),
                "fnmr": round(fnm / len(genuine), 5) if genuine else None,
            }
        )
    return {
        "folder": str(folder),
        "labelled_photos": sum(len(v) for v in labelled.values()),
        "people": len(labelled),
        "group_faces": group_faces,
        "no_face": no_face,
        "largest_face_with_quality_problem": with_problems,
        "genuine": sorted(round(d, 4) for d, _, _ in genuine),
        "closest_impostors": [(round(d, 4), a, b) for d, a, b in sorted(impostor)[:10]],
        "farthest_genuine": [(round(d, 4), a, b) for d, a, b in sorted(genuine)[-10:]],
        "rows": rows,
    }


def cue_window(cv2, np, face_check, frame) -> list:
    """40 frames (4 s at 10 fps) of one 640x480 face with jitter, noise and a blink at 1.5 s."""
    from face_check.detection import single_face

    rng = np.random.default_rng(0)
    face = single_face(frame)
    base = np.asarray(frame.pixels)
    out = []
    for i in range(40):
        img = base.copy()
        if i in (15, 16, 17):  # paint the eyes over with the skin beside them
            for start in (36, 42):
                eye = np.asarray(face.landmarks[start : start + 6], dtype=np.int32)
                cv2.fillPoly(img, [eye], tuple(int(v) for v in img[eye[:, 1].max() + 4, eye[:, 0].mean().astype(int)]))
        m = np.float32([[1, 0, rng.uniform(-2, 2)], [0, 1, rng.uniform(-2, 2)]])
        img = cv2.warpAffine(img, m, (FRAME_W, FRAME_H), borderMode=cv2.BORDER_REPLICATE)
        img = np.clip(img + rng.normal(0, 2, img.shape), 0, 255).astype(np.uint8)
        out.append(face_check.TimedFrame(i / 10, face_check.image_from_rgb(img)))
    return out


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--heldout":
        return main_heldout(Path(sys.argv[2]))
    pinning = pin_to_one_core()
    if not FACES_DIR.is_dir():
        print(f"face bench needs the shared photos at {FACES_DIR.resolve()}", file=sys.stderr)
        return 1

    import cv2
    import numpy as np

    import face_check
    from face_check import _runtime
    from face_check.detection import single_face_with_shape
    from face_check.matching import descriptor

    start = time.perf_counter()
    models = _runtime.models()
    load_s = time.perf_counter() - start

    names = sorted(p.name for p in FACES_DIR.iterdir() if p.suffix in {".jpg", ".png"} and p.name != MULTI)
    photos = {n: face_check.load_image((FACES_DIR / n).read_bytes()) for n in names}

    def frame_of(image: face_check.Image) -> np.ndarray:
        face = face_check.single_face(image)
        scale = FACE_PX / face.box.width
        small = cv2.resize(np.asarray(image.pixels), None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        cx = round((face.box.left + face.box.right) / 2 * scale)
        cy = round((face.box.top + face.box.bottom) / 2 * scale)
        pad = cv2.copyMakeBorder(small, FRAME_H, FRAME_H, FRAME_W, FRAME_W, cv2.BORDER_REPLICATE)
        y0, x0 = cy + FRAME_H // 2, cx + FRAME_W // 2
        return np.ascontiguousarray(pad[y0 : y0 + FRAME_H, x0 : x0 + FRAME_W])

    frames = {n: face_check.image_from_rgb(frame_of(img)) for n, img in photos.items()}
    jpegs = {
        n: cv2.imencode(".jpg", cv2.cvtColor(np.asarray(f.pixels), cv2.COLOR_RGB2BGR))[1].tobytes()
        for n, f in frames.items()
    }

    # Warm-up: first calls allocate buffers; they are not what a running service sees.
    warm = next(iter(frames.values()))
    face_check.embed(warm)

    hog, det, emb, cmp_, cmp_jpeg = [], [], [], [], []
    for n, frame in frames.items():
        hog += timed(lambda f=frame: models.detector.run(f.pixels, 0, 0.0))
        det += timed(lambda f=frame: face_check.detect(f))
        _, shape = single_face_with_shape(frame)
        emb += timed(lambda f=frame, s=shape: descriptor(f.pixels, s))
        # Cached reference: another photo of the same person if there is one, else the photo itself.
        person = n.rsplit("_", 1)[0]
        others = [m for m in names if m != n and m.rsplit("_", 1)[0] == person]
        reference = face_check.embed(photos[others[0] if others else n])
        cmp_ += timed(lambda f=frame, r=reference: face_check.compare(reference=r, probe=f))
        cmp_jpeg += timed(
            lambda b=jpegs[n], r=reference: face_check.compare(reference=r, probe=face_check.load_image(b))
        )

    # Liveness on 8 frames of one subject (jitter-free; the cost does not depend on content).
    seq = [frames["obama_1.jpg"]] * 8
    live = timed(lambda: face_check.liveness(seq, challenge="blink"), repeats=3)
    # One cue judged over a 4 s window of 40 frames (detections, chips, 5 descriptors).
    window = cue_window(cv2, np, face_check, frames["obama_1.jpg"])
    cue = timed(lambda: face_check.judge_cue(window, cue="blink", shown_at=0.0, window=4.0), repeats=3)

    # Distances over every pair of the full-resolution photos.
    vectors = {n: face_check.embed(img) for n, img in photos.items()}
    genuine, impostor = [], []
    for a, b in itertools.combinations(names, 2):
        d = face_check.compare(reference=vectors[a], probe=vectors[b]).distance
        (genuine if a.rsplit("_", 1)[0] == b.rsplit("_", 1)[0] else impostor).append((d, a, b))
    thr = face_check.MATCH_THRESHOLD
    false_match = [x for x in impostor if x[0] <= thr]
    false_non_match = [x for x in genuine if x[0] > thr]

    def dist_stats(pairs):
        ds = sorted(d for d, _, _ in pairs)
        return {
            "count": len(ds),
            "min": round(ds[0], 4),
            "median": round(statistics.median(ds), 4),
            "mean": round(statistics.fmean(ds), 4),
            "max": round(ds[-1], 4),
        }

    hostile_result = hostile(cv2, np, face_check, models)

    hardest_genuine = max(genuine)
    hardest_impostor = min(impostor)
    info = models.info
    result = {
        "machine": {
            "cpu": cpu_model(),
            "cores_available": os.cpu_count(),
            "pinning": pinning,
            "python": platform.python_version(),
        },
        "model": {
            "detector": info.detector,
            "landmarks": info.landmarks,
            "embedding": info.embedding,
            "dlib": info.dlib_version,
            "models_package": info.models_package,
            "opencv": info.opencv_version,
            "weights_sha256": dict(info.weights_sha256),
        },
        "model_load_s": round(load_s, 3),
        "frame": {
            "width": FRAME_W,
            "height": FRAME_H,
            "face_px": FACE_PX,
            "frames": len(frames),
            "repeats_each": REPEATS,
        },
        "timing": {
            "hog_detector_only": summary(hog),
            "detect_with_landmarks_and_quality": summary(det),
            "embedding": summary(emb),
            "compare_frame_vs_cached_reference": summary(cmp_),
            "compare_jpeg_bytes_vs_cached_reference": summary(cmp_jpeg),
            "liveness_8_frames": summary(live),
            "judge_cue_40_frames": summary(cue),
        },
        "target": {"compare_median_ms_below": 200, "met": statistics.median(cmp_) * 1000 < 200},
        "accuracy": {
            "photos": len(names),
            "threshold": thr,
            "genuine": dist_stats(genuine),
            "impostor": dist_stats(impostor),
            "margin": round(hardest_impostor[0] - hardest_genuine[0], 4),
            "hardest_genuine_pair": [hardest_genuine[1], hardest_genuine[2], round(hardest_genuine[0], 4)],
            "hardest_impostor_pair": [hardest_impostor[1], hardest_impostor[2], round(hardest_impostor[0], 4)],
            "fmr": f"{len(false_match)}/{len(impostor)}",
            "fnmr": f"{len(false_non_match)}/{len(genuine)}",
            "fmr_rate": round(len(false_match) / len(impostor), 4),
            "fnmr_rate": round(len(false_non_match) / len(genuine), 4),
        },
        "hostile": hostile_result,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(RESULTS)

    t = result["timing"]
    acc = result["accuracy"]
    print(f"face_check bench: {result['machine']['cpu']}, {pinning}; {info.name}")
    print(f"model load {load_s:.2f}s; {len(frames)} frames of {FRAME_W}x{FRAME_H}, face {FACE_PX}px, x{REPEATS}")
    for key, label in [
        ("hog_detector_only", "HOG detection"),
        ("detect_with_landmarks_and_quality", "detect (HOG+landmarks+quality)"),
        ("embedding", "embedding (ResNet)"),
        ("compare_frame_vs_cached_reference", "compare frame vs cached ref"),
        ("compare_jpeg_bytes_vs_cached_reference", "compare JPEG bytes vs cached ref"),
        ("liveness_8_frames", "liveness, 8 frames"),
        ("judge_cue_40_frames", "judge_cue, 40-frame window"),
    ]:
        print(f"  {label:34s} median {t[key]['median_ms']:8.1f} ms   p95 {t[key]['p95_ms']:8.1f} ms")
    print(f"  target compare median < 200 ms: {'met' if result['target']['met'] else 'NOT met'}")
    g, i = acc["genuine"], acc["impostor"]
    print(f"genuine  ({g['count']:3d} pairs) distance {g['min']:.3f}-{g['max']:.3f} (median {g['median']:.3f})")
    print(f"impostor ({i['count']:3d} pairs) distance {i['min']:.3f}-{i['max']:.3f} (median {i['median']:.3f})")
    print(f"threshold {thr}: FMR {acc['fmr']}, FNMR {acc['fnmr']}, margin {acc['margin']:.3f}")
    print("hostile files: OpenCV decode (what load_image did before) -> load_image now")
    for name, row in hostile_result["files"].items():
        print(
            f"  {name:28s} {row['bytes']:9d} B  {row['opencv_decode_before_ms']:9.1f} ms -> "
            f"{row['refusal_after_ms']:7.3f} ms {row['reason_after']}"
        )
    limit = hostile_result["jpeg_6000x4000_decode_ms"]
    print(f"  6000x4000 progressive JPEG decode: {', '.join(f'{k} {v:.0f} ms' for k, v in limit.items())}")
    print(f"  container walk over 10 MiB of stuffed 0xFF: {hostile_result['walk_10MiB_of_stuffed_ff_ms']:.1f} ms")
    print("face-less frames: first pass | before: first + full upsampled | after: detect | single_face refusal")
    for name, row in hostile_result["faceless_frames_ms"].items():
        print(
            f"  {name:10s} {row['first_pass']:7.1f} | {row['before_first_plus_full_upsampled_pass']:7.1f} | "
            f"{row['after_detect']:7.1f} | {row['after_single_face_refusal_with_rotation_tries']:7.1f} ms"
        )
    print(f"wrote {RESULTS.relative_to(REPO)}")
    return 0


def main_heldout(folder: Path) -> int:
    """``face_bench.py --heldout DIR``: FMR / FNMR on held-out photos (see heldout); writes
    bench/results/face_heldout.json. Not pinned: it measures accuracy, not speed."""
    if not folder.is_dir():
        print(f"no folder {folder}", file=sys.stderr)
        return 1
    result = heldout(folder)
    out = RESULTS.with_name("face_heldout.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"held-out: {result['labelled_photos']} labelled photos of {result['people']} people, "
        f"{result['group_faces']} group-photo faces; no face: {len(result['no_face'])}; "
        f"largest face with a quality problem: {result['largest_face_with_quality_problem']}"
    )
    print("threshold  false matches          FMR   false non-matches     FNMR")
    for row in result["rows"]:
        print(
            f"  {row['threshold']:.2f}     {row['false_matches']:4d}/{row['impostor_pairs']:<6d} {row['fmr']:8.4%}"
            f"     {row['false_non_matches']:4d}/{row['genuine_pairs']:<5d} {row['fnmr']:8.2%}"
        )
    print("closest impostor pairs:", result["closest_impostors"][:5])
    print(f"wrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
