"""NDID connector: the relying-party side of the NDID API (domain brief §3; ndidplatform/api
``main-server/src/http_server/routes/v6/rp.js`` and ``utility.js``, callbacks as in
``main-server/src/core/rp/event_handlers.js``).

NDID is asynchronous. ``begin`` creates a request (``POST /rp/requests/{namespace}/{identifier}``)
and returns ``Pending`` with the state to keep. From then on:

* **Callbacks are hints, never evidence.** The platform does not sign callbacks and anyone who
  learns the callback URL can post one (domain brief §3: "a callback is a notification, not
  proof"). ``handle_callback`` checks that a body names this request and records *that something
  happened* (``state["hint"]``); nothing in a body is used to decide an outcome.
* **The RP node is the source of the request's state.** ``refresh`` reads the request from the
  RP's own node (``GET /utility/requests/{request_id}``, ``routes/v6/utility.js``; shape from
  ``core/request.js`` ``getRequestDetails``: the chain's request detail plus ``status`` from
  ``utils`` ``getRequestStatus`` and ``creation_block_height`` as ``"<chain>:<height>"``; 404 when
  the chain does not know the request) and keeps a normalised copy in the state. ``needs_refresh``
  says when to read again (a new hint, a poll interval, a passed deadline); ``status`` decides only
  from that copy and the deadline.
* **The platform's IdP catalogue is the source of who may answer.** ``complete`` accepts answers
  only from IdPs that the platform lists (``GET /utility/idp``, ``routes/v6/utility.js`` →
  ``tendermint/ndid.js`` ``getIdpNodes``: ``node_id``, ``max_ial``, ``max_aal``), and never above the
  levels the IdP is registered for (an IdP must have ``max_ial``/``max_aal``, ``core/ndid/index.js``).
* ``complete`` closes the request (``POST /rp/request_close``) *first*, reads the node once more
  and decides only from that answer. Closing first matters on the real platform: the RP node
  computes ``valid_signature``/``valid_ial`` when an answer arrives (``core/common/index.js``
  ``getAndSaveIdpResponseValid``) but writes them to the chain only when the request is closed or
  times out (``core/common/close_request.js`` passes ``responseValidList`` to the chain); until then
  the status query may show them as null. With ``autoCloseRequestOnCompleted`` (on by default,
  ``main-server/src/config.js``) the node closes a completed, all-valid request itself.

The connector holds no request state of its own: everything lives in the JSON-serialisable state
dicts, so any gateway worker can handle any step. The only shared mutable data is the IdP catalogue
cache, behind a lock.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
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
from providers.ndid_dsign import DocumentApprovals

log = logging.getLogger(__name__)

FIELDS = COMMON_FIELDS | {"api_base", "namespace", "idp_id_list", "min_idp", "mode", "request_timeout",
                          "timeout_seconds", "amr", "node_id", "poll_interval", "idp_catalogue_ttl",
                          "max_ial", "max_aal"}
# utils/index.js getRequestStatus (plus partial_completed from the callback schema)
NDID_STATUSES = ("pending", "confirmed", "rejected", "partial_completed", "completed", "complicated", "errored")
TERMINAL_STATUSES = ("rejected", "completed", "complicated", "errored")
CALLBACK_TYPES = ("create_request_result", "request_status", "close_request_result")
# The platform marks a request timed_out itself; this grace only covers a node that has not yet.
TIMEOUT_GRACE = 3
# The RP node answers the create call (202) before the request is on the chain: a 404 from the status
# query is "not yet" for this long after begin, then "the platform does not know this request".
UNKNOWN_REQUEST_GRACE = 10
# After a close the node was asked for, wait this much (at most timeout_seconds in all) for the chain
# to show it, because validity flags are written to the chain by the close.
CLOSE_WAIT_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)
MAX_ANSWER_BYTES = 1024 * 1024
MAX_TEXT = 256
NOT_FOUND = object()  # what _get answers for a 404 (a JSON body can be null, so not None)
# Letters and digits a person reads off one screen and finds on another without confusing them
# (no O/0, I/1): 32 symbols, 5 bits each.
SHORT_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
SHORT_REFERENCE_LENGTH = 6


def short_reference(reference_id: str) -> str:
    """Six characters derived from a request's ``reference_id`` (SHA-256 in an alphabet without
    look-alike characters), shown on the waiting page and in the request message so that the
    citizen can match the request their IdP app shows with the sign-in they started. A visual
    check, not a secret and not unique (30 bits): never use it to find or decide anything."""
    number = int.from_bytes(hashlib.sha256(reference_id.encode()).digest()[:8], "big")
    return "".join(SHORT_REFERENCE_ALPHABET[(number >> (5 * i)) & 31] for i in range(SHORT_REFERENCE_LENGTH))


@dataclass(frozen=True)
class AnswerProgress:
    """What the last node read (``refresh``) shows of the IdPs' answers, for telling the citizen
    what is going on while a request is pending. Never a decision: ``status`` and ``complete``
    decide; an answer counted here may still be refused by ``complete``.

    ``asked``: IdPs the request went to (the node's ``idp_id_list``); ``needed``: ``min_idp``;
    ``accepted`` / ``rejected`` / ``errored``: IdPs of that list whose answer is an accept, a reject,
    or an error (an ``error_code``, e.g. 10101 unknown identity); ``error_codes``: those codes."""

    asked: int
    needed: int
    accepted: int
    rejected: int
    errored: int
    error_codes: tuple = ()

    @property
    def waiting_for(self) -> int:
        """IdPs that have not answered yet."""
        return max(0, self.asked - self.accepted - self.rejected - self.errored)

    @property
    def others_can_answer(self) -> bool:
        """Some IdP could not help (it answered with an error), yet the IdPs that have not
        answered can still bring the request to ``min_idp`` acceptances. A rejection is not
        included: it is the citizen's own "no", and any accept after it makes the request
        ``complicated`` on the platform, which never completes a sign-in."""
        return self.errored > 0 and self.rejected == 0 and self.waiting_for >= self.needed - self.accepted > 0


class NDIDUpstream(DocumentApprovals):
    """One configured NDID relying-party node. Construction does no I/O. Thread-safe: request state
    lives in the callers' state dicts; the IdP catalogue cache and the HTTP client are guarded by locks.
    Document approvals (``begin_document_approval``, ``complete_document_approval``): ``providers.ndid_dsign``."""

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
        self.poll_interval = read.number("poll_interval", default=3, low=0.1, high=300)
        self.idp_catalogue_ttl = read.number("idp_catalogue_ttl", default=300, low=0, high=86400)
        # The highest levels the IdPs behind this node are expected to give (Thai banks: IAL 2.3,
        # AAL 2.2); used only to decide whether to offer NDID for a service's floors; the answer of
        # each request is still checked against the platform's registry (``_idp_catalogue``).
        self.max_ial = read.level("max_ial", IAL_LEVELS, default="2.3")
        self.max_aal = read.level("max_aal", AAL_LEVELS, default="2.2")
        self._clock = clock
        self._transport = transport
        self._catalogue_lock = threading.Lock()
        self._catalogue: tuple[float, dict[str, dict]] | None = None  # (monotonic fetch time, node_id → entry)
        # One HTTP client per connector, made on first use: building one loads the CA bundle (about 30 ms
        # of CPU), too much for every poll of every waiting page; it also keeps connections to the node.
        self._client_lock = threading.Lock()
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"NDIDUpstream(name={self.name!r}, api_base={self.api_base!r}, mode={self.request_mode})"

    # -- public contract ---------------------------------------------------------------------------------

    def levels_offered(self) -> tuple[str, str]:
        """(highest IAL, AAL) a sign-in here can give, as configured (``max_ial``, ``max_aal``)."""
        return self.max_ial, self.max_aal

    def begin(self, *, citizen_id: str, min_ial: str, min_aal: str, callback_url: str,
              request_message: str, reference_id: str | None = None) -> Pending:
        """Create an NDID request for ``citizen_id`` asking for at least ``min_ial``/``min_aal`` (Thai
        vocabulary strings from the service policy). ``callback_url`` receives every callback of this
        request; it should carry an unguessable per-attempt token because the platform does not sign
        callbacks. ``reference_id`` is the idempotency key and must be unique per attempt (a fresh
        random one when omitted). Raises ``UpstreamError`` (invalid_citizen_id, bad_configuration,
        upstream_unreachable, upstream_timeout, upstream_error).

        The state records what was asked (mode, floors, min_idp, idp_id_list, timeout) so that
        ``complete`` can check the node's copy of the request against it; ``reference_id`` (what to
        show the citizen) and ``expires_at`` (the deadline) are for the waiting page."""
        return self._create(citizen_id=citizen_id, min_ial=min_ial, min_aal=min_aal, callback_url=callback_url,
                            request_message=request_message, reference_id=reference_id)

    def _create(self, *, citizen_id: str, min_ial: str, min_aal: str, callback_url: str, request_message: str,
                reference_id: str | None, request_type: str | None = None, min_idp: int | None = None,
                idp_id_list: list[str] | None = None, extra_state: dict | None = None) -> Pending:
        """``begin`` for any request type (rp.yaml ``request_type``, sent only when not None); ``min_idp``
        and ``idp_id_list`` default to the configuration; ``extra_state`` is merged into the state."""
        min_idp = self.min_idp if min_idp is None else min_idp
        idp_id_list = list(self.idp_id_list if idp_id_list is None else idp_id_list)
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
            "idp_id_list": idp_id_list,
            "data_request_list": [],  # identity only: no data from authoritative sources
            "request_message": request_message,
            # rp.yaml: min_ial / min_aal are JSON numbers from the Thai vocabulary.
            "min_ial": level_as_number(floor_ial),
            "min_aal": level_as_number(floor_aal),
            "min_idp": min_idp,
            "request_timeout": self.request_timeout,
        }
        if request_type is not None:
            body["request_type"] = request_type
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
            # What we asked for: complete() refuses a node view of the request that differs.
            "mode": self.request_mode, "min_ial": floor_ial, "min_aal": floor_aal, "min_idp": min_idp,
            "idp_id_list": idp_id_list, "request_timeout": self.request_timeout, "request_type": request_type,
            "callback_url": callback_url, "created_at": now, "expires_at": expires_at,
            # The node's view (refresh) and the callbacks' hints (handle_callback).
            "node": None, "node_read_at": None, "completed_at": None, "hint": None, "hint_seen": 0,
            **(extra_state or {}),
        }
        return Pending(request_id=request_id, reference_id=reference_id, expires_at=expires_at, state=state)

    def handle_callback(self, *, state: dict, payload: Any) -> dict:
        """Record one platform callback as a hint and return the new state (the input is not changed).

        A callback is a notification, not proof (domain brief §3; the platform does not sign
        callbacks): this checks that ``payload`` names this request (``request_id``, and
        ``reference_id`` when present; else ``UpstreamError("state_mismatch")``) and sets
        ``state["hint"] = {"type", "status", "received_at", "count"}``. Nothing that ``status`` or
        ``complete`` decide from changes: no response_list, status, closed or timed_out is taken
        from the body; the next ``refresh`` reads them from the node. Any JSON value is accepted as
        ``payload`` and ends in a new state or ``UpstreamError`` (a non-object is ``upstream_error``).
        Idempotent in effect: duplicates and out-of-order callbacks only ask for another read."""
        if not isinstance(state, dict) or state.get("provider") != self.name or not state.get("request_id"):
            raise UpstreamError("state_mismatch", "callback for a state of another provider")
        if not isinstance(payload, dict):
            raise UpstreamError("upstream_error", "callback body is not a JSON object")
        if not isinstance(payload.get("request_id"), str) or payload["request_id"] != state["request_id"]:
            raise UpstreamError("state_mismatch", "callback for another request_id")
        if "reference_id" in payload and payload["reference_id"] != state.get("reference_id"):
            raise UpstreamError("state_mismatch", "callback for another reference_id")
        kind, status = payload.get("type"), payload.get("status")
        previous = state.get("hint") if isinstance(state.get("hint"), dict) else {}
        new = copy.deepcopy(state)
        new["hint"] = {
            "type": kind if kind in CALLBACK_TYPES else "other",
            "status": status if status in NDID_STATUSES else None,
            "received_at": self._clock(),
            "count": _count(previous.get("count")) + 1,
        }
        return new

    def needs_refresh(self, *, state: dict, now: float) -> bool:
        """True when the gateway should ``refresh`` before deciding: a callback hint arrived after the
        last node read, the last read is older than ``poll_interval`` seconds (callbacks can be lost;
        polling alone must finish a sign-in), or the deadline passed and the node view is not
        terminal yet (so a late answer or the platform's timed_out is seen promptly)."""
        view, read_at = state.get("node"), state.get("node_read_at")
        if not isinstance(view, dict) or not isinstance(read_at, int | float):
            return True
        hint = state.get("hint")
        if isinstance(hint, dict) and _count(hint.get("count")) > _count(state.get("hint_seen")):
            return True
        if now - read_at >= self.poll_interval:
            return True
        return now >= int(state["expires_at"]) and not _terminal(view)

    def refresh(self, *, state: dict) -> dict:
        """Read the request from the RP's node and return a new state holding the normalised node view
        (``state["node"]``: known, request_id, status, closed, timed_out, mode, min_ial, min_aal,
        min_idp, idp_id_list, requester_node_id, response_list) and the read time
        (``state["node_read_at"]``). ``GET {api_base}/utility/requests/{request_id}`` (plus
        ``?node_id=`` when configured); a 404 means the platform does not know the request
        (``known: false``). Transport failures, HTTP errors and malformed or oversized JSON raise
        ``UpstreamError`` (upstream_unreachable, upstream_timeout, upstream_error)."""
        request_id = state.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise UpstreamError("state_mismatch", "state without a request_id")
        params = {"node_id": self.node_id} if self.node_id else None
        answer = self._get(f"{self.api_base}/utility/requests/{quote(request_id, safe='')}", "status query",
                           params=params)
        if answer is NOT_FOUND:
            view: dict[str, Any] = {"known": False}
        elif not isinstance(answer, dict):
            raise UpstreamError("upstream_error", "status query: answer is not a JSON object")
        else:
            view = _node_view(answer)
        read_at = self._clock()
        new = copy.deepcopy(state)
        new["node"], new["node_read_at"] = view, read_at
        hint = state.get("hint")
        new["hint_seen"] = _count(hint.get("count")) if isinstance(hint, dict) else 0
        if view.get("status") == "completed" and not new.get("completed_at"):
            new["completed_at"] = int(read_at)  # first read that saw it completed: the identity's auth_time
        return new

    def status(self, *, state: dict, now: float) -> str:
        """The request's outcome so far, decided from the node view (``refresh``) and the deadline only:
        ``pending``, ``completed`` (the node reports enough answers; ``complete`` still checks each
        one), ``rejected``, ``complicated``, ``errored`` or ``timed_out``. A request past its deadline
        plus a short grace that the node still calls open counts as timed out; a node view that is not
        the request we created, or a request the node still does not know after a grace, is errored
        (``complete`` then gives the precise error)."""
        deadline_passed = now >= int(state["expires_at"]) + TIMEOUT_GRACE
        view = state.get("node")
        if not isinstance(view, dict):
            return "timed_out" if deadline_passed else "pending"
        if not view.get("known"):
            waited = now >= int(state.get("created_at") or 0) + UNKNOWN_REQUEST_GRACE
            return "errored" if waited or deadline_passed else "pending"
        if self._mismatch(state, view):
            return "errored"
        if view.get("status") in TERMINAL_STATUSES:
            return view["status"]
        if view.get("timed_out") or deadline_passed:
            return "timed_out"
        if view.get("closed"):
            return "errored"  # closed by someone before any outcome
        return "pending"

    def complete(self, *, state: dict) -> UpstreamIdentity:
        """Finish the request and return the identity, or raise ``UpstreamError``.

        Always closes the request first (NDID requires the RP to close what it opened; a refused
        close, e.g. already timed out, is logged and does not change the outcome), then reads the
        node itself and decides only from that answer: nothing from callbacks or from earlier reads
        counts. Refuses with ``state_mismatch`` a node view that is not the request we created
        (request_id, mode, min_ial/min_aal/min_idp differ from what ``begin`` asked, or
        requester_node_id differs from the configured ``node_id``). Outcomes other than completed
        raise their own code (rejected, complicated, errored, timed_out); called while the node still
        calls the request open, this cancels it (``rejected``). A completed request needs ``min_idp``
        distinct IdPs whose answer passes ``_acceptable``; otherwise the most telling refusal is raised
        (unknown_idp, idp_max_exceeded, invalid_signature, ial_too_low, aal_too_low, else errored).
        A request of another type (a document approval, ``providers.ndid_dsign``) is never a sign-in:
        ``state_mismatch``."""
        if not isinstance(state, dict) or state.get("provider") != self.name:
            raise UpstreamError("state_mismatch", "state of another provider")
        if state.get("request_type") is not None:
            raise UpstreamError("state_mismatch", f"a {state['request_type']} request is not a sign-in")
        state = self._settle(state)
        now = int(self._clock())
        self._check_outcome(state, now=now)
        return self._identity(state, state["node"], now=now)

    def _settle(self, state: dict) -> dict:
        """Close the request, then read the node (waiting, bounded, until it shows the close): the
        state ``complete`` and ``complete_document_approval`` decide from."""
        closing = self._close(state)
        state = self.refresh(state=state)
        if closing:
            # The close reaches the chain a block later on the real platform: wait (bounded) until the
            # node shows it, because the validity flags are written to the chain by the close.
            give_up = time.monotonic() + self.timeout
            for delay in CLOSE_WAIT_DELAYS:
                view = state["node"]
                if not view.get("known") or view.get("closed") or view.get("timed_out") \
                        or self._mismatch(state, view) or time.monotonic() + delay > give_up:
                    break
                time.sleep(delay)
                state = self.refresh(state=state)
        return state

    def cancel(self, *, state: dict) -> bool:
        """The citizen gave up waiting: close the request at the node (``POST /rp/request_close``)
        so that their IdP app stops offering it. True when the node accepted the close; False when
        it refused (already closed or timed out, unknown request) or could not be reached, which
        is logged and changes nothing for the caller: the request then ends at its timeout. Reads
        nothing and decides nothing, unlike ``complete``: an answer that arrives meanwhile is
        never used."""
        if not isinstance(state, dict) or state.get("provider") != self.name:
            raise UpstreamError("state_mismatch", "state of another provider")
        return self._close(state)

    def progress(self, *, state: dict) -> AnswerProgress:
        """The IdPs' answers as the last ``refresh`` saw them (zero counts before any read or when
        the node does not know the request). For the waiting page's words only."""
        view = state.get("node") if isinstance(state, dict) else None
        if not isinstance(view, dict) or not view.get("known"):
            return AnswerProgress(asked=0, needed=_count(state.get("min_idp")) if isinstance(state, dict) else 0,
                                  accepted=0, rejected=0, errored=0)
        asked = list(dict.fromkeys(view.get("idp_id_list") or []))
        first: dict[str, dict] = {}
        for answer in view.get("response_list") or []:
            if answer.get("idp_id") in asked:
                first.setdefault(answer["idp_id"], answer)
        errors = [a for a in first.values() if a.get("error_code") is not None]
        return AnswerProgress(
            asked=len(asked), needed=_count(view.get("min_idp")) or 1,
            accepted=sum(1 for a in first.values() if a.get("error_code") is None and a.get("status") == "accept"),
            rejected=sum(1 for a in first.values() if a.get("error_code") is None and a.get("status") == "reject"),
            errored=len(errors), error_codes=tuple(a["error_code"] for a in errors))

    # -- internals ---------------------------------------------------------------------------------------

    def _check_outcome(self, state: dict, *, now: int) -> None:
        """Raise unless the node's view is the request we created and it completed."""
        view = state["node"]
        if not view.get("known"):
            raise UpstreamError("errored", "the platform does not know this request (create failed?)"
                                + _hint_detail(state))
        problem = self._mismatch(state, view)
        if problem:
            raise UpstreamError("state_mismatch", f"the node's request differs from the one created: {problem}")
        ndid_status = view.get("status")
        if ndid_status in ("rejected", "complicated", "errored"):
            codes = sorted({str(a["error_code"]) for a in view.get("response_list") or []
                            if a.get("error_code") is not None})
            raise UpstreamError(ndid_status, f"NDID request ended {ndid_status}"
                                + (f" (IdP error codes {', '.join(codes)})" if codes else ""))
        if ndid_status != "completed":
            if view.get("timed_out") or now >= int(state["expires_at"]) + TIMEOUT_GRACE:
                raise UpstreamError("timed_out", "NDID request timed out")
            raise UpstreamError("rejected", f"request closed by the relying party before any outcome "
                                            f"(node status {ndid_status})")

    def _mismatch(self, state: dict, view: dict) -> str | None:
        """What makes the node's request differ from the one ``begin`` created, or None."""
        for key in ("request_id", "mode", "min_ial", "min_aal", "min_idp", "request_type"):
            if view.get(key) != state.get(key):
                return f"{key} {view.get(key)!r} instead of {state.get(key)!r}"
        if self.node_id and view.get("requester_node_id") != self.node_id:
            return f"requester_node_id {view.get('requester_node_id')!r} instead of {self.node_id!r}"
        return None

    def _identity(self, state: dict, view: dict, *, now: int) -> UpstreamIdentity:
        """Domain brief §3: count only acceptable answers, one per IdP; the identity carries the lowest
        levels among the answers counted."""
        accepted, catalogue = self._accepted(state, view)
        counted = list(accepted.values())
        ial = min((a["ial"] for a in counted), key=IAL_LEVELS.index)
        aal = min((a["aal"] for a in counted), key=AAL_LEVELS.index)
        return UpstreamIdentity(
            provider=self.name, issuer=self.api_base, subject=state["identifier"], citizen_id=state["identifier"],
            claims={}, ial=ial, aal=aal, amr=self.amr, auth_time=int(state.get("completed_at") or now),
            raw_levels={
                "idp_ids": list(accepted),
                "responses": [{"idp_id": a["idp_id"], "ial": a["raw_ial"], "aal": a["raw_aal"], "status": a["status"],
                               "valid_signature": a["valid_signature"], "valid_ial": a["valid_ial"]} for a in counted],
                "idp_max": {i: [catalogue[i]["max_ial"], catalogue[i]["max_aal"]] for i in accepted},
                "mode": state["mode"], "min_ial": state["min_ial"], "min_aal": state["min_aal"],
                "request_id": state["request_id"], "initial_salt": state["initial_salt"],
            },
        )

    def _accepted(self, state: dict, view: dict) -> tuple[dict[str, dict], dict[str, dict]]:
        """(idp_id → its first acceptable answer, the IdP catalogue used); fewer than ``min_idp`` such
        IdPs raises the most telling refusal."""
        candidates = [a for a in view.get("response_list") or []
                      if a.get("status") == "accept" and a.get("error_code") is None]
        catalogue = self._catalogue_for({a["idp_id"] for a in candidates if a.get("idp_id")}) if candidates else {}
        accepted: dict[str, dict] = {}  # idp_id → its first acceptable answer
        reasons: list[str] = []
        for answer in candidates:
            reason = self._acceptable(state, view, answer, catalogue)
            if reason:
                reasons.append(reason)
            else:
                accepted.setdefault(answer["idp_id"], answer)
        if len(accepted) < int(state.get("min_idp", 1)):
            for code in ("unknown_idp", "idp_max_exceeded", "invalid_signature", "ial_too_low", "aal_too_low"):
                if code in reasons:
                    raise UpstreamError(code, f"NDID answers refused ({', '.join(sorted(set(reasons)))})")
            raise UpstreamError("errored", "NDID completed without enough acceptable answers")
        return accepted, catalogue

    def _acceptable(self, state: dict, view: dict, answer: dict, catalogue: dict[str, dict]) -> str | None:
        """Why an ``accept`` answer does not count (an error code), or None when it counts:

        * it comes from an IdP in the request's ``idp_id_list`` on the node, in the configured
          ``idp_id_list`` when one is configured, and listed by the platform (``/utility/idp``) —
          else ``unknown_idp``;
        * its ial/aal are Thai levels not above the IdP's registered ``max_ial``/``max_aal``
          (``core/ndid/index.js``: an IdP is registered with both; the chain refuses answers above
          them) — else ``idp_max_exceeded``;
        * in modes 2 and 3, ``valid_signature`` and ``valid_ial`` are true (``core/rp/index.js``
          ``isAllIdpResponsesValid``; mode 1 cannot check them, ``core/common/index.js``) — else
          ``invalid_signature`` / ``ial_too_low``;
        * it meets the floors recorded at ``begin`` — else ``ial_too_low`` / ``aal_too_low``."""
        idp_id = answer.get("idp_id")
        if not idp_id or idp_id not in (view.get("idp_id_list") or []):
            return "unknown_idp"
        if state.get("idp_id_list") and idp_id not in state["idp_id_list"]:
            return "unknown_idp"
        registered = catalogue.get(idp_id)
        if registered is None or registered["max_ial"] is None or registered["max_aal"] is None:
            return "unknown_idp"
        ial, aal = answer.get("ial"), answer.get("aal")
        if ial is None:
            return "ial_too_low"
        if aal is None:
            return "aal_too_low"
        if not level_at_least(registered["max_ial"], ial, IAL_LEVELS) \
                or not level_at_least(registered["max_aal"], aal, AAL_LEVELS):
            return "idp_max_exceeded"
        if state["mode"] in (2, 3):
            if answer.get("valid_signature") is not True:
                return "invalid_signature"
            if answer.get("valid_ial") is not True:
                return "ial_too_low"
        if not level_at_least(ial, state["min_ial"], IAL_LEVELS):
            return "ial_too_low"
        if not level_at_least(aal, state["min_aal"], AAL_LEVELS):
            return "aal_too_low"
        return None

    def _catalogue_for(self, idp_ids: set[str]) -> dict[str, dict]:
        """The platform's IdP list (``GET /utility/idp``) as ``node_id → {max_ial, max_aal}``, cached
        for ``idp_catalogue_ttl`` seconds and fetched again (once per call) when an IdP is missing,
        so that a newly registered IdP is not refused for long."""
        with self._catalogue_lock:
            cached = self._catalogue
        if cached is not None and time.monotonic() - cached[0] < self.idp_catalogue_ttl \
                and idp_ids <= cached[1].keys():
            return cached[1]
        answer = self._get(f"{self.api_base}/utility/idp", "IdP list")
        if not isinstance(answer, list):
            raise UpstreamError("upstream_error", "IdP list: answer is not a JSON list")
        catalogue: dict[str, dict] = {}
        for entry in answer:
            if isinstance(entry, dict) and _text(entry.get("node_id")):
                catalogue[entry["node_id"]] = {"max_ial": normalise_level(entry.get("max_ial"), IAL_LEVELS),
                                               "max_aal": normalise_level(entry.get("max_aal"), AAL_LEVELS)}
        with self._catalogue_lock:
            self._catalogue = (time.monotonic(), catalogue)
        return catalogue

    def _http(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self.timeout, transport=self._transport)
            return self._client

    def _exchange(self, method: str, url: str, what: str, *, body: dict | None = None,
                  params: dict | None = None) -> tuple[int, bytes]:
        """One request to the node: (HTTP status, body). Every answer, error answers included, is read
        only up to ``MAX_ANSWER_BYTES``; a longer one is ``upstream_error``."""
        with http_errors(what), self._http().stream(method, url, json=body, params=params) as response:
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > MAX_ANSWER_BYTES:
                    raise UpstreamError("upstream_error", f"{what}: answer too large")
        return response.status_code, bytes(data)

    def _get(self, url: str, what: str, *, params: dict | None = None) -> Any:
        """GET a JSON answer from the node: the decoded body, or ``NOT_FOUND`` on 404. Any other status
        than 200, and bodies that do not decode (including nesting too deep for the decoder), are
        ``upstream_error``."""
        code, data = self._exchange("GET", url, what, params=params)
        if code == 404:
            return NOT_FOUND
        if code != 200:
            raise UpstreamError("upstream_error", f"{what}: HTTP {code}")
        return _decode(data, what)

    def _post(self, url: str, body: dict, what: str) -> dict:
        code, data = self._exchange("POST", url, what, body=body)
        if code >= 400:
            raise UpstreamError("upstream_error", f"{what}: HTTP {code} {_ndid_error(data)}")
        answer = _decode(data, what) if data else {}
        if not isinstance(answer, dict):
            raise UpstreamError("upstream_error", f"{what}: answer is not a JSON object")
        return answer

    def _close(self, state: dict) -> bool:
        """Ask the node to close the request; True when it accepted. A refusal (already closed or timed
        out, unknown request) or a failure is logged and does not change the outcome."""
        if not state.get("request_id"):
            return False
        body = {"reference_id": state["reference_id"], "callback_url": state["callback_url"],
                "request_id": state["request_id"]}
        if self.node_id:
            body["node_id"] = self.node_id
        try:
            self._post(f"{self.api_base}/rp/request_close", body, "close request")
        except UpstreamError as exc:
            # A request the node already closed (autoCloseRequestOnCompleted) or timed out cannot be
            # closed again (20025 REQUEST_IS_CLOSED, 20026 REQUEST_IS_TIMED_OUT): expected, not a problem.
            expected = any(f"HTTP 400 {code}:" in exc.detail for code in (20025, 20026))
            log.log(logging.INFO if expected else logging.WARNING, "NDID close of request %s failed: %s",
                    state["request_id"], exc.detail)
            return False
        return True


def _node_view(answer: dict) -> dict:
    """The node's request detail reduced to what the connector decides from, with every value type
    checked (anything unexpected becomes None, which never counts in favour of an answer)."""
    responses = answer.get("response_list")
    idp_id_list = answer.get("idp_id_list")
    min_idp = answer.get("min_idp")
    return {
        "known": True,
        "request_id": _text(answer.get("request_id")),
        "status": answer.get("status") if answer.get("status") in NDID_STATUSES else None,
        "closed": answer.get("closed") is True,
        "timed_out": answer.get("timed_out") is True,
        "mode": answer.get("mode") if answer.get("mode") in (1, 2, 3) and type(answer.get("mode")) is int else None,
        "min_ial": normalise_level(answer.get("min_ial"), IAL_LEVELS),
        "min_aal": normalise_level(answer.get("min_aal"), AAL_LEVELS),
        "min_idp": min_idp if type(min_idp) is int else None,
        "idp_id_list": [i for i in idp_id_list if _text(i)] if isinstance(idp_id_list, list) else None,
        "requester_node_id": _text(answer.get("requester_node_id")),
        "request_type": _text(answer.get("request_type")),
        "response_list": [_answer(r) for r in responses if isinstance(r, dict)] if isinstance(responses, list) else [],
    }


def _answer(raw: dict) -> dict:
    """One IdP answer: levels normalised to the Thai vocabulary (the raw values kept as provenance when
    they are plain JSON numbers or short strings), validity flags only when they are booleans, and an
    error_code that is anything but null kept as non-null so the answer can never count."""
    error_code = raw.get("error_code")
    if error_code is not None and not (type(error_code) is int or _text(error_code)):
        error_code = "malformed"
    return {
        "idp_id": _text(raw.get("idp_id")),
        "status": raw.get("status") if raw.get("status") in ("accept", "reject") else None,
        "ial": normalise_level(raw.get("ial"), IAL_LEVELS),
        "aal": normalise_level(raw.get("aal"), AAL_LEVELS),
        "raw_ial": _plain(raw.get("ial")),
        "raw_aal": _plain(raw.get("aal")),
        "valid_signature": raw.get("valid_signature") if isinstance(raw.get("valid_signature"), bool) else None,
        "valid_ial": raw.get("valid_ial") if isinstance(raw.get("valid_ial"), bool) else None,
        "error_code": error_code,
    }


def _terminal(view: dict) -> bool:
    return bool(view.get("known")) and (view.get("status") in TERMINAL_STATUSES or bool(view.get("closed"))
                                        or bool(view.get("timed_out")))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= MAX_TEXT else None


def _plain(value: Any) -> int | float | str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value if -1000 < value < 1000 else None  # levels are small; NaN compares false
    return _text(value)


def _count(value: Any) -> int:
    return value if type(value) is int and value >= 0 else 0


def _hint_detail(state: dict) -> str:
    hint = state.get("hint")
    if isinstance(hint, dict) and hint.get("type"):
        return f" (last callback: {hint['type']})"
    return ""


def _decode(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # ValueError covers bad UTF-8 and over-long integers
        raise UpstreamError("upstream_error", f"{what}: malformed JSON") from exc


def _error_text(error: Any) -> str:
    if isinstance(error, dict):
        return f"{error.get('code')}: {str(error.get('message'))[:200]}"
    return "unknown error"


def _ndid_error(body: bytes) -> str:
    try:
        return _error_text(json.loads(body).get("error"))
    except (ValueError, RecursionError, AttributeError):
        return ""
