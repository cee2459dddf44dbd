"""One source of time for the whole gateway, so tests can move it instead of sleeping."""

from __future__ import annotations

import time


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> int:
        """Current Unix time in whole seconds (all stored times use this unit)."""
        return int(time.time() + self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds
