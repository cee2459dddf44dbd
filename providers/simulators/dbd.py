"""A DBD-style juristic-person registry for demos and tests (ETDA ขมธอ. 31-2565 delegation).

Speaks the wire protocol documented in ``providers.dbd``: ``POST /v1/juristic-persons`` answers the
company's record (directors and signing rule) with a fresh reference and ``checked_at``, 404 ``not_found``
for an unknown juristic ID, 400 for a request that is not ``{"juristic_id": "<13 digits>"}``. ``GET /``
lists the demo companies in Thai and English. The demo companies are fictitious; their directors are the
demo citizens of ``providers.simulators.citizens`` (``DEMO_COMPANY_ID`` is the demo's main company).

Faults (``FAULTS``), global or for one juristic ID: ``DbdSimulator.set_fault`` or, when ``control=True``,
``POST /_sim/faults`` ``{"fault": ..., "juristic_id": ...}`` (``GET /_sim/faults`` shows them). ``"none"``
clears that company's fault, or every fault when given without a juristic ID.
"""

from __future__ import annotations

import html
import secrets
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse

from providers.dbd import SigningRule
from providers.simulators.citizens import citizen_by_pid
from providers.simulators.faults import FaultBoard

FAULTS = {
    "timeout": "answer only after timeout_delay seconds (30 by default): longer than any sane client waits",
    "unavailable": "HTTP 503",
    "garbage": "HTTP 200 with a body that is not JSON",
    "huge": "HTTP 200 streaming 256 KiB of JSON without a Content-Length (the client's cap is 64 KiB)",
    "wrong_shape": "HTTP 200 JSON whose signing rule requires more approvals than there are directors",
    "none": "clear the fault (every fault when given without juristic_id)",
}
HUGE_BYTES = 256 * 1024

DEMO_COMPANY_ID = "0105564001230"  # บริษัท ตัวอย่างการค้า จำกัด: two directors jointly (the demo's main company)
DEMO_ANY_ONE_ID = "0105542004562"  # บริษัท สยามตัวอย่าง จำกัด: any one of three directors
DEMO_SEAL_ID = "0105561007890"  # บริษัท ตราประทับ จำกัด: both directors jointly, with the company seal
DEMO_CLOSED_ID = "0105549003219"  # บริษัท เลิกแล้ว จำกัด: closed (เลิกกิจการ)
SOMCHAI, SOMYING, MALEE, PRASERT = "1345951597671", "1101700123456", "3100600456785", "5701200987653"


def _director(pid: str) -> dict:
    c = citizen_by_pid(pid)
    return {"citizen_id": pid, "name_th": f"{c['title']}{c['given_name']} {c['family_name']}",
            "name_en": f"{c['title_en']} {c['given_name_en']} {c['family_name_en']}"}


def _company(juristic_id: str, name_th: str, name_en: str, directors: tuple[str, ...], *, required: int,
             seal: bool = False, status: str = "active") -> dict:
    return {"juristic_id": juristic_id, "name_th": name_th, "name_en": name_en, "status": status,
            "directors": [_director(pid) for pid in directors],
            "signing_rule": {"directors": list(directors), "required": required, "must_include": [], "seal": seal}}


# Wire shape without reference and checked_at (the simulator adds them to each answer).
DEMO_COMPANIES: tuple[dict, ...] = (
    _company(DEMO_COMPANY_ID, "บริษัท ตัวอย่างการค้า จำกัด", "Example Trading Co., Ltd.", (SOMCHAI, SOMYING),
             required=2),
    _company(DEMO_ANY_ONE_ID, "บริษัท สยามตัวอย่าง จำกัด", "Siam Example Co., Ltd.", (SOMCHAI, MALEE, PRASERT),
             required=1),
    _company(DEMO_SEAL_ID, "บริษัท ตราประทับ จำกัด", "Seal Example Co., Ltd.", (MALEE, PRASERT), required=2, seal=True),
    _company(DEMO_CLOSED_ID, "บริษัท เลิกแล้ว จำกัด", "Closed Example Co., Ltd.", (SOMYING,), required=1,
             status="closed"),
)
STATUS_WORDS = {"active": ("ยังดำเนินกิจการอยู่", "active"), "closed": ("เลิกกิจการ", "closed"),
                "deregistered": ("ร้าง", "deregistered")}


def _reference() -> str:
    return "DBD-SIM-" + secrets.token_hex(8).upper()


class DbdSimulator(FaultBoard):
    """In-memory DBD-style registry; ``app`` is the FastAPI application serving it."""

    FAULTS = tuple(FAULTS)

    def __init__(self, *, companies: tuple[dict, ...] = DEMO_COMPANIES, control: bool = False,
                 timeout_delay: float = 30.0) -> None:
        self.companies = {c["juristic_id"]: c for c in companies}
        self.control = control
        super().__init__(timeout_delay=timeout_delay)
        self.app = self._build_app()

    # -- faults (FaultBoard: set_fault, clear_faults, faults, fault_for, release, _stall) ---------------

    # -- protocol ---------------------------------------------------------------------------------------

    async def lookup(self, request: Request) -> Response:
        self.requests += 1
        try:
            body = await request.json()
        except ValueError:
            body = None
        juristic_id = body.get("juristic_id") if isinstance(body, dict) else None
        if not isinstance(juristic_id, str) or not juristic_id.isascii() or not juristic_id.isdigit() \
                or len(juristic_id) != 13:
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        fault = self.fault_for(juristic_id)
        if fault == "timeout":
            await self._stall(request)
        elif fault == "unavailable":
            return JSONResponse({"error": "service_unavailable"}, status_code=503, headers={"Retry-After": "30"})
        elif fault == "garbage":
            return Response(b'{"juristic_id": "' + juristic_id.encode() + b'", "directors": [',
                            media_type="application/json")
        elif fault == "huge":
            async def chunks():
                yield b'{"padding": "'
                for _ in range(HUGE_BYTES // 8192):
                    yield b"x" * 8192
                yield b'"}'
            return StreamingResponse(chunks(), media_type="application/json")
        record = self.companies.get(juristic_id)
        if record is None:
            return JSONResponse({"status": "not_found", "reference": _reference()}, status_code=404)
        answer = {**record, "reference": _reference(), "checked_at": int(time.time())}
        if fault == "wrong_shape":
            answer["signing_rule"] = {**record["signing_rule"], "required": len(record["directors"]) + 1}
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    # -- pages ------------------------------------------------------------------------------------------

    def home(self) -> HTMLResponse:
        rows = []
        for c in self.companies.values():
            names_th = {d["citizen_id"]: d["name_th"] for d in c["directors"]}
            names_en = {d["citizen_id"]: d["name_en"] for d in c["directors"]}
            try:
                rule_th, rule_en = (SigningRule.from_json(c["signing_rule"]).text(names=names, locale=locale)
                                    for names, locale in ((names_th, "th"), (names_en, "en")))
            except ValueError:  # a deliberately broken test record
                rule_th, rule_en = "กฎไม่ถูกต้อง", "invalid rule"
            status_th, status_en = STATUS_WORDS.get(c["status"], (c["status"], c["status"]))
            directors = "".join(f'<li>{html.escape(d["name_th"])} / <span lang="en">{html.escape(d["name_en"])}'
                                f"</span></li>" for d in c["directors"])
            rows.append(
                f'<tr><td lang="en">{html.escape(c["juristic_id"])}</td>'
                f'<td>{html.escape(c["name_th"])}<br><span lang="en">{html.escape(c["name_en"])}</span></td>'
                f'<td>{html.escape(status_th)}<br><span lang="en">{html.escape(status_en)}</span></td>'
                f"<td><ul>{directors}</ul></td>"
                f'<td>{html.escape(rule_th)}<br><span lang="en">{html.escape(rule_en)}</span></td></tr>')
        table = ("<table><caption>นิติบุคคลตัวอย่าง (ข้อมูลสมมติ) / <span lang=\"en\">Demo companies "
                 "(fictitious)</span></caption><thead><tr><th scope=\"col\">เลขทะเบียน / <span lang=\"en\">"
                 "Registration no.</span></th><th scope=\"col\">ชื่อ / <span lang=\"en\">Name</span></th>"
                 "<th scope=\"col\">สถานะ / <span lang=\"en\">Status</span></th><th scope=\"col\">กรรมการ / "
                 "<span lang=\"en\">Directors</span></th><th scope=\"col\">อำนาจกรรมการ / <span lang=\"en\">"
                 f"Signing rule</span></th></tr></thead><tbody>{''.join(rows)}</tbody></table>")
        title = "ทะเบียนนิติบุคคล (จำลอง) / Juristic-person registry (simulator)"
        return HTMLResponse(
            f'<!doctype html><html lang="th"><head><meta charset="utf-8"><title>{title}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>'
            f'<header><p>กรมพัฒนาธุรกิจการค้า (จำลอง) / <span lang="en">DBD-style registry simulator</span></p>'
            f'</header><main><h1>ทะเบียนนิติบุคคล / <span lang="en">Juristic-person registry</span></h1>'
            f'<p>POST /v1/juristic-persons {{"juristic_id": "..."}}</p>{table}</main></body></html>',
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
                     "Content-Security-Policy": "default-src 'none'; base-uri 'none'; frame-ancestors 'none'"})

    # -- app --------------------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="DBD-style registry simulator", docs_url=None, redoc_url=None, openapi_url=None)
        app.state.simulator = self

        @app.post("/v1/juristic-persons")
        async def lookup(request: Request) -> Response:
            return await self.lookup(request)

        @app.get("/")
        def home() -> Response:
            return self.home()

        if self.control:
            @app.get("/_sim/faults")
            def show_faults() -> Response:
                return JSONResponse({"faults": self.faults(), "known": FAULTS})

            @app.post("/_sim/faults")
            async def set_fault(request: Request) -> Response:
                try:
                    body: Any = await request.json()
                except ValueError:
                    body = None
                juristic_id = body.get("juristic_id") if isinstance(body, dict) else None
                if (not isinstance(body, dict) or body.get("fault") not in FAULTS
                        or not (juristic_id is None or isinstance(juristic_id, str))):
                    return JSONResponse({"error": "expected {fault, juristic_id?}", "known": FAULTS}, status_code=400)
                self.set_fault(body["fault"], juristic_id)
                return JSONResponse({"faults": self.faults()})

        return app


def create_dbd_app(*, companies: tuple[dict, ...] = DEMO_COMPANIES, control: bool = False,
                   timeout_delay: float = 30.0) -> FastAPI:
    """A DBD-style registry serving ``companies`` (wire-shaped dicts without reference and checked_at; IDs
    are not re-validated, so tests can serve broken records); ``app.state.simulator`` is its
    ``DbdSimulator``. ``control`` enables ``/_sim/faults``."""
    return DbdSimulator(companies=companies, control=control, timeout_delay=timeout_delay).app
