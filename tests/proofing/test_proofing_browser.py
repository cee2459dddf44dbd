"""Officer video proofing end to end in Chromium, a citizen and an officer in two browser contexts,
the citizen's camera a looping .y4m made from the shared photos (Chromium's fake capture), real
WebRTC to the gateway (aiortc), the DOPA-style simulator over HTTP.

- A citizen at IAL 1.1 signs in to an IAL 2.2 e-service (the demo RP), is raised by an officer on
  the call, and the e-service receives ial 2.2; the case record holds the face score, the cue and
  its result, the checklist and the decision, and verifies.
- An impostor (another person in front of the camera) reads "not matched": one officer cannot
  approve, the case waits for a second officer and the IAL stays.
- A still photo held to the camera fails the cue.
"""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from idgw.storage.models import Account
from idgw.storage.proofing import ProofingCase
from tests.face_check.face_helpers import FACES_DIR, blinking_clip, still_clip
from tests.flow import PASSWORD, demo_service
from tests.proofing.citizen_world import SOMCHAI, card_form, running_world
from tests.proofing.fakecam import write_y4m
from tests.proofing.world import officer_client
from tests.upstream_world import wait_until

FPS = 10


@pytest.fixture(scope="module")
def cameras(tmp_path_factory):
    """The fake cameras: the card holder blinking, an impostor blinking, the holder's still photo."""
    folder = tmp_path_factory.mktemp("cameras")
    made = {}
    for name, photo, clip in (("holder", "kit_harington_2.jpg", blinking_clip),
                              ("impostor", "obama_2.jpg", blinking_clip),
                              ("still", "kit_harington_2.jpg", still_clip)):
        made[name] = write_y4m(clip(FACES_DIR / photo, seconds=4, fps=FPS), folder / f"{name}.y4m", fps=FPS)
    return made


def wait_for(predicate, *, timeout: float = 20.0, every: float = 0.25, what: str = "condition"):
    return wait_until(predicate, timeout=timeout, every=every, what=what)


def case_of(gateway, account_id: str) -> ProofingCase | None:
    with gateway.db() as db:
        row = db.scalars(select(ProofingCase).where(ProofingCase.account_id == account_id)
                         .order_by(ProofingCase.created_at.desc())).first()
        if row is not None:
            db.expunge(row)
        return row


def citizen_account(gateway, username: str) -> str:
    from idgw.admin import add_user

    with gateway.db() as db:
        account = add_user(db, username=username, password=PASSWORD, now=gateway.clock.now())
        db.commit()
        return account.id


def citizen_to_queue(page, gateway, start_url: str, username: str, citizen: dict) -> None:
    """As the citizen: sign in, choose the video call, consent, enter the card, check the camera, queue."""
    page.goto(start_url)
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.click("text=Start a video call with an officer")
    page.check("input[name=consent]")
    page.click("text=Consent and continue")
    for name, value in card_form(citizen).items():
        if name == "birth_month":
            page.select_option("select[name=birth_month]", value)
        else:
            page.fill(f"[name={name}]", value)
    page.click("text=Check my card")
    page.wait_for_selector("#join-queue")
    page.wait_for_selector("#camera-hint:has-text('light looks good')")
    page.click("#join-queue")
    page.wait_for_selector("text=Your place in the queue: 1")


def officer_on_call(browser, gateway, username: str, case_id: str):
    """As an officer (signed in at AAL 2.2): open the console, claim the case, wait for the video."""
    http = officer_client(gateway, username)
    context = browser.new_context(locale="en-US")
    context.add_cookies([{"name": c.name, "value": c.value, "url": gateway.url} for c in http.cookies.jar])
    context.add_cookies([{"name": "idgw_lang", "value": "en", "url": gateway.url}])
    page = context.new_page()
    page.goto(gateway.url + "/officer")
    page.click(f"form[action='/officer/case/{case_id}/claim'] button")
    page.wait_for_url(re.compile(rf"/officer/case/{case_id}$"))
    # (a polled evaluate: wait_for_function evaluates a string, which the page's CSP forbids)
    wait_for(lambda: page.evaluate("() => document.getElementById('remote').videoWidth") > 0, timeout=30,
             what="the citizen's video at the officer")
    return page


def press_until(officer, button: str, done, *, what: str, every: float = 4.0, timeout: float = 45.0):
    """Press ``button`` as an officer would, again if nothing came of it (the first frames may not
    have a usable face yet, or a loaded machine answered slowly), until ``done()``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if officer.is_enabled(button):
            officer.click(button)
        try:
            return wait_for(done, timeout=every, what=what)
        except AssertionError:
            continue
    raise AssertionError(f"timed out waiting for {what}")


def compare_and_cue(officer, gateway, case_id: str) -> ProofingCase:
    """The officer compares the face and gives one cue; returns the case once the cue is judged."""
    press_until(officer, "#compare", lambda: (case_of_id(gateway, case_id).face or {}).get("distance") is not None,
                what="face result")
    press_until(officer, "#give-cue", lambda: bool(case_of_id(gateway, case_id).cues), what="a cue shown")
    wait_for(lambda: any(c.get("result") for c in case_of_id(gateway, case_id).cues), timeout=30,
             what="cue judgement")
    return case_of_id(gateway, case_id)


def case_of_id(gateway, case_id: str) -> ProofingCase:
    with gateway.db() as db:
        row = db.get(ProofingCase, case_id)
        db.expunge(row)
        return row


def checklist_and_decide(officer, gateway, case_id: str, *, note: str = "") -> None:
    items = ("in_view", "card_matches", "cues_performed", "no_coercion", "no_manipulation")
    for item in items:
        officer.check(f"#checklist-form input[name={item}][value=yes]")
    officer.click("#checklist-form button[type=submit]")
    # The decision carries the version of the case the officer saw: wait until the page shows the
    # saved checklist's version (a decision on an older one is refused as stale, by design).
    wait_for(lambda: len(case_of_id(gateway, case_id).checklist) == len(items), what="checklist saved")
    wait_for(lambda: officer.input_value("#decision-form .case-version") == str(case_of_id(gateway, case_id).version),
             what="the page to show the case's current version")
    officer.check("#decision-form input[name=outcome][value=approve]")
    if note:
        officer.fill("#note", note)
    officer.click("#decision-form button[type=submit]")


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_an_officer_raises_a_citizen_to_the_services_level(database_url, camera_browser, cameras):
    with running_world(database_url, proofing_cues="blink") as world:
        gateway = world.gateway
        base, server = demo_service(gateway, min_ial="2.2", justification=None, release_verified_claims=True)
        try:
            account_id = citizen_account(gateway, "citizen.somchai")
            browser = camera_browser(cameras["holder"])
            citizen_ctx = browser.new_context(locale="en-US")
            citizen_ctx.add_cookies([{"name": "idgw_lang", "value": "en", "url": gateway.url}])
            citizen = citizen_ctx.new_page()
            citizen_to_queue(citizen, gateway, base + "/login", "citizen.somchai", SOMCHAI)
            case_id = case_of(gateway, account_id).id

            officer = officer_on_call(browser, gateway, "officer.anong", case_id)
            # The citizen's page moved on to the call by itself; both sides are connected.
            citizen.wait_for_selector("#call[data-state=connected]", timeout=30_000)
            officer.wait_for_selector("#call[data-state=connected]", timeout=30_000)
            case = compare_and_cue(officer, gateway, case_id)
            assert case.face["match"] is True and case.face["distance"] < case.face["threshold"]
            result = case.cues[0]["result"]
            assert case.cues[0]["cue"] == "blink" and result["performed"] is True, (result["failed"], result["signals"])
            citizen_seen = citizen.text_content("#cue-box")
            assert "Blink twice" in citizen_seen
            checklist_and_decide(officer, gateway, case_id)
            wait_for(lambda: case_of_id(gateway, case_id).state == "approved", what="approval")

            # The citizen's waiting page continues the sign-in: consent, then back to the service.
            citizen.wait_for_selector("button[value=allow]", timeout=20_000)
            citizen.click("button[value=allow]")
            citizen.wait_for_url(re.compile(re.escape(base)), timeout=20_000)
            citizen.wait_for_selector("text=2.2")
            with gateway.db() as db:
                account = db.get(Account, account_id)
                assert account.ial == "2.2" and account.citizen_id == SOMCHAI["pid"]
                assert [c["check_method"] for c in account.ial_evidence_detail[0]["check_details"]] == ["data",
                                                                                                      "pvr"]
                from idgw.proofing.record import entries, verify
                kinds = [e.kind for e in entries(db, case_id)]
                assert kinds[:3] == ["opened", "reference_kept", "queued"] and "approved" in kinds
                assert {"face_compared", "cue_shown", "cue_judged", "checklist"} <= set(kinds)
                assert verify(db, case_id) == []
        finally:
            server.should_exit = True


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("camera, expect", [("impostor", "face_not_matched"), ("still", "cue_failed")])
def test_a_problem_needs_a_second_officer(database_url, camera_browser, cameras, camera, expect):
    """Another person's face, or a still photo that cannot follow the cue: the officer's approval
    goes to a second officer (four eyes), and the account's IAL does not move."""
    with running_world(database_url, proofing_cues="blink") as world:
        gateway = world.gateway
        base, server = demo_service(gateway, min_ial="2.2", justification=None)
        try:
            account_id = citizen_account(gateway, f"citizen.{camera}")
            browser = camera_browser(cameras[camera])
            citizen = browser.new_context(locale="en-US")
            citizen.add_cookies([{"name": "idgw_lang", "value": "en", "url": gateway.url}])
            page = citizen.new_page()
            citizen_to_queue(page, gateway, base + "/login", f"citizen.{camera}", SOMCHAI)
            case_id = case_of(gateway, account_id).id
            officer = officer_on_call(browser, gateway, f"officer.{camera}", case_id)
            page.wait_for_selector("#call[data-state=connected]", timeout=30_000)
            officer.wait_for_selector("#call[data-state=connected]", timeout=30_000)
            case = compare_and_cue(officer, gateway, case_id)
            if camera == "impostor":
                assert case.face["match"] is False and case.face["distance"] > case.face["threshold"]
            else:
                assert case.cues[0]["result"]["performed"] is False
                assert {"still", "not_performed"} & set(case.cues[0]["result"]["failed"]), case.cues
            checklist_and_decide(officer, gateway, case_id, note="Looks right to me on the video")
            wait_for(lambda: case_of_id(gateway, case_id).state == "awaiting_second", what="escalation")
            case = case_of_id(gateway, case_id)
            assert expect in case.first_decision["problems"]
            with gateway.db() as db:
                assert db.get(Account, account_id).ial == "1.1"
            page.wait_for_selector("text=second officer")
        finally:
            server.should_exit = True
