"""One source of time for the whole gateway, so tests can move it instead of sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> int:
        """Current Unix time in whole seconds (all stored times use this unit)."""
        return int(time.time() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def iso_utc(epoch: int) -> str:
    """A stored time as ISO 8601 in UTC (``2026-11-30T08:00:00Z``), as OpenID Connect for Identity
    Assurance writes times."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
