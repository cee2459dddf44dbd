"""An NDID-style platform for demos and tests: the RP API of an NDID node plus an "IdP app".

RP side (ndidplatform/api ``docs/openapi/v7/rp.yaml``, domain brief §3):
``POST /rp/requests/{namespace}/{identifier}`` answers 202 ``{request_id, initial_salt}`` and then
calls the request's ``callback_url`` over real HTTP with ``create_request_result`` and
``request_status`` bodies (``rp_callback.yaml``: status, closed, timed_out, response_list with each
IdP's ial, aal, status, valid_signature, valid_ial, and a ``<chain>:<height>`` block_height);
``POST /rp/request_close`` closes a request and reports ``close_request_result``. Callbacks for one
request are delivered in order and retried on failure (a callback may arrive before the RP has
stored the request: answer non-2xx and it comes again). ``request_timeout`` is enforced: an
unanswered, unclosed request gets ``timed_out: true``.

The status query ``GET /utility/requests/{request_id}`` (``main-server/src/http_server/routes/v6/
utility.js``; also served as ``GET /rp/requests/{request_id}``, the path the domain brief names)
answers the request detail in the shape of ``core/request.js`` ``getRequestDetails``: the floors as
JSON numbers, ``status`` as ``utils`` ``getRequestStatus`` computes it, ``creation_block_height`` as
``"<chain>:<height>"``, and 404 with an empty body for an unknown request (or one whose creation
failed). ``GET /utility/idp`` lists the registered IdPs (``node_id``, ``node_name``, ``max_ial``,
``max_aal``, ...; optional ``min_ial``/``min_aal`` filters), like ``tendermint/ndid.js``
``getIdpNodes``.

Citizen side: ``GET /idp-app`` lists open requests; each request page shows the ``request_message``
and the short reference the service shows (``providers.ndid.short_reference``), and lets the
simulated citizen answer as one of the IdPs (accept with a chosen ial/aal, reject, or report an
error with an IdP error code: 1000, or 10101 unknown identity). Like the platform, it refuses an
accept below the request's min_ial/min_aal or above the IdP's registered max_ial/max_aal, and
computes valid_ial against the identity's IAL at that IdP. Every checksum-valid citizen ID counts
as onboarded at every simulated IdP.

Request types (``request_type`` in the create body, ``core/common/create_request.js``): absent is an
identity request; ``dsign.dcontract`` (the only type registered on this simulated chain, ``GET
/utility/request_types``) asks the IdP to approve documents; any other string is 20091
INVALID_REQUEST_TYPE, a non-string or empty one 20003 (the v6 body schema: string, minLength 1). For
``dsign.dcontract`` every line of ``request_message`` that starts with http:// or https:// is a
document URL (``core/idp/contract_request.js`` ``extractURLFromRequestMessage``); when an IdP answers
accept, the simulator, as that IdP's node, fetches each one and compares the SHA-256 (hex) of the body
with the text after the URL's last "/" (lower-cased, as ``checkContractHash`` does). Any failure
(unreachable, not 200, a redirect, over ``DOCUMENT_MAX_BYTES``, slower than ``DOCUMENT_FETCH_TIMEOUT``,
hash mismatch) turns the accept into an error answer with IdP code 31000, the code the platform's IdP
node answers with (``IDP_ERROR_CODE_DOCUMENT_INTEGRITY_FAILED``). Differences from the platform, on
purpose: the node checks when it *receives* the request (``core/idp/index.js``), the simulator when the
IdP answers accept (so a test can change the document in between); the node follows redirects and has
no size cap, the simulator refuses both; a ``dsign.dcontract`` request whose message has no URL line
is refused at creation with 20003 BODY_VALIDATION_FAILED (the platform accepts it and every IdP node
then answers 31000, ``checkContractHash`` fails "No contract url"; ndid-error/type.js has no code for
this, and 20074 REQUEST_MESSAGE_NEEDED means a missing message in identity-management consent
requests). Each check is kept in the request's ``document_checks`` (``GET /_sim/requests/{id}``).

Error answers use NDID's ``{error: {code, message}}`` shape with the platform's own codes
(``ndid-error/type.js``, listed in ``../shared/data/ndid-error-codes.tsv``), e.g. 20045 duplicate
reference id, 20025 request is closed.
Misbehaviour for tests: ``faults`` (constructor) or, when ``control=True``, ``POST /_sim/faults``
(see ``FAULTS``); ``GET /_sim/requests/{request_id}`` shows what the platform saw (closes, callbacks).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import html
import re
import secrets
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from providers.base import AAL_LEVELS, IAL_LEVELS, level_as_number, level_at_least, normalise_level, valid_citizen_id
from providers.ndid import short_reference

# max_ial / max_aal: what the IdP is registered for on the platform (it cannot answer above them);
# identity_ial: the IAL at which it holds every simulated citizen's identity (answering above gives valid_ial
# false). Example Mobile Operator C is registered up to 2.3 but proofed these identities at 2.1 only.
DEMO_IDPS: tuple[dict, ...] = (
    {"idp_id": "idp-bank-a", "name_th": "ธนาคารตัวอย่าง เอ", "name_en": "Example Bank A",
     "identity_ial": "2.3", "max_ial": "2.3", "max_aal": "2.2"},
    {"idp_id": "idp-bank-b", "name_th": "ธนาคารตัวอย่าง บี", "name_en": "Example Bank B",
     "identity_ial": "2.3", "max_ial": "2.3", "max_aal": "2.1"},
    {"idp_id": "idp-mobile-c", "name_th": "ผู้ให้บริการมือถือตัวอย่าง ซี", "name_en": "Example Mobile Operator C",
     "identity_ial": "2.1", "max_ial": "2.3", "max_aal": "2.1"},
)
FAULTS = {
    "create_error": "POST /rp/requests answers HTTP 500",
    "create_delay": "seconds POST /rp/requests waits before answering (a slow node)",
    "create_result_failure": "the create_request_result callback reports success: false",
    "valid_signature": "false: every IdP answer carries valid_signature false",
    "valid_ial": "false: every IdP answer carries valid_ial false",
    "ignore_floors": "accept answers below min_ial/min_aal (a misbehaving IdP)",
    "duplicate_callbacks": "deliver every callback twice",
    "stale_callbacks": "after each request_status, deliver the previous one again (out of order)",
    "drop_callbacks": "deliver no callbacks at all (the RP must poll the status query)",
    "unlisted_idps": "list of IdP ids hidden from GET /utility/idp that can still answer (unregistered IdPs)",
    "exceed_idp_max": "let IdPs answer above their registered max_ial/max_aal (the platform refuses that)",
    "status_query_error": "GET /utility/requests/{id} answers HTTP 500",
    "status_query_delay": "seconds GET /utility/requests/{id} waits before answering (a slow node)",
    "validity_at_close": "the status query shows valid_signature/valid_ial null until the request is closed or "
                         "timed out, as on the real platform (the RP node writes them to the chain at close)",
    "close_delay": "seconds after its 202 before a close takes effect (a block commit on the real platform)",
    "idp_answers": "{idp_id: 'accept' | 'reject' | <IdP error code>}: those IdPs answer every new request by "
                   "themselves as soon as it is created (accept at the IdP's identity IAL and maximum AAL; "
                   "for dsign.dcontract an accept first checks the documents, as in the IdP app)",
}
CHAIN_ID = "sim-chain"
RETRY_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0)
# What an IdP may answer with instead of accept/reject. IdP error codes are registered on the platform,
# not in ndid-error/type.js; these two are the ones NDID's own test setup uses
# (../shared/data/ndid-error-codes.tsv, header).
IDP_ERROR_CODES = {1000: ("ข้อผิดพลาดของ IdP", "IdP error"),
                   10101: ("IdP ไม่มีข้อมูลตัวตนนี้", "unknown identity at this IdP")}
IDP_ERROR_CODE = 1000  # the IdP app's default "report an error" code
# core/idp/contract_request.js IDP_ERROR_CODE_DOCUMENT_INTEGRITY_FAILED: what an IdP node answers when a
# dsign.dcontract document cannot be fetched or its SHA-256 differs from its URL.
DOCUMENT_INTEGRITY_FAILED = 31000
ANSWER_ERROR_CODES = {**IDP_ERROR_CODES, DOCUMENT_INTEGRITY_FAILED: ("IdP ตรวจสอบเอกสารไม่ผ่าน",
                                                                     "the IdP could not verify the document")}
DCONTRACT_REQUEST_TYPE = "dsign.dcontract"  # main-server/src/config.js dcontractConfig.dcontractRequestType
REQUEST_TYPES = (DCONTRACT_REQUEST_TYPE,)  # registered on the simulated chain (NDID's add_request_type)
DOCUMENT_FETCH_TIMEOUT = 5.0  # seconds for the whole fetch of one document (the platform's default: 30)
DOCUMENT_MAX_BYTES = 1024 * 1024


class NDIDSimulator:
    """In-memory platform state; ``app`` serves it. All handlers run on the server's event loop."""

    def __init__(self, *, idps: tuple[dict, ...] = DEMO_IDPS, rp_node_id: str = "rp-idgw", control: bool = False,
                 faults: dict | None = None) -> None:
        self.idps = {idp["idp_id"]: idp for idp in idps}
        self.rp_node_id = rp_node_id
        self.control = control
        self.faults: dict[str, Any] = dict(faults or {})
        self.requests: dict[str, dict] = {}
        self.close_attempts: list[dict] = []
        self._height = 0
        self._tasks: set[asyncio.Task] = set()
        self._locks: dict[str, asyncio.Lock] = {}
        self.app = self._build_app()

    # -- RP API ------------------------------------------------------------------------------------------

    async def create_request(self, namespace: str, identifier: str, request: Request) -> Response:
        if self.faults.get("create_delay"):
            await asyncio.sleep(float(self.faults["create_delay"]))
        if self.faults.get("create_error"):
            return _error(500, 10001, "simulated platform failure")
        try:
            body = await request.json()
        except ValueError:
            return _error(400, 20007, "body is not JSON")  # BODY_PARSE_FAILED
        if not isinstance(body, dict):
            return _error(400, 20003, "body is not a JSON object")  # BODY_VALIDATION_FAILED
        problem = self._validate_request(namespace, identifier, body)
        if problem:
            return _error(400, *problem)
        request_id = uuid.uuid4().hex + uuid.uuid4().hex
        record = {
            "request_id": request_id, "reference_id": body["reference_id"], "namespace": namespace,
            "identifier": identifier, "mode": body["mode"],
            "min_ial": normalise_level(body["min_ial"], IAL_LEVELS),
            "min_aal": normalise_level(body["min_aal"], AAL_LEVELS),
            "min_idp": body["min_idp"], "requested_idp_id_list": list(body.get("idp_id_list") or []),
            "idp_id_list": list(body.get("idp_id_list") or self.idps), "request_message": body["request_message"],
            "request_message_hash": base64.b64encode(hashlib.sha256(body["request_message"].encode()).digest())
            .decode(), "request_timeout": body["request_timeout"], "callback_url": body["callback_url"],
            "initial_salt": base64.b64encode(secrets.token_bytes(16)).decode(), "created_at": time.time(),
            "status": "pending", "closed": False, "timed_out": False, "response_list": [],
            "block_height": self._next_height(), "close_attempts": [], "callbacks": [], "last_status": None,
            "requester_node_id": body.get("node_id") or self.rp_node_id, "created": True,
            "status_queries": 0, "request_type": body.get("request_type"), "document_checks": [],
        }
        record["creation_block_height"] = record["block_height"]
        self.requests[request_id] = record
        loop = asyncio.get_running_loop()
        loop.call_later(record["request_timeout"], self._time_out, request_id)

        async def announce() -> None:
            # After the 202 has gone out, as the platform commits the request to its chain.
            success = not self.faults.get("create_result_failure")
            record["created"] = success  # a failed create never reaches the chain: the status query 404s
            result = {"node_id": self.rp_node_id, "type": "create_request_result", "reference_id":
                      record["reference_id"], "request_id": request_id, "success": success,
                      "creation_block_height": f"{CHAIN_ID}:{record['block_height']}"}
            if not success:
                result["error"] = {"code": 10006, "message": "simulated create failure"}  # TENDERMINT_TRANSACT_ERROR
            self._deliver(record, record["callback_url"], result)
            if success:
                self._send_status(record)
                await self._auto_answer(record)

        return JSONResponse({"request_id": request_id, "initial_salt": record["initial_salt"]}, status_code=202,
                            background=BackgroundTask(announce))

    def _validate_request(self, namespace: str, identifier: str, body: dict) -> tuple[int, str] | None:
        """The platform's checks on a new request, with its error codes (ndid-error/type.js)."""
        if namespace == "citizen_id" and not valid_citizen_id(identifier):
            return 20096, "identifier is not a valid citizen ID"  # INVALID_IDENTIFIER
        if body.get("mode") not in (1, 2, 3) or isinstance(body.get("mode"), bool):
            return 20003, "mode must be 1, 2 or 3"  # BODY_VALIDATION_FAILED (schema)
        reference_id = body.get("reference_id")
        if not isinstance(reference_id, str) or not reference_id:
            return 20003, "reference_id is required"
        if any(r["reference_id"] == reference_id and not r["closed"] and not r["timed_out"]
               for r in self.requests.values()):
            return 20045, "reference_id is already used by an unfinished request"  # DUPLICATE_REFERENCE_ID
        callback_url = body.get("callback_url")
        if not isinstance(callback_url, str) or urlsplit(callback_url).scheme not in ("http", "https"):
            return 20003, "callback_url must be an http(s) URL"
        if not isinstance(body.get("request_message"), str):
            return 20003, "request_message is required"
        request_type = body.get("request_type")
        if request_type is not None:
            if not isinstance(request_type, str) or not request_type:
                return 20003, "request_type must be a non-empty string"  # BODY_VALIDATION_FAILED (v6 schema)
            if request_type not in REQUEST_TYPES:
                return 20091, "request_type is not registered on the platform"  # INVALID_REQUEST_TYPE
            if request_type == DCONTRACT_REQUEST_TYPE and not document_urls(body["request_message"]):
                return 20003, "a dsign.dcontract request_message needs a line with the document's http(s) URL"
        for field, levels, code in (("min_ial", IAL_LEVELS, 20094), ("min_aal", AAL_LEVELS, 20095)):
            value = body.get(field)
            if isinstance(value, bool) or not isinstance(value, int | float):
                return 20003, f"{field} must be a number"
            if normalise_level(value, levels) is None:  # UNSUPPORTED_IAL / UNSUPPORTED_AAL
                return code, f"{field} must be one of {' '.join(levels)}"
        for field in ("min_idp", "request_timeout"):
            value = body.get(field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                return 20003, f"{field} must be an integer ≥ 1"
        idp_id_list = body.get("idp_id_list") or []
        if not isinstance(idp_id_list, list) or not all(isinstance(i, str) and i in self.idps for i in idp_id_list):
            return 20058, "idp_id_list names an unknown IdP"  # UNQUALIFIED_IDP
        if body["mode"] == 1 and not idp_id_list:
            return 20016, "idp_id_list is required in mode 1"  # IDP_ID_LIST_NEEDED
        if body["min_idp"] > len(idp_id_list or self.idps):
            return 20004, "min_idp is larger than the number of IdPs"  # IDP_LIST_LESS_THAN_MIN_IDP
        if body.get("data_request_list") not in (None, []):
            return 20003, "data requests are not simulated"
        return None

    async def close_request(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, 20007, "body is not JSON")  # BODY_PARSE_FAILED
        body = body if isinstance(body, dict) else {}
        self.close_attempts.append(copy.deepcopy(body))
        record = self.requests.get(body.get("request_id")) if isinstance(body.get("request_id"), str) else None
        if record is None or not record["created"]:
            return _error(404, 20012, "request not found")  # REQUEST_NOT_FOUND
        record["close_attempts"].append(copy.deepcopy(body))
        if body.get("reference_id") != record["reference_id"]:
            return _error(400, 20003, "reference_id does not match the request")
        callback_url = body.get("callback_url")
        if not isinstance(callback_url, str) or urlsplit(callback_url).scheme not in ("http", "https"):
            return _error(400, 20003, "callback_url must be an http(s) URL")
        if record["closed"]:
            return _error(400, 20025, "request is already closed")  # REQUEST_IS_CLOSED
        if record["timed_out"]:
            return _error(400, 20026, "request is already timed out")  # REQUEST_IS_TIMED_OUT
        delay = float(self.faults.get("close_delay") or 0)
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._apply_close, record, callback_url)
        else:
            self._apply_close(record, callback_url)
        return Response(status_code=202)

    def _apply_close(self, record: dict, callback_url: str) -> None:
        """The close reaches the chain: the request is closed, the RP is told (close_request_result and
        a request_status with closed true)."""
        if record["closed"] or record["timed_out"]:
            return
        record["closed"] = True
        record["block_height"] = self._next_height()
        self._deliver(record, callback_url, {"node_id": self.rp_node_id, "type": "close_request_result",
                                             "reference_id": record["reference_id"],
                                             "request_id": record["request_id"], "success": True})
        self._send_status(record)

    # -- platform behaviour -------------------------------------------------------------------------------

    def _next_height(self) -> int:
        self._height += 1
        return self._height

    def _time_out(self, request_id: str) -> None:
        record = self.requests.get(request_id)
        if record is None or record["closed"] or record["timed_out"]:
            return
        record["timed_out"] = True
        record["block_height"] = self._next_height()
        self._send_status(record)

    def _request_detail(self, record: dict, *, validity: bool = True) -> dict:
        """The request as the chain holds it (core/request.js getRequestDetails without purpose).
        ``validity`` False blanks valid_signature/valid_ial, as the chain before the RP node closes the
        request (core/common/close_request.js writes them)."""
        responses = []
        for answer in record["response_list"]:
            entry = {"idp_id": answer["idp_id"], "ial": answer.get("ial"), "aal": answer.get("aal"),
                     "status": answer.get("status"), "signature": answer.get("signature"),
                     "valid_signature": answer.get("valid_signature"), "valid_ial": answer.get("valid_ial"),
                     "error_code": answer.get("error_code")}
            if not validity:
                entry["valid_signature"] = entry["valid_ial"] = None
            responses.append(entry)
        return {
            "request_id": record["request_id"], "min_idp": record["min_idp"],
            "min_ial": level_as_number(record["min_ial"]), "min_aal": level_as_number(record["min_aal"]),
            "request_timeout": record["request_timeout"], "idp_id_list": list(record["idp_id_list"]),
            "data_request_list": [], "request_message_hash": record["request_message_hash"],
            "response_list": responses, "closed": record["closed"], "timed_out": record["timed_out"],
            "mode": record["mode"], "request_type": record["request_type"],
            "requester_node_id": record["requester_node_id"],
            "status": record["status"], "creation_block_height": f"{CHAIN_ID}:{record['creation_block_height']}",
        }

    def _status_payload(self, record: dict) -> dict:
        # The RP node fills valid_signature/valid_ial from its own cache (core/rp/event_handlers.js).
        return {"node_id": self.rp_node_id, "type": "request_status",
                **{k: v for k, v in self._request_detail(record).items() if k != "creation_block_height"},
                "block_height": f"{CHAIN_ID}:{record['block_height']}"}

    async def request_detail(self, request_id: str) -> Response:
        """GET /utility/requests/{request_id}: 404 with an empty body when the chain does not know it.
        Each query of a known request is counted (``status_queries``, for tests of how often the RP
        reads)."""
        if request_id in self.requests:
            self.requests[request_id]["status_queries"] += 1
        if self.faults.get("status_query_delay"):
            await asyncio.sleep(float(self.faults["status_query_delay"]))
        if self.faults.get("status_query_error"):
            return _error(500, 10003, "simulated node failure")  # TENDERMINT_QUERY_ERROR
        record = self.requests.get(request_id)
        if record is None or not record["created"]:
            return Response(status_code=404)
        settled = record["closed"] or record["timed_out"]
        return JSONResponse(self._request_detail(record, validity=settled or not self.faults.get("validity_at_close")))

    def idp_nodes(self, min_ial: str | None, min_aal: str | None) -> Response:
        """GET /utility/idp: the registered IdPs with at least the given max levels (parseFloat, like
        routes/v6/utility.js); the ``unlisted_idps`` fault hides some."""
        try:
            floor_ial = float(min_ial) if min_ial not in (None, "") else 0.0
            floor_aal = float(min_aal) if min_aal not in (None, "") else 0.0
        except ValueError:
            return _error(400, 20002, "min_ial/min_aal must be numbers")  # QUERY_STRING_VALIDATION_FAILED
        hidden = self.faults.get("unlisted_idps") or []
        return JSONResponse([
            {"node_id": idp["idp_id"], "node_name": idp["name_en"], "max_ial": level_as_number(idp["max_ial"]),
             "max_aal": level_as_number(idp["max_aal"]), "agent": False,
             "supported_request_message_data_url_type_list": []}
            for idp in self.idps.values()
            if idp["idp_id"] not in hidden and float(idp["max_ial"]) >= floor_ial and float(idp["max_aal"]) >= floor_aal
        ])

    def _send_status(self, record: dict) -> None:
        payload = self._status_payload(record)
        previous = record["last_status"]
        record["last_status"] = payload
        self._deliver(record, record["callback_url"], payload)
        if self.faults.get("stale_callbacks") and previous is not None:
            self._deliver(record, record["callback_url"], previous)

    def _deliver(self, record: dict, url: str, payload: dict) -> None:
        """Queue one callback; callbacks of a request go out in order (one lock per request)."""
        if self.faults.get("drop_callbacks"):
            return
        copies = 2 if self.faults.get("duplicate_callbacks") else 1
        lock = self._locks.setdefault(record["request_id"], asyncio.Lock())
        for _ in range(copies):
            task = asyncio.get_running_loop().create_task(self._post_callback(lock, record, url, payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _post_callback(self, lock: asyncio.Lock, record: dict, url: str, payload: dict) -> None:
        async with lock:  # asyncio.Lock wakes waiters in FIFO order: delivery keeps the queueing order
            entry = {"type": payload["type"], "status": payload.get("status"), "url": url, "http_status": None,
                     "attempts": 0}
            record["callbacks"].append(entry)
            async with httpx.AsyncClient(timeout=5) as client:
                for delay in (0.0, *RETRY_DELAYS):
                    await asyncio.sleep(delay)
                    entry["attempts"] += 1
                    try:
                        answer = await client.post(url, json=payload)
                    except httpx.HTTPError:
                        continue
                    entry["http_status"] = answer.status_code
                    if answer.status_code < 300:
                        return

    def _recompute_status(self, record: dict) -> None:
        """NDID-style status from the answers: mixed accept/reject → complicated; enough accepts →
        completed (no data requests, so nothing to wait for); rejects → rejected; errors that leave
        min_idp out of reach → errored."""
        answers = record["response_list"]
        accepts = [a for a in answers if a.get("status") == "accept"]
        rejects = [a for a in answers if a.get("status") == "reject"]
        errors = [a for a in answers if a.get("error_code") is not None]
        still_open = len(record["idp_id_list"]) - len(answers)
        if accepts and rejects:
            record["status"] = "complicated"
        elif len(accepts) >= record["min_idp"]:
            record["status"] = "completed"
        elif rejects:
            record["status"] = "rejected"
        elif errors and len(accepts) + still_open < record["min_idp"]:
            record["status"] = "errored"
        else:
            record["status"] = "pending"

    # -- IdP app ---------------------------------------------------------------------------------------------

    def _open(self, record: dict) -> bool:
        return record["created"] and not record["closed"] and not record["timed_out"]

    def idp_app_list(self, citizen_id: str | None) -> Response:
        rows = []
        for record in self.requests.values():
            if not self._open(record) or (citizen_id and record["identifier"] != citizen_id):
                continue
            left = max(0, int(record["created_at"] + record["request_timeout"] - time.time()))
            rows.append(f'<li><a href="idp-app/requests/{html.escape(record["request_id"])}">'
                        f'{html.escape(_masked(record["identifier"]))}</a> · '
                        f'รหัสอ้างอิง · Reference <strong class="reference">'
                        f'{short_reference(record["reference_id"])}</strong> · '
                        + ('อนุมัติเอกสาร · document approval · ' if _is_dcontract(record) else '')
                        + f'{html.escape(record["request_message"][:80])} · {left} s</li>')
        body = ("<p>คำขอยืนยันตัวตนที่รอคำตอบ · Identity requests waiting for an answer</p>"
                + (f"<ul>{''.join(rows)}</ul>" if rows else "<p>ไม่มีคำขอ · No requests.</p>"))
        return _page("แอป IdP (จำลอง) · IdP app (simulated)", body)

    def idp_app_request(self, request_id: str) -> Response:
        record = self.requests.get(request_id)
        if record is None:
            return _page("ไม่พบคำขอ · Request not found", "", status=404)
        if not self._open(record):
            return _page("คำขอสิ้นสุดแล้ว · Request finished",
                         f"<p>{'ปิดแล้ว closed' if record['closed'] else 'หมดเวลา timed out'}</p>", status=409)
        answered = {a["idp_id"] for a in record["response_list"]}
        idps = [self.idps[i] for i in record["idp_id_list"] if i not in answered]
        idp_options = "".join(
            f'<option value="{html.escape(i["idp_id"])}">{html.escape(i["name_th"])} · {html.escape(i["name_en"])}'
            f' (IAL {i["identity_ial"]}, AAL ≤ {i["max_aal"]})</option>' for i in idps)
        default = idps[0] if idps else {"identity_ial": record["min_ial"], "max_aal": record["min_aal"]}
        ial_options = "".join(f'<option{" selected" if v == default["identity_ial"] else ""}>{v}</option>'
                              for v in IAL_LEVELS)
        aal_options = "".join(f'<option{" selected" if v == default["max_aal"] else ""}>{v}</option>'
                              for v in AAL_LEVELS)
        left = max(0, int(record["created_at"] + record["request_timeout"] - time.time()))
        error_options = "".join(f'<option value="{code}">{code}: {th} · {en}</option>'
                                for code, (th, en) in IDP_ERROR_CODES.items())
        approve = "ยืนยัน · Approve"
        documents = ""
        if _is_dcontract(record):
            # The person must be able to read what they approve: each document the IdP will check, as a link.
            approve = "อนุมัติเอกสาร · Approve the document"
            links = "".join(f'<li><a class="document" href="{html.escape(url)}" target="_blank" '
                            f'rel="noopener noreferrer">{html.escape(url)}</a></li>'
                            for url in document_urls(record["request_message"]))
            documents = ('<p class="request-type"><strong>คำขออนุมัติเอกสาร · Document approval request</strong>: '
                         'การยืนยันหมายถึงท่านอนุมัติเอกสารต่อไปนี้ โปรดอ่านก่อนยืนยัน · Approving means you approve '
                         'the documents below; please read them first.</p>'
                         f'<ul class="documents">{links}</ul>')
        body = (
            f'<p>เลขประจำตัวประชาชน · Citizen ID: {html.escape(_masked(record["identifier"]))}</p>'
            # The short reference the service shows on its waiting page (providers.ndid.short_reference of
            # the request's reference_id; the gateway also writes it into the request message).
            f'<p>รหัสอ้างอิง · Reference: <strong class="reference">{short_reference(record["reference_id"])}'
            f'</strong></p>'
            f'<blockquote class="request-message" style="white-space:pre-wrap">'
            f'{html.escape(record["request_message"])}</blockquote>{documents}'
            f'<p>ระดับขั้นต่ำ · Minimum: IAL {record["min_ial"]}, AAL {record["min_aal"]} · '
            f'เหลือเวลา · time left: {left} s</p>'
            f'<form method="post" action="{html.escape(request_id)}/respond">'
            f'<label>IdP <select name="idp_id">{idp_options}</select></label><br>'
            f'<label>IAL <select name="ial">{ial_options}</select></label> '
            f'<label>AAL <select name="aal">{aal_options}</select></label><br>'
            f'<button type="submit" name="action" value="accept">{approve}</button> '
            f'<button type="submit" name="action" value="reject">ปฏิเสธ · Reject</button><br>'
            f'<label>รหัสข้อผิดพลาด · Error code <select name="error_code">{error_options}</select></label><br>'
            f'<button type="submit" name="action" value="error">แจ้งข้อผิดพลาด · Report an error</button></form>'
        )
        return _page("แอป IdP (จำลอง) · IdP app (simulated)", body)

    async def idp_app_respond(self, request_id: str, request: Request) -> Response:
        record = self.requests.get(request_id)
        if record is None:
            return _page("ไม่พบคำขอ · Request not found", "", status=404)
        if not self._open(record):
            return _page("คำขอสิ้นสุดแล้ว · Request finished", "", status=409)
        form = await request.form()
        code = str(form.get("error_code", IDP_ERROR_CODE))
        return await self._answer(record, idp_id=str(form.get("idp_id", "")), action=str(form.get("action", "")),
                                  ial=str(form.get("ial", "")), aal=str(form.get("aal", "")),
                                  error_code=int(code) if code.isdigit() else -1)

    async def _auto_answer(self, record: dict) -> None:
        """The ``idp_answers`` fault: IdPs that answer a new request by themselves."""
        for idp_id, what in dict(self.faults.get("idp_answers") or {}).items():
            if not self._open(record) or idp_id not in self.idps:
                continue
            idp = self.idps[idp_id]
            if what in ("accept", "reject"):
                await self._answer(record, idp_id=idp_id, action=what, ial=idp["identity_ial"], aal=idp["max_aal"],
                                   error_code=IDP_ERROR_CODE)
            else:
                await self._answer(record, idp_id=idp_id, action="error", ial="", aal="",
                                   error_code=what if type(what) is int else IDP_ERROR_CODE)

    async def _answer(self, record: dict, *, idp_id: str, action: str, ial: str, aal: str,
                      error_code: int) -> Response:
        """``_respond``, but for a ``dsign.dcontract`` accept the IdP's node first checks the documents
        (``check_documents``, awaited so the event loop keeps serving); if they fail, the IdP's answer
        is the error 31000 instead. The request may end while the documents are fetched: then nothing
        is recorded (409)."""
        problem = None
        if action == "accept" and _is_dcontract(record) and self._may_answer(record, idp_id):
            problem = await check_documents(record["request_message"])
            record["document_checks"].append({"idp_id": idp_id, "problem": problem, "checked_at": time.time()})
            if problem:
                action, error_code = "error", DOCUMENT_INTEGRITY_FAILED
        if not self._open(record):
            return _page("คำขอสิ้นสุดแล้ว · Request finished", "", status=409)
        page = self._respond(record, idp_id=idp_id, action=action, ial=ial, aal=aal, error_code=error_code)
        if problem and page.status_code == 200:
            return _page("ตรวจสอบเอกสารไม่ผ่าน · The document could not be verified",
                         f"<p>IdP ตอบข้อผิดพลาด {DOCUMENT_INTEGRITY_FAILED} แทนการอนุมัติ · The IdP answered error "
                         f"{DOCUMENT_INTEGRITY_FAILED} instead of an approval: {html.escape(problem)}</p>")
        return page

    @staticmethod
    def _may_answer(record: dict, idp_id: str) -> bool:
        return idp_id in record["idp_id_list"] and all(a["idp_id"] != idp_id for a in record["response_list"])

    def _respond(self, record: dict, *, idp_id: str, action: str, ial: str, aal: str,
                 error_code: int) -> Response:
        """One IdP's answer to an open request, checked as the platform checks it."""
        if not self._may_answer(record, idp_id):
            return _page("ตอบไม่ได้ · Cannot answer", "<p>IdP นี้ไม่ได้รับคำขอหรือตอบไปแล้ว · "
                                                       "This IdP was not asked or has answered.</p>", status=400)
        if action not in ("accept", "reject", "error"):
            return _page("ตอบไม่ได้ · Cannot answer", "<p>action</p>", status=400)
        idp = self.idps[idp_id]
        checked = record["mode"] in (2, 3)  # the platform checks signature and IAL only where identity is known
        if action == "error":
            if error_code not in ANSWER_ERROR_CODES:
                return _page("ตอบไม่ได้ · Cannot answer", "<p>error_code</p>", status=400)
            answer: dict[str, Any] = {"idp_id": idp_id, "error_code": error_code}
        else:
            ial = normalise_level(ial, IAL_LEVELS)
            aal = normalise_level(aal, AAL_LEVELS)
            if ial is None or aal is None:
                return _page("ตอบไม่ได้ · Cannot answer", "<p>IAL/AAL</p>", status=400)
            below = (not level_at_least(ial, record["min_ial"], IAL_LEVELS)
                     or not level_at_least(aal, record["min_aal"], AAL_LEVELS))
            if action == "accept" and below and not self.faults.get("ignore_floors"):
                return _page("ตอบไม่ได้ · Cannot answer",  # 20055 / 20056: *_IS_LESS_THAN_REQUEST_MIN_*
                             "<p>ระดับต่ำกว่าที่คำขอกำหนด · The levels are below the request's minimum.</p>",
                             status=400)
            above = (not level_at_least(idp["max_ial"], ial, IAL_LEVELS)
                     or not level_at_least(idp["max_aal"], aal, AAL_LEVELS))
            if action == "accept" and above and not self.faults.get("exceed_idp_max"):
                return _page("ตอบไม่ได้ · Cannot answer",  # the chain refuses: 25010 ABCI_IAL_ERROR / 25009 AAL
                             "<p>ระดับสูงกว่าที่ IdP ขึ้นทะเบียนไว้ · The levels are above the IdP's registered "
                             "maximum.</p>", status=400)
            valid_ial = level_at_least(idp["identity_ial"], ial, IAL_LEVELS)
            answer = {
                "idp_id": idp_id, "status": action, "ial": level_as_number(ial), "aal": level_as_number(aal),
                "signature": base64.b64encode(secrets.token_bytes(32)).decode(),
                "valid_signature": (self.faults.get("valid_signature", True) is not False) if checked else None,
                "valid_ial": (valid_ial and self.faults.get("valid_ial", True) is not False) if checked else None,
            }
        record["response_list"].append(answer)
        self._recompute_status(record)
        record["block_height"] = self._next_height()
        self._send_status(record)
        word = {"accept": "ยืนยันแล้ว · Approved", "reject": "ปฏิเสธแล้ว · Rejected",
                "error": "แจ้งข้อผิดพลาดแล้ว · Error reported"}[action]
        return _page(word, "<p>กลับไปที่บริการได้เลย · You can return to the service now.</p>")

    # -- app ---------------------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="NDID simulator", docs_url=None, redoc_url=None, openapi_url=None)
        app.state.simulator = self

        @app.post("/rp/requests/{namespace}/{identifier}")
        async def create(namespace: str, identifier: str, request: Request) -> Response:
            return await self.create_request(namespace, identifier, request)

        @app.post("/rp/request_close")
        async def close(request: Request) -> Response:
            return await self.close_request(request)

        @app.get("/utility/requests/{request_id}")
        async def request_detail(request_id: str) -> Response:
            return await self.request_detail(request_id)

        @app.get("/rp/requests/{request_id}")
        async def request_detail_alias(request_id: str) -> Response:
            return await self.request_detail(request_id)

        @app.get("/utility/idp")
        async def idp_nodes(min_ial: str | None = None, min_aal: str | None = None) -> Response:
            return self.idp_nodes(min_ial, min_aal)

        @app.get("/utility/request_types")
        async def request_types(prefix: str | None = None) -> Response:
            return JSONResponse([t for t in REQUEST_TYPES if not prefix or t.startswith(prefix)])

        @app.get("/")
        async def home() -> Response:
            return RedirectResponse("idp-app", status_code=303)

        @app.get("/idp-app")
        async def idp_app(citizen_id: str | None = None) -> Response:
            return self.idp_app_list(citizen_id)

        @app.get("/idp-app/requests/{request_id}")
        async def idp_app_request(request_id: str) -> Response:
            return self.idp_app_request(request_id)

        @app.post("/idp-app/requests/{request_id}/respond")
        async def idp_app_respond(request_id: str, request: Request) -> Response:
            return await self.idp_app_respond(request_id, request)

        if self.control:
            @app.post("/_sim/faults")
            async def set_faults(request: Request) -> Response:
                faults = await request.json()
                unknown = sorted(set(faults) - set(FAULTS)) if isinstance(faults, dict) else ["<not a mapping>"]
                if unknown:
                    return JSONResponse({"error": f"unknown faults {unknown}", "known": FAULTS}, status_code=400)
                self.faults = faults
                return JSONResponse({"faults": self.faults})

            @app.get("/_sim/requests")
            async def list_requests(reference_id: str | None = None) -> Response:
                return JSONResponse([_public(r) for r in self.requests.values()
                                     if reference_id is None or r["reference_id"] == reference_id])

            @app.get("/_sim/requests/{request_id}")
            async def get_request(request_id: str) -> Response:
                record = self.requests.get(request_id)
                if record is None:
                    return JSONResponse({"error": "not found"}, status_code=404)
                return JSONResponse(_public(record))

        return app


def create_ndid_app(*, idps: tuple[dict, ...] = DEMO_IDPS, control: bool = False,
                    faults: dict | None = None) -> FastAPI:
    """An NDID-style platform; ``app.state.simulator`` is its ``NDIDSimulator``."""
    return NDIDSimulator(idps=idps, control=control, faults=faults).app


def document_urls(request_message: str) -> list[str]:
    """The document URLs of a ``dsign.dcontract`` message, as the IdP node finds them
    (``core/idp/contract_request.js`` ``extractURLFromRequestMessage``): the trimmed message split on
    runs of newlines, the lines that start with http:// or https:// (case-sensitive), trimmed."""
    lines = re.split(r"\n+", request_message.strip()) if isinstance(request_message, str) else []
    return [line.strip() for line in lines if re.match(r"https?://", line)]


async def check_documents(request_message: str) -> str | None:
    """What an IdP node finds wrong with the documents of a ``dsign.dcontract`` message, or None when
    every one is intact (``checkContractHash``: all URLs fetched concurrently; each must answer 200
    and the SHA-256 hex of its body must equal the text after the URL's last "/", lower-cased). No
    URL at all is a failure too. Never raises."""
    urls = document_urls(request_message)
    if not urls:
        return "no document URL in the request message"
    problems = await asyncio.gather(*(_document_problem(url) for url in urls))
    return next((p for p in problems if p), None)


async def _document_problem(url: str) -> str | None:
    digest, size = hashlib.sha256(), 0
    try:
        async with asyncio.timeout(DOCUMENT_FETCH_TIMEOUT), \
                httpx.AsyncClient(timeout=DOCUMENT_FETCH_TIMEOUT, follow_redirects=False) as client, \
                client.stream("GET", url) as response:
            if response.status_code != 200:
                return f"{url}: HTTP {response.status_code}"
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > DOCUMENT_MAX_BYTES:
                    return f"{url}: larger than {DOCUMENT_MAX_BYTES} bytes"
                digest.update(chunk)
    except TimeoutError:
        return f"{url}: no answer within {DOCUMENT_FETCH_TIMEOUT} s"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return f"{url}: unreachable ({type(exc).__name__})"
    if digest.hexdigest() != url.split("/")[-1].lower():
        return f"{url}: SHA-256 of the document differs from the URL"
    return None


def _is_dcontract(record: dict) -> bool:
    return record.get("request_type") == DCONTRACT_REQUEST_TYPE


def _public(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "last_status"}


def _masked(pid: str) -> str:
    return f"{pid[:1]}-{pid[1:5]}-xxxxx-{pid[10:12]}-{pid[12:]}" if len(pid) == 13 else "xxxxx"


def _error(status: int, code: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="th"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>body{{font-family:sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}"
        f"button,select{{margin:.25rem 0;padding:.4rem;max-width:100%}}</style></head>"
        f'<body><header><p>NDID (จำลอง) · <span lang="en">NDID simulator</span></p></header>'
        f"<main><h1>{html.escape(title)}</h1>{body}</main></body></html>",
        status_code=status, headers={"Cache-Control": "no-store"})
