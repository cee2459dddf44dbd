"""The citizen's side of officer video proofing over real HTTP (no browser): the raise page offers
it, consent and declining, the card check against the DOPA-style simulator with each failure, the
queue, and an approval continuing the paused sign-in to the e-service with IAL 2.2 and evidence."""

import base64
import json
import re

import httpx
import pytest
from sqlalchemy import func, select

from idgw.proofing import cases, evidence
from idgw.storage.models import Account, AuditEvent, Interaction
from idgw.storage.proofing import ProofingCase, ProofingConsent, ProofingMedia
from providers.simulators.citizens import DEMO_CITIZENS
from tests.flow import Browser, authorize_url, callback_params, exchange, raise_page, register, rp_client
from tests.proofing.citizen_world import REVOKED, SOMCHAI, card_form, case_id_of

VIDEO = "Start a video call with an officer"


def start(world, *, ial="2.2", **policy):
    gateway = world.gateway
    reg = register(gateway, policy={"min_ial": ial, "justification": None, "release_verified_claims": True, **policy},
                   citizen_id=None)
    rp = rp_client(gateway, reg, scope="openid profile")
    browser = Browser(gateway)
    browser.http.cookies.set("idgw_lang", "en")
    url, state, nonce, verifier = authorize_url(gateway, rp)
    page = browser.login(browser.follow(browser.get(url)), reg.username)
    return reg, rp, browser, page, verifier


def consent_and_card_page(browser, page):
    routes = raise_page(page)
    assert VIDEO in routes, routes
    notice = browser.get(routes[VIDEO][1])
    assert notice.status_code == 200 and "PDPA s.26" in notice.text and "90 days" in notice.text
    card = browser.submit(notice, decision="accept", consent="yes")
    assert card.status_code == 200 and 'name="laser_code"' in card.text, card.text[:300]
    return card


def test_declining_keeps_nothing_and_consent_needs_the_box(proofing_world):
    reg, _rp, browser, page, _v = start(proofing_world)
    notice = browser.get(raise_page(page)[VIDEO][1])
    back = browser.submit(notice, decision="decline")
    assert VIDEO in raise_page(back)
    unticked = browser.submit(notice, decision="accept")
    assert unticked.status_code == 400 and "Tick the consent box" in unticked.text
    with proofing_world.gateway.db() as db:
        assert db.scalar(select(func.count()).select_from(ProofingConsent)) == 0
        assert db.scalar(select(func.count()).select_from(ProofingCase)) == 0


def test_card_failures_never_reach_the_queue(proofing_world):
    world = proofing_world
    _reg, _rp, browser, page, _v = start(world)
    card = consent_and_card_page(browser, page)
    bad = browser.submit(card, **{**card_form(SOMCHAI), "laser_code": "J1234", "citizen_id": "1234567890123"})
    assert bad.status_code == 400 and "laser code is 2 letters" in bad.text and "not valid" in bad.text
    revoked = browser.submit(card, **card_form(REVOKED))
    assert revoked.status_code == 422 and "did not pass" in revoked.text and "revoked" in revoked.text.lower()
    world.dopa.set_fault("laser_mismatch", SOMCHAI["pid"])
    mismatch = browser.submit(card, **card_form(SOMCHAI))
    assert mismatch.status_code == 422 and "laser code" in mismatch.text
    assert SOMCHAI["laser"] not in mismatch.text  # never echoed back
    world.dopa.clear_faults()
    world.dopa.set_fault("unavailable")
    down = browser.submit(card, **card_form(SOMCHAI))
    assert down.status_code == 503 and "not answering" in down.text
    assert f'value="{SOMCHAI["given_name_en"]}"' in down.text and SOMCHAI["laser"][2:] not in down.text
    world.dopa.set_fault("timeout")
    slow = browser.submit(card, **card_form(SOMCHAI))
    assert slow.status_code == 503
    world.dopa.clear_faults()
    with world.gateway.db() as db:
        assert db.scalar(select(func.count()).select_from(ProofingCase)) == 0
        failed = db.scalars(select(AuditEvent).where(AuditEvent.name == "proofing.card_failed")).all()
        assert {e.detail["status"] for e in failed} == {"card_revoked", "data_mismatch"}
        assert all(SOMCHAI["laser"] not in str(e.detail) for e in failed)
    # Unlimited checks would make the laser code guessable: the sixth in an hour is refused.
    assert browser.submit(card, **card_form(REVOKED)).status_code == 422
    refused = browser.submit(card, **card_form(SOMCHAI))
    assert refused.status_code == 429 and "Too many card checks" in refused.text


def test_queue_then_approval_continues_the_sign_in_with_ial_and_evidence(proofing_world):
    world = proofing_world
    gateway = world.gateway
    reg, rp, browser, page, verifier = start(world)
    card = consent_and_card_page(browser, page)
    camera = browser.submit(card, **card_form(SOMCHAI))
    assert camera.status_code == 200 and 'id="join-queue"' in camera.text
    case_id = case_id_of(str(camera.url))
    with gateway.db() as db:
        case = db.get(ProofingCase, case_id)
        assert case.state == "ready" and case.card_check["status"] == "valid" and "laser_code" not in case.card
        ref = db.scalars(select(ProofingMedia).where(ProofingMedia.case_id == case_id)).one()
        assert ref.kind == "reference" and ref.sealed and len(ref.sha256) == 64
    queue = browser.follow(browser.http.post(f"/proofing/case/{case_id}/join", data={"csrf_token": _csrf(camera.text)}))
    assert queue.status_code == 200 and "Your place in the queue: 1" in queue.text
    status = browser.get(f"/proofing/case/{case_id}/status.json").json()
    assert status["state"] == "queued" and status["position"] == 1 and status["wait_seconds"] > 0
    # Another browser (no session) cannot see or touch the case.
    assert httpx.get(f"{gateway.url}/proofing/case/{case_id}/status.json").status_code == 404

    approve(gateway, case_id)
    status = browser.get(f"/proofing/case/{case_id}/status.json").json()
    assert status["state"] == "approved" and status["next"].startswith("/interaction/")
    consent = browser.follow(browser.get(status["next"]))
    params = callback_params(browser.consent(consent))
    tokens = exchange(gateway, rp, params["code"], verifier)
    id_token = _payload(tokens["id_token"])
    assert id_token["ial"] == "2.2"
    info = httpx.get(f"{gateway.url}/userinfo", headers={"authorization": f"Bearer {tokens['access_token']}"}).json()
    verification = info["verified_claims"]["verification"]
    assert verification["assurance_level"] == "2.2" and verification["time"].endswith("Z")
    details = verification["evidence"][0]["check_details"]
    assert [d["check_method"] for d in details] == ["data", "pvr"] and details[1]["txn"] == case_id
    assert "officer" not in str(verification)
    with gateway.db() as db:
        account = db.get(Account, reg.account_id)
        assert account.ial == "2.2" and account.citizen_id == SOMCHAI["pid"]
        methods = [c["check_method"] for c in account.ial_evidence_detail[0]["check_details"]]
        assert methods == ["data", "pvr"]


def _payload(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def approve(gateway, case_id: str) -> None:
    """An officer's approval with nothing against it (the console is tested on its own)."""
    now = gateway.clock.now()
    with gateway.db() as db:
        officer = cases.Officer(account_id="officer-1", session_id="s-1")
        case = cases.claim(db, case_id, officer, now=now)
        cases.note_face(db, case, {"match": True, "distance": 0.4, "threshold": 0.6}, now=now)
        cue = {"id": "c1", "cue": "blink", "window": 5, "shown_at": now}
        cases.note_cue_shown(db, case, cue, officer, now=now)
        cases.note_cue_result(db, case, "c1", {"performed": True, "failed": []}, now=now)
        cases.set_checklist(db, case, {k: "yes" for k in cases.CHECKLIST}, officer, now=now)
        assert cases.decide(db, case, officer, outcome="approve", reason="", note="", version=case.version,
                            now=now) == "approved"
        evidence.raise_identity(db, case, issuer=gateway.url, now=now)
        db.commit()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_interaction_lives_on_while_queued(proofing_world):
    world = proofing_world
    gateway = world.gateway
    _reg, _rp, browser, page, _v = start(world)
    card = consent_and_card_page(browser, page)
    camera = browser.submit(card, **card_form(SOMCHAI))
    case_id = case_id_of(str(camera.url))
    browser.follow(browser.http.post(f"/proofing/case/{case_id}/join", data={"csrf_token": _csrf(camera.text)}))
    with gateway.db() as db:
        iid = db.get(ProofingCase, case_id).interaction_id
        before = db.get(Interaction, iid).expires_at
    browser.get(f"/proofing/case/{case_id}/status.json")
    with gateway.db() as db:
        assert db.get(Interaction, iid).expires_at >= before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_service_asking_for_ial_2_2_by_acr_is_offered_the_video_route(proofing_world):
    """The demo e-service's "Sign in with a verified identity": its policy floor is 1.1, the
    request's acr_values ask for 2.2, and the citizen is offered a way to get there."""
    gateway = proofing_world.gateway
    reg = register(gateway, citizen_id=None)
    rp = rp_client(gateway, reg, scope="openid profile")
    browser = Browser(gateway)
    browser.http.cookies.set("idgw_lang", "en")
    url, *_ = authorize_url(gateway, rp, acr_values="urn:idgw:ial:2.2")
    page = browser.login(browser.follow(browser.get(url)), reg.username)
    assert VIDEO in raise_page(page)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_every_citizen_form_needs_its_csrf_token(proofing_world):
    """Consent, card, join and cancel refuse a missing or foreign token with 403 and change nothing."""
    gateway = proofing_world.gateway
    _reg, _rp, browser, page, _v = start(proofing_world)
    notice_url = raise_page(page)[VIDEO][1]
    for bad in ({}, {"csrf_token": "0" * 64}):
        refused = browser.http.post(notice_url, data={**bad, "decision": "accept", "consent": "yes"})
        assert refused.status_code == 403
    card = consent_and_card_page(browser, page)
    refused = browser.http.post(notice_url + "/card", data={**card_form(SOMCHAI), "csrf_token": "0" * 64})
    assert refused.status_code == 403
    camera = browser.submit(card, **card_form(SOMCHAI))
    case_id = case_id_of(str(camera.url))
    for action in ("join", "cancel"):
        # the notice's token is for another form: refused too
        other = _csrf(card.text)
        assert browser.http.post(f"/proofing/case/{case_id}/{action}", data={"csrf_token": other}).status_code == 403
    with gateway.db() as db:
        assert db.scalar(select(func.count()).select_from(ProofingConsent)) == 1
        assert db.get(ProofingCase, case_id).state == "ready"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_odd_card_input_is_a_form_error_never_a_crash(proofing_world):
    """A year too large for a date, nested or repeated fields, odd digits: 400 with the form again."""
    _reg, _rp, browser, page, _v = start(proofing_world)
    card = consent_and_card_page(browser, page)
    for odd in ({"birth_year": "9" * 30}, {"birth_year": "-5"}, {"birth_day": "1e3"}, {"birth_month": "๑๓"},
                {"citizen_id": "１３４５９５１５９７６７１"}, {"laser_code": "JT" + "1" * 500}):
        answer = browser.submit(card, **{**card_form(SOMCHAI), **odd})
        assert answer.status_code == 400 and 'name="laser_code"' in answer.text, (odd, answer.status_code)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_proofing_never_swaps_the_account_s_citizen_id(proofing_world):
    """An account that already holds a citizen ID (e.g. from ThaiD) cannot be proofed with someone
    else's valid card: refused before the check, nothing opened, the account's ID unchanged."""
    gateway = proofing_world.gateway
    somying = next(c for c in DEMO_CITIZENS if c["given_name_en"] == "Somying")
    reg = register(gateway, policy={"min_ial": "2.2", "justification": None}, citizen_id=somying["pid"])
    rp = rp_client(gateway, reg, scope="openid profile")
    browser = Browser(gateway)
    browser.http.cookies.set("idgw_lang", "en")
    url, *_ = authorize_url(gateway, rp)
    page = browser.login(browser.follow(browser.get(url)), reg.username)
    card = consent_and_card_page(browser, page)
    refused = browser.submit(card, **card_form(SOMCHAI))
    assert refused.status_code == 409 and "already belongs to another citizen ID" in refused.text
    assert browser.submit(card, **card_form(somying)).status_code == 200  # their own card is fine
    with gateway.db() as db:
        assert db.get(Account, reg.account_id).citizen_id == somying["pid"]
        assert db.scalar(select(func.count()).select_from(ProofingCase)) == 1
