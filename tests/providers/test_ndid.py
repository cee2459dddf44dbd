"""The NDID connector against the NDID-style platform over real HTTP: the platform calls a stand-in
for the gateway's callback endpoint (callbacks are hints), the stand-in reads the request from the
node as the waiting page does, the simulated citizen answers in the IdP app (driven with httpx),
and every request ends closed. The trust model's regressions are in ``test_ndid_trust.py``."""

from __future__ import annotations

import copy
import time

import httpx
import pytest

from providers.base import UpstreamError
from providers.ndid import TIMEOUT_GRACE, UNKNOWN_REQUEST_GRACE, NDIDUpstream
from providers.registry import load_providers
from providers.simulators.server import free_port

from .conftest import idp_app_answer, ndid_config, node, sim_request, wait_for


def provider(api_base: str, **overrides) -> NDIDUpstream:
    return load_providers(config=[ndid_config(api_base, **overrides)])["ndid"]


def finished(upstream):
    return lambda state: upstream.status(state=state, now=int(time.time())) != "pending"


def closed_at_platform(ndid_url: str, request_id: str) -> dict:
    """The platform saw a close for this request (and reported it back)."""
    return wait_for(lambda: (r := sim_request(ndid_url, request_id))["close_attempts"] and r)


def test_approval_completes_with_the_answered_levels(ndid_sim, receiver):
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream, min_ial="2.3", min_aal="2.1")
    assert pending.request_id and pending.state["initial_salt"]
    assert pending.expires_at == pending.state["created_at"] + 30
    record = sim_request(ndid_sim.url, pending.request_id)
    # What the platform received: floors from the policy as NDID numbers, the message, mode, min_idp.
    assert record["min_ial"] == "2.3" and record["min_aal"] == "2.1" and record["mode"] == 2
    assert record["min_idp"] == 1 and record["request_timeout"] == 30
    assert record["reference_id"] == pending.reference_id
    state = receiver.wait(upstream, pending.reference_id, until=lambda s: node(s).get("known"))
    assert node(state)["status"] == "pending" and node(state)["min_ial"] == "2.3" and node(state)["mode"] == 2
    assert upstream.status(state=state, now=int(time.time())) == "pending"

    page = idp_app_answer(ndid_sim.url, pending.request_id, idp_id="idp-bank-a", ial="2.3", aal="2.2")
    assert "Sign in to the demo e-service" in page and "ยืนยันตัวตนเพื่อเข้าสู่ระบบ" in page
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    assert upstream.status(state=state, now=int(time.time())) == "completed"

    identity = upstream.complete(state=state)
    assert identity.provider == "ndid" and identity.citizen_id == "1345951597671"
    assert identity.ial == "2.3" and identity.aal == "2.2" and identity.amr == ("mfa",)
    assert identity.raw_levels["idp_ids"] == ["idp-bank-a"] and identity.raw_levels["responses"][0]["ial"] == 2.3
    assert identity.raw_levels["idp_max"] == {"idp-bank-a": ["2.3", "2.2"]}
    assert abs(identity.auth_time - time.time()) < 60
    record = closed_at_platform(ndid_sim.url, pending.request_id)
    assert record["close_attempts"][0] == {"reference_id": pending.reference_id, "request_id": pending.request_id,
                                           "callback_url": receiver.callback_url(pending.reference_id)}
    assert record["closed"] is True
    # The platform reports the close to the callback URL; for the connector that is one more hint.
    wait_for(lambda: any(c["type"] == "close_request_result" and c["http_status"] == 204
                         for c in sim_request(ndid_sim.url, pending.request_id)["callbacks"]))


def test_reject_in_the_idp_app(ndid_sim, receiver):
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream)
    idp_app_answer(ndid_sim.url, pending.request_id, action="reject")
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=state)
    assert caught.value.code == "rejected"
    closed_at_platform(ndid_sim.url, pending.request_id)


def test_idp_error_is_errored(ndid_sim, receiver):
    upstream = provider(ndid_sim.url, idp_id_list=["idp-bank-a"])
    pending = receiver.begin(upstream)
    idp_app_answer(ndid_sim.url, pending.request_id, action="error")
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    assert upstream.status(state=state, now=int(time.time())) == "errored"
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=state)
    assert caught.value.code == "errored"
    closed_at_platform(ndid_sim.url, pending.request_id)


def test_accept_and_reject_from_two_idps_is_complicated(ndid_sim, receiver):
    upstream = provider(ndid_sim.url, idp_id_list=["idp-bank-a", "idp-bank-b"], min_idp=2)
    pending = receiver.begin(upstream)
    idp_app_answer(ndid_sim.url, pending.request_id, idp_id="idp-bank-a")
    receiver.wait(upstream, pending.reference_id, until=lambda s: len(node(s).get("response_list", [])) == 1)
    assert upstream.status(state=receiver.state(pending.reference_id), now=int(time.time())) == "pending"
    idp_app_answer(ndid_sim.url, pending.request_id, idp_id="idp-bank-b", action="reject")
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=state)
    assert caught.value.code == "complicated"
    closed_at_platform(ndid_sim.url, pending.request_id)


def test_two_idps_accepting_give_the_lower_levels(ndid_sim, receiver):
    upstream = provider(ndid_sim.url, idp_id_list=["idp-bank-a", "idp-bank-b"], min_idp=2)
    pending = receiver.begin(upstream, min_ial="2.2", min_aal="2.1")
    idp_app_answer(ndid_sim.url, pending.request_id, idp_id="idp-bank-a", ial="2.3", aal="2.2")
    idp_app_answer(ndid_sim.url, pending.request_id, idp_id="idp-bank-b", ial="2.2", aal="2.1")
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    identity = upstream.complete(state=state)
    assert (identity.ial, identity.aal) == ("2.2", "2.1")
    assert sorted(identity.raw_levels["idp_ids"]) == ["idp-bank-a", "idp-bank-b"]


def test_request_timeout_is_timed_out_and_still_closed(ndid_sim, receiver):
    upstream = provider(ndid_sim.url, request_timeout=1)
    pending = receiver.begin(upstream)
    state = receiver.wait(upstream, pending.reference_id, until=lambda s: node(s).get("timed_out"), timeout=5)
    assert upstream.status(state=state, now=int(time.time())) == "timed_out"
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=state)
    assert caught.value.code == "timed_out"
    # The close is still sent; the platform refuses it because the request already timed out.
    assert closed_at_platform(ndid_sim.url, pending.request_id)["timed_out"] is True
    # A timed-out request takes no more answers in the IdP app.
    late = httpx.post(f"{ndid_sim.url}/idp-app/requests/{pending.request_id}/respond",
                      data={"idp_id": "idp-bank-a", "action": "accept", "ial": "2.3", "aal": "2.2"})
    assert late.status_code == 409


def test_lost_callbacks_still_time_out_locally(ndid_sim, receiver):
    ndid_sim.faults(drop_callbacks=True)
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream)
    state = receiver.state(pending.reference_id)
    assert upstream.status(state=state, now=pending.expires_at) == "pending"
    assert upstream.status(state=state, now=pending.expires_at + TIMEOUT_GRACE) == "timed_out"


def test_cancel_while_pending_closes_the_request(ndid_sim, receiver):
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream)
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=receiver.state(pending.reference_id))
    assert caught.value.code == "rejected"
    record = closed_at_platform(ndid_sim.url, pending.request_id)
    assert record["closed"] is True
    receiver.wait(upstream, pending.reference_id, until=lambda s: node(s).get("closed"))


@pytest.mark.parametrize(("fault", "code"), [({"valid_signature": False}, "invalid_signature"),
                                              ({"valid_ial": False}, "ial_too_low")])
def test_invalid_signature_or_ial_in_mode_2_is_refused(ndid_sim, receiver, fault, code):
    ndid_sim.faults(**fault)
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream)
    idp_app_answer(ndid_sim.url, pending.request_id)
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    assert node(state)["status"] == "completed"  # the platform completed it; the connector refuses the answer
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=state)
    assert caught.value.code == code
    closed_at_platform(ndid_sim.url, pending.request_id)


def test_answer_above_the_identity_ial_at_that_idp_is_invalid_ial(ndid_sim, receiver):
    # idp-mobile-c may answer up to IAL 2.3 but holds this identity at 2.1: the platform flags valid_ial false.
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream, min_ial="2.1")
    idp_app_answer(ndid_sim.url, pending.request_id, idp_id="idp-mobile-c", ial="2.3", aal="2.1")
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    assert node(state)["response_list"][0]["valid_ial"] is False
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=state)
    assert caught.value.code == "ial_too_low"


@pytest.mark.parametrize(("ial", "aal", "code"), [("2.1", "2.2", "ial_too_low"), ("2.3", "1", "aal_too_low")])
def test_answers_below_the_floors_are_refused(ndid_sim, receiver, ial, aal, code):
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream, min_ial="2.3", min_aal="2.1")
    # The platform itself refuses such an answer...
    idp_app_answer(ndid_sim.url, pending.request_id, ial=ial, aal=aal, expect_status=400)
    # ...and when a misbehaving IdP gets it through, the connector still refuses it.
    ndid_sim.faults(ignore_floors=True)
    idp_app_answer(ndid_sim.url, pending.request_id, ial=ial, aal=aal)
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=state)
    assert caught.value.code == code


def test_mode_1_does_not_need_platform_identity_checks(ndid_sim, receiver):
    upstream = provider(ndid_sim.url, mode=1, idp_id_list=["idp-bank-b"])
    pending = receiver.begin(upstream, min_ial="2.1", min_aal="2.1")
    idp_app_answer(ndid_sim.url, pending.request_id, idp_id="idp-bank-b", ial="2.3", aal="2.1")
    state = receiver.wait(upstream, pending.reference_id, until=finished(upstream))
    assert node(state)["response_list"][0]["valid_signature"] is None
    assert upstream.complete(state=state).ial == "2.3"


def test_duplicate_and_stale_callbacks_over_http_change_nothing(ndid_sim, receiver):
    ndid_sim.faults(duplicate_callbacks=True, stale_callbacks=True)
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream)
    receiver.wait(upstream, pending.reference_id, until=lambda s: s["hint"] is not None)
    idp_app_answer(ndid_sim.url, pending.request_id)
    wait_for(lambda: all(c["http_status"] == 204 for c in sim_request(ndid_sim.url, pending.request_id)["callbacks"])
             and len(sim_request(ndid_sim.url, pending.request_id)["callbacks"]) >= 6)
    state = receiver.refresh(upstream, pending.reference_id)  # the last (stale) callback asks for a read
    assert node(state)["status"] == "completed" and len(node(state)["response_list"]) == 1
    assert upstream.status(state=state, now=int(time.time())) == "completed"
    assert upstream.complete(state=state).citizen_id == "1345951597671"


def base_state(**changes) -> dict:
    state = {"provider": "ndid", "request_id": "r1", "reference_id": "ref1", "initial_salt": "salt",
             "namespace": "citizen_id", "identifier": "6000000000000", "mode": 2, "min_ial": "2.3",
             "min_aal": "2.1", "min_idp": 1, "idp_id_list": [], "request_timeout": 30, "callback_url": "http://x/cb",
             "created_at": 100, "expires_at": 130, "node": None, "node_read_at": None, "completed_at": None,
             "hint": None, "hint_seen": 0}
    return {**state, **changes}


def test_callbacks_are_hints_that_never_decide():
    upstream = NDIDUpstream(config=ndid_config("http://127.0.0.1:1"), clock=lambda: 105.5)
    view = {"known": True, "request_id": "r1", "status": "pending", "closed": False, "timed_out": False, "mode": 2,
            "min_ial": "2.3", "min_aal": "2.1", "min_idp": 1, "idp_id_list": ["idp-bank-a"],
            "requester_node_id": "rp-idgw", "response_list": []}
    state = base_state(node=view, node_read_at=104.0)
    original = copy.deepcopy(state)
    answer = {"idp_id": "idp-bank-a", "status": "accept", "ial": 2.3, "aal": 2.2, "valid_signature": True,
              "valid_ial": True}
    payloads = [
        {"type": "create_request_result", "request_id": "r1", "reference_id": "ref1", "success": True},
        {"type": "request_status", "request_id": "r1", "status": "completed", "response_list": [answer],
         "closed": True, "timed_out": True, "block_height": "chain:7"},
        {"type": "close_request_result", "request_id": "r1", "success": True},
        {"type": "future_kind", "request_id": "r1"},
    ]
    current = state
    for count, payload in enumerate(payloads, start=1):
        new = upstream.handle_callback(state=current, payload=payload)
        assert new is not current
        # Everything status() and complete() decide from is as before; only the hint changed.
        assert {k: v for k, v in new.items() if k != "hint"} == {k: v for k, v in original.items() if k != "hint"}
        assert new["hint"]["count"] == count and new["hint"]["received_at"] == 105.5
        assert upstream.status(state=new, now=110) == "pending"
        current = new
    assert state == original  # the input is never changed
    assert current["hint"] == {"type": "other", "status": None, "received_at": 105.5, "count": 4}
    assert upstream.handle_callback(state=state, payload=payloads[1])["hint"]["status"] == "completed"
    for wrong in ({**payloads[1], "request_id": "other"}, {**payloads[1], "reference_id": "ref2"},
                  {"type": "request_status"}):
        with pytest.raises(UpstreamError) as caught:
            upstream.handle_callback(state=state, payload=wrong)
        assert caught.value.code == "state_mismatch"
    with pytest.raises(UpstreamError) as caught:
        upstream.handle_callback(state={**state, "provider": "other"}, payload=payloads[0])
    assert caught.value.code == "state_mismatch"


def test_needs_refresh_after_a_hint_a_poll_interval_or_a_passed_deadline():
    upstream = NDIDUpstream(config=ndid_config("http://127.0.0.1:1", poll_interval=2), clock=lambda: 100.0)
    view = {"known": True, "request_id": "r1", "status": "pending", "closed": False, "timed_out": False, "mode": 2,
            "min_ial": "2.3", "min_aal": "2.1", "min_idp": 1, "idp_id_list": [], "requester_node_id": "rp-idgw",
            "response_list": []}
    assert upstream.needs_refresh(state=base_state(), now=100)  # never read
    read = base_state(node=view, node_read_at=100.0)
    assert not upstream.needs_refresh(state=read, now=101)
    assert upstream.needs_refresh(state=read, now=102)  # one poll interval later
    hinted = upstream.handle_callback(state=read, payload={"type": "request_status", "request_id": "r1"})
    assert upstream.needs_refresh(state=hinted, now=100)  # a hint after the last read
    assert not upstream.needs_refresh(state={**hinted, "hint_seen": 1}, now=100)  # that hint was read since
    late = base_state(node=view, node_read_at=130.0)
    assert upstream.needs_refresh(state=late, now=130)  # deadline passed, still pending at the node
    assert not upstream.needs_refresh(state={**late, "node": {**view, "status": "completed"}}, now=130)
    # status() decides from the view and the deadline only.
    assert upstream.status(state=read, now=132) == "pending"
    assert upstream.status(state=read, now=133) == "timed_out"  # deadline 130 plus grace
    assert upstream.status(state={**read, "node": {**view, "status": "completed"}}, now=101) == "completed"
    assert upstream.status(state={**read, "node": {**view, "closed": True}}, now=101) == "errored"
    assert upstream.status(state={**read, "node": {**view, "min_ial": "1.1"}}, now=101) == "errored"  # not ours
    assert upstream.status(state=base_state(node={"known": False}), now=109) == "pending"
    assert upstream.status(state=base_state(node={"known": False}), now=110) == "errored"


def test_create_result_failure_is_errored(ndid_sim, receiver):
    # A create that never reaches the chain: the status query answers 404 (the platform does not know it).
    ndid_sim.faults(create_result_failure=True)
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream)
    state = receiver.wait(upstream, pending.reference_id, until=lambda s: (s["hint"] or {}).get("type")
                          == "create_request_result")
    state = receiver.refresh(upstream, pending.reference_id, force=True)
    assert node(state) == {"known": False}
    # Not yet on the chain is normal for a moment after the 202; after a grace it is an error.
    assert upstream.status(state=state, now=pending.state["created_at"]) == "pending"
    assert upstream.status(state=state, now=pending.state["created_at"] + UNKNOWN_REQUEST_GRACE) == "errored"
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=state)
    assert caught.value.code == "errored" and "create failed" in caught.value.detail


@pytest.mark.parametrize(("fault", "overrides", "code"), [
    ({"create_error": True}, {}, "upstream_error"),
    ({"create_delay": 1.0}, {"timeout_seconds": 0.3}, "upstream_timeout"),
])
def test_platform_failures_at_create(ndid_sim, receiver, fault, overrides, code):
    ndid_sim.faults(**fault)
    with pytest.raises(UpstreamError) as caught:
        receiver.begin(provider(ndid_sim.url, **overrides))
    assert caught.value.code == code


def test_unreachable_platform(receiver):
    with pytest.raises(UpstreamError) as caught:
        receiver.begin(provider(f"http://127.0.0.1:{free_port()}"))
    assert caught.value.code == "upstream_unreachable"


def test_invalid_citizen_id_and_levels_are_refused_before_any_request(ndid_sim, receiver):
    upstream = provider(ndid_sim.url)
    before = len(ndid_sim.sim.requests)
    with pytest.raises(UpstreamError) as caught:
        receiver.begin(upstream, citizen_id="3712644096692")
    assert caught.value.code == "invalid_citizen_id"
    with pytest.raises(UpstreamError) as caught:
        receiver.begin(upstream, min_ial="IAL2")
    assert caught.value.code == "bad_configuration"
    assert len(ndid_sim.sim.requests) == before


def test_platform_refuses_a_reused_reference_id(ndid_sim, receiver):
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream)
    with pytest.raises(UpstreamError) as caught:
        upstream.begin(citizen_id="1345951597671", min_ial="2.3", min_aal="2.1",
                       callback_url=receiver.callback_url(pending.reference_id), request_message="again",
                       reference_id=pending.reference_id)
    # The platform's own code for it (ndid-error/type.js DUPLICATE_REFERENCE_ID).
    assert caught.value.code == "upstream_error" and "20045" in caught.value.detail
    with pytest.raises(UpstreamError):
        upstream.complete(state=receiver.state(pending.reference_id))


def test_callback_arriving_before_the_rp_stored_the_request_is_retried(ndid_sim, receiver):
    # The platform may call back before the RP has stored the answer to its create call; the RP
    # answers 409 and the platform delivers the callback again.
    upstream = provider(ndid_sim.url)
    reference_id = f"early-{time.monotonic_ns()}"
    pending = upstream.begin(citizen_id="6000000000000", min_ial="2.3", min_aal="2.1",
                             callback_url=receiver.callback_url(reference_id), request_message="ลองใหม่ retry",
                             reference_id=reference_id)
    wait_for(lambda: any(c["attempts"] >= 2 for c in sim_request(ndid_sim.url, pending.request_id)["callbacks"]))
    with receiver.lock:
        receiver.providers[reference_id] = upstream
        receiver.states[reference_id] = pending.state
    state = receiver.wait(upstream, reference_id, until=lambda s: s["hint"] is not None and node(s).get("known"))
    assert upstream.status(state=state, now=int(time.time())) == "pending"
    with pytest.raises(UpstreamError):
        upstream.complete(state=state)  # cancel: closes the request
    closed_at_platform(ndid_sim.url, pending.request_id)
