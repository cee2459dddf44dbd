"""The refresh grace (IDGW_REFRESH_GRACE, RFC 9700 §4.14.2) across two instances: the rotation's
response lost at A, the client's retry with the old token reaches B. Both read the same rows, so the
grace holds as on one instance: B issues a fresh pair and revokes the unused one; of two retries at
A and B at once exactly one gets a pair and nothing is burnt; after the grace re-issue the old token
gets nothing more, and the surviving pair rotates as usual."""

from __future__ import annotations

from functools import partial

import pytest

from tests.flow import register
from tests.ops.instances import start_deployment
from tests.ops.test_two_instances import A, B, active, at_once, redeem, refresh, sign_in

GRACE = 30  # seconds: wide enough that a slow machine stays inside it


@pytest.fixture(scope="module")
def deployment(postgres, tmp_path_factory):
    running = start_deployment(postgres.create_database(), tmp_path_factory.mktemp("two-instances-grace"),
                               refresh_grace=GRACE)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def reg(deployment):
    return register(deployment)


def _tokens(deployment, reg) -> dict:
    params, _nonce, verifier = sign_in(deployment, reg, start=A, finish=B)
    answer = redeem(deployment, reg, A, params["code"], verifier)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_retry_at_b_after_a_response_lost_at_a_gets_a_fresh_pair(deployment, reg):
    first = _tokens(deployment, reg)
    lost = refresh(deployment, reg, A, first["refresh_token"])  # rotated; the client never saw it
    assert lost.status_code == 200, lost.text
    retried = refresh(deployment, reg, B, first["refresh_token"])
    assert retried.status_code == 200, retried.text
    fresh, lost = retried.json(), lost.json()
    assert fresh["refresh_token"] not in (lost["refresh_token"], first["refresh_token"])
    # One live pair: the unused one issued at A is revoked, the one from B lives.
    assert not active(deployment, reg, B, lost["access_token"])
    assert active(deployment, reg, A, fresh["access_token"])
    # Once per rotation: the old token again gets nothing, and burns nothing.
    again = refresh(deployment, reg, A, first["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert active(deployment, reg, B, fresh["access_token"])
    # The surviving pair rotates as usual, at either instance.
    onward = refresh(deployment, reg, A, fresh["refresh_token"])
    assert onward.status_code == 200, onward.text
    assert active(deployment, reg, B, onward.json()["access_token"])


def test_two_retries_at_a_and_b_at_once_get_one_pair_and_burn_nothing(deployment, reg):
    for _round in range(3):
        first = _tokens(deployment, reg)
        lost = refresh(deployment, reg, B, first["refresh_token"]).json()
        answers = at_once(*(partial(refresh, deployment, reg, i, first["refresh_token"]) for i in (A, B)))
        assert sorted(a.status_code for a in answers) == [200, 400], [a.text for a in answers]
        won = next(a for a in answers if a.status_code == 200).json()
        assert next(a for a in answers if a.status_code == 400).json()["error"] == "invalid_grant"
        assert active(deployment, reg, A, won["access_token"]) and active(deployment, reg, B, won["access_token"])
        assert not active(deployment, reg, A, lost["access_token"])
        assert refresh(deployment, reg, B, won["refresh_token"]).status_code == 200


def test_the_replaced_pair_presented_later_is_reuse_at_the_other_instance(deployment, reg):
    first = _tokens(deployment, reg)
    lost = refresh(deployment, reg, A, first["refresh_token"]).json()
    fresh = refresh(deployment, reg, A, first["refresh_token"]).json()
    # Whoever presents the replaced refresh token received it, so two hold one grant: the family ends.
    reused = refresh(deployment, reg, B, lost["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert not active(deployment, reg, A, fresh["access_token"])
    assert refresh(deployment, reg, A, fresh["refresh_token"]).json()["error"] == "invalid_grant"
