"""Proofing events between gateway instances (docs/proofing.md): what one instance decides about a
case reaches the call sockets held by another."""

from __future__ import annotations


async def run(gw) -> None:
    """The listener of this process (started by idgw.app's lifespan, cancelled at shutdown)."""
    return None
