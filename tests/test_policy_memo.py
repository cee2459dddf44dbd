"""``idgw.assurance.current_policy`` reads a service's policy once per transaction (a sign-in step
asks for it several times), sees a version written in the same transaction, and never carries a
policy from one transaction into the next."""

from __future__ import annotations

from idgw.assurance import PolicyInput, current_policy
from idgw.assurance import set_policy as store
from idgw.storage.models import ServicePolicyVersion
from policies import AAL
from tests.flow import NO_IMPACT, register, set_policy


def test_one_read_per_transaction_a_version_written_in_it_is_seen(gateway):
    reg = register(gateway)
    with gateway.db() as db:
        first = current_policy(db, reg.client_id)
        assert current_policy(db, reg.client_id) is first  # the same transaction: not read again
        assert first.min_aal == AAL("1")
        store(db, client_id=reg.client_id, actor="test-admin", now=gateway.clock.now(),
              data=PolicyInput(needs_verified_identity=False, proofing_impacts=dict(NO_IMPACT), min_aal="2.1"))
        assert current_policy(db, reg.client_id).min_aal == AAL("2.1")  # written here: seen here
        db.commit()
        assert current_policy(db, reg.client_id).min_aal == AAL("2.1")


def test_a_version_added_directly_and_flushed_is_seen(gateway):
    reg = register(gateway)
    with gateway.db() as db:
        before = current_policy(db, reg.client_id)
        latest = db.query(ServicePolicyVersion).filter_by(client_id=reg.client_id).one()
        db.add(ServicePolicyVersion(**{c: getattr(latest, c) for c in ServicePolicyVersion.__table__.c.keys()}
                                    | {"id": "another-version", "version": latest.version + 1, "min_aal": "3"}))
        db.flush()
        assert before.min_aal == AAL("1") and current_policy(db, reg.client_id).min_aal == AAL("3")
        db.rollback()


def test_a_change_committed_elsewhere_is_seen_by_the_next_transaction(gateway):
    reg = register(gateway)
    with gateway.db() as db:
        assert current_policy(db, reg.client_id).min_aal == AAL("1")
        db.commit()
        set_policy(gateway, reg.client_id, min_aal="2.1")  # another session, committed
        assert current_policy(db, reg.client_id).min_aal == AAL("2.1")
