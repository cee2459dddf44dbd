"""A company delegates (SQLite and PostgreSQL): the DBD-style registry (its simulator over real
HTTP) says the company is bound by two directors jointly; one director's approval leaves the
mandate awaiting, a non-director's is refused, the second makes it signed; the delegate accepts and
signs in at the service on behalf of the company, whose token says so (``sub`` derived from the
juristic ID, ``delegation.principal.juristic_id``, ``act`` naming the employee). A director revokes."""

from __future__ import annotations

import httpx
import pytest

from idgw.delegation import mandates
from idgw.delegation import model as m
from idgw.delegation.model import MandateError
from idgw.storage.delegation import Mandate
from idgw.storage.models import Account
from providers.dbd import DbdRegistry
from providers.simulators.dbd import DEMO_CLOSED_ID, DEMO_COMPANY_ID, create_dbd_app
from providers.simulators.server import ServerThread, free_port
from tests.delegation.world import (
    MALEE,
    PRASERT,
    SOMCHAI,
    SOMYING,
    citizen,
    decode,
    delegable_service,
    gateway_signer,
    sign_in_acting,
    signer_of,
    sub_of,
)


@pytest.fixture(scope="module")
def registry():
    server = ServerThread(create_dbd_app(), port=free_port()).start()
    yield DbdRegistry(base_url=server.url, timeout=5)
    server.stop()


def _approve(gateway, registry, mandate_id: str, who) -> Mandate:
    company = registry.lookup(DEMO_COMPANY_ID)  # read afresh for every approval, as the pages do
    with gateway.db() as db:
        now = gateway.clock.now()
        row = db.get(Mandate, mandate_id)
        mandates.approve(db, row=row, signer=signer_of(db, who.account_id, now=now), company=company,
                         document_sha256=row.document_sha256, now=now, sign=gateway_signer(gateway))
        db.commit()
        return row


def test_two_directors_jointly_then_the_employee_acts_for_the_company(gateway, registry):
    service = delegable_service(gateway)
    director_1, director_2 = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    outsider, employee = citizen(gateway, MALEE), citizen(gateway, PRASERT)
    company = registry.lookup(DEMO_COMPANY_ID)
    with gateway.db() as db:
        now = gateway.clock.now()
        row = mandates.create(db, creator=db.get(Account, director_1.account_id), principal_kind="company",
                              company=company, delegate_citizen_id=employee.citizen_id,
                              scope=[(service.client_id, ["vat_filing"])], single_use=False, valid_from=now,
                              valid_until=now + 30 * 86400, subdelegation_allowed=False, now=now)
        db.commit()
        mandate_id = row.id

    assert _approve(gateway, registry, mandate_id, director_1).status == m.AWAITING_SIGNATURES
    with pytest.raises(MandateError) as err:  # one approval short of the joint rule: no acceptance yet
        with gateway.db() as db:
            mandates.accept(db, row=db.get(Mandate, mandate_id), account=db.get(Account, employee.account_id),
                            now=gateway.clock.now())
    assert err.value.code == "not_awaiting_acceptance"
    with pytest.raises(MandateError) as err:
        _approve(gateway, registry, mandate_id, outsider)
    assert err.value.code == "not_a_director"
    with pytest.raises(MandateError) as err:
        _approve(gateway, registry, mandate_id, director_1)
    assert err.value.code == "already_approved"
    row = _approve(gateway, registry, mandate_id, director_2)
    assert row.status == m.AWAITING_ACCEPTANCE and row.jws
    sign_in_acting(gateway, service, employee, choice=None)  # not accepted: nothing offered
    with gateway.db() as db:
        mandates.accept(db, row=db.get(Mandate, mandate_id), account=db.get(Account, employee.account_id),
                        now=gateway.clock.now())
        db.commit()

    tokens, _rp, page = sign_in_acting(gateway, service, employee, choice=mandate_id)
    assert "0105564001230" in page
    claims = decode(gateway, tokens["id_token"], service.client_id)
    assert claims["sub"] == sub_of(gateway, service.client_id, f"juristic:{DEMO_COMPANY_ID}")
    assert claims["act"]["sub"] == sub_of(gateway, service.client_id, employee.account_id)
    principal = claims["delegation"]["principal"]
    assert principal["type"] == "juristic_person" and principal["juristic_id"] == DEMO_COMPANY_ID
    assert principal["name"]["en"] == "Example Trading Co., Ltd."

    # Either director may revoke; the token stops.
    with gateway.db() as db:
        mandates.revoke(db, row=db.get(Mandate, mandate_id), account=db.get(Account, director_2.account_id),
                        now=gateway.clock.now())
        db.commit()
    info = httpx.get(gateway.url + "/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 401


def test_a_non_director_or_a_closed_company_cannot_delegate(gateway, registry):
    service = delegable_service(gateway)
    outsider, employee = citizen(gateway, MALEE), citizen(gateway, PRASERT)
    director = citizen(gateway, SOMYING)
    for creator, juristic_id, code in ((outsider, DEMO_COMPANY_ID, "not_a_director"),
                                       (director, DEMO_CLOSED_ID, "company_inactive")):
        company = registry.lookup(juristic_id)
        with gateway.db() as db, pytest.raises(MandateError) as err:
            now = gateway.clock.now()
            mandates.create(db, creator=db.get(Account, creator.account_id), principal_kind="company",
                            company=company, delegate_citizen_id=employee.citizen_id,
                            scope=[(service.client_id, ["vat_filing"])], single_use=False, valid_from=now,
                            valid_until=now + 86400, subdelegation_allowed=False, now=now)
        assert err.value.code == code
    with gateway.db() as db:
        assert db.query(Mandate).count() == 0
