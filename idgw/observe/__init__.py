"""Observability of a running gateway: Prometheus metrics, structured logs with a request id
(docs/operations.md). ``install(app, gw)`` adds what a process needs to the app."""

from __future__ import annotations


def install(app, gw) -> None:
    """Mount the metrics endpoint and the request middleware on ``app`` (called by idgw.app)."""
    return None
