"""Acting on behalf of another, the way an e-service sees it (SQLite and PostgreSQL): the delegate
signs in, chooses "on behalf of", and the ID token, access token, userinfo and introspection carry
``sub`` = the principal, the RFC 8693 ``act`` claim naming the delegate, and the ``delegation``
claim; revocation stops every one of them at once. Verified with python-jose (an independent
verifier)."""

from __future__ import annotations

import httpx

from idgw.delegation import mandates
from idgw.storage.delegation import Mandate
from idgw.storage.models import Account, AuditEvent
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
from tests.flow import authorize_url, form_fields, rp_client


def test_person_to_person_delegation_end_to_end(gateway):
    service = delegable_service(gateway)
    a, b = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    mandate_id = person_mandate(gateway, a, b, client_id=service.client_id)

    tokens, rp, page = sign_in_acting(gateway, service, b, choice=mandate_id)
    assert "สมชาย ใจดี" in page or "Somchai Jaidee" in page  # the principal is named on the choice page
    principal_sub, actor_sub = sub_of(gateway, service.client_id, a.account_id), sub_of(gateway, service.client_id,
                                                                                    b.account_id)
    id_token = decode(gateway, tokens["id_token"], service.client_id)
    assert id_token["sub"] == principal_sub != actor_sub
    assert id_token["act"]["sub"] == actor_sub
    assert id_token["delegation"]["id"] == mandate_id and id_token["delegation"]["acts"] == ["vat_filing"]
    assert id_token["delegation"]["principal"]["type"] == "natural_person"
    access = decode(gateway, tokens["access_token"], service.client_id)
    assert access["sub"] == principal_sub and access["act"] == {"sub": actor_sub}
    assert access["delegation"]["id"] == mandate_id

    info = httpx.get(gateway.url + "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200 and info.json()["sub"] == principal_sub and info.json()["act"]["sub"] == actor_sub
    # The profile the delegate agreed to release describes the delegate: it is inside act, never
    # beside the principal's sub.
    assert info.json()["act"]["name"] == "Somying Rakthai" and "name" not in info.json()
    intro = httpx.post(gateway.url + "/introspect", data={"token": tokens["access_token"]},
                       auth=(service.client_id, service.client_secret)).json()
    assert intro["active"] and intro["sub"] == principal_sub and intro["act"]["sub"] == actor_sub
    assert intro["delegation"]["id"] == mandate_id

    refreshed = rp.refresh_token(gateway.url + "/token", refresh_token=tokens["refresh_token"])
    assert decode(gateway, refreshed["access_token"], service.client_id)["act"]["sub"] == actor_sub

    # The principal revokes: at once, every token under it stops.
    with gateway.db() as db:
        mandates.revoke(db, row=db.get(Mandate, mandate_id), account=db.get(Account, a.account_id),
                        now=gateway.clock.now())
        db.commit()
    info = httpx.get(gateway.url + "/userinfo", headers={"Authorization": f"Bearer {refreshed['access_token']}"})
    assert info.status_code == 401
    intro = httpx.post(gateway.url + "/introspect", data={"token": refreshed["access_token"]},
                       auth=(service.client_id, service.client_secret)).json()
    assert intro == {"active": False}
    answer = httpx.post(gateway.url + "/token", data={"grant_type": "refresh_token",
                                                      "refresh_token": refreshed["refresh_token"]},
                        auth=(service.client_id, service.client_secret))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"

    # Signing in again: no choice page any more, the delegate acts for themselves.
    tokens, _rp, _ = sign_in_acting(gateway, service, b, choice=None)
    assert "act" not in decode(gateway, tokens["id_token"], service.client_id)

    # The audit log tells the story, each event naming who acted and for whom.
    with gateway.db() as db:
        events = [(e.name, e.actor, e.on_behalf_of) for e in db.query(AuditEvent).filter(
            AuditEvent.name.like("delegation.%"), AuditEvent.name != "delegation.rules_changed")
            .order_by(AuditEvent.id)]
    assert events == [("delegation.created", a.account_id, a.account_id),
                      ("delegation.approved", a.account_id, a.account_id),
                      ("delegation.accepted", b.account_id, a.account_id),
                      ("delegation.effective", b.account_id, a.account_id),
                      ("delegation.used", b.account_id, a.account_id),  # the code redeemed (not the refresh)
                      ("delegation.revoked", a.account_id, a.account_id)]


def test_for_myself_gives_no_act_and_other_services_offer_no_choice(gateway):
    service = delegable_service(gateway)
    other = delegable_service(gateway)
    a, b = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    person_mandate(gateway, a, b, client_id=service.client_id)
    tokens, _rp, _ = sign_in_acting(gateway, service, b, choice="self")
    claims = decode(gateway, tokens["id_token"], service.client_id)
    assert claims["sub"] == sub_of(gateway, service.client_id, b.account_id) and "act" not in claims
    # Outside the mandate's scope: the service is never offered it.
    sign_in_acting(gateway, other, b, choice=None)
    # An act the mandate does not cover: no choice either.
    sign_in_acting(gateway, service, b, choice=None, act="tax_refund")


def test_single_use_is_used_up_by_its_token(gateway):
    service = delegable_service(gateway)
    a, b = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    mandate_id = person_mandate(gateway, a, b, client_id=service.client_id, single_use=True)
    tokens, rp, _ = sign_in_acting(gateway, service, b, choice=mandate_id)
    with gateway.db() as db:
        assert db.get(Mandate, mandate_id).status == "used"
    # The token issued for the act stays good until it expires; no refresh under a used mandate.
    info = httpx.get(gateway.url + "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200 and info.json()["act"]
    answer = httpx.post(gateway.url + "/token", data={"grant_type": "refresh_token",
                                                      "refresh_token": tokens["refresh_token"]},
                        auth=(service.client_id, service.client_secret))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    sign_in_acting(gateway, service, b, choice=None)  # used: never offered again


def test_a_choice_that_is_not_mine_is_refused(gateway):
    service = delegable_service(gateway)
    a, b, c = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING), citizen(gateway, MALEE)
    mandate_id = person_mandate(gateway, a, b, client_id=service.client_id)
    person_mandate(gateway, a, c, client_id=service.client_id)  # c holds one too, so c gets the page
    rp = rp_client(gateway, service, scope="openid profile")
    url, *_ = authorize_url(gateway, rp)
    page = c.browser.follow(c.browser.get(url))
    action, hidden = form_fields(page.text)
    # c posts b's mandate id: not c's to use -> the choice page again, nothing issued.
    answer = c.browser.follow(c.browser.http.post(action, data={**hidden, "acting": mandate_id}))
    assert answer.status_code == 200 and 'name="acting"' in answer.text
