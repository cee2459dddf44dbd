"""Fixtures shared by the proofing tests."""

from tests.proofing.citizen_world import proofing_world  # noqa: F401
