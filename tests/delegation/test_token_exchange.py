"""Token exchange (RFC 8693) for e-service back ends, on SQLite and PostgreSQL: a delegate's access
token at service A exchanged for a token to act for the principal at service B, allowed only for the
mandate's own delegate, for an audience and act it covers, while it is in effect; every refusal
issues nothing."""

from __future__ import annotations

import httpx
import pytest

from idgw.delegation import mandates
from idgw.oidc.exchange import ACCESS_TOKEN_TYPE, GRANT_TYPE
from idgw.storage.delegation import Mandate
from idgw.storage.models import Account, AuditEvent, Client, Token
from tests.delegation.world import (
    MALEE,
    SOMCHAI,
    SOMYING,
    citizen,
    decode,
    delegable_service,
    person_mandate,
    sign_in_acting,
    sub_of,
)
from tests.flow import register


def _allow_exchange(gateway, client_id: str) -> None:
    with gateway.db() as db:
        client = db.get(Client, client_id)
        client.grant_types = [*client.grant_types, GRANT_TYPE]
        db.commit()


def _exchange(gateway, front, subject_token: str, **form):
    data = {"grant_type": GRANT_TYPE, "subject_token": subject_token, "subject_token_type": ACCESS_TOKEN_TYPE,
            **form}
    return httpx.post(gateway.url + "/token", data={k: v for k, v in data.items() if v is not None},
                      auth=(front.client_id, front.client_secret))


@pytest.fixture
def world(gateway):
    front = register(gateway)  # service A: the delegate signs in here, its back end exchanges
    _allow_exchange(gateway, front.client_id)
    back = delegable_service(gateway)  # service B: the audience, covered by the mandate
    a, b = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    mandate_id = person_mandate(gateway, a, b, client_id=back.client_id)
    tokens, _rp, _ = sign_in_acting(gateway, front, b, choice=None, act=None)
    return dict(gateway=gateway, front=front, back=back, a=a, b=b, mandate_id=mandate_id, token=tokens["access_token"])


def _issued(gateway) -> int:
    with gateway.db() as db:
        return db.query(Token).filter(Token.mandate_id.isnot(None)).count()


def test_exchange_for_the_delegate_acts_for_the_principal_at_the_audience(world):
    gateway, back = world["gateway"], world["back"]
    answer = _exchange(gateway, world["front"], world["token"], audience=back.client_id, delegation_act="vat_filing")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["issued_token_type"] == ACCESS_TOKEN_TYPE and body["token_type"] == "Bearer"
    assert "refresh_token" not in body
    claims = decode(gateway, body["access_token"], back.client_id)
    assert claims["sub"] == sub_of(gateway, back.client_id, world["a"].account_id)
    assert claims["act"] == {"sub": sub_of(gateway, back.client_id, world["b"].account_id)}
    assert claims["client_id"] == world["front"].client_id
    assert claims["delegation"]["id"] == world["mandate_id"] and claims["delegation"]["acts"] == ["vat_filing"]
    # The audience can introspect it; revocation of the mandate ends it at once.
    intro = httpx.post(gateway.url + "/introspect", data={"token": body["access_token"]},
                       auth=(back.client_id, back.client_secret)).json()
    assert intro["active"] and intro["act"]["sub"] == claims["act"]["sub"]
    with gateway.db() as db:
        assert db.query(AuditEvent).filter(AuditEvent.name == "token.exchanged").count() == 1
        mandates.revoke(db, row=db.get(Mandate, world["mandate_id"]), account=db.get(Account, world["a"].account_id),
                        now=gateway.clock.now())
        db.commit()
    intro = httpx.post(gateway.url + "/introspect", data={"token": body["access_token"]},
                       auth=(back.client_id, back.client_secret)).json()
    assert intro == {"active": False}
    refused = _exchange(gateway, world["front"], world["token"], audience=back.client_id)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"


def test_someone_who_is_not_the_delegate_cannot_exchange(world):
    gateway = world["gateway"]
    c = citizen(gateway, MALEE)  # holds no mandate from a
    tokens, _rp, _ = sign_in_acting(gateway, world["front"], c, choice=None, act=None)
    answer = _exchange(gateway, world["front"], tokens["access_token"], audience=world["back"].client_id)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    # Naming b's mandate explicitly does not help c either.
    answer = _exchange(gateway, world["front"], tokens["access_token"], audience=world["back"].client_id,
                       delegation_id=world["mandate_id"])
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert _issued(gateway) == 0


@pytest.mark.parametrize("case, error", [
    ("other_audience", "invalid_grant"),
    ("non_delegating_audience", "invalid_target"),
    ("unknown_audience", "invalid_target"),
    ("act_outside", "invalid_grant"),
    ("actor_token", "invalid_request"),
    ("wrong_type", "invalid_request"),
    ("garbage_token", "invalid_request"),
    ("wider_scope", "invalid_scope"),
])
def test_refusals_issue_nothing(world, case, error):
    gateway, back = world["gateway"], world["back"]
    form = {"audience": back.client_id}
    token = world["token"]
    if case == "other_audience":
        form["audience"] = delegable_service(gateway).client_id  # delegating, but not in the mandate
    elif case == "non_delegating_audience":
        form["audience"] = register(gateway).client_id
    elif case == "unknown_audience":
        form["audience"] = "no-such-service"
    elif case == "act_outside":
        form["delegation_act"] = "tax_refund"
    elif case == "actor_token":
        form["actor_token"], form["actor_token_type"] = token, ACCESS_TOKEN_TYPE
    elif case == "wrong_type":
        form["subject_token_type"] = "urn:ietf:params:oauth:token-type:id_token"
    elif case == "garbage_token":
        token = token[:-4] + "AAAA"
    elif case == "wider_scope":
        form["scope"] = "openid profile email citizen_id"
    answer = _exchange(gateway, world["front"], token, **form)
    assert answer.status_code == 400 and answer.json()["error"] == error, answer.text
    assert _issued(gateway) == 0


def test_another_clients_token_and_clients_without_the_grant_are_refused(world):
    gateway = world["gateway"]
    thief = register(gateway)
    _allow_exchange(gateway, thief.client_id)
    answer = _exchange(gateway, thief, world["token"], audience=world["back"].client_id)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
    plain = register(gateway)  # not registered for token exchange
    answer = _exchange(gateway, plain, world["token"], audience=world["back"].client_id)
    assert answer.status_code == 400 and answer.json()["error"] == "unauthorized_client"
    assert _issued(gateway) == 0


def test_a_token_that_already_acts_for_someone_cannot_be_exchanged_again(world):
    gateway, back = world["gateway"], world["back"]
    first = _exchange(gateway, world["front"], world["token"], audience=back.client_id).json()["access_token"]
    _allow_exchange(gateway, back.client_id)
    answer = _exchange(gateway, back, first, audience=back.client_id)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"
