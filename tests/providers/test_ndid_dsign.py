"""Document approval through NDID (request type ``dsign.dcontract``) over real HTTP: the simulated
platform, a stand-in for the gateway's document server (bytes at ``/doc/<sha256>``) and the stand-in
callback endpoint. The simulated IdP node fetches the document when an IdP accepts and answers 31000
when it cannot verify it; the connector reports that, a rejection, and a completed approval with the
IdP and its levels. Identity requests stay as they were."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import threading
import time
import uuid

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response

from providers.base import UpstreamError
from providers.ndid import NDIDUpstream
from providers.ndid_dsign import DCONTRACT_REQUEST_TYPE, DocumentApproval, DocumentUnverified
from providers.registry import load_providers
from providers.simulators.ndid import DOCUMENT_MAX_BYTES
from providers.simulators.server import ServerThread, free_port

from .conftest import idp_app_answer, ndid_config, node, sim_request, wait_for

CITIZEN = "1345951597671"
MESSAGE_TH = "อนุมัติหนังสือมอบอำนาจให้นายสมชาย ใจดี ยื่นคำขอแทนท่าน"
MESSAGE_EN = "Approve the power of attorney letting Somchai Jaidee file requests for you"


class DocumentServer:
    """Serves published documents at ``/doc/<sha256>``; ``/moved/...`` redirects there and
    ``/slow/...`` answers after a second."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.slow_fetches = 0
        app = FastAPI()

        @app.get("/doc/{name}")
        async def document(name: str) -> Response:
            if name not in self.documents:
                return Response(status_code=404)
            return Response(self.documents[name], media_type="application/pdf")

        @app.get("/moved/{name}")
        async def moved(name: str) -> Response:
            return RedirectResponse(f"/doc/{name}", status_code=302)

        @app.get("/slow/{name}")
        async def slow(name: str) -> Response:
            self.slow_fetches += 1
            await asyncio.sleep(1)
            return await document(name)

        self.server = ServerThread(app, port=free_port()).start()
        self.url = self.server.url

    def publish(self, content: bytes | None = None, *, route: str = "doc") -> str:
        content = content if content is not None else f"หนังสือมอบอำนาจ / power of attorney {uuid.uuid4()}".encode()
        digest = hashlib.sha256(content).hexdigest()
        self.documents[digest] = content
        return f"{self.url}/{route}/{digest}"


@pytest.fixture(scope="module")
def documents():
    running = DocumentServer()
    yield running
    running.server.stop()


def provider(api_base: str, **overrides) -> NDIDUpstream:
    return load_providers(config=[ndid_config(api_base, **overrides)])["ndid"]


def finished(upstream):
    return lambda state: upstream.status(state=state, now=time.time()) != "pending"


def begin_approval(receiver, upstream, document_url: str, **overrides):
    """What the gateway will do: create the approval and store its state where callbacks find it."""
    reference_id = f"poa-{time.monotonic_ns()}"
    arguments = dict(citizen_id=CITIZEN, document_url=document_url, message_th=MESSAGE_TH, message_en=MESSAGE_EN,
                     min_ial="2.3", min_aal="2.1", callback_url=receiver.callback_url(reference_id),
                     reference_id=reference_id) | overrides
    pending = upstream.begin_document_approval(**arguments)
    with receiver.lock:
        receiver.providers[reference_id] = upstream
        receiver.states[reference_id] = pending.state
    return pending


def create(ndid_url: str, **body) -> httpx.Response:
    """A raw create-request call, as another RP might send it."""
    base = {"mode": 2, "reference_id": f"raw-{uuid.uuid4()}", "callback_url": "http://127.0.0.1:9/cb",
            "request_message": "hello", "min_ial": 2.3, "min_aal": 2.1, "min_idp": 1, "request_timeout": 30}
    return httpx.post(f"{ndid_url}/rp/requests/citizen_id/{CITIZEN}", json=base | body)


def test_approval_in_the_idp_app_completes_with_the_idp_and_its_levels(ndid_sim, receiver, documents):
    upstream = provider(ndid_sim.url)
    url = documents.publish()
    pending = begin_approval(receiver, upstream, url)
    assert pending.state["request_type"] == DCONTRACT_REQUEST_TYPE and pending.state["document_url"] == url
    record = sim_request(ndid_sim.url, pending.request_id)
    assert record["request_type"] == DCONTRACT_REQUEST_TYPE and record["min_idp"] == 1
    assert record["request_message"] == f"{MESSAGE_TH}\n{MESSAGE_EN}\n{url}"
    state = receiver.wait(upstream, pending.reference_id, until=lambda s: node(s).get("known"))
    assert node(state)["request_type"] == DCONTRACT_REQUEST_TYPE
    assert upstream.status(state=state, now=time.time()) == "pending"
    tampered = copy.deepcopy(state)
    tampered["node"]["request_type"] = None  # the node's request is not the document approval we created
    assert upstream.status(state=tampered, now=time.time()) == "errored"

    page = idp_app_answer(ndid_sim.url, pending.request_id, idp_id="idp-bank-a", ial="2.3", aal="2.2")
    assert f'<a class="document" href="{url}"' in page and "Document approval request" in page
    assert "คำขออนุมัติเอกสาร" in page and "Approve the document" in page
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    assert upstream.status(state=state, now=time.time()) == "completed"
    assert upstream.progress(state=state).accepted == 1
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=state)  # an approval is never a sign-in
    assert caught.value.code == "state_mismatch"

    approval = upstream.complete_document_approval(state=state)
    assert isinstance(approval, DocumentApproval)
    assert (approval.idp_id, approval.ial, approval.aal) == ("idp-bank-a", "2.3", "2.2")
    assert approval.request_id == pending.request_id and approval.citizen_id == CITIZEN
    assert approval.document_url == url and approval.document_sha256 == url.rsplit("/", 1)[1]
    assert approval.initial_salt == pending.state["initial_salt"] and abs(approval.answered_at - time.time()) < 60
    record = wait_for(lambda: (r := sim_request(ndid_sim.url, pending.request_id))["closed"] and r)
    assert [c["problem"] for c in record["document_checks"]] == [None]


def test_approval_by_an_idp_that_answers_by_itself(ndid_sim, receiver, documents):
    ndid_sim.faults(idp_answers={"idp-bank-b": "accept"})
    upstream = provider(ndid_sim.url, idp_id_list=["idp-bank-b"])
    pending = begin_approval(receiver, upstream, documents.publish())
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    approval = upstream.complete_document_approval(state=state)
    assert (approval.idp_id, approval.ial, approval.aal) == ("idp-bank-b", "2.3", "2.1")


def test_a_document_changed_after_publishing_is_31000(ndid_sim, receiver, documents):
    upstream = provider(ndid_sim.url, idp_id_list=["idp-bank-a"])
    url = documents.publish()
    pending = begin_approval(receiver, upstream, url)
    documents.documents[url.rsplit("/", 1)[1]] = b"a different power of attorney"
    page_after = httpx.post(f"{ndid_sim.url}/idp-app/requests/{pending.request_id}/respond",
                            data={"idp_id": "idp-bank-a", "action": "accept", "ial": "2.3", "aal": "2.2"})
    assert page_after.status_code == 200 and "31000" in page_after.text
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    assert upstream.status(state=state, now=time.time()) == "errored"
    assert upstream.progress(state=state).error_codes == (31000,)
    with pytest.raises(DocumentUnverified) as caught:
        upstream.complete_document_approval(state=state)
    assert caught.value.code == "errored" and "31000" in caught.value.detail
    assert "verify the document" in caught.value.message_en and "เอกสาร" in caught.value.message_th
    assert "SHA-256" in sim_request(ndid_sim.url, pending.request_id)["document_checks"][0]["problem"]


@pytest.mark.parametrize("where, problem", [
    ("unreachable", "unreachable"), ("unpublished", "HTTP 404"), ("redirect", "HTTP 302"), ("too_large", "larger"),
])
def test_a_document_the_idp_cannot_fetch_is_31000(ndid_sim, receiver, documents, where, problem):
    if where == "unreachable":
        url = f"http://127.0.0.1:{free_port()}/doc/{hashlib.sha256(b'x').hexdigest()}"
    elif where == "unpublished":
        url = f"{documents.url}/doc/{hashlib.sha256(uuid.uuid4().bytes).hexdigest()}"
    elif where == "redirect":
        url = documents.publish(route="moved")
    else:
        url = documents.publish(b"%" * (DOCUMENT_MAX_BYTES + 1) + uuid.uuid4().bytes)
    ndid_sim.faults(idp_answers={"idp-bank-a": "accept"})
    upstream = provider(ndid_sim.url, idp_id_list=["idp-bank-a"])
    pending = begin_approval(receiver, upstream, url)
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    with pytest.raises(DocumentUnverified):
        upstream.complete_document_approval(state=state)
    assert problem in sim_request(ndid_sim.url, pending.request_id)["document_checks"][0]["problem"]


def test_fetching_a_document_does_not_stall_the_platform(ndid_sim, receiver, documents):
    upstream = provider(ndid_sim.url, idp_id_list=["idp-bank-a"])
    pending = begin_approval(receiver, upstream, documents.publish(route="slow"))
    answering = threading.Thread(target=idp_app_answer, args=(ndid_sim.url, pending.request_id))
    fetches = documents.slow_fetches
    answering.start()
    wait_for(lambda: documents.slow_fetches > fetches)  # the IdP node is fetching the document now
    started = time.monotonic()
    assert httpx.get(f"{ndid_sim.url}/utility/idp").status_code == 200  # served while the IdP fetches (1 s)
    assert time.monotonic() - started < 0.5 and answering.is_alive()
    answering.join(timeout=10)
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    assert upstream.complete_document_approval(state=state).idp_id == "idp-bank-a"


def test_the_person_rejecting_is_rejected_and_fetches_nothing(ndid_sim, receiver, documents):
    upstream = provider(ndid_sim.url)
    pending = begin_approval(receiver, upstream, documents.publish())
    idp_app_answer(ndid_sim.url, pending.request_id, action="reject")
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    assert upstream.status(state=state, now=time.time()) == "rejected"
    with pytest.raises(UpstreamError) as caught:
        upstream.complete_document_approval(state=state)
    assert caught.value.code == "rejected" and not isinstance(caught.value, DocumentUnverified)
    assert sim_request(ndid_sim.url, pending.request_id)["document_checks"] == []


def test_cancel_closes_an_approval(ndid_sim, receiver, documents):
    upstream = provider(ndid_sim.url)
    pending = begin_approval(receiver, upstream, documents.publish())
    assert upstream.cancel(state=receiver.state(pending.reference_id)) is True
    state = receiver.wait(upstream, pending.reference_id, until=lambda s: node(s).get("closed"))
    assert upstream.status(state=state, now=time.time()) == "errored"  # closed before any outcome
    with pytest.raises(UpstreamError) as caught:
        upstream.complete_document_approval(state=state)
    assert caught.value.code == "rejected"


def test_the_platform_refuses_unknown_types_and_approvals_without_a_document(ndid_sim):
    assert httpx.get(f"{ndid_sim.url}/utility/request_types").json() == [DCONTRACT_REQUEST_TYPE]
    refused = create(ndid_sim.url, request_type="dsign.unknown")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == 20091  # INVALID_REQUEST_TYPE
    for bad in ("", 7):
        assert create(ndid_sim.url, request_type=bad).json()["error"]["code"] == 20003  # body schema
    refused = create(ndid_sim.url, request_type=DCONTRACT_REQUEST_TYPE, request_message="approve\n ftp://x/y")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == 20003  # BODY_VALIDATION_FAILED
    assert create(ndid_sim.url, request_type=None).status_code == 202  # null is an identity request


@pytest.mark.parametrize("overrides", [
    {"document_url": "http://127.0.0.1:9/doc/not-a-hash"},
    {"document_url": "http://127.0.0.1:9/doc/" + "A" * 64},
    {"document_url": f"http://127.0.0.1:9/doc/{'a' * 64}?v=1"},
    {"document_url": f"ftp://127.0.0.1/doc/{'a' * 64}"},
    {"message_en": "Read it at\nhttps://example.org/other"},
    {"message_th": "  "},
])
def test_the_connector_refuses_a_bad_approval_before_asking(receiver, overrides):
    upstream = provider("http://127.0.0.1:9")  # nothing listens: refused before any call
    with pytest.raises(UpstreamError) as caught:
        begin_approval(receiver, upstream, **{"document_url": f"http://127.0.0.1:9/doc/{'a' * 64}"} | overrides)
    assert caught.value.code == "bad_configuration"


def test_mode_1_is_refused_for_an_approval(receiver):
    upstream = provider("http://127.0.0.1:9", mode=1, idp_id_list=["idp-bank-a"])
    with pytest.raises(UpstreamError) as caught:
        begin_approval(receiver, upstream, f"http://127.0.0.1:9/doc/{'a' * 64}")
    assert caught.value.code == "bad_configuration"


def test_identity_requests_are_unaffected(ndid_sim, receiver):
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream)
    assert pending.state["request_type"] is None
    record = sim_request(ndid_sim.url, pending.request_id)
    assert record["request_type"] is None and record["document_checks"] == []
    assert httpx.get(f"{ndid_sim.url}/utility/requests/{pending.request_id}").json()["request_type"] is None
    page = idp_app_answer(ndid_sim.url, pending.request_id)
    assert 'class="document"' not in page and "Document approval" not in page
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    with pytest.raises(UpstreamError) as caught:
        upstream.complete_document_approval(state=state)  # a sign-in is never an approval
    assert caught.value.code == "state_mismatch"
    assert upstream.complete(state=state).citizen_id == CITIZEN
    assert sim_request(ndid_sim.url, pending.request_id)["document_checks"] == []
