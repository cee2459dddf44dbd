"""The officer console over real HTTP: the queue, claiming, the call page, the checklist, flags,
decisions (four eyes on a problem), the gate (officer role, AAL 2.2, signed in within 8 hours),
and the case record's hash chain after all of it. Cases are made directly in the database
(tests.proofing.world); the call itself (media, cues, face checks) is other tests' business."""

from __future__ import annotations

import html
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import select, update

from idgw.admin import add_user
from idgw.proofing import cases, record
from idgw.proofing.officer_texts import refusal
from idgw.storage.models import Account, LoginSession
from idgw.storage.proofing import ProofingCase, ProofingEvent
from idgw.web.i18n import t
from tests.flow import PASSWORD
from tests.proofing.world import account_and_session, assess, case_row, citizen_browser, make_case, officer_client
from tests.stepup import FIXTURE_CODE, enable_second_factor
from tests.test_admin_pages import form_post, make_admin

JSON = {"Accept": "application/json"}


def officer(gateway, username: str, *, passkey: bool = True) -> httpx.Client:
    return officer_client(gateway, username, second_factor=passkey)


def claim_form(page: httpx.Response, case_id: str) -> dict:
    token = re.search(rf'action="/officer/case/{case_id}/claim"[^>]*><input type="hidden" name="csrf_token" '
                      r'value="([^"]+)"', page.text).group(1)
    return {"csrf_token": token}


def claim(http: httpx.Client, case_id: str) -> httpx.Response:
    return http.post(f"/officer/case/{case_id}/claim", data=claim_form(http.get("/officer"), case_id))


def token(page: httpx.Response) -> str:
    return re.search(r'data-csrf="([^"]+)"', page.text).group(1)


def version(page: httpx.Response) -> str:
    return re.search(r'name="version" value="(\d+)"', page.text).group(1)


def decide(http, case_id, *, outcome, reason="", note="", version_=None, as_json=False):
    page = http.get(f"/officer/case/{case_id}")
    data = {"csrf_token": token(page), "outcome": outcome, "reason": reason, "note": note,
            "version": version_ if version_ is not None else version(page)}
    return http.post(f"/officer/case/{case_id}/decision", data=data, headers=JSON if as_json else None)


def text_of(page: httpx.Response) -> str:
    return html.unescape(page.text)


def events(gateway, case_id):
    with gateway.db() as db:
        return [(e.seq, e.kind) for e in record.entries(db, case_id)]


def test_queue_oldest_first_one_claim_wins_and_the_gate(gateway):
    refs = []
    for _ in range(3):
        refs.append(make_case(gateway))
        gateway.clock.advance(120)
    first = officer(gateway, "officer.anong")
    second = officer(gateway, "officer.boon")
    page = first.get("/officer")
    assert page.status_code == 200 and "officer.js" in page.text
    positions = [page.text.index(f'data-id="{r.case_id}"') for r in refs]
    assert positions == sorted(positions)  # oldest first
    assert "4 นาที" in page.text  # the oldest has waited 4 minutes
    listing = first.get("/officer/queue.json").json()
    assert [row["id"] for row in listing["queue"]] == [r.case_id for r in refs]
    assert listing["queue"][0]["service"] == t("officer_gateway_itself", "th") and listing["mine"] is None

    # two officers claim the oldest case at once: one gets the call page, the other the queue, 409
    forms = [claim_form(http.get("/officer"), refs[0].case_id) for http in (first, second)]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda pair: pair[0].post(f"/officer/case/{refs[0].case_id}/claim", data=pair[1]),
                                zip((first, second), forms, strict=True)))
    won = [a for a in answers if a.status_code == 200]
    lost = [a for a in answers if a.status_code == 409]
    assert len(won) == 1 and len(lost) == 1, [a.status_code for a in answers]
    assert won[0].url.path == f"/officer/case/{refs[0].case_id}"
    assert refusal("claimed", "th") in text_of(lost[0])
    winner = first if won[0] is answers[0] else second
    loser = second if winner is first else first
    assert case_row(gateway, refs[0].case_id).state == "claimed"

    # the call page: the call block, the reference photo, the card (masked, Buddhist era), the words
    call = won[0]
    assert f'<div id="call" data-case="{refs[0].case_id}" data-role="officer" data-lang="th">' in call.text
    assert f'<img src="/officer/case/{refs[0].case_id}/reference" alt="' in call.text
    assert "•••••••••" + refs[0].citizen_id[-4:] in call.text and refs[0].citizen_id not in call.text
    assert "12 มีนาคม พ.ศ. 2528" in call.text and "Somying Jaidee" in call.text
    assert t("officer_face_assists", "th") in text_of(call)
    assert "laser" not in call.text.lower()
    english = winner.get(f"/officer/case/{refs[0].case_id}?lang=en")
    assert "12 March 1985" in english.text and "This result assists; the officer decides." in text_of(english)
    # the claim shows on the winner's queue, not the loser's; the loser cannot open it
    assert winner.get("/officer/queue.json").json()["mine"]["id"] == refs[0].case_id
    assert loser.get(f"/officer/case/{refs[0].case_id}").status_code == 403
    assert loser.get(f"/officer/case/{refs[0].case_id}/state.json").status_code == 403
    assert loser.get("/officer/case/no-such-case").status_code == 404

    # a citizen: 403 on pages, JSON and forms
    with citizen_browser(gateway, refs[1]) as citizen:
        assert citizen.get("/officer").status_code == 403
        assert citizen.get("/officer/queue.json").status_code == 403
        assert citizen.get(f"/officer/case/{refs[0].case_id}/state.json").status_code == 403
        assert citizen.post(f"/officer/case/{refs[1].case_id}/claim", data={}).status_code == 403
    assert case_row(gateway, refs[1].case_id).state == "queued"

    # an officer at AAL 1 is sent to step up (pages) or told 401 (JSON)
    weak = officer(gateway, "officer.chai", passkey=False)
    enable_second_factor(gateway, "officer.chai", factor="hwk_uv")  # has a passkey, has not used it
    weak.follow_redirects = False
    step = weak.get("/officer")
    assert step.status_code == 303 and step.headers["location"].startswith("/signin/factor/")
    assert weak.get("/officer/queue.json").status_code == 401
    assert weak.post(f"/officer/case/{refs[1].case_id}/claim", data={}).status_code == 303
    weak.close()

    # signed in more than 8 hours ago (still within the session's own limits): sign in again
    with gateway.db() as db:
        account_id = db.scalar(select(Account.id).where(Account.username == "officer.boon"))
        db.execute(update(LoginSession).where(LoginSession.account_id == account_id, LoginSession.ended_at.is_(None))
                   .values(auth_time=gateway.clock.now() - 8 * 3600 - 60))
        db.commit()
    second.follow_redirects = False
    again = second.get("/officer")
    assert again.status_code == 303 and again.headers["location"] == "/signin?next=/officer"
    assert second.get("/officer/queue.json").json()["error"] == "signin"
    for http in (first, second):
        http.close()


def test_approve_without_problems_raises_the_identity_and_a_finished_case_stays_finished(gateway):
    ref = make_case(gateway)
    http = officer(gateway, "officer.dao")
    assert claim(http, ref.case_id).url.path == f"/officer/case/{ref.case_id}"
    state = http.get(f"/officer/case/{ref.case_id}/state.json").json()
    assert state["state"] == "claimed" and set(state["problems"]) == {"face_not_compared", "no_cue_judged",
                                                                       "checklist_incomplete"}
    assess(gateway, ref.case_id, face_match=True, cue_performed=True)
    # the checklist from the page's form (JSON, as officer.js sends it)
    page = http.get(f"/officer/case/{ref.case_id}")
    saved = http.post(f"/officer/case/{ref.case_id}/checklist", headers=JSON,
                      data={"csrf_token": token(page), **{k: "yes" for k in cases.CHECKLIST}})
    assert saved.status_code == 200 and saved.json()["ok"] is True
    state = http.get(f"/officer/case/{ref.case_id}/state.json").json()
    assert state["problems"] == [] and state["checklist"] == {k: "yes" for k in cases.CHECKLIST}
    assert state["face"]["match"] is True and state["cues"][0]["result"]["performed"] is True
    page = http.get(f"/officer/case/{ref.case_id}")
    assert t("officer_no_problems", "th") in page.text and "ใบหน้าตรงกัน" in page.text and "กะพริบตา" in page.text

    # a stale page changes nothing; a rejection needs a reason code; no CSRF token, no change
    stale = decide(http, ref.case_id, outcome="approve", version_=str(int(version(page)) - 1))
    assert stale.status_code == 409 and refusal("stale", "th") in text_of(stale)
    no_reason = decide(http, ref.case_id, outcome="reject", as_json=True)
    assert no_reason.status_code == 400 and no_reason.json()["code"] == "reason_required"
    forged = http.post(f"/officer/case/{ref.case_id}/decision",
                       data={"outcome": "approve", "version": version(page), "csrf_token": "x"})
    assert forged.status_code == 403
    assert case_row(gateway, ref.case_id).state == "claimed"

    approved = decide(http, ref.case_id, outcome="approve")
    assert approved.url.path == "/officer" and t("officer_done_approved", "th") in text_of(approved)
    account, session = account_and_session(gateway, ref)
    assert case_row(gateway, ref.case_id).state == "approved"
    assert account.ial == "2.2" and session.ial == "2.2" and account.citizen_id == ref.citizen_id
    assert account.ial_evidence == "officer_video"

    # deciding again: 409, nothing changed (the form carries the last version the page had)
    before = events(gateway, ref.case_id)
    again = http.post(f"/officer/case/{ref.case_id}/decision",
                      data={"csrf_token": token(page), "outcome": "reject", "reason": "other",
                            "version": version(page)})
    assert again.status_code == 409 and refusal("finished", "th") in text_of(again)
    as_json = http.post(f"/officer/case/{ref.case_id}/decision", headers=JSON,
                        data={"csrf_token": token(page), "outcome": "reject", "reason": "other", "version": "99"})
    assert as_json.status_code == 409 and as_json.json()["code"] == "finished"
    assert events(gateway, ref.case_id) == before and case_row(gateway, ref.case_id).state == "approved"
    with gateway.db() as db:
        assert record.verify(db, ref.case_id) == []
    http.close()



def test_a_face_non_match_needs_a_second_officer(gateway):
    ref = make_case(gateway)
    first = officer(gateway, "officer.ekk")
    claim(first, ref.case_id)
    assess(gateway, ref.case_id, face_match=False, cue_performed=True, checklist="yes")
    page = first.get(f"/officer/case/{ref.case_id}")
    assert "ตัวเทียบใบหน้าบอกว่าไม่ตรงกัน" in page.text
    no_note = decide(first, ref.case_id, outcome="approve")
    assert no_note.status_code == 400 and refusal("note_required", "th") in text_of(no_note)
    escalated = decide(first, ref.case_id, outcome="approve", note="ใบหน้าตรงกับภาพถ่าย แสงในห้องน้อย")
    assert escalated.url.path == "/officer" and t("officer_done_escalated", "th") in text_of(escalated)
    account, _session = account_and_session(gateway, ref)
    assert case_row(gateway, ref.case_id).state == "awaiting_second" and account.ial == "1.1"

    # not the same officer: not listed for them, and the form refuses with 403
    assert first.get("/officer/queue.json").json()["second"] == []
    own = first.get(f"/officer/review/{ref.case_id}")
    assert own.status_code == 200 and t("officer_review_own", "th") in text_of(own)
    refused = first.post(f"/officer/review/{ref.case_id}",
                         data={"csrf_token": token(page), "outcome": "approve", "note": "ok",
                               "version": str(case_row(gateway, ref.case_id).version)})
    assert refused.status_code == 403 and refusal("same_officer", "th") in text_of(refused)
    assert case_row(gateway, ref.case_id).state == "awaiting_second"

    second = officer(gateway, "officer.fon")
    assert [row["id"] for row in second.get("/officer/queue.json").json()["second"]] == [ref.case_id]
    review = second.get(f"/officer/review/{ref.case_id}")
    assert review.status_code == 200 and "ใบหน้าตรงกับภาพถ่าย แสงในห้องน้อย" in review.text
    assert t("officer_record_intact", "th") in review.text and "officer.ekk" in review.text
    assert f'<img src="/officer/case/{ref.case_id}/reference"' in review.text
    no_reason = form_post(second, review, outcome="approve", note="")
    assert no_reason.status_code == 400 and refusal("note_required", "th") in text_of(no_reason)
    done = form_post(second, second.get(f"/officer/review/{ref.case_id}"), outcome="approve",
                     note="ตรวจวิดีโอซ้ำแล้ว เป็นบุคคลเดียวกับภาพถ่าย")
    assert done.url.path == "/officer" and t("officer_done_review_approved", "th") in text_of(done)
    account, session = account_and_session(gateway, ref)
    row = case_row(gateway, ref.case_id)
    assert row.state == "approved" and account.ial == "2.2" and session.ial == "2.2"
    assert row.decision["by"] == [row.first_decision["by"], account_id(gateway, "officer.fon")]

    # the record is intact after all that, and an edited entry is found
    with gateway.db() as db:
        assert record.verify(db, ref.case_id) == []
        entry = db.scalar(select(ProofingEvent).where(ProofingEvent.case_id == ref.case_id,
                                                      ProofingEvent.kind == "face_compared"))
        entry.data = {**entry.data, "match": True}
        db.commit()
        assert record.verify(db, ref.case_id) == [f"entry {entry.seq} was changed"]
    for http in (first, second):
        http.close()


def test_checklist_flag_handover_reject_and_a_citizen_who_left(gateway):
    ref = make_case(gateway)
    gateway.clock.advance(60)
    gone = make_case(gateway)
    http = officer(gateway, "officer.gun")
    claim(http, ref.case_id)
    page = http.get(f"/officer/case/{ref.case_id}")
    # the checklist without script: an ordinary form and a redirect back to the page
    saved = http.post(f"/officer/case/{ref.case_id}/checklist",
                      data={"csrf_token": token(page), "in_view": "yes", "card_matches": "no", "bogus": "yes"})
    assert saved.url.path == f"/officer/case/{ref.case_id}" and t("officer_checklist_saved", "th") in saved.text
    assert case_row(gateway, ref.case_id).checklist == {"in_view": "yes", "card_matches": "no"}
    assert re.search(r'name="card_matches" value="no" checked', saved.text)

    flagged = http.post(f"/officer/case/{ref.case_id}/flag", headers=JSON,
                        data={"csrf_token": token(page), "note": "มีคนข้างหลังบอกให้พูด"})
    assert flagged.json()["ok"] is True
    state = http.get(f"/officer/case/{ref.case_id}/state.json").json()
    assert state["flagged"] is True and "flagged" in state["problems"]

    # hand over: back to the queue, first in line; this page no longer works for its officer
    queued_at = case_row(gateway, ref.case_id).queued_at
    handed = decide(http, ref.case_id, outcome="handover")
    assert handed.url.path == "/officer" and t("officer_done_handover", "th") in text_of(handed)
    row = case_row(gateway, ref.case_id)
    assert row.state == "queued" and row.claimed_by is None and row.queued_at == queued_at
    assert [r["id"] for r in http.get("/officer/queue.json").json()["queue"]][0] == ref.case_id
    assert http.get(f"/officer/case/{ref.case_id}").status_code == 409

    # claimed again (the flag stays), then rejected: a reason code is needed
    claim(http, ref.case_id)
    assert "flagged" in http.get(f"/officer/case/{ref.case_id}/state.json").json()["problems"]
    no_reason = decide(http, ref.case_id, outcome="reject")
    assert no_reason.status_code == 400 and refusal("reason_required", "th") in text_of(no_reason)
    rejected = decide(http, ref.case_id, outcome="reject", reason="suspected_fraud", note="ถูกบังคับ")
    assert rejected.url.path == "/officer" and case_row(gateway, ref.case_id).state == "rejected"
    account, _ = account_and_session(gateway, ref)
    assert account.ial == "1.1"

    # the card's citizen ID already belongs to another account: approving is refused, nothing changes
    taken = make_case(gateway)
    with gateway.db() as db:
        add_user(db, username="someone.else", password=PASSWORD, now=gateway.clock.now(), citizen_id=taken.citizen_id)
        db.commit()
    claim(http, taken.case_id)
    assess(gateway, taken.case_id, face_match=True, cue_performed=True, checklist="yes")
    before = events(gateway, taken.case_id)
    in_use = decide(http, taken.case_id, outcome="approve", as_json=True)
    assert in_use.status_code == 409 and in_use.json()["message"] == refusal("identity_in_use", "th")
    assert events(gateway, taken.case_id) == before and case_row(gateway, taken.case_id).state == "claimed"
    assert account_and_session(gateway, taken)[0].ial == "1.1"
    decide(http, taken.case_id, outcome="reject", reason="other", note="บัตรนี้ผูกกับบัญชีอื่นแล้ว")

    # the citizen of another case leaves during the call: the poll says so; the page refuses, 409
    claim(http, gone.case_id)
    with gateway.db() as db:
        cases.expire(db, db.get(ProofingCase, gone.case_id), now=gateway.clock.now(), reason="unseen")
        db.commit()
    state = http.get(f"/officer/case/{gone.case_id}/state.json").json()
    assert state["state"] == "expired" and state["left"] is True
    left = http.get(f"/officer/case/{gone.case_id}")
    assert left.status_code == 409 and refusal("citizen_left", "th") in text_of(left)

    kinds = [k for _seq, k in events(gateway, ref.case_id)]
    assert kinds == ["opened", "queued", "claimed", "checklist", "flagged", "queued", "claimed", "rejected"]
    with gateway.db() as db:
        assert record.verify(db, ref.case_id) == [] and record.verify(db, gone.case_id) == []
    http.close()


def account_id(gateway, username: str) -> str:
    with gateway.db() as db:
        return db.scalar(select(Account.id).where(Account.username == username))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_console_in_chromium(browser, gateway):
    """officer.js: the queue refreshes in place, the checklist is saved and the state poll shows
    the face result without reloading the call page, the decision leads back to the queue; and
    both pages pass the accessibility checks."""
    from tests.a11y import a11y_context, check_a11y

    first = make_case(gateway)
    make_admin(gateway, username="officer.hom", roles=("officer",))
    enable_second_factor(gateway, "officer.hom", factor="hwk_uv")
    context = a11y_context(browser, locale="th")
    page = context.new_page()
    # The call itself (call.js, its WebSocket and media) is tested with the signalling; here it
    # would only hold a socket the gateway waits for when it stops.
    page.route("**/proofing/static/call.js", lambda route: route.fulfill(body="", content_type="text/javascript"))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(gateway.url + "/officer")
    page.get_by_label("ชื่อผู้ใช้").fill("officer.hom")
    page.get_by_label("รหัสผ่าน").fill(PASSWORD)
    page.get_by_role("button", name="เข้าสู่ระบบ", exact=True).click()
    page.get_by_label("รหัส 6 หลัก").fill(FIXTURE_CODE)
    page.get_by_role("button", name="ดำเนินการต่อ").click()
    page.get_by_role("heading", name=t("officer_queue_title", "th"), level=1).wait_for()
    check_a11y(page, context="officer queue, th")
    page.evaluate("() => { window.stillHere = true; }")
    later = make_case(gateway)  # appears without a reload
    page.locator(f'tr[data-id="{later.case_id}"] button').wait_for(timeout=30000)
    assert page.evaluate("() => window.stillHere === true")

    page.locator(f'tr[data-id="{first.case_id}"] button').click()
    page.get_by_role("heading", name=t("officer_case_title", "th"), level=1).wait_for()
    # officer.js unhides the JavaScript-only buttons once it runs, which may be after the heading
    from playwright.sync_api import expect

    expect(page.locator("#compare")).to_be_visible()
    expect(page.locator("#give-cue")).to_be_visible()
    check_a11y(page, context="officer call page, th")
    page.evaluate("() => { window.stillHere = true; }")
    for item in cases.CHECKLIST:
        group = page.get_by_role("group", name=t(f"officer_check_{item}", "th"))
        group.get_by_label(t("officer_yes", "th"), exact=True).check()
    page.get_by_role("button", name=t("officer_save_checklist", "th")).click()
    page.get_by_text(t("officer_checklist_saved", "th")).wait_for()
    assert case_row(gateway, first.case_id).checklist == {k: "yes" for k in cases.CHECKLIST}
    assess(gateway, first.case_id, face_match=True, cue_performed=True)
    page.locator("#face-rows").get_by_text("ใบหน้าตรงกัน").wait_for(timeout=30000)
    page.locator("#problems-none").wait_for(state="visible", timeout=30000)
    assert page.evaluate("() => window.stillHere === true")  # the call page was never reloaded
    page.get_by_label(t("officer_approve", "th"), exact=True).check()
    page.get_by_role("button", name=t("officer_decide", "th")).click()
    page.get_by_text(t("officer_done_approved", "th")).wait_for()
    assert case_row(gateway, first.case_id).state == "approved"
    assert not errors, errors
    context.close()


def test_what_the_console_says_of_a_case():
    """The words for a case as the call endpoints record it (face with "at" and "model", a judged
    cue with its kept frame), dates in the Buddhist era for Thai, the citizen ID masked."""
    from idgw.proofing.officer_texts import call_error_texts, card_date, masked_citizen_id
    from idgw.proofing.officer_views import case_view

    case = ProofingCase(id="c1", state="claimed", version=3, need_ial="2.2", grant_ial="2.2", flagged=False,
                        card={"citizen_id": "1101700230705", "given_name_th": "สมชาย", "family_name_th": "ใจดี",
                              "given_name_en": "Somchai", "family_name_en": "Jaidee", "birthdate": "1990-01-31"},
                        card_check={"status": "valid", "reference": "T-1", "checked_at": 1_780_000_000},
                        face={"distance": 0.512345, "threshold": 0.55, "match": True, "model": "dlib-resnet",
                              "quality": {"sharpness": 0.8, "problems": []}, "at": 1_780_000_100, "frame": "m1"},
                        cues=[{"id": "q1", "cue": "hand", "window": 5, "shown_at": 1_780_000_200,
                               "result": {"performed": False, "failed": ["still"], "frame": "m2"}}],
                        checklist={})
    th, en = case_view(case, "th", service="S"), case_view(case, "en", service="S")
    assert th["card"]["birthdate"] == "31 มกราคม พ.ศ. 2533" and en["card"]["birthdate"] == "31 January 1990"
    assert th["card"]["citizen_id"] == "•••••••••0705" == masked_citizen_id("1101700230705")
    assert {"label": "Face distance", "value": "0.512"} in en["face"]
    assert {"label": "Model versions", "value": "dlib-resnet"} in en["face"]
    assert any(row["label"] == "Compared" for row in en["face"]) and th["face_frame"] == "/officer/case/c1/frame/m1"
    cue = en["cues"][0]
    assert cue["text"].startswith("Pass a hand in front of the face (within 5 s") and "not performed" in cue["text"]
    assert "still photo" in cue["text"] and cue["frame"] == "/officer/case/c1/frame/m2"
    assert [p["code"] for p in th["problems"]] == ["cue_failed", "checklist_incomplete"]
    assert card_date("not a date", "th") == "not a date"
    assert call_error_texts("en")["citizen_not_connected"] == "The applicant is not connected to the call."
