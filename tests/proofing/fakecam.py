"""A fake camera for browser tests: frames written as a YUV4MPEG2 file, and Debian's Chromium
launched (through Playwright) with that file as its camera (and its built-in beep as microphone).

The YUV is studio-swing BT.601 (Y 16-235), what Chromium's file capturer, libvpx and swscale all
assume, so a colour put in comes out (within codec error) on the other side of a call.
"""

from __future__ import annotations

import contextlib
import fractions
import os
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS


def rgb_to_yuv420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """HxWx3 RGB uint8 (even sizes) -> the Y, U and V planes (U and V averaged over 2x2 blocks)."""
    x = rgb.astype(np.float32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    h, w = y.shape

    def half(p):
        return p.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    return tuple(np.clip(np.rint(p), 0, 255).astype(np.uint8) for p in (y, half(u), half(v)))


def write_y4m(frames: list[np.ndarray], path, fps: float) -> Path:
    """Write RGB frames (all HxWx3 uint8 of one even size) as a YUV4MPEG2 4:2:0 file (C420jpeg)."""
    if not frames:
        raise ValueError("no frames")
    h, w = frames[0].shape[:2]
    if h % 2 or w % 2:
        raise ValueError("4:2:0 needs even width and height")
    rate = fractions.Fraction(fps).limit_denominator(1001)
    path = Path(path)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{w} H{h} F{rate.numerator}:{rate.denominator} Ip A1:1 C420jpeg\n".encode())
        for frame in frames:
            if frame.shape != (h, w, 3) or frame.dtype != np.uint8:
                raise ValueError("every frame must be HxWx3 uint8 of the first frame's size")
            out.write(b"FRAME\n")
            for plane in rgb_to_yuv420(frame):
                out.write(plane.tobytes())
    return path


def halves(left: tuple[int, int, int], right: tuple[int, int, int], *, width: int = 640,
           height: int = 480) -> np.ndarray:
    """A frame whose left half is one colour and right half another."""
    frame = np.empty((height, width, 3), np.uint8)
    frame[:, : width // 2] = left
    frame[:, width // 2:] = right
    return frame


def camera_args(y4m) -> list[str]:
    return [*CHROMIUM_ARGS, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={y4m}"]


@contextlib.contextmanager
def chromium_with_camera(playwright, y4m):
    """A Chromium whose camera shows ``y4m`` (looped) and whose permission prompts say yes."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=camera_args(y4m))
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def playwright_sync():
    """Playwright's sync API, skipped (or failed in CI) as tests/conftest.py's ``browser`` is."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI (.ci/run installs Debian's chromium)")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def camera_browser(playwright_sync):
    """A factory: ``camera_browser(y4m_path)`` -> a Browser with that camera, closed after the module."""
    with contextlib.ExitStack() as stack:
        yield lambda y4m: stack.enter_context(chromium_with_camera(playwright_sync, y4m))
