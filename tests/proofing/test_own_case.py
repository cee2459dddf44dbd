"""Nobody proofs themselves: an officer cannot claim, nor second-approve, a case that is their own
account's or whose card carries their account's citizen ID."""

import re

import pytest
from sqlalchemy import update

from idgw.proofing import cases
from idgw.storage.models import Account
from idgw.storage.proofing import ProofingCase
from tests.proofing.world import make_case, officer_client

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_an_officer_cannot_claim_a_case_for_their_own_card(gateway):
    ref = make_case(gateway)
    http = officer_client(gateway, "officer.own")
    with gateway.db() as db:
        db.execute(update(Account).where(Account.username == "officer.own").values(citizen_id=ref.citizen_id))
        db.commit()
    queue = http.get("/officer")
    token = re.search(rf'action="/officer/case/{ref.case_id}/claim"[^>]*><input type="hidden" name="csrf_token" '
                      r'value="([^"]+)"', queue.text).group(1)
    refused = http.post(f"/officer/case/{ref.case_id}/claim", data={"csrf_token": token})
    assert refused.status_code == 403, refused.status_code
    assert "ตรวจเรื่องการยืนยันตัวตนของตนเองไม่ได้" in refused.text, refused.text[:300]
    with gateway.db() as db:
        assert db.get(ProofingCase, ref.case_id).state == "queued"


def test_nor_second_approve_their_own_account_s_case(gateway):
    ref = make_case(gateway)
    now = gateway.clock.now()
    first, citizen_as_officer = cases.Officer("officer-1", "s1"), cases.Officer(ref.account_id, ref.session_id)
    with gateway.db() as db:
        with pytest.raises(cases.CaseError) as own:
            cases.claim(db, ref.case_id, citizen_as_officer, now=now)
        assert own.value.code == "own_case" and own.value.status == 403
        case = cases.claim(db, ref.case_id, first, now=now)
        cases.decide(db, case, first, outcome="approve", reason="", note="looked right", version=case.version, now=now)
        with pytest.raises(cases.CaseError) as again:
            cases.second_decision(db, case, citizen_as_officer, outcome="approve", reason="", note="fine",
                                  version=case.version, now=now)
        assert again.value.code == "own_case"
        assert case.state == "awaiting_second"
