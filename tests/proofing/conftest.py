"""Fixtures shared by the proofing tests: the card-check world, the fake-camera Chromium."""

from tests.proofing.citizen_world import proofing_world  # noqa: F401
from tests.proofing.fakecam import camera_browser, playwright_sync  # noqa: F401
