"""Liveness and readiness of one gateway process (docs/operations.md): ``/healthz`` answers while
the process runs; ``/readyz`` only when it can serve."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz():
    return {"status": "ok"}
