"""The demo's delegation seeding (``make run``): the demo service allows delegation with its two acts,
and two drafts wait, unsigned (every approval in the demo is a real one); running it again adds nothing."""

from __future__ import annotations

from idgw.admin import add_user
from idgw.assurance import current_policy
from idgw.delegation import catalogue
from idgw.demo_delegation import ensure_demo_delegation
from idgw.storage.delegation import Mandate, MandateApproval
from providers.dbd import DbdRegistry
from providers.simulators.dbd import create_dbd_app
from providers.simulators.server import ServerThread, free_port
from tests.flow import register


def test_demo_seeds_a_delegable_service_and_two_unsigned_drafts(gateway):
    service = register(gateway)
    with gateway.db() as db:
        add_user(db, username="somchai", password="demo-password-1234", now=gateway.clock.now(),
                 given_name="Somchai", family_name="Jaidee", citizen_id="1345951597671")
        db.commit()
    server = ServerThread(create_dbd_app(), port=free_port()).start()
    try:
        registry = DbdRegistry(base_url=server.url)
        for _ in range(2):
            ensure_demo_delegation(gateway.gw.settings, gateway.gw.sessionmaker, client_id=service.client_id,
                                   registry=registry)
    finally:
        server.stop()
    with gateway.db() as db:
        assert current_policy(db, service.client_id).delegation_allowed
        assert [a.code for a in catalogue.acts_of(db, service.client_id)] == ["tax_refund", "vat_filing"]
        rows = db.query(Mandate).order_by(Mandate.principal_kind).all()
        assert [(r.principal_kind, r.status, r.delegate_citizen_id) for r in rows] == [
            ("company", "draft", "5701200987653"), ("person", "draft", "1101700123456")]
        assert db.query(MandateApproval).count() == 0
