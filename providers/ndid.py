"""NDID connector: the relying-party side of the NDID API (domain brief §3; ndidplatform/api
``docs/openapi/v7/rp.yaml`` and ``rp_callback.yaml``).

NDID is asynchronous. ``begin`` creates a request (``POST /rp/requests/{namespace}/{identifier}``)
and returns ``Pending`` with the state to keep (request_id, reference_id, initial_salt, floors,
deadline). The platform then calls the gateway's ``callback_url``; the gateway passes each callback
body to ``handle_callback`` and stores the state it returns. ``status`` reads the outcome from the
state; ``complete`` turns a finished request into an ``UpstreamIdentity`` or a typed
``UpstreamError`` and always closes the request (``POST /rp/request_close``).

The connector holds no request state of its own: everything lives in the JSON-serialisable state
dicts, so any gateway worker can handle any callback.
"""

from __future__ import annotations

import copy
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from providers._http import http_errors
from providers.base import (
    AAL_LEVELS,
    COMMON_FIELDS,
    IAL_LEVELS,
    NAME_PATTERN,
    ConfigReader,
    Pending,
    UpstreamError,
    UpstreamIdentity,
    level_as_number,
    level_at_least,
    normalise_level,
    valid_citizen_id,
)

log = logging.getLogger(__name__)

FIELDS = COMMON_FIELDS | {"api_base", "namespace", "idp_id_list", "min_idp", "mode", "request_timeout",
                          "timeout_seconds", "amr", "node_id"}
# rp_callback.yaml CallbackRequestStatus.status
NDID_STATUSES = ("pending", "confirmed", "rejected", "partial_completed", "completed", "complicated", "errored")
TERMINAL_STATUSES = ("rejected", "completed", "complicated", "errored")
# The platform's own timed_out callback normally ends a request; this grace only covers a lost callback.
TIMEOUT_GRACE = 3


class NDIDUpstream:
    """One configured NDID relying-party node. Construction does no I/O; thread-safe (no mutable state)."""

    type = "ndid"
    mode = "async"

    def __init__(self, *, config: dict, where: str = "provider", clock: Callable[[], float] = time.time,
                 transport: httpx.BaseTransport | None = None) -> None:
        read = ConfigReader(config, where=where, allowed=FIELDS)
        self.name = read.string("name", pattern=NAME_PATTERN)
        self.display_name = read.display_name()
        self.api_base = read.string("api_base").rstrip("/")
        parts = urlsplit(self.api_base)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise read.fail("api_base", "must be an absolute http(s) URL of the RP node's API")
        self.namespace = read.string("namespace", default="citizen_id", pattern=r"[A-Za-z0-9_.-]{1,64}")
        self.idp_id_list = read.string_list("idp_id_list", default=[])
        self.min_idp = int(read.number("min_idp", default=1, low=1, high=20, integer=True))
        self.request_mode = int(read.number("mode", default=2, low=1, high=3, integer=True))
        # rp.yaml: idp_id_list is optional only for modes 2 and 3.
        if self.request_mode == 1 and not self.idp_id_list:
            raise read.fail("idp_id_list", "required (non-empty) in mode 1")
        if self.idp_id_list and self.min_idp > len(self.idp_id_list):
            raise read.fail("min_idp", "larger than the number of IdPs in idp_id_list")
        # Domain brief §3: request_timeout is in seconds and at least 1.
        self.request_timeout = int(read.number("request_timeout", default=300, low=1, high=86400, integer=True))
        self.timeout = read.number("timeout_seconds", default=10, low=0.1, high=120)
        self.amr = tuple(read.string_list("amr", default=["mfa"]))
        self.node_id = read.string("node_id") if read.has("node_id") else None
        self._clock = clock
        self._transport = transport

    def __repr__(self) -> str:
        return f"NDIDUpstream(name={self.name!r}, api_base={self.api_base!r}, mode={self.request_mode})"

    # -- public contract ---------------------------------------------------------------------------------

    def begin(self, *, citizen_id: str, min_ial: str, min_aal: str, callback_url: str,
              request_message: str, reference_id: str | None = None) -> Pending:
        """Create an NDID request for ``citizen_id`` asking for at least ``min_ial``/``min_aal`` (Thai
        vocabulary strings from the service policy). ``callback_url`` receives every callback of this
        request; it should carry an unguessable per-attempt token because the platform does not sign
        callbacks. ``reference_id`` is the idempotency key and must be unique per attempt (a fresh
        random one when omitted). Raises ``UpstreamError`` (invalid_citizen_id, bad_configuration,
        upstream_unreachable, upstream_timeout, upstream_error)."""
        # Domain brief §3: namespace citizen_id is checksum validated by the platform; fail early here.
        if self.namespace == "citizen_id" and not valid_citizen_id(citizen_id):
            raise UpstreamError("invalid_citizen_id", "citizen ID fails the checksum")
        if not isinstance(citizen_id, str) or not citizen_id:
            raise UpstreamError("invalid_citizen_id", "empty identifier")
        floor_ial = normalise_level(min_ial, IAL_LEVELS)
        floor_aal = normalise_level(min_aal, AAL_LEVELS)
        if floor_ial is None or floor_aal is None:
            raise UpstreamError("bad_configuration", f"min_ial {min_ial!r} / min_aal {min_aal!r} not Thai levels")
        if not isinstance(callback_url, str) or urlsplit(callback_url).scheme not in ("http", "https"):
            raise UpstreamError("bad_configuration", "callback_url must be an absolute http(s) URL")
        if not isinstance(request_message, str) or not request_message.strip():
            raise UpstreamError("bad_configuration", "request_message is empty")
        reference_id = reference_id if reference_id is not None else secrets.token_hex(16)
        if not isinstance(reference_id, str) or not reference_id:
            raise UpstreamError("bad_configuration", "reference_id must be a non-empty string")
        body: dict[str, Any] = {
            "mode": self.request_mode,
            "reference_id": reference_id,
            "callback_url": callback_url,
            "idp_id_list": self.idp_id_list,
            "data_request_list": [],  # identity only: no data from authoritative sources
            "request_message": request_message,
            # rp.yaml: min_ial / min_aal are JSON numbers from the Thai vocabulary.
            "min_ial": level_as_number(floor_ial),
            "min_aal": level_as_number(floor_aal),
            "min_idp": self.min_idp,
            "request_timeout": self.request_timeout,
        }
        if self.node_id:
            body["node_id"] = self.node_id
        url = f"{self.api_base}/rp/requests/{quote(self.namespace, safe='')}/{quote(citizen_id, safe='')}"
        answer = self._post(url, body, "create request")
        request_id, initial_salt = answer.get("request_id"), answer.get("initial_salt")
        if not isinstance(request_id, str) or not request_id or not isinstance(initial_salt, str):
            raise UpstreamError("upstream_error", "create request: answer without request_id/initial_salt")
        now = int(self._clock())
        expires_at = now + self.request_timeout
        state = {
            "provider": self.name, "request_id": request_id, "reference_id": reference_id,
            # rp.yaml: the RP MUST keep initial_salt for later auditing.
            "initial_salt": initial_salt, "namespace": self.namespace, "identifier": citizen_id,
            "mode": self.request_mode, "min_ial": floor_ial, "min_aal": floor_aal, "min_idp": self.min_idp,
            "idp_id_list": list(self.idp_id_list), "request_timeout": self.request_timeout,
            "callback_url": callback_url, "created_at": now, "expires_at": expires_at,
            "created": None, "create_error": None, "status": "pending", "closed": False, "timed_out": False,
            "response_list": [], "block_height": None, "completed_at": None, "close_result": None,
        }
        return Pending(request_id=request_id, reference_id=reference_id, expires_at=expires_at, state=state)

    def handle_callback(self, *, state: dict, payload: dict) -> dict:
        """Apply one platform callback to ``state`` and return the new state (the input is not changed).

        Idempotent and order-tolerant: a duplicate changes nothing; a request_status older than the
        one already applied (lower block height) is ignored; ``closed`` and ``timed_out`` only ever
        become true; a finished status never goes back to pending. A callback for another request
        raises ``UpstreamError("state_mismatch")``; unknown callback types are ignored.
        """
        if not isinstance(payload, dict):
            raise UpstreamError("upstream_error", "callback body is not a JSON object")
        if payload.get("request_id") != state.get("request_id"):
            raise UpstreamError("state_mismatch", "callback for another request_id")
        if "reference_id" in payload and payload["reference_id"] != state.get("reference_id"):
            raise UpstreamError("state_mismatch", "callback for another reference_id")
        new = copy.deepcopy(state)
        kind = payload.get("type")
        if kind == "create_request_result":
            if payload.get("success") is True:
                new["created"] = True
            elif new["created"] is not True:
                new["created"] = False
                new["create_error"] = _error_text(payload.get("error"))
        elif kind == "request_status":
            self._apply_status(new, payload)
        elif kind == "close_request_result":
            if payload.get("success") is True:
                new["closed"] = True
                new["close_result"] = "closed"
            elif new["close_result"] != "closed":
                new["close_result"] = _error_text(payload.get("error"))
        return new

    def status(self, *, state: dict, now: int) -> str:
        """The request's outcome so far: ``pending``, ``completed`` (the platform reports enough answers;
        ``complete`` still checks each one), ``rejected``, ``complicated``, ``errored`` or ``timed_out``.
        A request past its deadline (plus a short grace for a lost callback) counts as timed out."""
        if state.get("created") is False:
            return "errored"
        ndid_status = state.get("status")
        if ndid_status in TERMINAL_STATUSES:
            return ndid_status
        if state.get("timed_out") or now >= int(state["expires_at"]) + TIMEOUT_GRACE:
            return "timed_out"
        if state.get("closed"):
            return "errored"  # closed by someone before any outcome
        return "pending"

    def complete(self, *, state: dict) -> UpstreamIdentity:
        """Finish the request: the identity when the platform completed it with at least ``min_idp``
        acceptable answers, otherwise ``UpstreamError`` (rejected, complicated, errored, timed_out,
        invalid_signature, ial_too_low, aal_too_low). Closes the request in every case (NDID requires
        the RP to close what it opened); a close failure is logged and does not change the outcome.
        Called while still pending it cancels the request (``rejected``)."""
        now = int(self._clock())
        try:
            outcome = self.status(state=state, now=now)
            if outcome == "completed":
                return self._identity(state, now=now)
            if outcome == "pending":
                raise UpstreamError("rejected", "request closed by the relying party before any answer")
            detail = f"NDID request ended {outcome}"
            if state.get("create_error"):
                detail += f" (create failed: {state['create_error']})"
            raise UpstreamError(outcome, detail)
        finally:
            self._close(state)

    # -- internals ---------------------------------------------------------------------------------------

    def _post(self, url: str, body: dict, what: str) -> dict:
        with http_errors(what), httpx.Client(timeout=self.timeout, transport=self._transport) as http:
            response = http.post(url, json=body)
            if response.status_code >= 400:
                raise UpstreamError("upstream_error", f"{what}: HTTP {response.status_code} {_ndid_error(response)}")
            if not response.content:
                return {}
            answer = response.json()
        if not isinstance(answer, dict):
            raise UpstreamError("upstream_error", f"{what}: answer is not a JSON object")
        return answer

    def _close(self, state: dict) -> None:
        if state.get("closed") or not state.get("request_id"):
            return
        body = {"reference_id": state["reference_id"], "callback_url": state["callback_url"],
                "request_id": state["request_id"]}
        if self.node_id:
            body["node_id"] = self.node_id
        try:
            self._post(f"{self.api_base}/rp/request_close", body, "close request")
        except UpstreamError as exc:
            # A timed-out request cannot be closed any more; anything else is worth an operator's look.
            log.warning("NDID close of request %s failed: %s", state["request_id"], exc.detail)

    def _apply_status(self, state: dict, payload: dict) -> None:
        height = _block_height(payload.get("block_height"))
        stored = state.get("block_height")
        if height is not None and stored is not None and height < stored:
            return  # an older status delivered late: what we have is newer
        ndid_status = payload.get("status")
        # Without heights to order by (older APIs), a finished status still never returns to an open one.
        regresses = state["status"] in TERMINAL_STATUSES and ndid_status not in TERMINAL_STATUSES
        if ndid_status in NDID_STATUSES and not regresses:
            if ndid_status == "completed" and state["status"] != "completed":
                state["completed_at"] = int(self._clock())  # the identity's auth_time
            state["status"] = ndid_status
            responses = payload.get("response_list")
            if isinstance(responses, list):
                state["response_list"] = [r for r in responses if isinstance(r, dict)]
        if height is not None:
            state["block_height"] = height
        state["closed"] = bool(state["closed"] or payload.get("closed") is True)
        state["timed_out"] = bool(state["timed_out"] or payload.get("timed_out") is True)

    def _identity(self, state: dict, *, now: int) -> UpstreamIdentity:
        """Domain brief §3: accept only `accept` answers meeting the floors, with valid signature and
        IAL in modes 2/3; the identity carries the lowest level among the answers counted."""
        accepted: list[tuple[dict, str, str]] = []
        reasons: list[str] = []
        asked = state.get("idp_id_list") or []
        for answer in state.get("response_list", []):
            if answer.get("status") != "accept" or answer.get("error_code") is not None:
                continue
            if asked and answer.get("idp_id") not in asked:
                reasons.append("errored")
                continue
            if state["mode"] in (2, 3):
                if answer.get("valid_signature") is not True:
                    reasons.append("invalid_signature")
                    continue
                if answer.get("valid_ial") is not True:
                    reasons.append("ial_too_low")
                    continue
            ial = normalise_level(answer.get("ial"), IAL_LEVELS)
            aal = normalise_level(answer.get("aal"), AAL_LEVELS)
            if ial is None or not level_at_least(ial, state["min_ial"], IAL_LEVELS):
                reasons.append("ial_too_low")
                continue
            if aal is None or not level_at_least(aal, state["min_aal"], AAL_LEVELS):
                reasons.append("aal_too_low")
                continue
            accepted.append((answer, ial, aal))
        if len(accepted) < int(state.get("min_idp", 1)):
            for code in ("invalid_signature", "ial_too_low", "aal_too_low"):
                if code in reasons:
                    raise UpstreamError(code, f"NDID answers refused ({', '.join(sorted(set(reasons)))})")
            raise UpstreamError("errored", "NDID completed without enough acceptable answers")
        ial = min((a[1] for a in accepted), key=IAL_LEVELS.index)
        aal = min((a[2] for a in accepted), key=AAL_LEVELS.index)
        return UpstreamIdentity(
            provider=self.name, issuer=self.api_base, subject=state["identifier"], citizen_id=state["identifier"],
            claims={}, ial=ial, aal=aal, amr=self.amr, auth_time=int(state.get("completed_at") or now),
            raw_levels={
                "idp_ids": [a[0].get("idp_id") for a in accepted],
                "responses": [{k: a[0].get(k) for k in ("idp_id", "ial", "aal", "status", "valid_signature",
                                                         "valid_ial")} for a in accepted],
                "mode": state["mode"], "min_ial": state["min_ial"], "min_aal": state["min_aal"],
                "request_id": state["request_id"], "initial_salt": state["initial_salt"],
            },
        )


def _block_height(value: Any) -> int | None:
    """rp_callback.yaml: block_height is ``"<CHAIN_ID>:<BLOCK_HEIGHT>"``; older APIs sent a number."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        tail = value.rsplit(":", 1)[-1]
        if tail.isdigit():
            return int(tail)
    return None


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return f"{error.get('code')}: {str(error.get('message'))[:200]}"
    return "unknown error"


def _ndid_error(response: httpx.Response) -> str:
    try:
        return _error_text(response.json().get("error"))
    except (ValueError, AttributeError):
        return ""
