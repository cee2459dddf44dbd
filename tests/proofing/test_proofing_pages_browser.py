"""The proofing pages as people see them, in Debian's Chromium (a fake camera where one is needed),
Thai and English at phone width for the citizen, Thai at desktop width for the officer:

- a revoked card ends with its reason (in Thai words for Thai readers) and never opens a case;
  corrected, the citizen reaches the camera check;
- the queue keeps its place across a reload, shows the expected wait, counts a later case second;
  Cancel ends the case, returns to the sign-in's routes and takes it off the officers' queue;
- every page state passes axe (WCAG 2.1 A/AA) and reflows at 390 px: notice (and its error), card
  form (and its field errors, and a failed check), camera check, queue, call (with a cue shown),
  second review, approved (continuing the sign-in, or not), rejected, cancelled, expired; and the
  officer's queue, case (a real call) and review pages.

Set ``IDGW_SCREENSHOTS=<dir>`` to keep a PNG of each page state (for checking the layout by eye).
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from idgw.admin import add_user
from idgw.proofing import cases
from idgw.proofing.officer_steps import approve
from idgw.storage.models import Account
from idgw.storage.proofing import ProofingCase
from tests.a11y import a11y_context, check_a11y
from tests.face_check.face_helpers import FACES_DIR, still_clip
from tests.flow import PASSWORD, demo_service
from tests.proofing.citizen_world import REVOKED, SOMCHAI, card_form, case_id_of, running_world
from tests.proofing.fakecam import write_y4m
from tests.proofing.world import assess, make_case, officer_client

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
LANGS = pytest.mark.parametrize("lang", ["th", "en"])
DESKTOP = 1280

WORDS = {
    "th": {"route": "เริ่มยืนยันตัวตนทางวิดีโอคอล", "light_ok": "แสงเหมาะสม", "position": "ลำดับคิวของท่าน: {n}",
           "wait": "เวลารอโดยประมาณ: 5 นาที", "revoked": ("ตรวจบัตรไม่ผ่าน", "บัตรประจำตัวประชาชนใบนี้ถูกยกเลิกแล้ว"),
           "tick": "โปรดทำเครื่องหมาย", "bad_id": "เลขประจำตัวประชาชนไม่ถูกต้อง", "bad_laser": "รหัสหลังบัตร",
           "cue": "กะพริบตาสองครั้ง", "cancelled": "ท่านยกเลิก", "expired": "หมดเวลา",
           "rejected": "ใบหน้าไม่ตรงกับรูป", "approved_again": "เข้าสู่ระบบใหม่"},
    "en": {"route": "Start a video call with an officer", "light_ok": "The light looks good.",
           "position": "Your place in the queue: {n}", "wait": "Expected wait: 5 minutes",
           "revoked": ("did not pass", "This ID card has been revoked"), "tick": "Tick the consent box",
           "bad_id": "citizen ID is not valid", "bad_laser": "laser code is 2 letters",
           "cue": "Blink twice", "cancelled": "You cancelled", "expired": "timed out",
           "rejected": "the face did not match", "approved_again": "Sign in again"},
}


@pytest.fixture(scope="module")
def camera(tmp_path_factory):
    """The citizen's (and the officer's) fake camera: a face photo, looped."""
    if not FACES_DIR.exists():
        pytest.skip("the shared test photos are missing")
    folder = tmp_path_factory.mktemp("camera")
    return write_y4m(still_clip(FACES_DIR / "kit_harington_2.jpg", seconds=1, fps=10), folder / "face.y4m", fps=10)


@pytest.fixture
def chromium(camera_browser, camera):
    return camera_browser(camera)


def shot(page, name: str) -> None:
    folder = os.environ.get("IDGW_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


# What sticks out of <main> to the right (main scrolls sideways itself rather than the page, so
# check_a11y's reflow check cannot see a video or a form wider than a phone).
WIDER_THAN_MAIN = """() => {
  const main = document.querySelector("main"), edge = main.getBoundingClientRect().right + 1;
  if (main.scrollWidth <= main.clientWidth) return [];
  return [...main.querySelectorAll("*")].filter(el => el.getBoundingClientRect().right > edge
      && !el.closest(".table-scroll")).map(el => el.outerHTML.slice(0, 120));
}"""


def a11y(page, what: str, lang: str, *, picture: str | None = None) -> None:
    width = page.viewport_size["width"] if page.viewport_size else "?"
    check_a11y(page, context=f"{what}, {lang}, {width} px")
    assert page.evaluate(WIDER_THAN_MAIN) == [], f"{what}, {lang}, {width} px: wider than the page"
    if picture:
        shot(page, f"{picture}-{lang}-{width}")


def wait_for(predicate, *, timeout: float = 15.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def this_year_be(gateway, *, ad: bool = False) -> str:
    """This year in Bangkok, Buddhist era (or AD)."""
    year = (datetime.fromtimestamp(gateway.clock.now(), UTC) + timedelta(hours=7)).year
    return str(year if ad else year + 543)


def case_count(gateway) -> int:
    with gateway.db() as db:
        return db.scalar(select(func.count()).select_from(ProofingCase))


def case_state(gateway, case_id: str) -> str:
    with gateway.db() as db:
        return db.get(ProofingCase, case_id).state


def new_citizen(gateway, username: str) -> str:
    with gateway.db() as db:
        account = add_user(db, username=username, password=PASSWORD, now=gateway.clock.now())
        db.commit()
        return account.id


def citizen_page(chromium, gateway, lang: str):
    context = a11y_context(chromium, locale=lang, width=390)
    context.add_cookies([{"name": "idgw_lang", "value": lang, "url": gateway.url}])
    return context, context.new_page()


def as_citizen_of(chromium, gateway, ref, lang: str):
    """A phone browser holding a ``make_case`` citizen's session."""
    context, page = citizen_page(chromium, gateway, lang)
    context.add_cookies([{"name": gateway.gw.settings.cookie_name, "value": ref.cookie, "url": gateway.url}])
    return context, page


def as_officer(chromium, gateway, username: str):
    """An officer's desktop browser (Thai), signed in at AAL 2.2."""
    http = officer_client(gateway, username)
    context = a11y_context(chromium, locale="th", width=DESKTOP)
    context.add_cookies([{"name": c.name, "value": c.value, "url": gateway.url} for c in http.cookies.jar])
    with gateway.db() as db:
        officer_id = db.scalar(select(Account.id).where(Account.username == username))
    return context, context.new_page(), officer_id


def sign_in_to_notice(page, base: str, username: str, lang: str) -> None:
    page.goto(base + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.click(f"text={WORDS[lang]['route']}")
    page.wait_for_selector("input[name=consent]")


def fill_card(page, values: dict) -> None:
    for name, value in values.items():
        if name == "birth_month":
            page.select_option("select[name=birth_month]", value)
        else:
            page.fill(f"[name={name}]", value)
    page.click("form.card-form button[type=submit]")
    page.wait_for_load_state()


def to_camera(page, base: str, username: str, lang: str) -> None:
    sign_in_to_notice(page, base, username, lang)
    page.check("input[name=consent]")
    page.click("button[value=accept]")
    fill_card(page, card_form(SOMCHAI))
    page.wait_for_selector(f"#camera-hint:has-text('{WORDS[lang]['light_ok']}')")


def to_queue(page, base: str, username: str, lang: str) -> str:
    to_camera(page, base, username, lang)
    page.click("#join-queue")
    page.wait_for_selector(f"#queue-position:has-text('{WORDS[lang]['position'].format(n=1)}')")
    return case_id_of(page.url)


@LANGS
def test_a_revoked_card_never_reaches_the_queue(database_url, chromium, lang):
    with running_world(database_url) as world:
        gateway = world.gateway
        base, server = demo_service(gateway, min_ial="2.2", justification=None)
        try:
            new_citizen(gateway, "citizen.wichai")
            context, page = citizen_page(chromium, gateway, lang)
            sign_in_to_notice(page, base, "citizen.wichai", lang)
            a11y(page, "notice", lang, picture="notice")
            page.click("button[value=accept]")  # the box is not ticked
            assert WORDS[lang]["tick"] in page.text_content("#consent-error")
            assert page.get_attribute("input[name=consent]", "aria-describedby") == "consent-error"
            a11y(page, "notice, box not ticked", lang)

            page.check("input[name=consent]")
            page.click("button[value=accept]")
            page.wait_for_selector("input[name=laser_code]")
            a11y(page, "card form", lang, picture="card")

            fill_card(page, {**card_form(REVOKED), "citizen_id": "1234567890123", "laser_code": "J1234"})
            for field in ("citizen_id", "laser_code"):
                assert page.get_attribute(f"#{field}", "aria-invalid") == "true", field
            assert WORDS[lang]["bad_id"] in page.text_content("#err-citizen_id")
            assert WORDS[lang]["bad_laser"] in page.text_content("#err-laser_code")
            assert page.evaluate("() => document.activeElement.id") == "error-summary"  # the list of mistakes
            a11y(page, "card form, field errors", lang, picture="card-errors")

            fill_card(page, card_form(REVOKED))
            said = page.text_content("[role=alert]")
            assert all(words in said for words in WORDS[lang]["revoked"]), said
            assert REVOKED["laser"][2:] not in page.content()  # never echoed back
            a11y(page, "card form, card revoked", lang, picture="card-revoked")
            assert case_count(gateway) == 0

            fill_card(page, card_form(SOMCHAI))
            page.wait_for_selector(f"#camera-hint:has-text('{WORDS[lang]['light_ok']}')")
            assert re.search(r"/proofing/case/[0-9a-f-]{36}$", page.url)
            assert case_state(gateway, case_id_of(page.url)) == "ready" and case_count(gateway) == 1
            a11y(page, "camera check", lang, picture="camera")
            context.close()
        finally:
            server.should_exit = True


@LANGS
def test_the_queue_survives_a_reload_and_cancel_leaves_it(database_url, chromium, lang):
    with running_world(database_url) as world:
        gateway = world.gateway
        base, server = demo_service(gateway, min_ial="2.2", justification=None)
        try:
            new_citizen(gateway, "citizen.somchai")
            context, page = citizen_page(chromium, gateway, lang)
            case_id = to_queue(page, base, "citizen.somchai", lang)
            assert case_state(gateway, case_id) == "queued"
            assert page.text_content("#queue-wait").strip() == WORDS[lang]["wait"]
            a11y(page, "queue", lang, picture="queue")
            page.reload()
            assert page.text_content("#queue-position").strip() == WORDS[lang]["position"].format(n=1)
            assert page.text_content("#queue-wait").strip() == WORDS[lang]["wait"]

            gateway.clock.advance(2)  # queued after ours (positions compare whole seconds)
            later = make_case(gateway)
            later_ctx, later_page = as_citizen_of(chromium, gateway, later, lang)
            later_page.goto(f"{gateway.url}/proofing/case/{later.case_id}")
            assert later_page.text_content("#queue-position").strip() == WORDS[lang]["position"].format(n=2)
            assert later_page.text_content("#queue-wait").strip() == WORDS[lang]["wait"].replace("5", "10")
            later_ctx.close()

            officer_ctx, officer, _ = as_officer(chromium, gateway, f"officer.{lang}")
            officer.goto(gateway.url + "/officer")
            assert officer.locator(f"tr[data-id='{case_id}']").count() == 1
            if lang == "th":
                assert officer.text_content(f"tr[data-id='{case_id}'] td:nth-child(3)") == "ไม่ถึง 1 นาที"
                a11y(officer, "officer queue", "th", picture="officer-queue")

            page.click("#cancel-case")
            page.wait_for_url(re.compile(r"/interaction/[^/]+$"))
            assert page.get_by_role("link", name=WORDS[lang]["route"]).is_visible()
            assert case_state(gateway, case_id) == "cancelled"
            officer.reload()
            assert officer.locator(f"tr[data-id='{case_id}']").count() == 0
            assert officer.locator(f"tr[data-id='{later.case_id}']").count() == 1
            officer_ctx.close()

            page.goto(f"{gateway.url}/proofing/case/{case_id}")
            assert WORDS[lang]["cancelled"] in page.text_content("main")
            a11y(page, "cancelled", lang, picture="cancelled")
            context.close()
        finally:
            server.should_exit = True


def show_cue(page) -> None:
    """What call.js does when the server sends a cue (the server's side is tested elsewhere)."""
    page.evaluate("() => document.getElementById('call').dispatchEvent(new CustomEvent('call-event', "
                  "{detail: {type: 'event', name: 'cue', cue: 'blink', window: 5}}))")


@LANGS
def test_the_call_and_every_outcome(database_url, chromium, lang):
    """The call (in Thai a real one, with the officer's page; in English the claim is made in the
    database), the second review, the approval continuing the sign-in; rejected, expired and an
    approval whose sign-in is gone, on cases made in the database."""
    with running_world(database_url) as world:
        gateway = world.gateway
        # A side gone from the call is waited for this long (20 s by default), which the gateway's
        # shutdown would wait for too.
        gateway.gw.proofing.grace = {"officer": 3.0, "citizen": 3.0}
        base, server = demo_service(gateway, min_ial="2.2", justification=None)
        try:
            new_citizen(gateway, "citizen.somchai")
            context, page = citizen_page(chromium, gateway, lang)
            case_id = to_queue(page, base, "citizen.somchai", lang)

            if lang == "th":
                officer_ctx, officer, officer_id = as_officer(chromium, gateway, "officer.anong")
                officer.goto(gateway.url + "/officer")
                officer.click(f"form[action='/officer/case/{case_id}/claim'] button")
                officer.wait_for_url(re.compile(rf"/officer/case/{case_id}$"))
                wait_for(lambda: officer.evaluate("() => document.getElementById('remote').videoWidth") > 0,
                         timeout=30, what="the citizen's video at the officer")
            else:
                officer_id = new_citizen(gateway, "officer.en")
                with gateway.db() as db:
                    cases.claim(db, case_id, cases.Officer(officer_id, "s"), now=gateway.clock.now())
                    db.commit()
            page.wait_for_selector("#call", timeout=10_000)  # the queue page moved on by itself
            if lang == "th":
                page.wait_for_selector("#call[data-state=connected]", timeout=30_000)
                wait_for(lambda: page.evaluate("() => document.getElementById('remote').videoWidth") > 0,
                         timeout=15, what="the officer's video at the citizen")
            a11y(page, "call", lang, picture="call")
            show_cue(page)
            assert page.text_content("#cue").strip() == WORDS[lang]["cue"]
            a11y(page, "call, cue shown", lang, picture="call-cue")
            if lang == "th":
                officer.wait_for_selector("#call[data-state=connected]", timeout=30_000)
                a11y(officer, "officer case", "th", picture="officer-case")
                # Dates for Thai readers are in the Buddhist era.
                card = [officer.text_content(f"#card tr:nth-child({n}) td") for n in (3, 5)]
                assert card[0] == "14 มีนาคม พ.ศ. 2528", card  # SOMCHAI, born 1985-03-14
                checked = re.search(r"ตรวจเมื่อ (\d+ \S+ (\d{4}) \d\d:\d\d น\.)", card[1])
                assert checked and checked.group(2) == this_year_be(gateway), card

            with gateway.db() as db:  # approved against problems (nothing compared): four eyes
                case = db.get(ProofingCase, case_id)
                assert cases.decide(db, case, cases.Officer(officer_id, "s"), outcome="approve", reason="",
                                    note="ดูตรงกับบัตร", version=case.version, now=gateway.clock.now()) \
                    == "awaiting_second"
                db.commit()
            page.wait_for_selector("main [role=status]:not(#call-status)", timeout=10_000)
            a11y(page, "second review", lang, picture="review")

            if lang == "th":
                officer_ctx.close()
                second_ctx, second, _ = as_officer(chromium, gateway, "officer.boonmee")
                second.goto(f"{gateway.url}/officer/review/{case_id}")
                a11y(second, "officer review", "th", picture="officer-review")
                times = second.locator("#record tbody tr td:first-child").all_text_contents()
                assert times and all(this_year_be(gateway) in t and this_year_be(gateway, ad=True) not in t
                                     for t in times), times
                second.check("#review-form input[name=outcome][value=approve]")
                second.fill("#note", "ตรวจวิดีโอซ้ำแล้ว ใบหน้าตรงกับภาพถ่าย")
                second.click("#review-form button[type=submit]")
                second.wait_for_url(re.compile(r"/officer(\?|$)"))
                second_ctx.close()
            else:
                second_id = new_citizen(gateway, "officer.en2")
                with gateway.db() as db:
                    case = db.get(ProofingCase, case_id)
                    cases.second_decision(db, case, cases.Officer(second_id, "s"),
                                          outcome="approve", reason="", note="Checked again",
                                          version=case.version, now=gateway.clock.now())
                    approve(gateway.gw, db, case, now=gateway.clock.now())  # what the review page does
                    db.commit()
            assert case_state(gateway, case_id) == "approved"
            # The waiting page goes on with the sign-in by itself (consent, then the e-service) ...
            page.wait_for_selector("button[value=allow]", timeout=10_000)
            # ... and the approved page, seen before it does, offers the same step as a link.
            held = context.new_page()
            held.route("**/status.json", lambda route: route.abort())
            held.goto(f"{gateway.url}/proofing/case/{case_id}")
            assert held.get_attribute("#continue", "href").startswith("/interaction/")
            a11y(held, "approved", lang, picture="approved")
            context.close()

            # Outcomes on cases made in the database, each seen by its citizen's phone.
            officer = cases.Officer(officer_id, "s")
            outcomes = {}
            for outcome in ("rejected", "expired", "approved_again"):
                ref = outcomes[outcome] = make_case(gateway)
                now = gateway.clock.now()
                with gateway.db() as db:
                    if outcome == "expired":
                        cases.expire(db, db.get(ProofingCase, ref.case_id), now=now, reason="unseen")
                    else:
                        cases.claim(db, ref.case_id, officer, now=now)
                    db.commit()
                if outcome == "approved_again":  # nothing against it: one officer approves
                    assess(gateway, ref.case_id, checklist="yes")
                if outcome != "expired":
                    with gateway.db() as db:
                        case = db.get(ProofingCase, ref.case_id)
                        cases.decide(db, case, officer, outcome="reject" if outcome == "rejected" else "approve",
                                     reason="face_mismatch" if outcome == "rejected" else "", note="",
                                     version=case.version, now=now)
                        db.commit()
            for outcome, ref in outcomes.items():
                ctx, seen = as_citizen_of(chromium, gateway, ref, lang)
                seen.goto(f"{gateway.url}/proofing/case/{ref.case_id}")
                assert WORDS[lang][outcome] in seen.text_content("main"), outcome
                a11y(seen, outcome, lang, picture=outcome)
                ctx.close()
        finally:
            server.should_exit = True
