"""FastAPI dependencies shared by every capability's module-level handlers."""

from __future__ import annotations

from starlette.requests import Request


async def gateway_of(request: Request):
    """The gateway a request is served by (``idgw.app.Gateway``, set on the application's state).
    A coroutine: FastAPI runs a plain function dependency on a worker thread, a thread hop per
    request for an attribute read."""
    return request.app.state.gateway
