"""The mandate's life through the plain functions, on SQLite and PostgreSQL: each bad input of the
issue refused with its reason, leaving nothing effective."""

from __future__ import annotations

import pytest

from idgw.delegation import mandates
from idgw.delegation import model as m
from idgw.delegation.model import MandateError
from idgw.storage.delegation import Mandate
from idgw.storage.models import Account, AuditEvent
from tests.delegation.world import (
    MALEE,
    SOMCHAI,
    SOMYING,
    citizen,
    delegable_service,
    gateway_signer,
    person_mandate,
    signer_of,
)


def _create(gateway, creator, delegate_id, client_id, **kw):
    with gateway.db() as db:
        now = gateway.clock.now()
        args = dict(principal_kind="person", delegate_citizen_id=delegate_id, scope=[(client_id, ["vat_filing"])],
                    single_use=False, valid_from=now, valid_until=now + 86400, subdelegation_allowed=False, now=now)
        args.update(kw)
        row = mandates.create(db, creator=db.get(Account, creator.account_id), **args)
        db.commit()
        return row.id


def test_person_mandate_signed_accepted_effective(gateway):
    service = delegable_service(gateway)
    a, b = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    mandate_id = person_mandate(gateway, a, b, client_id=service.client_id)
    with gateway.db() as db:
        row = db.get(Mandate, mandate_id)
        assert row.status == m.EFFECTIVE and row.jws and row.delegate_account_id == b.account_id
        assert row.document_sha256 == m.digest(row.document)


@pytest.mark.parametrize("bad, code", [
    (dict(delegate_id=SOMCHAI[0]), "delegate_self"),
    (dict(delegate_id="1345951597672"), "delegate_invalid"),
    (dict(scope="unknown_act"), "act_not_in_catalogue"),
    (dict(window=(-3 * 86400, -2 * 86400)), "window_past"),
    (dict(window=(86400, 3600)), "window_inverted"),
])
def test_bad_input_refused(gateway, bad, code):
    service = delegable_service(gateway)
    a = citizen(gateway, SOMCHAI)
    now = gateway.clock.now()
    kw = {}
    if "scope" in bad:
        kw["scope"] = [(service.client_id, [bad["scope"]])]
    if "window" in bad:
        kw["valid_from"], kw["valid_until"] = now + bad["window"][0], now + bad["window"][1]
    with pytest.raises(MandateError) as err:
        _create(gateway, a, bad.get("delegate_id", SOMYING[0]), service.client_id, **kw)
    assert err.value.code == code
    with gateway.db() as db:
        assert db.query(Mandate).count() == 0


def test_approval_below_level_or_stale_leaves_draft(gateway):
    service = delegable_service(gateway)
    a = citizen(gateway, SOMCHAI)
    mandate_id = _create(gateway, a, SOMYING[0], service.client_id)
    other = citizen(gateway, MALEE)
    with gateway.db() as db:
        now = gateway.clock.now()
        row = db.get(Mandate, mandate_id)
        for signer, code in ((signer_of(db, a.account_id, now=now, aal="1"), "level_too_low"),
                             (signer_of(db, a.account_id, now=now, ial="1.1"), "level_too_low"),
                             (signer_of(db, a.account_id, now=now - 3600), "not_fresh")):
            with pytest.raises(MandateError) as err:
                mandates.approve(db, row=row, signer=signer, document_sha256=row.document_sha256, now=now,
                                 sign=gateway_signer(gateway))
            assert err.value.code == code
        with pytest.raises(MandateError) as err:
            mandates.approve(db, row=row, signer=signer_of(db, other.account_id, now=now),
                             document_sha256=row.document_sha256, now=now, sign=gateway_signer(gateway))
        assert err.value.code == "not_the_signer"
        assert row.status == m.DRAFT and row.jws is None


def _sub(gateway, holder, parent_id, client_id, *, acts=("vat_filing",), days=10, subdelegation=False, **kw):
    with gateway.db() as db:
        now = gateway.clock.now()
        row = mandates.create(db, creator=db.get(Account, holder.account_id), principal_kind="person",
                              delegate_citizen_id=kw.pop("delegate", MALEE[0]), scope=[(client_id, list(acts))],
                              single_use=False, valid_from=now, valid_until=now + days * 86400,
                              subdelegation_allowed=subdelegation, now=now, parent=db.get(Mandate, parent_id))
        db.commit()
        return row.id


def test_sub_delegation_is_a_subset_of_its_parent(gateway):
    service = delegable_service(gateway, max_depth=1)
    a, b = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    closed = person_mandate(gateway, a, b, client_id=service.client_id)
    with pytest.raises(MandateError) as err:
        _sub(gateway, b, closed, service.client_id)
    assert err.value.code == "subdelegation_not_allowed"
    parent = person_mandate(gateway, a, b, client_id=service.client_id, subdelegation_allowed=True)
    for kw, code in ((dict(acts=("tax_refund",)), "subdelegation_wider_scope"),
                     (dict(days=60), "subdelegation_longer"),
                     (dict(subdelegation=True), "subdelegation_too_deep")):
        with pytest.raises(MandateError) as err:
            _sub(gateway, b, parent, service.client_id, **kw)
        assert err.value.code == code
    stranger = citizen(gateway, MALEE)
    with pytest.raises(MandateError) as err:
        _sub(gateway, stranger, parent, service.client_id, delegate=SOMCHAI[0])
    assert err.value.code == "not_holder"
    child = _sub(gateway, b, parent, service.client_id)
    with gateway.db() as db:
        row = db.get(Mandate, child)
        assert row.depth == 1 and row.principal_account_id == a.account_id and row.status == m.DRAFT
        # The parent's holder signs the sub-delegation; revoking the parent revokes the child.
        now = gateway.clock.now()
        mandates.approve(db, row=row, signer=signer_of(db, b.account_id, now=now),
                         document_sha256=row.document_sha256, now=now, sign=gateway_signer(gateway))
        mandates.accept(db, row=row, account=db.get(Account, stranger.account_id), now=now)
        revoked = mandates.revoke(db, row=db.get(Mandate, parent), account=db.get(Account, a.account_id), now=now)
        assert set(revoked) == {parent, child} and row.status == m.REVOKED and row.revoke_reason == "parent_revoked"


def test_use_refused_before_acceptance_after_expiry_and_when_revoked(gateway):
    from idgw.delegation.use import check_use

    service = delegable_service(gateway)
    a, b = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    pending = person_mandate(gateway, a, b, client_id=service.client_id, accept=False)
    short = person_mandate(gateway, a, b, client_id=service.client_id, days=1)
    with gateway.db() as db:
        now = gateway.clock.now()
        with pytest.raises(MandateError) as err:
            check_use(db, mandate_id=pending, account_id=b.account_id, client_id=service.client_id, act=None, now=now)
        assert err.value.code == "not_the_delegate"  # not accepted: nobody holds it yet
        with pytest.raises(MandateError) as err:
            check_use(db, mandate_id=short, account_id=b.account_id, client_id=service.client_id, act=None,
                      now=now + 2 * 86400)
        assert err.value.code == "mandate_expired"
        with pytest.raises(MandateError) as err:
            check_use(db, mandate_id=short, account_id=b.account_id, client_id="another-service", act=None, now=now)
        assert err.value.code == "outside_scope"
        assert mandates.expire_due(db, now=now + 31 * 86400) == 2
        db.commit()
    with gateway.db() as db:
        assert {r.status for r in db.query(Mandate)} == {m.EXPIRED}
        assert db.query(AuditEvent).filter(AuditEvent.name == "delegation.expired").count() == 2
        with pytest.raises(MandateError) as err:
            mandates.accept(db, row=db.get(Mandate, pending), account=db.get(Account, b.account_id),
                            now=gateway.clock.now())
        assert err.value.code == "not_awaiting_acceptance"
