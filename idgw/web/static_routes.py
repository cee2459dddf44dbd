"""Files browsers ask for at fixed addresses, outside /static: ``/favicon.ico`` (browsers request
it on their own, for instance for a JSON answer or before reading a page's ``<link rel=icon>``,
and a 404 there fills logs and consoles). The pages themselves link /static/favicon.svg."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).parent / "static"

router = APIRouter()


@router.api_route("/favicon.ico", methods=["GET", "HEAD"], include_in_schema=False)
async def favicon() -> FileResponse:
    return FileResponse(STATIC / "favicon.ico", media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=86400"})
