"""A DOPA-style card-status and reference-photo service for demos and tests (domain brief §3-§5).

Speaks the wire protocol documented in ``providers.dopa``: ``POST /v1/card-status`` checks the submitted
card data against the demo citizens (``providers.simulators.citizens``: ``laser``, ``face``,
``card_revoked``) and ``POST /v1/reference-photo`` answers ``<faces dir>/<face>_1.jpg|png``. Matching:
an unknown citizen ID is not_found; names compare after whitespace normalisation and case-folding;
any differing name, birthdate or laser code is data_mismatch listing those fields; then a revoked card
is card_revoked; else valid. The simulator keeps nothing it is sent (domain brief §4).

The photo directory is the constructor's ``faces_dir``, else ``$IDGW_DEMO_FACES_DIR``, else
``<repo>/../shared/data/faces``; a missing photo is answered as "no photo".

Faults (``FAULTS``), global or for one citizen: ``POST /sim/faults`` ``{"fault": ..., "citizen_id": ...}``
(``GET /sim/faults`` shows them) or ``DopaSimulator.set_fault``. ``"none"`` clears that citizen's fault,
or every fault when given without a citizen ID.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import time
import unicodedata
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from providers.dopa import LASER_PATTERN, MISMATCH_FIELDS
from providers.simulators.citizens import DEMO_CITIZENS
from providers.simulators.faults import FaultBoard

FAULTS = {
    "revoked": "the card counts as revoked (card_revoked when the data match)",
    "laser_mismatch": "the record's laser code differs from any submitted one (data_mismatch, laser_code)",
    "timeout": "answer only after timeout_delay seconds (30 by default): longer than any sane client waits",
    "unavailable": "HTTP 503 on both endpoints",
    "garbage": "HTTP 200 with a body that is not the protocol's (broken JSON; HTML for the photo)",
    "huge_photo": "the photo answer streams 6 MB of image/jpeg without a Content-Length",
    "none": "clear the fault (every fault when given without citizen_id)",
}
DEFAULT_FACES_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "faces"
PHOTO_SUFFIXES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
# Request field -> the demo citizen's field
RECORD_FIELDS = {"given_name_th": "given_name", "family_name_th": "family_name", "given_name_en": "given_name_en",
                 "family_name_en": "family_name_en", "birthdate": "birthdate", "laser_code": "laser"}
HUGE_PHOTO_BYTES = 6 * 1024 * 1024


def _same_name(a: str, b: str) -> bool:
    def norm(s: str) -> str:
        return " ".join(unicodedata.normalize("NFC", s).split()).casefold()
    return norm(a) == norm(b)


def _reference() -> str:
    return "SIM-" + secrets.token_hex(8).upper()


class DopaSimulator(FaultBoard):
    """In-memory DOPA-style service; ``app`` is the FastAPI application serving it."""

    FAULTS = tuple(FAULTS)

    def __init__(self, *, citizens: tuple[dict, ...] = DEMO_CITIZENS, faces_dir: str | Path | None = None,
                 timeout_delay: float = 30.0) -> None:
        self.citizens = {c["pid"]: c for c in citizens}
        self.faces_dir = Path(faces_dir or os.environ.get("IDGW_DEMO_FACES_DIR") or DEFAULT_FACES_DIR).resolve()
        super().__init__(timeout_delay=timeout_delay)
        self.app = self._build_app()

    # -- faults (FaultBoard: set_fault, clear_faults, faults, fault_for, release, _stall) ---------------

    async def _transport_fault(self, request: Request, fault: str | None, garbage: Response) -> Response | None:
        if fault == "timeout":
            await self._stall(request)
        elif fault == "unavailable":
            return JSONResponse({"error": "service_unavailable"}, status_code=503, headers={"Retry-After": "30"})
        elif fault == "garbage":
            return garbage
        return None

    # -- protocol ---------------------------------------------------------------------------------------

    async def _body(self, request: Request, fields: tuple[str, ...]) -> dict | None:
        try:
            body = await request.json()
        except ValueError:
            return None
        if not isinstance(body, dict) or not all(isinstance(body.get(f), str) for f in fields):
            return None
        if not re.fullmatch(r"\d{13}", body["citizen_id"]):
            return None
        return body

    async def card_status(self, request: Request) -> Response:
        self.requests += 1
        body = await self._body(request, ("citizen_id", *MISMATCH_FIELDS))
        if body is None:
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        fault = self.fault_for(body["citizen_id"])
        broken = Response(b'{"status": "valid", "reference": ', media_type="application/json")
        if (answer := await self._transport_fault(request, fault, broken)) is not None:
            return answer
        record = self.citizens.get(body["citizen_id"])
        if record is None:
            return self._status("not_found")
        if not LASER_PATTERN.fullmatch(body["laser_code"]):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        mismatched = []
        for field, record_field in RECORD_FIELDS.items():
            expected, given = str(record.get(record_field, "")), body[field]
            if field == "laser_code" and fault == "laser_mismatch":
                same = False
            elif field.endswith(("_th", "_en")):
                same = _same_name(given, expected)
            else:
                same = given == expected
            if not same:
                mismatched.append(field)
        if mismatched:
            return self._status("data_mismatch", mismatched)
        if record.get("card_revoked") or fault == "revoked":
            return self._status("card_revoked")
        return self._status("valid")

    @staticmethod
    def _status(status: str, mismatched: list[str] | None = None) -> Response:
        return JSONResponse({"status": status, "reference": _reference(), "mismatched": mismatched or [],
                             "checked_at": int(time.time())})

    def photo_path(self, face: str | None) -> Path | None:
        if not face or not re.fullmatch(r"[a-z0-9_]+", face):
            return None
        candidates = sorted(p for p in self.faces_dir.glob(f"{face}_1.*") if p.suffix.lower() in PHOTO_SUFFIXES)
        return candidates[0] if candidates and candidates[0].is_file() else None

    async def reference_photo(self, request: Request) -> Response:
        self.requests += 1
        body = await self._body(request, ("citizen_id",))
        if body is None:
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        fault = self.fault_for(body["citizen_id"])
        html = Response(b"<html><body>Service maintenance</body></html>", media_type="text/html")
        if (answer := await self._transport_fault(request, fault, html)) is not None:
            return answer
        record = self.citizens.get(body["citizen_id"])
        if record is None:
            return JSONResponse({"status": "not_found", "reference": _reference()}, status_code=404)
        headers = {"X-Transaction-Id": _reference(), "Cache-Control": "no-store"}
        if fault == "huge_photo":
            async def chunks():
                for _ in range(HUGE_PHOTO_BYTES // 65536):
                    yield b"\xff" * 65536
            return StreamingResponse(chunks(), media_type="image/jpeg", headers=headers)
        path = self.photo_path(record.get("face"))
        try:
            content = await asyncio.to_thread(path.read_bytes) if path else None
        except OSError:
            content = None
        if not content:
            return JSONResponse({"status": "no_photo", "reference": _reference()}, status_code=404)
        return Response(content, media_type=PHOTO_SUFFIXES[path.suffix.lower()], headers=headers)

    # -- app --------------------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="DOPA card-check simulator", docs_url=None, redoc_url=None, openapi_url=None)
        app.state.simulator = self

        @app.post("/v1/card-status")
        async def card_status(request: Request) -> Response:
            return await self.card_status(request)

        @app.post("/v1/reference-photo")
        async def reference_photo(request: Request) -> Response:
            return await self.reference_photo(request)

        @app.get("/sim/faults")
        async def show_faults() -> Response:
            return JSONResponse({"faults": self.faults(), "known": FAULTS})

        @app.post("/sim/faults")
        async def set_fault(request: Request) -> Response:
            try:
                body = await request.json()
            except ValueError:
                body = None
            citizen_id = body.get("citizen_id") if isinstance(body, dict) else None
            if (not isinstance(body, dict) or body.get("fault") not in FAULTS
                    or not (citizen_id is None or isinstance(citizen_id, str))):
                return JSONResponse({"error": "expected {fault, citizen_id?}", "known": FAULTS}, status_code=400)
            self.set_fault(body["fault"], citizen_id)
            return JSONResponse({"faults": self.faults()})

        return app


def create_dopa_app(*, citizens: tuple[dict, ...] = DEMO_CITIZENS, faces_dir: str | Path | None = None,
                    timeout_delay: float = 30.0) -> FastAPI:
    """A DOPA-style service; ``app.state.simulator`` is its ``DopaSimulator``."""
    return DopaSimulator(citizens=citizens, faces_dir=faces_dir, timeout_delay=timeout_delay).app
