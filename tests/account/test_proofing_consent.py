"""Video identity checks on the account pages over real HTTP (uvicorn), on SQLite and PostgreSQL:
the account page lists the consent to biometric processing and each case in Thai (Buddhist era)
and English; withdrawing it needs the CSRF token, cancels a check under way, deletes at once the
still frames (not those of a case flagged for fraud), is audited, and makes the next check ask
for consent again; "download
my data" carries the cases without officers' accounts or images; the privacy notice has the
section, its retention from settings."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from idgw.login.sessions import create_session
from idgw.proofing import cases, media_store, record
from idgw.storage.models import Account, AuditEvent
from idgw.storage.proofing import ProofingCase, ProofingConsent, ProofingMedia
from tests.account.journeys import forms
from tests.conftest import start_gateway
from tests.flow import Browser, authorize_url, raise_page, register, rp_client
from tests.proofing.citizen_world import running_world
from tests.proofing.world import assess, citizen_browser, make_case

DAY = 86400
WITHDRAW = "/account/proofing/withdraw"
IAL_WORDS_EN = "identity checked against your ID card or a trusted source (IAL 2.2)"


def events(gateway, name: str) -> list[AuditEvent]:
    with gateway.db() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.name == name).order_by(AuditEvent.id)))


def officer_id() -> str:
    return str(uuid.uuid4())


def keep_frames(gateway, case_id: str, *contents: bytes, kind: str = "frame") -> list[str]:
    now = gateway.clock.now()
    with gateway.db() as db:
        ids = [media_store.keep(db, gateway.gw.proofing.sealer, case_id=case_id, kind=kind, content=c,
                                media_type="image/jpeg", now=now, retention_days=90).id for c in contents]
        db.commit()
    return ids


def approve(gateway, case_id: str, *, second: bool = False) -> list[str]:
    """An officer claims and approves (``second``: against a face non-match, then a second officer
    confirms); returns the officers' account IDs."""
    first = cases.Officer(officer_id(), "officer-session-1")
    now = gateway.clock.now()
    with gateway.db() as db:
        cases.claim(db, case_id, first, now=now)
        db.commit()
    assess(gateway, case_id, face_match=not second, checklist="yes")
    with gateway.db() as db:
        case = db.get(ProofingCase, case_id)
        state = cases.decide(db, case, first, outcome="approve", reason="", note="looked hard" if second else "",
                             version=case.version, now=now)
        officers = [first.account_id]
        if second:
            assert state == "awaiting_second"
            other = cases.Officer(officer_id(), "officer-session-2")
            state = cases.second_decision(db, case, other, outcome="approve", reason="", note="same person",
                                          version=case.version, now=now)
            officers.append(other.account_id)
        assert state == "approved"
        db.commit()
    return officers


def reject(gateway, case_id: str) -> str:
    officer = cases.Officer(officer_id(), "officer-session-3")
    now = gateway.clock.now()
    with gateway.db() as db:
        case = cases.claim(db, case_id, officer, now=now)
        cases.decide(db, case, officer, outcome="reject", reason="face_mismatch", note="", version=case.version,
                     now=now)
        db.commit()
    return officer.account_id


def another_case(gateway, ref, *, client_id: str | None = None, at: int | None = None) -> str:
    """A further case of the same citizen (their consent, their session), queued."""
    now = at or gateway.clock.now()
    with gateway.db() as db:
        consent = cases.current_consent(db, ref.account_id)
        case = cases.open_case(db, account_id=ref.account_id, session_id=ref.session_id, interaction_id=None,
                               client_id=client_id, need_ial="2.2", grant_ial="2.2", consent_id=consent.id,
                               card={"citizen_id": ref.citizen_id, "given_name_th": "สมหญิง",
                                     "family_name_th": "ใจดี", "birthdate": "1985-03-12"},
                               card_check={"source": "DOPA", "status": "valid", "reference": "TXN-X",
                                           "mismatched": [], "checked_at": now}, now=now)
        cases.join_queue(db, case, now=now)
        db.commit()
        return case.id


def end_case(gateway, case_id: str, how: str) -> None:
    now = gateway.clock.now()
    with gateway.db() as db:
        case = db.get(ProofingCase, case_id)
        if how == "cancel":
            cases.cancel(db, case, now=now)
        else:
            cases.expire(db, case, now=now, reason="citizen_left")
        db.commit()


def section(text: str) -> str:
    """The account page's video identity checks section (up to the next h2)."""
    found = re.search(r'<h2 id="video-checks">(.*?)(?=<h2)', text, re.S)
    assert found, text[:500]
    return found.group(1)


def bangkok(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC) + timedelta(hours=7)


def account_csrf(page: httpx.Response) -> str:
    return next(h["csrf_token"] for _, action, h in forms(page.text) if action == WITHDRAW)


# -- the account page -------------------------------------------------------------------------------

def test_the_account_page_lists_consent_and_cases_in_thai_and_english(gateway):
    reg = register(gateway)
    ref = make_case(gateway, client_id=reg.client_id)
    approve(gateway, ref.case_id)
    # more checks of the same citizen, a few seconds apart, with no service: one cancelled, one
    # expired with its frames purged already, one waiting
    gateway.clock.advance(5)
    cancelled = another_case(gateway, ref)
    end_case(gateway, cancelled, "cancel")
    gateway.clock.advance(5)
    expired = another_case(gateway, ref)
    keep_frames(gateway, expired, b"frame-expired")
    end_case(gateway, expired, "expire")
    with gateway.db() as db:
        assert media_store.purge_for_account(db, ref.account_id, gateway.clock.now()) == 1
        db.commit()
    keep_frames(gateway, ref.case_id, b"frame-approved-1", b"frame-approved-2")
    gateway.clock.advance(5)
    waiting = another_case(gateway, ref)
    keep_frames(gateway, waiting, b"frame-waiting")
    rejected_ref = make_case(gateway)
    reject(gateway, rejected_ref.case_id)

    http = citizen_browser(gateway, ref)
    thai = http.get("/account")
    assert thai.status_code == 200, thai.text[:300]
    part = section(thai.text)
    assert "การยืนยันตัวตนทางวิดีโอคอล" in part
    now = gateway.clock.now()
    be_year = bangkok(now).year + 543
    given = re.search(r"ให้ความยินยอมเมื่อ (\d+) (\S+) (\d{4}) \d\d:\d\d น\. · ประกาศฉบับ 2026-11 · เก็บภาพนิ่ง 90 วัน · มีผล",
                      part)
    assert given and int(given.group(3)) == be_year, part
    lines = re.findall(r"<li>([^<]*)</li>", re.search(r'<ul class="proofing-cases">(.*?)</ul>', part, re.S).group(1))
    assert len(lines) == 4, lines  # newest first
    assert "เพื่อใช้ ระบบยืนยันตัวตนนี้ · รอเจ้าหน้าที่หรือกำลังดำเนินการ · เก็บภาพนิ่งถึง" in lines[0]
    until = bangkok(now + 90 * DAY)  # the frame's delete_after, in Bangkok time and the Buddhist era
    assert lines[0].split("เก็บภาพนิ่งถึง")[1].startswith(f" {until.day} ")
    assert f" {until.year + 543} " in lines[0].split("เก็บภาพนิ่งถึง")[1]
    assert "หมดเวลา สิ้นสุดโดยไม่มีผลการตรวจ · ลบภาพนิ่งแล้ว" in lines[1]
    assert "ยกเลิกแล้ว · ไม่มีภาพนิ่งที่เก็บไว้" in lines[2]
    assert "เพื่อใช้ บริการทดสอบ Test service · ยืนยันตัวตนแล้ว: พิสูจน์ตัวตนกับบัตรประชาชน" in lines[3]
    assert "(IAL 2.2)" in lines[3] and "เก็บภาพนิ่งถึง" in lines[3]
    assert f" {until.year + 543} " in lines[3].split("เก็บภาพนิ่งถึง")[1]
    assert "หากท่านถอนความยินยอม:" in part and "ตัวตนที่ยืนยันแล้วยังคงยืนยันอยู่" in part
    assert ("post", WITHDRAW) in [(m, a) for m, a, _ in forms(thai.text)]
    assert "ไม่ผ่าน" not in part  # another citizen's rejected case is not shown

    english = section(http.get("/account?lang=en").text)
    assert "Video identity checks" in english
    assert re.search(r"Given \d\d \w{3} (\d{4}) \d\d:\d\d \(UTC\+7\) · notice version 2026-11 · "
                     r"still frames kept 90 days · active", english).group(1) == str(bangkok(now).year)
    assert f"for บริการทดสอบ Test service · confirmed: {IAL_WORDS_EN} · still frames kept until" in english
    assert "for this gateway · waiting or in progress · still frames kept until" in english
    assert "for this gateway · expired without a decision · still frames deleted" in english
    assert "for this gateway · cancelled · no still frames kept" in english
    assert "If you withdraw your consent:" in english and "There will be no new video check until you consent" \
        in english and "not on the basis of your consent" in english
    assert "Withdraw consent" in english

    other = section(citizen_browser(gateway, rejected_ref).get("/account?lang=en").text)
    assert "not confirmed by the officer" in other and "Somying" not in other

    # an account that never used a video check says so, and offers no button
    fresh = register(gateway)
    with gateway.db() as db:
        account = db.get(Account, fresh.account_id)
        _session, cookie = create_session(db, account=account, factor="pwd", amr=["pwd"], now=now, ip="127.0.0.1")
        db.commit()
    plain = httpx.Client(base_url=gateway.url, timeout=20, cookies={gateway.gw.settings.cookie_name: cookie})
    none = plain.get("/account?lang=en")
    assert "You have not used a video identity check." in section(none.text)
    assert WITHDRAW not in none.text


# -- withdrawing -------------------------------------------------------------------------------------

def test_withdrawing_needs_the_token_cancels_a_live_check_and_deletes_frames_but_fraud_evidence(gateway):
    ref = make_case(gateway)
    officers = approve(gateway, ref.case_id)
    approved_frames = keep_frames(gateway, ref.case_id, b"approved-frame-1", b"approved-frame-2")
    approved_frames += keep_frames(gateway, ref.case_id, b"reference-photo", kind="reference")
    cancelled = another_case(gateway, ref)
    cancelled_frames = keep_frames(gateway, cancelled, b"cancelled-frame")
    end_case(gateway, cancelled, "cancel")
    fraud = another_case(gateway, ref)
    fraud_frames = keep_frames(gateway, fraud, b"fraud-frame")
    with gateway.db() as db:
        db.execute(update(ProofingCase).where(ProofingCase.id == fraud).values(flagged=True))
        db.commit()
    end_case(gateway, fraud, "cancel")
    live = another_case(gateway, ref)
    live_frames = keep_frames(gateway, live, b"live-frame")
    sealer = gateway.gw.proofing.sealer
    http = citizen_browser(gateway, ref)
    page = http.get("/account")
    token = account_csrf(page)

    # a wrong token or none: 403, nothing changed
    for bad in ({"csrf_token": "0" * 64}, {}):
        refused = http.post(WITHDRAW, data=bad)
        assert refused.status_code == 403, refused.status_code
    with gateway.db() as db:
        assert cases.current_consent(db, ref.account_id) is not None
        assert all(media_store.read(sealer, db.get(ProofingMedia, m)) for m in approved_frames + live_frames)
    assert not events(gateway, "proofing.consent_withdrawn") and not events(gateway, "proofing.purged")

    done = http.post(WITHDRAW, data={"csrf_token": token})
    assert done.status_code == 200, done.text[:300]
    assert "ถอนความยินยอมแล้ว ลบภาพนิ่งของการยืนยันตัวตนที่สิ้นสุดแล้ว 5 ภาพ" in done.text
    part = section(done.text)
    assert "ถอนแล้วเมื่อ" in part and "ท่านถอนความยินยอมแล้ว:" in part and WITHDRAW not in done.text
    now = gateway.clock.now()
    with gateway.db() as db:
        # the next check asks again
        assert cases.current_consent(db, ref.account_id) is None
        (consent,) = db.scalars(select(ProofingConsent).where(ProofingConsent.account_id == ref.account_id)).all()
        assert consent.withdrawn_at is not None and abs(consent.withdrawn_at - now) < 60
        for media_id in approved_frames + cancelled_frames + live_frames:
            row = db.get(ProofingMedia, media_id)
            assert row.sealed is None and row.deleted_at == consent.withdrawn_at and len(row.sha256) == 64
        # a check flagged for suspected fraud keeps its frames (legal claims), to their retention
        assert media_store.read(sealer, db.get(ProofingMedia, fraud_frames[0])) == b"fraud-frame"
        # the identity stays confirmed; the check under way is cancelled
        assert db.get(ProofingCase, ref.case_id).state == "approved"
        assert db.get(ProofingCase, live).state == "cancelled"
        # each deletion noted in its case's record, the chain intact
        purged = [e for e in record.entries(db, ref.case_id) if e.kind == "media_purged"]
        assert sorted(e.data["media"] for e in purged) == sorted(approved_frames)
        assert {e.data["reason"] for e in purged} == {"consent_withdrawn"}
        assert {e.actor for e in purged} == {f"citizen:{ref.account_id}"}
        assert record.verify(db, ref.case_id) == [] and record.verify(db, cancelled) == []
        assert not [e for e in record.entries(db, fraud) if e.kind == "media_purged"]
    (withdrawn,) = events(gateway, "proofing.consent_withdrawn")
    assert withdrawn.actor == ref.account_id and withdrawn.session_id == ref.session_id
    assert withdrawn.detail == {"consents": [consent.id], "media_deleted": 5}
    purged_events = events(gateway, "proofing.purged")
    assert sorted(e.detail["media"] for e in purged_events) == sorted(approved_frames + cancelled_frames + live_frames)
    assert {(e.actor, e.detail["reason"]) for e in purged_events} == {(ref.account_id, "consent_withdrawn")}
    assert not any(o in json.dumps([e.detail for e in purged_events]) for o in officers)

    english = section(http.get("/account?lang=en").text)
    assert re.search(r"still frames kept 90 days · withdrawn \d\d \w{3} \d{4}", english)
    assert "You have withdrawn your consent:" in english
    assert english.count("still frames deleted") == 3 and english.count("still frames kept until") == 1

    # again: nothing to withdraw, nothing deleted
    again = http.post(WITHDRAW, data={"csrf_token": token})
    assert again.status_code == 409 and "There is no active consent to withdraw." in again.text
    assert len(events(gateway, "proofing.consent_withdrawn")) == 1

    # someone signed out cannot withdraw anything
    stranger = httpx.Client(base_url=gateway.url, timeout=20, cookies={"idgw_browser": http.cookies["idgw_browser"]})
    assert stranger.post(WITHDRAW, data={"csrf_token": token}).status_code == 303


def test_after_withdrawing_the_next_video_check_asks_for_consent_again(database_url):
    with running_world(database_url) as world:
        gateway = world.gateway
        reg = register(gateway, policy={"min_ial": "2.2", "justification": None, "release_verified_claims": True},
                       citizen_id=None)
        rp = rp_client(gateway, reg, scope="openid profile")
        b = Browser(gateway)
        b.http.cookies.set("idgw_lang", "en")
        url, _state, _nonce, _verifier = authorize_url(gateway, rp)
        raised = b.login(b.follow(b.get(url)), reg.username)
        notice_url = raise_page(raised)["Start a video call with an officer"][1]
        card = b.submit(b.get(notice_url), decision="accept", consent="yes")
        assert 'name="laser_code"' in card.text
        card_url = str(card.url)
        account = b.get("/account")
        assert account.status_code == 200 and "active" in section(account.text)
        done = b.http.post(WITHDRAW, data={"csrf_token": account_csrf(account)})
        assert done.status_code == 200 and "Consent withdrawn. 0 still images" in done.text
        again = b.get(card_url)
        assert again.status_code == 303 and again.headers["location"].endswith("/proofing"), again.headers
        notice = b.follow(again)
        assert "PDPA s.26" in notice.text
        # consenting again makes a new consent; the withdrawn one stays withdrawn
        assert 'name="laser_code"' in b.submit(notice, decision="accept", consent="yes").text
        with gateway.db() as db:
            rows = db.scalars(select(ProofingConsent).where(ProofingConsent.account_id == reg.account_id)
                              .order_by(ProofingConsent.granted_at, ProofingConsent.withdrawn_at.is_(None))).all()
            assert [r.withdrawn_at is None for r in rows] == [False, True]
            assert cases.current_consent(db, reg.account_id).id == rows[1].id


# -- download my data ---------------------------------------------------------------------------------

def test_the_export_has_the_checks_without_officers_accounts_or_images(gateway):
    reg = register(gateway)
    ref = make_case(gateway, client_id=reg.client_id)
    officers = approve(gateway, ref.case_id, second=True)
    frames = [b"\xff\xd8 approved frame bytes", b"\xff\xd8 reference photo bytes"]
    frame_ids = keep_frames(gateway, ref.case_id, *frames)
    rejected = another_case(gateway, ref)
    officers.append(reject(gateway, rejected))

    http = citizen_browser(gateway, ref)
    answer = http.get("/account/export.json")
    assert answer.status_code == 200, answer.text[:300]
    document = answer.json()
    proofing = document["proofing"]
    (consent,) = proofing["consents"]
    assert set(consent) == {"id", "notice_version", "media_retention_days", "granted_at", "withdrawn_at"}
    assert consent["notice_version"] == cases.NOTICE_VERSION and consent["media_retention_days"] == 90
    assert consent["withdrawn_at"] is None
    first, second = proofing["cases"]
    assert first["id"] == ref.case_id and first["state"] == "approved"
    assert first["service"] == {"client_id": reg.client_id, "name": "บริการทดสอบ Test service"}
    assert first["need_ial"] == "2.2" and first["grant_ial"] == "2.2" and first["consent_id"] == consent["id"]
    assert first["card"]["citizen_id"] == ref.citizen_id and first["card"]["given_name_en"] == "Somying"
    assert first["card"]["birthdate"] == "1985-03-12" and "laser_code" not in first["card"]
    assert first["card_check"]["status"] == "valid" and first["card_check"]["source"] == "DOPA"
    assert all(first[k] for k in ("created_at", "queued_at", "claimed_at", "decided_at"))
    assert first["claimed_by"] == "officer 1"
    assert first["first_decision"]["by"] == "officer 1" and first["first_decision"]["problems"]
    assert first["decision"]["outcome"] == "approved" and first["decision"]["by"] == ["officer 1", "officer 2"]
    assert first["face"]["distance"] == 0.72 and first["face"]["threshold"] == 0.6 and first["face"]["match"] is False
    assert [(c["cue"], c["performed"]) for c in first["cues"]] == [("blink", True)]
    assert sorted(m["sha256"] for m in first["media"]) == sorted(hashlib.sha256(f).hexdigest() for f in frames)
    assert all(m["delete_after"] - m["created_at"] == 90 * DAY and m["deleted_at"] is None for m in first["media"])
    assert second["state"] == "rejected" and second["service"] is None
    assert second["decision"] == {"outcome": "rejected", "reason": "face_mismatch", "problems": [],
                                  "by": ["officer 1"]}
    assert second["claimed_by"] == "officer 1" and second["face"] is None and second["cues"] == []
    # the officers' steps on the person's cases are among the person's audit events, by "officer"
    # and without the officer's session or address
    by_officers = [e for e in document["audit_events"]
                   if e["name"] in ("proofing.claimed", "proofing.escalated", "proofing.decided")]
    # the first case: claimed, escalated by the first officer, decided by the second; the other rejected
    assert sorted(e["name"] for e in by_officers if e["name"] != "proofing.claimed") == [
        "proofing.decided", "proofing.decided", "proofing.escalated"]
    assert all(e["actor"] == "officer" and e["on_behalf_of"] == document["account"]["id"]
               and e["session_id"] is None and e["ip"] is None for e in by_officers)
    # never an officer's account, a decision's notes or an image (in any encoding)
    text = answer.text
    for officer in officers:
        assert officer not in text
    assert "looked hard" not in text and "same person" not in text
    for content in frames:
        assert base64.b64encode(content).decode() not in text and content[3:] not in answer.content
    with gateway.db() as db:
        sealed = [db.get(ProofingMedia, m).sealed for m in frame_ids]
    assert all(s and s not in text for s in sealed)


# -- the privacy notice -------------------------------------------------------------------------------

@pytest.fixture
def gateway_45_days(database_url):
    running = start_gateway(database_url, proofing_media_retention_days=45)
    yield running
    running.stop()
    running.gw.engine.dispose()


def test_the_privacy_notice_has_the_video_checks_section(gateway_45_days):
    gateway = gateway_45_days
    thai = httpx.get(gateway.url + "/privacy", headers={"Accept-Language": "th"}).text
    part = re.search(r'<h2 id="video-checks">(.*?)</ul>', thai, re.S).group(1)
    assert "การยืนยันตัวตนทางวิดีโอคอล" in part and "มาตรา 26" in part and "ไม่เก็บไว้" in part
    assert "ลบเมื่อครบ 45 วัน" in part and "กรมการปกครอง" in part and 'href="/account#video-checks"' in part
    english = httpx.get(gateway.url + "/privacy?lang=en").text
    part = re.search(r'<h2 id="video-checks">(.*?)</ul>', english, re.S).group(1)
    for words in ("Video identity checks", "Purposes:", "checked with the Department of Provincial Administration",
                  "never kept", "still frames of your face from the call", "face comparison scores",
                  "explicit consent for the biometric data", "section 26", "duty to keep an audit trail",
                  "Recipients: the officer", "E-services receive only the result and the evidence",
                  "never images", "deleted 45 days after capture", "withdraw your consent at any time on your "
                  "account page", "Download my data"):
        assert words in part, words
