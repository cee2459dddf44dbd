"""Regressions for the NDID trust model: callbacks are hints, the RP node's view of the request and
the platform's IdP catalogue are the source. A forged callback (the platform does not sign them)
must never sign anyone in; ``complete`` decides only from what the node answers, over real HTTP
against the NDID-style platform."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import Response

from providers.base import UpstreamError
from providers.ndid import NDIDUpstream
from providers.registry import load_providers
from providers.simulators.server import ServerThread, free_port

from .conftest import idp_app_answer, ndid_config, node, sim_request

MADE_UP_IDP = "idp-made-up"


def provider(api_base: str, **overrides) -> NDIDUpstream:
    return load_providers(config=[ndid_config(api_base, **overrides)])["ndid"]


def finished(upstream):
    return lambda state: upstream.status(state=state, now=int(time.time())) != "pending"


def forged_completion(request_id: str, *, idp_id: str = MADE_UP_IDP, ial=3, aal=3) -> dict:
    """What an attacker who learnt the callback URL would post: completed, closed, valid, IAL/AAL 3."""
    return {"node_id": "rp-idgw", "type": "request_status", "request_id": request_id, "mode": 2, "min_ial": 3,
            "min_aal": 3, "min_idp": 1, "idp_id_list": [idp_id], "status": "completed", "closed": False,
            "timed_out": False, "requester_node_id": "rp-idgw", "block_height": "sim-chain:999999",
            "response_list": [{"idp_id": idp_id, "status": "accept", "ial": ial, "aal": aal, "signature": "AAAA",
                               "valid_signature": True, "valid_ial": True, "error_code": None}]}


def test_forged_completed_callback_changes_nothing(ndid_sim, receiver):
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream, min_ial="2.3", min_aal="2.1")
    assert httpx.post(receiver.callback_url(pending.reference_id),
                      json=forged_completion(pending.request_id)).status_code == 204
    state = receiver.state(pending.reference_id)
    assert upstream.status(state=state, now=int(time.time())) == "pending"
    # The callback only asks for a read; the node still calls the request pending.
    assert upstream.needs_refresh(state=state, now=int(time.time()))
    state = receiver.refresh(upstream, pending.reference_id)
    assert node(state)["status"] == "pending" and node(state)["response_list"] == []
    assert upstream.status(state=state, now=int(time.time())) == "pending"
    # complete() reads the node itself: nothing was answered, so it cancels the request.
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=state)
    assert caught.value.code == "rejected"
    record = sim_request(ndid_sim.url, pending.request_id)
    assert record["closed"] is True and record["response_list"] == []


def test_complete_uses_the_nodes_answers_not_the_callbacks(ndid_sim, receiver):
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream, min_ial="2.3", min_aal="2.1")
    idp_app_answer(ndid_sim.url, pending.request_id, idp_id="idp-bank-a", ial="2.3", aal="2.2")
    receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    # A forged "newer" status claiming higher levels from the same IdP arrives before complete().
    forged = forged_completion(pending.request_id, idp_id="idp-bank-a")
    assert httpx.post(receiver.callback_url(pending.reference_id), json=forged).status_code == 204
    identity = upstream.complete(state=receiver.state(pending.reference_id))
    assert (identity.ial, identity.aal) == ("2.3", "2.2")
    assert identity.raw_levels["responses"][0]["aal"] == 2.2


def test_complete_reads_the_node_even_from_a_state_never_refreshed(ndid_sim, receiver):
    ndid_sim.faults(drop_callbacks=True)
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream)
    idp_app_answer(ndid_sim.url, pending.request_id, idp_id="idp-bank-a", ial="2.3", aal="2.2")
    identity = upstream.complete(state=pending.state)
    assert (identity.ial, identity.aal) == ("2.3", "2.2")


def test_lost_callbacks_a_polled_request_completes(ndid_sim, receiver):
    ndid_sim.faults(drop_callbacks=True)
    upstream = provider(ndid_sim.url, poll_interval=0.2)
    pending = receiver.begin(upstream)
    state = receiver.wait(upstream, pending.reference_id, until=lambda s: node(s).get("known"))
    assert upstream.status(state=state, now=int(time.time())) == "pending"
    idp_app_answer(ndid_sim.url, pending.request_id, idp_id="idp-bank-b", ial="2.3", aal="2.1")
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    assert state["hint"] is None and sim_request(ndid_sim.url, pending.request_id)["callbacks"] == []
    assert upstream.status(state=state, now=int(time.time())) == "completed"
    assert upstream.complete(state=state).raw_levels["idp_ids"] == ["idp-bank-b"]


def test_answer_from_an_idp_the_platform_does_not_list_is_refused(ndid_sim, receiver):
    # idp-bank-b can still answer (the request was sent to every IdP) but the platform does not list it.
    ndid_sim.faults(unlisted_idps=["idp-bank-b"])
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream)
    idp_app_answer(ndid_sim.url, pending.request_id, idp_id="idp-bank-b", ial="2.3", aal="2.1")
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    record = sim_request(ndid_sim.url, pending.request_id)
    assert "idp-bank-b" in record["idp_id_list"] and record["status"] == "completed"
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=state)
    assert caught.value.code == "unknown_idp"
    assert sim_request(ndid_sim.url, pending.request_id)["closed"] is True


def test_answer_from_an_idp_outside_the_configured_list_is_refused(ndid_sim, receiver):
    upstream = provider(ndid_sim.url, idp_id_list=["idp-bank-a"])
    pending = receiver.begin(upstream)
    # A node whose copy of the request names more IdPs than we asked for.
    ndid_sim.sim.requests[pending.request_id]["idp_id_list"].append("idp-bank-b")
    idp_app_answer(ndid_sim.url, pending.request_id, idp_id="idp-bank-b", ial="2.3", aal="2.1")
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=state)
    assert caught.value.code == "unknown_idp"


def test_the_idp_catalogue_is_fetched_again_when_an_idp_is_missing(ndid_sim, receiver):
    ndid_sim.faults(unlisted_idps=["idp-bank-b"])
    upstream = provider(ndid_sim.url)
    first = receiver.begin(upstream)
    idp_app_answer(ndid_sim.url, first.request_id, idp_id="idp-bank-a")
    assert upstream.complete(state=first.state).raw_levels["idp_ids"] == ["idp-bank-a"]  # catalogue cached
    ndid_sim.faults()  # idp-bank-b gets registered
    second = receiver.begin(upstream)
    idp_app_answer(ndid_sim.url, second.request_id, idp_id="idp-bank-b", ial="2.3", aal="2.1")
    assert upstream.complete(state=second.state).raw_levels["idp_ids"] == ["idp-bank-b"]


def test_answer_above_the_idps_registered_max_is_refused(ndid_sim, receiver):
    # idp-bank-b is registered up to AAL 2.1; a misbehaving IdP app lets it claim AAL 3.
    ndid_sim.faults(exceed_idp_max=True)
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream, min_ial="2.3", min_aal="2.1")
    idp_app_answer(ndid_sim.url, pending.request_id, idp_id="idp-bank-b", ial="2.3", aal="3")
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    answer = sim_request(ndid_sim.url, pending.request_id)["response_list"][0]
    assert answer["aal"] == 3 and answer["valid_signature"] is True and answer["valid_ial"] is True
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=state)
    assert caught.value.code == "idp_max_exceeded"


@pytest.mark.parametrize(("tamper", "config"), [
    ({"min_ial": "1.1"}, {}),
    ({"min_aal": "1"}, {}),
    ({"mode": 3}, {}),
    ({"request_id": "someone-elses-request"}, {}),
    ({"requester_node_id": "rp-other"}, {"node_id": "rp-idgw"}),
])
def test_a_node_request_that_differs_from_the_one_created_is_refused(ndid_sim, receiver, tamper, config):
    upstream = provider(ndid_sim.url, **config)
    pending = receiver.begin(upstream, min_ial="2.3", min_aal="2.1")
    assert sim_request(ndid_sim.url, pending.request_id)["requester_node_id"] == "rp-idgw"
    idp_app_answer(ndid_sim.url, pending.request_id, idp_id="idp-bank-a", ial="2.3", aal="2.2")
    ndid_sim.sim.requests[pending.request_id].update(tamper)  # the node's copy no longer matches what we asked
    assert sim_request(ndid_sim.url, pending.request_id)["status"] == "completed"
    state = receiver.refresh(upstream, pending.reference_id, force=True)
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=state)
    assert caught.value.code == "state_mismatch"
    assert sim_request(ndid_sim.url, pending.request_id)["close_attempts"]
    assert upstream.status(state=state, now=int(time.time())) == "errored"  # the waiting page ends too


@pytest.mark.parametrize(("fault", "overrides", "code"), [
    ({"status_query_error": True}, {}, "upstream_error"),
    ({"status_query_delay": 1.0}, {"timeout_seconds": 0.3}, "upstream_timeout"),
])
def test_status_query_failures_are_upstream_errors(ndid_sim, receiver, fault, overrides, code):
    upstream = provider(ndid_sim.url, **overrides)
    pending = receiver.begin(upstream)
    idp_app_answer(ndid_sim.url, pending.request_id)
    ndid_sim.faults(**fault)
    with pytest.raises(UpstreamError) as caught:
        receiver.refresh(upstream, pending.reference_id, force=True)
    assert caught.value.code == code
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=receiver.state(pending.reference_id))
    assert caught.value.code == code
    assert sim_request(ndid_sim.url, pending.request_id)["closed"] is True  # closed all the same


def test_unreachable_node_on_refresh(receiver):
    upstream = provider(f"http://127.0.0.1:{free_port()}")
    state = {"provider": "ndid", "request_id": "r1", "expires_at": 0}
    with pytest.raises(UpstreamError) as caught:
        upstream.refresh(state=state)
    assert caught.value.code == "upstream_unreachable"


def test_validity_recorded_at_close_still_completes(ndid_sim, receiver):
    # The real platform writes valid_signature/valid_ial to the chain when the request is closed, a block
    # after the close call: complete() closes first and waits for the node to show the close.
    ndid_sim.faults(validity_at_close=True, close_delay=0.3)
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream)
    idp_app_answer(ndid_sim.url, pending.request_id, idp_id="idp-bank-a", ial="2.3", aal="2.2")
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    assert node(state)["response_list"][0]["valid_signature"] is None
    identity = upstream.complete(state=state)
    assert (identity.ial, identity.aal) == ("2.3", "2.2")
    assert identity.raw_levels["responses"][0]["valid_signature"] is True


def _nested(depth: int, leaf) -> dict:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def hostile_payloads(request_id: str) -> list:
    return [
        [], [request_id], "completed", 3, 1.5, None, True, {},
        {"request_id": [request_id]}, {"request_id": {"id": request_id}}, {"request_id": 7},
        {"request_id": request_id, "reference_id": ["x"]},
        {"request_id": request_id, "type": "request_status", "block_height": "sim-chain:¹"},
        {"request_id": request_id, "type": "request_status", "block_height": "٣٤"},
        {"request_id": request_id, "type": "request_status", "block_height": "sim-chain:" + "9" * 5000},
        {"request_id": request_id, "type": "request_status", "block_height": 10 ** 40},
        {"request_id": request_id, "type": "request_status", "block_height": ["sim-chain", 5]},
        {"request_id": request_id, "type": ["request_status"], "status": {"completed": True}},
        {"request_id": request_id, "type": "request_status", "status": ["completed"], "response_list": "all"},
        {"request_id": request_id, "type": "request_status", "status": "completed", "closed": "true",
         "timed_out": 1, "response_list": [1, "a", None, {"idp_id": ["x"], "ial": {"v": 3}, "aal": "³"}]},
        {"request_id": request_id, "type": "request_status", "status": "completed",
         "response_list": [_nested(50, {"idp_id": MADE_UP_IDP, "status": "accept", "ial": 3, "aal": 3})]},
        {"request_id": request_id, "type": "create_request_result", "success": _nested(50, True),
         "error": _nested(50, "x")},
        {"request_id": request_id, "type": "close_request_result", "success": "yes", "error": [1, 2]},
        {"request_id": request_id, "type": "x" * 10000, "status": "s" * 10000},
    ]


def test_hostile_callback_payloads_end_in_a_state_or_an_upstream_error(ndid_sim, receiver):
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream)
    before = receiver.refresh(upstream, pending.reference_id, force=True)
    crashes = len(receiver.crashes)
    for payload in hostile_payloads(pending.request_id):
        answer = httpx.post(receiver.callback_url(pending.reference_id), content=json.dumps(payload),
                            headers={"content-type": "application/json"})
        assert answer.status_code in (204, 400), (payload if len(repr(payload)) < 300 else repr(payload)[:300])
    assert receiver.crashes[crashes:] == []
    after = receiver.state(pending.reference_id)
    for key in ("node", "node_read_at", "completed_at", "expires_at", "min_ial", "min_aal", "mode", "idp_id_list"):
        assert after[key] == before[key], key
    assert upstream.status(state=after, now=int(time.time())) == "pending"
    json.dumps(after)  # still JSON-serialisable
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=after)
    assert caught.value.code == "rejected"


def test_hostile_callback_objects_in_process():
    # Values the gateway's JSON parser could hand over, built directly (no JSON text limits apply).
    upstream = provider("http://127.0.0.1:1")
    state = {"provider": "ndid", "request_id": "r1", "reference_id": "ref1", "expires_at": 130, "node": None,
             "node_read_at": None, "hint": None, "hint_seen": 0}
    deep = []
    for _ in range(100000):
        deep = [deep]
    payloads = ({"request_id": "r1", "type": "request_status", "block_height": "¹"}, {"request_id": deep}, deep,
                {"request_id": "r1", "response_list": deep, "status": deep, "type": deep, "block_height": deep},
                {"request_id": "r1", "reference_id": deep}, {"request_id": "r1", "block_height": float("nan")})
    for payload in payloads:
        try:
            new = upstream.handle_callback(state=state, payload=payload)
        except UpstreamError:
            continue
        assert new["node"] is None and new["hint"]["count"] == 1
        json.dumps(new)


# -- a node answering garbage ---------------------------------------------------------------------------


class BrokenNode:
    """A stand-in RP node whose answers the test sets: ``detail`` for the status query, ``idps`` for the
    IdP list, as (HTTP status, body bytes)."""

    def __init__(self) -> None:
        self.detail: tuple[int, bytes] = (404, b"")
        self.idps: tuple[int, bytes] = (200, b"[]")
        app = FastAPI()

        @app.get("/utility/requests/{request_id}")
        async def detail(request_id: str) -> Response:
            return Response(self.detail[1], status_code=self.detail[0], media_type="application/json")

        @app.get("/utility/idp")
        async def idps() -> Response:
            return Response(self.idps[1], status_code=self.idps[0], media_type="application/json")

        @app.post("/rp/request_close")
        async def close() -> Response:
            return Response(status_code=202)

        self.server = ServerThread(app, port=free_port()).start()


@pytest.fixture(scope="module")
def broken():
    running = BrokenNode()
    yield running
    running.server.stop()


def _state() -> dict:
    return {"provider": "ndid", "request_id": "r1", "reference_id": "ref1", "initial_salt": "salt",
            "namespace": "citizen_id", "identifier": "6000000000000", "mode": 2, "min_ial": "2.3", "min_aal": "2.1",
            "min_idp": 1, "idp_id_list": [], "request_timeout": 300, "callback_url": "http://127.0.0.1:9/cb",
            "created_at": int(time.time()), "expires_at": int(time.time()) + 300, "node": None, "node_read_at": None,
            "completed_at": None, "hint": None, "hint_seen": 0}


GOOD_DETAIL = {"request_id": "r1", "mode": 2, "min_ial": 2.3, "min_aal": 2.1, "min_idp": 1,
               "idp_id_list": ["idp-bank-a"], "status": "completed", "closed": True, "timed_out": False,
               "requester_node_id": "rp-idgw", "response_list": [
                   {"idp_id": "idp-bank-a", "status": "accept", "ial": 2.3, "aal": 2.2, "valid_signature": True,
                    "valid_ial": True, "error_code": None, "signature": "AAAA"}]}


@pytest.mark.parametrize("answer", [
    (200, b"not json"),
    (200, b"[" * 100000 + b"]" * 100000),
    (200, b'{"request_id": ' + b'{"a": ' * 50000 + b"1" + b"}" * 50000 + b"}"),
    (200, b"[]"),
    (200, b'"r1"'),
    (200, b'{"request_id": "r1", "mode": ' + b"9" * 5000 + b"}"),
    (200, b"\xff\xfe{}"),
    (200, b" " * (2 * 1024 * 1024)),
    (500, b'{"error": {"code": 10003, "message": "x"}}'),
    (503, b""),
    # Only a 200 is the node's answer (a 404 is "unknown request"): not a redirect or another success.
    (201, b'{"request_id": "r1"}'),
    (302, b'{"request_id": "r1"}'),
])
def test_malformed_node_answers_are_upstream_errors(broken, answer):
    broken.detail = answer
    upstream = provider(broken.server.url)
    with pytest.raises(UpstreamError) as caught:
        upstream.refresh(state=_state())
    assert caught.value.code == "upstream_error"
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=_state())
    assert caught.value.code == "upstream_error"


def test_odd_values_in_a_node_answer_never_count(broken):
    broken.detail = (200, json.dumps({
        "request_id": "r1", "mode": True, "min_ial": "٢.٣", "min_aal": 1e999, "min_idp": 1.0, "status": ["completed"],
        "closed": "yes", "idp_id_list": "idp-bank-a", "requester_node_id": 7,
        "response_list": [1, None, {"idp_id": ["idp-bank-a"], "ial": "¹", "aal": {"v": 2}, "status": "accept",
                                    "valid_signature": "true", "error_code": {"c": 1}}]}).encode())
    upstream = provider(broken.server.url)
    state = upstream.refresh(state=_state())
    view = state["node"]
    assert view["mode"] is None and view["min_ial"] is None and view["min_aal"] is None and view["min_idp"] is None
    assert view["status"] is None and view["closed"] is False and view["idp_id_list"] is None
    assert view["response_list"] == [{"idp_id": None, "status": "accept", "ial": None, "aal": None, "raw_ial": "¹",
                                      "raw_aal": None, "valid_signature": None, "valid_ial": None,
                                      "error_code": "malformed"}]
    json.dumps(state)
    assert upstream.status(state=state, now=int(time.time())) == "errored"  # not the request we created
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=state)
    assert caught.value.code == "state_mismatch"


def test_a_404_means_the_platform_does_not_know_the_request(broken):
    broken.detail = (404, b"")
    upstream = provider(broken.server.url)
    state = upstream.refresh(state=_state())
    assert state["node"] == {"known": False} and state["node_read_at"]
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=state)
    assert caught.value.code == "errored"


@pytest.mark.parametrize(("idps", "code"), [
    ((200, b"{}"), "upstream_error"),
    ((200, b"[" * 100000 + b"]" * 100000), "upstream_error"),
    ((500, b""), "upstream_error"),
    ((200, json.dumps([{"node_id": "idp-bank-a", "max_ial": "high", "max_aal": 2.2}]).encode()), "unknown_idp"),
    ((200, json.dumps([{"node_id": "idp-bank-a", "max_ial": 2.3, "max_aal": 2.1}]).encode()), "idp_max_exceeded"),
    ((200, json.dumps([{"node_id": "idp-bank-a", "max_ial": 2.3, "max_aal": 2.2}]).encode()), None),
])
def test_the_idp_catalogue_is_checked(broken, idps, code):
    broken.detail = (200, json.dumps(GOOD_DETAIL).encode())
    broken.idps = idps
    upstream = provider(broken.server.url)
    if code is None:
        assert upstream.complete(state=_state()).aal == "2.2"
        return
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=_state())
    assert caught.value.code == code


def test_the_catalogue_cache_is_safe_across_threads(broken):
    import threading

    broken.detail = (200, json.dumps(GOOD_DETAIL).encode())
    broken.idps = (200, json.dumps([{"node_id": "idp-bank-a", "max_ial": 2.3, "max_aal": 2.2}]).encode())
    upstream = provider(broken.server.url, idp_catalogue_ttl=0)
    results: list = []

    def sign_in():
        try:
            results.append(upstream.complete(state=_state()).ial)
        except Exception as exc:  # reported by the assertion below
            results.append(exc)

    threads = [threading.Thread(target=sign_in) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert results == ["2.3"] * 8


@pytest.mark.parametrize("garbled", [
    # A Content-Encoding the body does not follow: httpx raises DecodingError, which is not a TransportError.
    (200, {"content-encoding": "gzip"}, b"not gzip at all"),
    (400, {"content-encoding": "deflate"}, b"\x00garbage"),
    (200, {"content-type": "application/json"}, b"[" * 100000 + b"]" * 100000),
])
def test_undecodable_node_answers_are_upstream_errors_at_every_step(garbled):
    def answer(request: httpx.Request) -> httpx.Response:
        status, headers, body = garbled
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))

    upstream = NDIDUpstream(config=ndid_config("http://node.invalid"), transport=httpx.MockTransport(answer))
    state = _state()
    steps = {
        "begin": lambda: upstream.begin(citizen_id="1345951597671", min_ial="2.3", min_aal="2.1",
                                        callback_url="http://127.0.0.1:9/cb", request_message="sign in"),
        "refresh": lambda: upstream.refresh(state=state),
        "complete": lambda: upstream.complete(state=state),  # the close fails (logged), then the read does
        "catalogue": lambda: upstream._catalogue_for({"idp-bank-a"}),
    }
    for step, call in steps.items():
        with pytest.raises(UpstreamError) as caught:
            call()
        assert caught.value.code == "upstream_error", step


def test_every_node_answer_is_read_only_up_to_the_limit():
    # The create and close answers too, not only the status query and the IdP list.
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(202, stream=httpx.ByteStream(b'{"request_id": "' + b"x" * (2 * 1024 * 1024) + b'"}'))

    upstream = NDIDUpstream(config=ndid_config("http://node.invalid"), transport=httpx.MockTransport(answer))
    with pytest.raises(UpstreamError) as caught:
        upstream.begin(citizen_id="1345951597671", min_ial="2.3", min_aal="2.1",
                       callback_url="http://127.0.0.1:9/cb", request_message="sign in")
    assert caught.value.code == "upstream_error" and "too large" in caught.value.detail
    assert upstream._close(_state()) is False and seen[-1] == "/rp/request_close"


def test_polling_does_not_build_an_http_client_per_call(monkeypatch):
    # Building an httpx.Client loads the CA bundle (about 30 ms of CPU): once per connector, not per poll.
    built: list[object] = []
    original = httpx.Client.__init__

    def counting(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(httpx.Client, "__init__", counting)
    detail = json.dumps(GOOD_DETAIL).encode()
    upstream = NDIDUpstream(config=ndid_config("http://node.invalid"),
                            transport=httpx.MockTransport(lambda request: httpx.Response(200, content=detail)))
    state = _state()
    for _ in range(5):
        state = upstream.refresh(state=state)
    assert state["node"]["status"] == "completed" and len(built) == 1
