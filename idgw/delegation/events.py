"""Security Event Tokens (RFC 8417) telling e-services that a delegation ended, pushed to their
registered ``security_event_uri`` (RFC 8935). SKELETON: being completed."""

from __future__ import annotations


def queue_revoked(db, *, mandate_ids: list[str], now: int) -> int:
    """Queue one event per (e-service that received tokens under these mandates, mandate)."""
    return 0


class SecurityEvents:
    def __init__(self, *, sessionmaker, provider, clock, timeout: float = 5.0, transport=None) -> None:
        self.sessionmaker, self.provider, self.clock = sessionmaker, provider, clock

    def wake(self) -> None:
        return None

    def deliver_due(self) -> int:
        return 0

    async def run(self) -> None:
        return None
