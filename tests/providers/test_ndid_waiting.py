"""What the gateway's NDID waiting page needs from the connector and the simulated platform, over
real HTTP: the short reference both sides show, the IdPs' answers so far (``progress``: "another
bank can still answer"), Cancel (``cancel`` closes the request and decides nothing), IdP error
codes kept for the operators, and the simulator's switches to make IdPs reject or error."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from providers.base import UpstreamError
from providers.ndid import SHORT_REFERENCE_ALPHABET, NDIDUpstream, short_reference
from providers.registry import load_providers

from .conftest import idp_app_answer, ndid_config, node, sim_request, wait_for


def provider(api_base: str, **overrides) -> NDIDUpstream:
    return load_providers(config=[ndid_config(api_base, **overrides)])["ndid"]


def answered(count: int):
    return lambda state: len(node(state).get("response_list") or []) >= count


def test_the_short_reference_is_six_unambiguous_characters_of_the_reference_id():
    seen = {short_reference(f"ref-{i}") for i in range(2000)}
    assert len(seen) > 1990  # 30 bits: collisions are rare, though it is never used to find anything
    for value in seen:
        assert len(value) == 6 and set(value) <= set(SHORT_REFERENCE_ALPHABET)
    assert not set("01IO") & set(SHORT_REFERENCE_ALPHABET) and len(set(SHORT_REFERENCE_ALPHABET)) == 32
    assert short_reference("abc") == short_reference("abc") != short_reference("abd")


def test_an_idp_error_leaves_the_others_able_to_answer(ndid_sim, receiver):
    upstream = provider(ndid_sim.url)  # every IdP holding the identity: three
    pending = receiver.begin(upstream, min_ial="2.1", min_aal="2.1")
    assert upstream.progress(state=pending.state).asked == 0  # nothing read yet
    state = receiver.wait(upstream, pending.reference_id, until=lambda s: node(s).get("known"))
    progress = upstream.progress(state=state)
    assert (progress.asked, progress.needed, progress.waiting_for, progress.others_can_answer) == (3, 1, 3, False)
    idp_app_answer(ndid_sim.url, pending.request_id, action="error", idp_id="idp-bank-a")
    state = receiver.wait(upstream, pending.reference_id, until=answered(1))
    progress = upstream.progress(state=state)
    assert progress.errored == 1 and progress.error_codes == (1000,) and progress.waiting_for == 2
    assert progress.others_can_answer
    assert upstream.status(state=state, now=time.time()) == "pending"  # still open: another bank can answer
    idp_app_answer(ndid_sim.url, pending.request_id, idp_id="idp-bank-b")
    state = receiver.wait(upstream, pending.reference_id,
                          until=lambda s: upstream.status(state=s, now=time.time()) != "pending")
    assert upstream.status(state=state, now=time.time()) == "completed"
    assert upstream.complete(state=state).raw_levels["idp_ids"] == ["idp-bank-b"]


def test_a_rejection_ends_the_request_even_when_others_could_answer(ndid_sim, receiver):
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream, min_ial="2.1", min_aal="2.1")
    receiver.wait(upstream, pending.reference_id, until=lambda s: node(s).get("known"))
    idp_app_answer(ndid_sim.url, pending.request_id, action="reject", idp_id="idp-bank-a")
    state = receiver.wait(upstream, pending.reference_id, until=answered(1))
    progress = upstream.progress(state=state)
    assert progress.rejected == 1 and progress.waiting_for == 2 and not progress.others_can_answer
    assert upstream.status(state=state, now=time.time()) == "rejected"


def test_two_idps_needed_one_has_approved(ndid_sim, receiver):
    upstream = provider(ndid_sim.url, min_idp=2, idp_id_list=["idp-bank-a", "idp-bank-b"])
    pending = receiver.begin(upstream, min_ial="2.1", min_aal="2.1")
    receiver.wait(upstream, pending.reference_id, until=lambda s: node(s).get("known"))
    idp_app_answer(ndid_sim.url, pending.request_id, idp_id="idp-bank-a")
    state = receiver.wait(upstream, pending.reference_id, until=answered(1))
    progress = upstream.progress(state=state)
    assert (progress.accepted, progress.needed, progress.waiting_for, progress.others_can_answer) == (1, 2, 1, False)
    assert upstream.status(state=state, now=time.time()) == "pending"


def test_an_idp_error_that_leaves_nobody_ends_errored_with_the_idp_s_code(ndid_sim, receiver):
    upstream = provider(ndid_sim.url, idp_id_list=["idp-bank-a"])
    pending = receiver.begin(upstream, min_ial="2.1", min_aal="2.1")
    receiver.wait(upstream, pending.reference_id, until=lambda s: node(s).get("known"))
    answer = httpx.post(f"{ndid_sim.url}/idp-app/requests/{pending.request_id}/respond",
                        data={"idp_id": "idp-bank-a", "action": "error", "error_code": "10101"})
    assert answer.status_code == 200
    state = receiver.wait(upstream, pending.reference_id,
                          until=lambda s: upstream.status(state=s, now=time.time()) != "pending")
    assert not upstream.progress(state=state).others_can_answer
    with pytest.raises(UpstreamError) as caught:
        upstream.complete(state=state)
    assert caught.value.code == "errored" and "IdP error codes 10101" in caught.value.detail


def test_cancel_closes_the_request_and_decides_nothing(ndid_sim, receiver):
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream, min_ial="2.1", min_aal="2.1")
    state = receiver.wait(upstream, pending.reference_id, until=lambda s: node(s).get("known"))
    assert upstream.cancel(state=state) is True
    record = sim_request(ndid_sim.url, pending.request_id)
    assert record["closed"] is True and len(record["close_attempts"]) == 1
    assert upstream.cancel(state=state) is False  # already closed (20025): logged, nothing else
    state = receiver.wait(upstream, pending.reference_id, until=lambda s: node(s).get("closed"))
    assert upstream.status(state=state, now=time.time()) == "errored"  # closed before any outcome
    assert upstream.cancel(state={**state, "request_id": "unknown"}) is False  # 20012: not found
    with pytest.raises(UpstreamError) as caught:
        upstream.cancel(state={**state, "provider": "other"})
    assert caught.value.code == "state_mismatch"
    dead = provider(f"http://127.0.0.1:{_closed_port()}")
    assert dead.cancel(state=state) is False  # unreachable: the request ends at its timeout


def test_the_idp_app_shows_the_short_reference_and_answers_with_real_idp_error_codes(ndid_sim, receiver):
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream, min_ial="2.1", min_aal="2.1")
    short = short_reference(pending.reference_id)
    listing = httpx.get(ndid_sim.url + "/idp-app")
    assert re.search(rf'<strong class="reference">{short}</strong>', listing.text)
    page = httpx.get(f"{ndid_sim.url}/idp-app/requests/{pending.request_id}")
    assert f'<strong class="reference">{short}</strong>' in page.text
    assert '<option value="10101">' in page.text and '<option value="1000">' in page.text
    assert "<main>" in page.text and "<header>" in page.text
    respond = f"{ndid_sim.url}/idp-app/requests/{pending.request_id}/respond"
    for code in ("999", "x", ""):  # not an IdP error code the platform knows
        refused = httpx.post(respond, data={"idp_id": "idp-bank-a", "action": "error", "error_code": code})
        assert refused.status_code == 400
    assert sim_request(ndid_sim.url, pending.request_id)["response_list"] == []
    assert httpx.post(respond, data={"idp_id": "idp-mobile-c", "action": "error",
                                     "error_code": "10101"}).status_code == 200
    assert sim_request(ndid_sim.url, pending.request_id)["response_list"] == [
        {"idp_id": "idp-mobile-c", "error_code": 10101}]


@pytest.mark.parametrize("answers,expected", [
    ({"idp-bank-a": "reject"}, [("idp-bank-a", "reject", None)]),
    ({"idp-bank-a": 10101, "idp-bank-b": "accept"}, [("idp-bank-a", None, 10101), ("idp-bank-b", "accept", None)]),
    ({"idp-bank-a": "error"}, [("idp-bank-a", None, 1000)]),
])
def test_the_platform_can_be_told_to_make_idps_answer_by_themselves(ndid_sim, receiver, answers, expected):
    ndid_sim.faults(idp_answers=answers)
    upstream = provider(ndid_sim.url)
    pending = receiver.begin(upstream, min_ial="2.1", min_aal="2.1")
    record = wait_for(lambda: (r := sim_request(ndid_sim.url, pending.request_id))["response_list"]
                      and len(r["response_list"]) == len(expected) and r)
    assert [(a["idp_id"], a.get("status"), a.get("error_code")) for a in record["response_list"]] == expected


def _closed_port() -> int:
    from providers.simulators.server import free_port

    return free_port()
