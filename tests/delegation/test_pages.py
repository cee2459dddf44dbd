"""The citizen's delegation pages over HTTP, on SQLite and PostgreSQL: a person's delegation made,
signed and accepted through the forms; a company's under the two-director joint rule read from
the DBD-style registry; the signing gate (a stale sign-in is sent to sign in again, an identity
level too low gets the level page); CSRF; revocation with its confirmation and the
sub-delegations it ends; Thai and English; every MandateError code in words."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select

from idgw.delegation import model as m
from idgw.delegation.model import MandateError
from idgw.delegation.page_errors import CODES, mandate_error_text
from idgw.delegation.page_logic import IDENTITY, SIGN_IN, day_end, day_of, day_start, fit_to_parent, signing_gate
from idgw.storage.delegation import Mandate, MandateApproval
from policies import AAL, IAL
from providers.simulators.dbd import DEMO_COMPANY_ID
from tests.delegation.world import MALEE, PRASERT, SOMCHAI, SOMYING, citizen, delegable_service, person_mandate
from tests.flow import Browser

ROOT = Path(__file__).resolve().parents[2]


# -- helpers -------------------------------------------------------------------------------------------

def form_fields(text: str, action: str) -> dict:
    """The hidden fields of the form posting to ``action``."""
    for attrs, body in re.findall(r"<form([^>]*)>(.*?)</form>", text, re.S):
        if f'action="{action}"' in attrs:
            return {k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"',
                                                               body)}
    raise AssertionError(f"no form posting to {action} in: {text[:800]}")


def days(gateway, n: int = 0) -> str:
    return (day_of(gateway.clock.now()) + timedelta(days=n)).isoformat()


def create(c, client_id: str, *, delegate: str, acts=("vat_filing",), until: int = 30, query: str = "", **extra):
    page = c.browser.get("/delegations/new" + query)
    assert page.status_code == 200, page.text[:500]
    data = {**form_fields(page.text, "/delegations/new"), "principal": "person", "delegate_citizen_id": delegate,
            f"service.{client_id}": "yes", "valid_from": days(c.browser.gateway),
            "valid_until": days(c.browser.gateway, until), **{f"act.{client_id}.{a}": "yes" for a in acts}}
    data.update(extra)
    return c.browser.http.post("/delegations/new", data=data)


def created_id(response) -> str:
    assert response.status_code == 303, (response.status_code, response.text[:1500])
    found = re.fullmatch(r"/delegations/([0-9a-f-]{36})", response.headers["location"])
    assert found, response.headers["location"]
    return found.group(1)


def post_form(c, mandate_id: str, action: str, **extra):
    """Post the detail page's form for ``action`` (sign, accept, decline) as the page has it."""
    page = c.browser.get(f"/delegations/{mandate_id}")
    assert page.status_code == 200, page.text[:500]
    path = f"/delegations/{mandate_id}/{action}"
    return c.browser.http.post(path, data={**form_fields(page.text, path), **extra})


def token(c, mandate_id: str) -> dict:
    """The CSRF field the pages give this browser for the mandate's forms."""
    browser = c.browser.http.cookies.get("idgw_browser")
    return {"csrf_token": c.browser.gateway.gw.pages.csrf_token(browser, f"delegation:{mandate_id}")}


def status_of(gateway, mandate_id: str) -> str:
    with gateway.db() as db:
        return db.get(Mandate, mandate_id).status


def counts(gateway) -> tuple[int, int]:
    with gateway.db() as db:
        return (db.scalar(select(func.count()).select_from(Mandate)),
                db.scalar(select(func.count()).select_from(MandateApproval)))


# -- a person's delegation -------------------------------------------------------------------------------

def test_person_creates_signs_and_the_delegate_accepts(gateway):
    service = delegable_service(gateway)
    somchai, somying = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    listing = somchai.browser.get("/delegations")
    assert listing.status_code == 200 and "สร้างการมอบอำนาจ" in listing.text
    assert 'href="/delegations/new"' in listing.text
    mandate_id = created_id(create(somchai, service.client_id, delegate=SOMYING[0], acts=("vat_filing", "tax_refund"),
                                   stamp_reference="ESD-2567-000123"))
    page = somchai.browser.get(f"/delegations/{mandate_id}")
    text = page.text
    assert page.status_code == 200 and "ร่าง รอลงนาม" in text
    for words in ("สมชาย ใจดี", "1-10xx-xxxxx-x5-6", "ยื่นแบบภาษีมูลค่าเพิ่ม", "ขอคืนภาษี", "บริการทดสอบ Test service",
                  "30 บาท", "ESD-2567-000123", m.MODEL_VERSION, "ฉบับชั่วคราว", "ต้องให้ สมชาย ใจดี ลงนาม",
                  f"{day_of(gateway.clock.now()).year + 543}", "ใช้ได้หลายครั้งภายในระยะเวลา", "ห้ามมอบอำนาจช่วง",
                  f'href="/delegations/{mandate_id}/print"'):
        assert words in text, words
    # The delegate sees it (to decline) but cannot sign it
    assert somying.browser.get(f"/delegations/{mandate_id}").status_code == 200
    assert f'action="/delegations/{mandate_id}/sign"' not in somying.browser.get(f"/delegations/{mandate_id}").text

    signed = post_form(somchai, mandate_id, "sign")
    assert signed.status_code == 303 and signed.headers["location"] == f"/delegations/{mandate_id}?done=signed"
    assert status_of(gateway, mandate_id) == m.AWAITING_ACCEPTANCE
    page = somchai.browser.get(signed.headers["location"]).text
    assert "ลงนามแล้ว" in page and "สมชาย ใจดี (ผู้มอบอำนาจ) ลงนามเมื่อ" in page and "IAL 2.3 / AAL 2.2" in page

    held = somying.browser.get("/delegations").text
    accept_action = f"/delegations/{mandate_id}/accept"
    accepted = somying.browser.http.post(accept_action, data=form_fields(held, accept_action))  # from the list
    assert accepted.status_code == 303 and status_of(gateway, mandate_id) == m.EFFECTIVE
    assert "มีผลใช้บังคับ" in somying.browser.get(f"/delegations/{mandate_id}").text
    with gateway.db() as db:
        row = db.get(Mandate, mandate_id)
        assert row.jws and row.delegate_account_id == somying.account_id


def test_form_mistakes_come_back_in_words_with_the_values_kept_and_nothing_made(gateway):
    service = delegable_service(gateway, max_depth=0)
    somchai = citizen(gateway, SOMCHAI)
    cases = [
        (dict(delegate="1345951597672"), 400, "เลขประจำตัวประชาชนของผู้รับมอบอำนาจไม่ถูกต้อง"),
        (dict(delegate=SOMCHAI[0]), 400, "ท่านมอบอำนาจให้ตนเองไม่ได้"),
        (dict(delegate=SOMYING[0], acts=()), 400, "โปรดเลือกเรื่องที่มอบอำนาจใน บริการทดสอบ Test service"),
        (dict(delegate=SOMYING[0], until=-2), 400, "วันที่สิ้นสุดต้องอยู่หลังวันที่เริ่ม"),
        (dict(delegate=SOMYING[0], valid_until="31/12/2030"), 400, "วันที่ไม่ถูกต้อง"),
        (dict(delegate=SOMYING[0], stamp_reference="no"), 400, "เลขอ้างอิงอากรแสตมป์"),
        (dict(delegate=SOMYING[0], subdelegation="yes"), 400, "ไม่อนุญาตให้มอบอำนาจช่วงต่อลึกกว่านี้"),
        (dict(delegate=SOMYING[0], principal="company", juristic_id=DEMO_COMPANY_ID), 400, "โปรดเลือกว่ามอบอำนาจ"),
    ]
    for kw, status, words in cases:
        response = create(somchai, service.client_id, **kw)
        assert response.status_code == status, (kw, response.status_code)
        assert words in response.text, (kw, response.text[:3000])
        assert 'class="error-summary"' in response.text and 'aria-invalid="true"' in response.text
        assert f'value="{kw["delegate"]}"' in response.text  # what was typed stays
    assert counts(gateway) == (0, 0)
    # No registry configured: the company option is not offered
    form = somchai.browser.get("/delegations/new").text
    assert 'value="company"' not in form and "ไม่ได้เชื่อมต่อทะเบียนนิติบุคคล" in form


def test_stamp_duty_required_by_a_service(gateway):
    service = delegable_service(gateway, stamp_required=True)
    somchai = citizen(gateway, SOMCHAI)
    form = somchai.browser.get("/delegations/new").text
    assert "บริการนี้กำหนดให้ชำระอากรแสตมป์ก่อน" in form and "10 บาท" in form and "30 บาท" in form
    refused = create(somchai, service.client_id, delegate=SOMYING[0])
    assert refused.status_code == 400 and "ชำระอากรแสตมป์ 10 บาท" in refused.text
    assert "อากรสำหรับรายการที่เลือก: 10 บาท" in refused.text
    created_id(create(somchai, service.client_id, delegate=SOMYING[0], stamp_reference="ESD-0001"))


# -- a company's delegation under its registered signing rule ------------------------------------------

def test_company_two_directors_jointly_then_the_delegate_accepts(registry_gateway):
    gateway = registry_gateway
    service = delegable_service(gateway)
    somchai, somying = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    malee, prasert = citizen(gateway, MALEE), citizen(gateway, PRASERT)
    # Registry answers shown in words; a non-director cannot draft for the company
    bad = create(somchai, service.client_id, delegate=MALEE[0], principal="company", juristic_id="0105564001231")
    assert bad.status_code == 400 and "เลขทะเบียนนิติบุคคลไม่ถูกต้อง" in bad.text
    unknown = create(somchai, service.client_id, delegate=MALEE[0], principal="company", juristic_id="0105564001248")
    assert unknown.status_code == 400 and "ไม่พบนิติบุคคลนี้" in unknown.text
    outsider = create(prasert, service.client_id, delegate=MALEE[0], principal="company", juristic_id=DEMO_COMPANY_ID)
    assert outsider.status_code == 403 and "ท่านไม่ได้เป็นกรรมการผู้มีอำนาจของบริษัทนี้" in outsider.text
    assert counts(gateway) == (0, 0)

    mandate_id = created_id(create(somchai, service.client_id, delegate=MALEE[0], principal="company",
                                   juristic_id=DEMO_COMPANY_ID))
    page = somchai.browser.get(f"/delegations/{mandate_id}").text
    assert "บริษัท ตัวอย่างการค้า จำกัด" in page and "ลงลายมือชื่อร่วมกัน" in page
    assert post_form(somchai, mandate_id, "sign").status_code == 303
    assert status_of(gateway, mandate_id) == m.AWAITING_SIGNATURES
    page = somchai.browser.get(f"/delegations/{mandate_id}").text
    assert "รอลงนามให้ครบ" in page and "ต้องมีกรรมการลงนามเพิ่มอีก 1 คน" in page
    assert f'action="/delegations/{mandate_id}/sign"' not in page  # signed already

    # The delegate is no director: refused in words; someone unrelated does not see it at all
    sha = {"document_sha256": status_sha(gateway, mandate_id)}
    refused = malee.browser.http.post(f"/delegations/{mandate_id}/sign", data={**token(malee, mandate_id), **sha})
    assert refused.status_code == 403 and "ท่านไม่ได้เป็นกรรมการผู้มีอำนาจ" in refused.text
    assert prasert.browser.get(f"/delegations/{mandate_id}").status_code == 404
    unrelated = prasert.browser.http.post(f"/delegations/{mandate_id}/sign", data={**token(prasert, mandate_id), **sha})
    assert unrelated.status_code == 404
    assert counts(gateway) == (1, 1)

    # The second director finds it among the company's delegations and signs
    assert f"/delegations/{mandate_id}" in somying.browser.get("/delegations").text
    assert post_form(somying, mandate_id, "sign").status_code == 303
    assert status_of(gateway, mandate_id) == m.AWAITING_ACCEPTANCE
    assert post_form(malee, mandate_id, "accept").status_code == 303
    assert status_of(gateway, mandate_id) == m.EFFECTIVE
    page = malee.browser.get(f"/delegations/{mandate_id}").text
    assert page.count("(กรรมการ) ลงนามเมื่อ") == 2


def status_sha(gateway, mandate_id: str) -> str:
    with gateway.db() as db:
        return db.get(Mandate, mandate_id).document_sha256


# -- the signing gate -------------------------------------------------------------------------------------

def test_a_stale_sign_in_is_sent_to_sign_in_again_and_nothing_is_signed(gateway):
    service = delegable_service(gateway)
    somchai = citizen(gateway, SOMCHAI)
    mandate_id = created_id(create(somchai, service.client_id, delegate=SOMYING[0]))
    page = somchai.browser.get(f"/delegations/{mandate_id}")
    gateway.clock.advance(m.FRESH_SECONDS + 1)
    action = f"/delegations/{mandate_id}/sign"
    response = somchai.browser.http.post(action, data=form_fields(page.text, action))
    assert response.status_code == 303
    assert response.headers["location"] == f"/signin?next=/delegations/{mandate_id}&aal=2.1"
    signin = somchai.browser.get(response.headers["location"])
    assert signin.status_code == 200 and 'name="password"' in signin.text  # the sign-in page, not a step-up
    assert status_of(gateway, mandate_id) == m.DRAFT and counts(gateway) == (1, 0)


def test_an_aal_too_low_is_sent_to_raise_the_sign_in(gateway):
    service = delegable_service(gateway)
    somchai = citizen(gateway, SOMCHAI, aal="1")
    mandate_id = created_id(create(somchai, service.client_id, delegate=SOMYING[0]))
    response = post_form(somchai, mandate_id, "sign")
    assert response.status_code == 303
    assert response.headers["location"] == f"/signin?next=/delegations/{mandate_id}&aal=2.1"
    assert somchai.browser.get(response.headers["location"]).headers["location"].startswith("/signin/stepup")
    assert status_of(gateway, mandate_id) == m.DRAFT and counts(gateway) == (1, 0)


def test_an_identity_level_too_low_gets_the_level_page_with_the_sign_ins_that_reach_it(registry_gateway):
    gateway = registry_gateway
    service = delegable_service(gateway)
    somchai = citizen(gateway, SOMCHAI, ial="1.2")
    mandate_id = created_id(create(somchai, service.client_id, delegate=SOMYING[0]))
    response = post_form(somchai, mandate_id, "sign")
    assert response.status_code == 403
    assert "ต้องยืนยันตัวตนในระดับที่สูงขึ้นเพื่อลงนาม" in response.text and "IAL 2.1" in response.text
    assert "IAL 1.2" in response.text
    assert f'href="/signin/upstream/thaid?next=/delegations/{mandate_id}&amp;aal=2.1"' in response.text
    assert "เข้าสู่ระบบด้วย ไทยดี" in response.text
    assert status_of(gateway, mandate_id) == m.DRAFT and counts(gateway) == (1, 0)


# -- CSRF, sign-in, who sees what ----------------------------------------------------------------------------

def test_forms_without_their_csrf_token_are_refused_and_change_nothing(gateway):
    service = delegable_service(gateway)
    somchai, somying = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    draft = created_id(create(somchai, service.client_id, delegate=SOMYING[0]))
    signed = person_mandate(gateway, somchai, somying, client_id=service.client_id, accept=False)
    before = counts(gateway)
    fields = {"principal": "person", "delegate_citizen_id": SOMYING[0], f"service.{service.client_id}": "yes",
              f"act.{service.client_id}.vat_filing": "yes", "valid_from": days(gateway),
              "valid_until": days(gateway, 9)}
    assert somchai.browser.http.post("/delegations/new", data=fields).status_code == 403
    sha = {"document_sha256": status_sha(gateway, draft)}
    assert somchai.browser.http.post(f"/delegations/{draft}/sign", data=sha).status_code == 403
    # another mandate's token does not do either
    foreign = form_fields(somying.browser.get(f"/delegations/{signed}").text, f"/delegations/{signed}/accept")
    assert somchai.browser.http.post(f"/delegations/{draft}/sign", data={**foreign, **sha}).status_code == 403
    assert somying.browser.http.post(f"/delegations/{signed}/accept", data={}).status_code == 403
    assert somying.browser.http.post(f"/delegations/{signed}/decline", data={}).status_code == 403
    assert somchai.browser.http.post(f"/delegations/{signed}/revoke", data={}).status_code == 403
    assert counts(gateway) == before
    assert status_of(gateway, draft) == m.DRAFT and status_of(gateway, signed) == m.AWAITING_ACCEPTANCE


def test_pages_need_a_sign_in_and_a_mandate_shows_only_to_those_it_concerns(gateway):
    service = delegable_service(gateway)
    somchai, somying, malee = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING), citizen(gateway, MALEE)
    mandate_id = person_mandate(gateway, somchai, somying, client_id=service.client_id)
    stranger = Browser(gateway)
    for path in ("/delegations", "/delegations/new", f"/delegations/{mandate_id}"):
        response = stranger.get(path)
        assert response.status_code == 303 and response.headers["location"] == f"/signin?next={path}&aal=1", path
    assert malee.browser.get(f"/delegations/{mandate_id}").status_code == 404
    assert malee.browser.get(f"/delegations/{mandate_id}/revoke").status_code == 404
    assert malee.browser.get("/delegations/00000000-0000-4000-8000-000000000000").status_code == 404
    assert f"/delegations/{mandate_id}" not in malee.browser.get("/delegations").text


# -- revoke, decline, sub-delegate ------------------------------------------------------------------------------

def test_revoke_after_confirmation_ends_the_sub_delegations_too(gateway):
    service = delegable_service(gateway, max_depth=2)
    somchai, somying, malee = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING), citizen(gateway, MALEE)
    parent = person_mandate(gateway, somchai, somying, client_id=service.client_id, acts=("vat_filing", "tax_refund"),
                            subdelegation_allowed=True)
    detail = somying.browser.get(f"/delegations/{parent}").text
    assert f'href="/delegations/new?parent={parent}"' in detail
    form = somying.browser.get(f"/delegations/new?parent={parent}").text
    assert "ผู้มอบอำนาจยังคงเป็น สมชาย ใจดี" in form and 'value="company"' not in form
    wider = create(somying, service.client_id, delegate=MALEE[0], query=f"?parent={parent}", until=400)
    assert wider.status_code == 400 and "ต้องอยู่ภายในระยะเวลาของการมอบอำนาจ" in wider.text
    child = created_id(create(somying, service.client_id, delegate=MALEE[0], query=f"?parent={parent}"))
    assert post_form(somying, child, "sign").status_code == 303
    assert post_form(malee, child, "accept").status_code == 303
    assert "เป็นการมอบอำนาจช่วงของ" in malee.browser.get(f"/delegations/{child}").text

    confirm = somchai.browser.get(f"/delegations/{parent}/revoke")
    assert confirm.status_code == 200 and "ยืนยันการเพิกถอนการมอบอำนาจ" in confirm.text
    assert "(1 รายการที่ยังมีผล)" in confirm.text and "โทเค็น" in confirm.text
    assert status_of(gateway, parent) == m.EFFECTIVE  # the confirmation page changes nothing
    action = f"/delegations/{parent}/revoke"
    done = somchai.browser.http.post(action, data=form_fields(confirm.text, action))
    assert done.status_code == 303 and done.headers["location"] == f"/delegations/{parent}?done=revoked"
    assert status_of(gateway, parent) == m.REVOKED and status_of(gateway, child) == m.REVOKED
    again = somchai.browser.get(f"/delegations/{parent}/revoke")
    assert again.status_code == 409 and "สิ้นสุดแล้ว" in again.text


def test_the_delegate_declines_from_the_list(gateway):
    service = delegable_service(gateway)
    somchai, somying = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    mandate_id = person_mandate(gateway, somchai, somying, client_id=service.client_id, accept=False)
    action = f"/delegations/{mandate_id}/decline"
    # the principal cannot "decline" their own (they revoke it)
    refused = somchai.browser.http.post(action, data=token(somchai, mandate_id))
    assert refused.status_code == 403 and "เฉพาะผู้รับมอบอำนาจเท่านั้น" in refused.text
    assert status_of(gateway, mandate_id) == m.AWAITING_ACCEPTANCE
    held = somying.browser.get("/delegations").text
    declined = somying.browser.http.post(action, data=form_fields(held, action))
    assert declined.status_code == 303
    assert "ท่านปฏิเสธการมอบอำนาจนี้แล้ว" in somying.browser.get(declined.headers["location"]).text
    with gateway.db() as db:
        row = db.get(Mandate, mandate_id)
        assert row.status == m.REVOKED and row.revoke_reason == "declined"


# -- languages -------------------------------------------------------------------------------------------------

def test_pages_in_english_and_thai(gateway):
    service = delegable_service(gateway)
    somchai, somying = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    mandate_id = person_mandate(gateway, somchai, somying, client_id=service.client_id)
    year = day_of(gateway.clock.now()).year
    english = somchai.browser.get("/delegations?ui_locales=en").text
    assert '<html lang="en">' in english and "Delegations I gave" in english and "File a VAT return" in english
    assert "In effect" in english and f"{year} " in english and "(UTC+7)" in english
    detail = somying.browser.get(f"/delegations/{mandate_id}?lang=en").text
    assert "Delegation details" in detail and "Give up this delegation" in detail and "provisional" in detail
    account = somchai.browser.get("/account")
    assert account.status_code == 200 and '<a href="/delegations">' in account.text  # reached from the account page
    thai = somchai.browser.get("/delegations?lang=th").text
    assert '<html lang="th">' in thai and "การมอบอำนาจที่ฉันให้" in thai and f"{year + 543}" in thai
    # A POST answers in the language chosen (cookie)
    somchai.browser.http.cookies.set("idgw_lang", "en", domain="127.0.0.1", path="/")
    refused = create(somchai, service.client_id, delegate=SOMCHAI[0])
    assert refused.status_code == 400 and "You cannot delegate to yourself." in refused.text


def test_every_mandate_error_code_has_words():
    """Each code raised in the delegation core has Thai and English words on the pages."""
    raised: set[str] = set()
    for name in ("catalogue", "mandates", "use", "model"):
        source = (ROOT / "idgw" / "delegation" / f"{name}.py").read_text(encoding="utf-8")
        raised |= set(re.findall(r'MandateError\(\s*"([a-z_]+)"', source))
    raised |= {f"mandate_{why}" for why in ("not_yet_valid", "not_signed", "not_accepted", "revoked", "expired",
                                            "used")}  # use.check_use: f"mandate_{model.usable(...)}"
    assert raised and raised <= CODES, sorted(raised - CODES)


def test_every_error_text_fills_in_both_languages():
    params = dict(client_id="svc", act="vat_filing", status_="effective", code_="vat_filing", ial="2.2", aal="2.1",
                  amount=30, limit=3, detail="x")
    acts = {"svc": {"vat_filing": {"th": "ยื่นแบบภาษีมูลค่าเพิ่ม", "en": "File a VAT return"}}}
    for code in CODES:
        for locale in ("th", "en"):
            text = mandate_error_text(MandateError(code, **params), locale, service_names={"svc": "e-Tax"},
                                      act_names=acts)
            assert text and "{" not in text and code not in text, (code, locale, text)
    words = mandate_error_text(MandateError("act_not_in_catalogue", **params), "en", service_names={"svc": "e-Tax"},
                               act_names=acts)
    assert words == "“File a VAT return” is not an act e-Tax lets you delegate."


def test_the_signing_gate_and_the_days_of_a_window():
    need = (IAL("2.1"), AAL("2.1"))
    now = 1_800_000_000
    gate = dict(need=need, now=now, come_back="/delegations/x")
    assert signing_gate(session_ial=IAL("2.3"), session_aal=AAL("2.2"), auth_time=now - 300, **gate) is None
    low = signing_gate(session_ial=IAL("1.2"), session_aal=AAL("2.2"), auth_time=now - 999, **gate)
    assert low.kind == IDENTITY and low.redirect is None  # signing in again here would not raise it
    for aal, age in (("1", 0), ("2.2", 301)):
        stale = signing_gate(session_ial=IAL("2.3"), session_aal=AAL(aal), auth_time=now - age, **gate)
        assert stale.kind == SIGN_IN and stale.redirect == "/signin?next=/delegations/x&aal=2.1"
    # 30 June 2025 in Thailand runs from 00:00 to 23:59:59 UTC+7
    start, end = day_start(date(2025, 6, 30)), day_end(date(2025, 6, 30))
    assert (start, end - start) == (1751216400, 86399) and day_of(end) == date(2025, 6, 30)
    assert fit_to_parent(valid_from=start, valid_until=end, parent_from=start + 600, parent_until=end - 600) == (
        start + 600, end - 600)
    assert fit_to_parent(valid_from=start, valid_until=end + 86400, parent_from=start + 600,
                         parent_until=end - 600) == (start + 600, end + 86400)  # wider is refused, not narrowed
