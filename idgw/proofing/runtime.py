"""What the proofing pages share in one gateway process: the card-check client, the sealer for
evidence images, and (once a call starts) the media hub and the call rooms. Built once by
idgw.app and handed to the routes as a FastAPI dependency (``runtime_of``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from idgw.security import Sealer, derive_key
from providers.dopa import DopaCardCheck


@dataclass
class ProofingRuntime:
    settings: object
    sealer: Sealer
    hub: object | None = None  # idgw.proofing.media.MediaHub
    rooms: object | None = None  # idgw.proofing.signalling.Rooms
    # Seconds a side of a call may be gone before the case moves on (idgw.proofing.call.on_leave).
    grace: dict = field(default_factory=lambda: {"officer": 15.0, "citizen": 20.0})
    tasks: set = field(default_factory=set)  # cue judgements running in the background
    _card: DopaCardCheck | None = field(default=None, repr=False)

    @classmethod
    def build(cls, settings) -> ProofingRuntime:
        return cls(settings=settings, sealer=Sealer(derive_key(settings.secret_key, "proofing-media-at-rest")))

    def card_check(self) -> DopaCardCheck | None:
        """The authoritative card source (None: not configured, so proofing is not offered)."""
        if not self.settings.card_check_url:
            return None
        if self._card is None:
            self._card = DopaCardCheck(self.settings.card_check_url, timeout=float(self.settings.card_check_timeout))
        return self._card

    async def aclose(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self._card is not None:
            await self._card.aclose()
        if self.hub is not None:
            await self.hub.close_all()


def runtime_of(request: Request) -> ProofingRuntime:
    return request.app.state.gateway.proofing
