"""A proofing case never outlives the sign-in that opened it: signing out ends a live case (also
one waiting for a second officer) at the next sweep, and the citizen can leave a case waiting for
a second officer with Cancel."""

import asyncio
import re

import pytest

from idgw.login.sessions import sign_out
from idgw.proofing import call, cases
from idgw.storage.models import AuditEvent, LoginSession
from idgw.storage.proofing import ProofingCase
from tests.proofing.world import citizen_browser, make_case

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _escalate(gateway, case_id: str) -> None:
    now = gateway.clock.now()
    officer = cases.Officer("officer-1", "s-1")
    with gateway.db() as db:
        case = cases.claim(db, case_id, officer, now=now)
        assert cases.decide(db, case, officer, outcome="approve", reason="", note="looked right",
                            version=case.version, now=now) == "awaiting_second"
        db.commit()


def test_signing_out_ends_live_cases_at_the_next_sweep(gateway):
    queued, waiting, other = make_case(gateway), make_case(gateway), make_case(gateway)
    _escalate(gateway, waiting.case_id)
    now = gateway.clock.now()
    with gateway.db() as db:
        for ref in (queued, waiting):
            sign_out(db, session=db.get(LoginSession, ref.session_id), now=now, ip=None, reason="test")
        db.commit()
    ended = asyncio.run(call.sweep_once(gateway.gw))
    assert sorted(ended) == sorted([queued.case_id, waiting.case_id])
    with gateway.db() as db:
        assert db.get(ProofingCase, queued.case_id).state == "expired"
        assert db.get(ProofingCase, waiting.case_id).state == "expired"
        assert db.get(ProofingCase, other.case_id).state == "queued"  # still signed in, still seen
        reasons = [e.detail["reason"] for e in db.query(AuditEvent).filter(AuditEvent.name == "proofing.expired")]
        assert reasons == ["signed_out", "signed_out"]


def test_a_citizen_waiting_for_a_second_officer_can_cancel(gateway):
    ref = make_case(gateway)
    _escalate(gateway, ref.case_id)
    http = citizen_browser(gateway, ref)
    page = http.get(f"/proofing/case/{ref.case_id}")
    token = re.search(r'action="/proofing/case/[^"]+/cancel">\s*<input type="hidden" name="csrf_token" '
                      r'value="([^"]+)"', page.text)
    assert token, page.text[:500]
    http.post(f"/proofing/case/{ref.case_id}/cancel", data={"csrf_token": token.group(1)})
    with gateway.db() as db:
        assert db.get(ProofingCase, ref.case_id).state == "cancelled"
