"""Per-transaction memos (``idgw.storage.memo``): a service's policy and client row are read
once per transaction (a sign-in step asks for them several times), a change written in the same
transaction is seen, and nothing is carried from one transaction into the next."""

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


def test_a_client_row_is_read_once_per_transaction_and_a_change_in_it_is_seen(gateway):
    """The same memo (idgw.storage.memo.client_row) for the client lookups of a sign-in: the step,
    the consent receipt and Authlib's checks."""
    from idgw.oidc.context import current_db
    from idgw.storage.models import Client

    reg = register(gateway)
    provider = gateway.gw.provider
    with gateway.db() as db:
        token = current_db.set(db)
        try:
            first = provider.query_client(reg.client_id)
            assert provider.query_client(reg.client_id).row is first.row  # not read again
            db.get(Client, reg.client_id).disabled_at = gateway.clock.now()  # an admin disables it...
            db.flush()
            assert provider.query_client(reg.client_id) is None  # ...and this transaction sees it
            db.rollback()
            assert provider.query_client(reg.client_id).row is not first.row  # a new transaction reads
        finally:
            current_db.reset(token)
