"""Faults a simulator can be told to answer with (tests and demos): per key (a citizen ID, a
juristic ID) or for every request, and the ``timeout`` stall that ends when the client gives up or
the simulator is released. Shared by the DOPA-style and DBD-style simulators."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from starlette.requests import Request


class FaultBoard:
    """``FAULTS`` (a class attribute of the simulator) names the faults it knows, with ``"none"``."""

    FAULTS: tuple[str, ...] = ("none",)

    def __init__(self, *, timeout_delay: float) -> None:
        self.timeout_delay = timeout_delay
        self._faults: dict[str | None, str] = {}  # key (None: every request) -> fault
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.requests = 0  # seen by tests
        self.stalled = 0  # requests held by the timeout fault right now

    def set_fault(self, fault: str, key: str | None = None) -> None:
        """Answer requests for ``key`` (None: all) with ``fault``; ``"none"`` clears it."""
        if fault not in self.FAULTS:
            raise ValueError(f"unknown fault {fault!r}; known: {', '.join(self.FAULTS)}")
        with self._lock:
            if fault != "none":
                self._faults[key] = fault
            elif key is None:
                self._faults.clear()
            else:
                self._faults.pop(key, None)

    def clear_faults(self) -> None:
        self.set_fault("none")

    def faults(self) -> dict[str, str]:
        with self._lock:
            return {("*" if k is None else k): v for k, v in self._faults.items()}

    def fault_for(self, key: Any) -> str | None:
        with self._lock:
            return self._faults.get(key if isinstance(key, str) else None) or self._faults.get(None)

    def release(self) -> None:
        """End every ``timeout`` stall now (call before stopping the server); later stalls are skipped too."""
        self._released.set()

    async def _stall(self, request: Request) -> None:
        # Polls, so that a client giving up (or ``release``) ends the stall and the server can stop quickly.
        deadline = time.monotonic() + self.timeout_delay
        self.stalled += 1
        try:
            while time.monotonic() < deadline and not self._released.is_set():
                if await request.is_disconnected():
                    return
                await asyncio.sleep(0.05)
        finally:
            self.stalled -= 1
