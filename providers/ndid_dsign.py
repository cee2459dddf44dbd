"""Document approval through NDID: request type ``dsign.dcontract`` (domain brief §3 and §4).

A person approves an exact document, e.g. a power of attorney, with their own NDID IdP. The gateway
publishes the document at an http(s) URL whose last path segment is the SHA-256 (lower-case hex) of
its bytes, then ``NDIDUpstream.begin_document_approval`` creates an NDID request
(``POST /rp/requests/{namespace}/{identifier}``, rp.yaml) with ``request_type: "dsign.dcontract"``
and a ``request_message`` of the Thai sentence, the English sentence and the URL as the last line.
The IdP's node fetches every line of the message that starts with http(s):// and answers error
31000 (``core/idp/contract_request.js`` ``IDP_ERROR_CODE_DOCUMENT_INTEGRITY_FAILED``) when one
cannot be fetched or its SHA-256 differs from its URL (``checkContractHash``); otherwise the person
accepts or rejects in their IdP app like any request.

Everything else is the identity request's machinery (``providers.ndid``): the same state dict
(plus ``request_type``, ``document_url``, ``document_sha256``), ``handle_callback``, ``refresh``,
``needs_refresh``, ``status``, ``progress`` and ``cancel`` unchanged; ``complete_document_approval``
closes, reads the node and checks the answers exactly as ``complete`` does (callbacks are hints;
only answers from IdPs the platform lists, within their registered levels, with valid signature and
IAL, meeting the floors count) and returns a ``DocumentApproval`` instead of an identity. The two
kinds never mix: ``complete`` refuses a document approval's state, and this module refuses a
sign-in's (``state_mismatch``); the node's ``request_type`` must be the one created.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from providers.base import Pending, UpstreamError

if TYPE_CHECKING:
    from providers.ndid import NDIDUpstream

# main-server/src/config.js dcontractConfig.dcontractRequestType (the platform's default name).
DCONTRACT_REQUEST_TYPE = "dsign.dcontract"
# core/idp/contract_request.js: the IdP node's answer when a document fails its integrity check.
DOCUMENT_INTEGRITY_FAILED = 31000
MAX_URL_LENGTH = 2048
MAX_MESSAGE_LENGTH = 2000
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class DocumentApproval:
    """A person's approval of a document through their NDID IdP, as the RP node recorded it.

    ``request_id``, ``reference_id`` and ``initial_salt`` identify the NDID request (keep them for
    audit, rp.yaml); ``citizen_id`` is whom the request named; ``idp_id`` the IdP whose accept
    counted, ``ial``/``aal`` the levels it answered with (Thai vocabulary strings); ``document_url``
    and ``document_sha256`` what was approved; ``answered_at`` the Unix time the connector first
    saw the request completed (or of ``complete_document_approval`` when it never polled before)."""

    request_id: str
    idp_id: str
    ial: str
    aal: str
    document_url: str
    document_sha256: str
    answered_at: int
    citizen_id: str
    reference_id: str
    initial_salt: str


class DocumentUnverified(UpstreamError):
    """The request ended ``errored`` because an IdP could not verify the document (NDID IdP error
    31000: not reachable from the IdP, or its SHA-256 differs from the URL). ``code`` is
    ``"errored"`` like any errored request; only the citizen's message is more precise."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("errored", detail)
        self.message_th = ("ผู้ให้บริการยืนยันตัวตนไม่สามารถตรวจสอบเอกสารที่ขอให้ท่านอนุมัติได้ "
                           "(เอกสารอาจถูกแก้ไขหรือเข้าถึงไม่ได้) กรุณาลองใหม่อีกครั้ง")
        self.message_en = ("Your identity provider could not verify the document you were asked to approve "
                           "(it may have changed or could not be reached). Please try again.")


def document_sha256(*, document_url: str) -> str:
    """The SHA-256 a document URL names: its last path segment, which must be 64 lower-case hex
    digits (the IdP node compares the text after the URL's last "/" with the body's hash). The URL
    must be an absolute http(s) URL on one line, without query or fragment (either would become part
    of that last segment on the IdP node and the check would fail). Raises ``UpstreamError``
    (bad_configuration) otherwise."""
    if not isinstance(document_url, str) or not 0 < len(document_url) <= MAX_URL_LENGTH \
            or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in document_url):
        raise UpstreamError("bad_configuration", "document_url must be one line without spaces")
    try:
        parts = urlsplit(document_url)
        host = parts.hostname
    except ValueError as exc:
        raise UpstreamError("bad_configuration", "document_url is not a URL") from exc
    if parts.scheme not in ("http", "https") or not host or parts.query or parts.fragment \
            or "?" in document_url or "#" in document_url:
        raise UpstreamError("bad_configuration", "document_url must be an http(s) URL without query or fragment")
    digest = document_url.rsplit("/", 1)[-1]
    if not _SHA256_HEX.fullmatch(digest):
        raise UpstreamError("bad_configuration", "document_url must end in the document's SHA-256 (64 lower-case "
                                                 "hex digits)")
    return digest


def approval_message(*, message_th: str, message_en: str, document_url: str) -> str:
    """The ``request_message`` of a document approval: the Thai text, the English text, then the
    document URL as the last line. Neither text may contain a line that starts with http:// or
    https:// (the IdP node would fetch it as one more document); raises ``UpstreamError``
    (bad_configuration) for that, for empty texts and for a message over ``MAX_MESSAGE_LENGTH``."""
    document_sha256(document_url=document_url)
    for text in (message_th, message_en):
        if not isinstance(text, str) or not text.strip():
            raise UpstreamError("bad_configuration", "message_th and message_en must be non-empty")
        if any(line.strip().lower().startswith(("http://", "https://")) for line in text.splitlines()):
            raise UpstreamError("bad_configuration", "a line of message_th/message_en is a URL")
    message = f"{message_th.strip()}\n{message_en.strip()}\n{document_url}"
    if len(message) > MAX_MESSAGE_LENGTH:
        raise UpstreamError("bad_configuration", "request message too long")
    return message


class DocumentApprovals:
    """The document-approval half of ``providers.ndid.NDIDUpstream`` (a mixin: it uses that class's
    request machinery, ``_create``, ``_settle``, ``_check_outcome`` and ``_accepted``)."""

    def begin_document_approval(self: NDIDUpstream, *, citizen_id: str, document_url: str, message_th: str,
                                message_en: str, min_ial: str, min_aal: str, callback_url: str,
                                reference_id: str | None = None, idp_id_list: list[str] | None = None) -> Pending:
        """Ask ``citizen_id`` to approve the document at ``document_url`` through their IdP: an NDID
        request of type ``dsign.dcontract`` (rp.yaml ``request_type``) whose message is
        ``approval_message``, with floors ``min_ial``/``min_aal`` (Thai levels), ``min_idp`` 1 (one
        IdP's approval is the person's approval) and ``idp_id_list`` (default: the configured one).
        ``callback_url`` and ``reference_id`` as for ``begin``. Returns ``Pending`` whose state is
        ``begin``'s plus ``request_type``, ``document_url`` and ``document_sha256``; drive it with
        ``handle_callback``/``refresh``/``status``/``progress``/``cancel`` and finish it with
        ``complete_document_approval``.

        Refuses mode 1 (bad_configuration): only modes 2 and 3 let the platform check the IdP's
        signature and the identity's IAL (``core/common/index.js``), which an approval needs as
        evidence. Raises ``UpstreamError`` like ``begin`` (invalid_citizen_id, bad_configuration,
        upstream_unreachable, upstream_timeout, upstream_error: e.g. 20091 INVALID_REQUEST_TYPE when
        the platform has no ``dsign.dcontract`` type)."""
        if self.request_mode == 1:
            raise UpstreamError("bad_configuration", "document approval needs NDID mode 2 or 3")
        digest = document_sha256(document_url=document_url)
        message = approval_message(message_th=message_th, message_en=message_en, document_url=document_url)
        return self._create(citizen_id=citizen_id, min_ial=min_ial, min_aal=min_aal, callback_url=callback_url,
                            request_message=message, reference_id=reference_id,
                            request_type=DCONTRACT_REQUEST_TYPE, min_idp=1, idp_id_list=idp_id_list,
                            extra_state={"document_url": document_url, "document_sha256": digest})

    def complete_document_approval(self: NDIDUpstream, *, state: dict) -> DocumentApproval:
        """Finish a document approval: close the request, read the node, and return the approval or
        raise ``UpstreamError`` with the codes ``complete`` uses: rejected (the person declined,
        10016-style, or the request was closed before any answer), complicated, timed_out, errored
        (``DocumentUnverified`` when an IdP answered 31000: it could not verify the document),
        unknown_idp / idp_max_exceeded / invalid_signature / ial_too_low / aal_too_low (an accept that
        does not count), state_mismatch (a state that is not a document approval of this provider,
        or a node request that differs from the one created, its request_type included)."""
        if not isinstance(state, dict) or state.get("provider") != self.name:
            raise UpstreamError("state_mismatch", "state of another provider")
        if state.get("request_type") != DCONTRACT_REQUEST_TYPE or not state.get("document_sha256"):
            raise UpstreamError("state_mismatch", "not a document approval")
        state = self._settle(state)
        now = int(self._clock())
        view = state["node"]
        try:
            self._check_outcome(state, now=now)
        except UpstreamError as exc:
            codes = {str(a.get("error_code")) for a in view.get("response_list") or []}
            if exc.code == "errored" and str(DOCUMENT_INTEGRITY_FAILED) in codes:
                raise DocumentUnverified(f"the IdP could not verify the document {state['document_url']} "
                                         f"(NDID IdP error {DOCUMENT_INTEGRITY_FAILED})") from exc
            raise
        accepted, _ = self._accepted(state, view)
        idp_id, answer = next(iter(accepted.items()))
        return DocumentApproval(
            request_id=state["request_id"], idp_id=idp_id, ial=answer["ial"], aal=answer["aal"],
            document_url=state["document_url"], document_sha256=state["document_sha256"],
            answered_at=int(state.get("completed_at") or now), citizen_id=state["identifier"],
            reference_id=state["reference_id"], initial_salt=state["initial_salt"])
