"""The policy admin page in the page's language (issue 12): the computed floors' reasons and the
refused changes worded from their codes in Thai and English, the 20-character justification
rule said before it is broken, Buddhist-era dates in Thai, and a warning when no sign-in method
configured here can reach the floors (``idgw.assurance.reachable``)."""

from __future__ import annotations

import re
import time

import httpx
import pytest
import yaml
from sqlalchemy import select

from idgw.assurance import reachable
from idgw.settings import Settings
from idgw.storage.models import Account, AuditEvent
from providers import load_providers
from tests.a11y import a11y_context, check_a11y
from tests.conftest import start_gateway
from tests.flow import PASSWORD, register, set_policy
from tests.stepup import FIXTURE_CODE, enable_second_factor
from tests.test_admin_pages import form_post, make_admin, questionnaire, signed_in_admin

THAID = {"name": "thaid", "type": "oidc", "display_name": {"th": "ไทยดี", "en": "ThaiD"},
         "issuer": "http://127.0.0.1:9", "client_id": "idgw", "client_secret": "not-used-here",
         "trusted_aal": "2.2", "max_ial": "2.3"}
NDID = {"name": "ndid", "type": "ndid", "display_name": {"th": "NDID", "en": "NDID"},
        "api_base": "http://127.0.0.1:9", "max_ial": "2.3", "max_aal": "3"}
FINANCE_TH = "ความสูญเสียทางการเงินหรือความรับผิดของหน่วยงาน"


def warning(page) -> str | None:
    found = re.search(r'id="unreachable-warning">([^<]*)<', page.text)
    return found.group(1) if found else None


# -- reachable(): what the methods configured here can reach ---------------------------------------
def test_reachable_levels(tmp_path):
    plain = Settings.from_env({}, dev=True)
    aal3 = Settings.from_env({}, dev=True, aal3_aaguids="2fc0579f-8113-47ea-b116-bb5a8db9202a")
    upstreams = load_providers(config=[THAID, NDID])
    assert [str(x) for x in reachable(plain, [])] == ["1.1", "2.2"]  # local factors: self-asserted, passkey
    assert [str(x) for x in reachable(aal3, [])] == ["1.1", "3"]  # allow-listed attested authenticators
    assert [str(x) for x in reachable(plain, [upstreams["thaid"]])] == ["2.3", "2.2"]
    assert [str(x) for x in reachable(plain, list(upstreams.values()))] == ["2.3", "3"]
    low = load_providers(config=[{**THAID, "max_ial": "1.2", "trusted_aal": "1"}])["thaid"]
    assert [str(x) for x in reachable(plain, [low])] == ["1.2", "2.2"]  # never lowers what is local
    # a connector that cannot say what it offers adds nothing
    assert [str(x) for x in reachable(plain, [object(), low])] == ["1.2", "2.2"]


# -- the words ---------------------------------------------------------------------------------------
def test_reasons_errors_and_dates_in_the_pages_language(gateway):
    reg = register(gateway, policy=False)
    admin = make_admin(gateway)
    enable_second_factor(gateway, admin, factor="hwk_uv")
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        signed_in_admin(gateway, http, admin)
        page = http.get(gateway.url + f"/admin/services/{reg.client_id}")
        # the justification rule is on the page before anyone breaks it
        assert re.search(r'<p class="hint" id="justification-help">ต้องเขียนเมื่อกำหนด IAL หรือ AAL ต่ำกว่าระดับที่'
                         r'คำนวณได้: อย่างน้อย 20 ตัวอักษร', page.text)
        assert re.search(r'<textarea id="justification" name="justification" rows="3" minlength="20" '
                         r'maxlength="2000"\s+aria-describedby="justification-help">', page.text)
        # computed reasons, in Thai
        page = form_post(http, page, action="compute", **questionnaire(financial="moderate"))
        reasons = re.search(r'<ul id="computed-reasons">(.*?)</ul>', page.text, re.S).group(1)
        assert f"IAL 2 เพราะผลกระทบด้าน “{FINANCE_TH}” อยู่ในระดับปานกลาง" in reasons
        assert f"AAL 2 เพราะผลกระทบด้าน “{FINANCE_TH}” อยู่ในระดับปานกลาง" in reasons
        assert "impact is" not in page.text
        # a refused lowering, in Thai, keeps the computed floors and the answers on the page
        page = form_post(http, page, action="save", min_aal="1", justification="สั้นไป",
                         **questionnaire(financial="moderate"))
        assert page.status_code == 400
        message = re.search(r'id="policy-message">([^<]*)<', page.text).group(1)
        assert message == ("AAL 1 (คำนวณได้ 2.1) ต่ำกว่าระดับที่คำนวณได้ การกำหนดต่ำกว่าผลประเมินต้องเขียนเหตุผลอย่างน้อย "
                           "20 ตัวอักษร")
        assert re.search(r'id="computed-aal">2.1<', page.text) and "สั้นไป" in page.text
        # in English
        en = http.post(gateway.url + f"/admin/services/{reg.client_id}?lang=en",
                       data={**dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)),
                             "action": "save", "min_aal": "1", "min_ial": "1.1",
                             **questionnaire(financial="moderate")})
        message = re.search(r'id="policy-message">([^<]*)<', en.text).group(1)
        assert message == ("IAL 1.1 (computed 2.1), AAL 1 (computed 2.1): below the computed floors. Going below "
                           "them needs a written justification of at least 20 characters.")
        assert "IAL 2 because the impact on “Financial loss or agency liability” is moderate" in en.text
        # a hand-made value no field offers: refused in the page's language, with the reason
        http.get(gateway.url + "/admin/services?lang=th")
        bad = http.post(gateway.url + f"/admin/services/{reg.client_id}",
                        data={**dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)),
                              "action": "save", "min_ial": "IAL2", **questionnaire()})
        assert bad.status_code == 400 and "ค่าที่ส่งมาไม่ถูกต้อง จึงไม่ได้บันทึก (IAL must be one of" in bad.text
        bad = http.post(gateway.url + f"/admin/services/{reg.client_id}",
                        data={**dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)),
                              "action": "compute", **questionnaire(financial="huge")})
        assert bad.status_code == 400 and "ค่าที่ส่งมาไม่ถูกต้อง" in bad.text and "computed-ial" not in bad.text
        with gateway.db() as db:
            assert not db.scalars(select(AuditEvent).where(AuditEvent.name == "policy.changed")).all()
        # saved with a justification: waits for a second admin (four eyes), who approves it; the
        # stored policy's reasons are worded again on every visit
        page = form_post(http, page, action="save", min_aal="1",
                         justification="เจ้าหน้าที่ภายในเท่านั้น มีมาตรการชดเชยตามบันทึกที่ 12/2569",
                         **questionnaire(financial="moderate"))
        assert page.status_code == 200 and 'id="pending-change"' in page.text and "current-aal" not in page.text
        approve_pending(gateway, reg.client_id)
        page = http.get(gateway.url + f"/admin/services/{reg.client_id}")
        assert f"AAL 2 เพราะผลกระทบด้าน “{FINANCE_TH}” อยู่ในระดับปานกลาง" in page.text
        # history dates: Buddhist era in Thai, Christian era in English
        year = time.gmtime(gateway.clock.now() + 7 * 3600).tm_year
        history = page.text[page.text.index("ประวัติการเปลี่ยนแปลง"):]
        assert re.search(rf"<td>\d+ [^<]+ {year + 543} \d\d:\d\d น\.</td>", history)
        en = http.get(gateway.url + f"/admin/services/{reg.client_id}?lang=en")
        assert re.search(rf"<td>\d\d \w+ {year} \d\d:\d\d \(UTC\+7\)</td>", en.text)
        assert "IAL 2 because the impact on “Financial loss or agency liability” is moderate" in en.text


def approve_pending(gateway, client_id: str) -> None:
    """A second admin approves the lowering waiting for ``client_id`` (idgw.console.four_eyes)."""
    from idgw.console import four_eyes, policy_change

    second = make_admin(gateway, username="admin.second")
    with gateway.db() as db:
        request = four_eyes.pending_for(db, kind=policy_change.KIND, target=client_id, now=gateway.clock.now())
        approver = db.scalar(select(Account).where(Account.username == second))
        four_eyes.approve(db, request_id=request.id, approver=approver, now=gateway.clock.now())
        db.commit()


def test_no_identity_needed_and_all_low_reasons(gateway):
    reg = register(gateway, policy=False)
    admin = make_admin(gateway)
    enable_second_factor(gateway, admin, factor="hwk_uv")
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        signed_in_admin(gateway, http, admin)
        page = http.get(gateway.url + f"/admin/services/{reg.client_id}")
        answers = questionnaire(reputation="low")
        answers.pop("needs_verified_identity")
        page = form_post(http, page, action="compute", **answers)
        reasons = re.search(r'<ul id="computed-reasons">(.*?)</ul>', page.text, re.S).group(1)
        assert "IAL 1.1: บริการนี้ไม่ต้องทราบตัวตนที่พิสูจน์แล้ว" in reasons
        assert "AAL 1: ผลกระทบทุกด้านอยู่ในระดับที่ระดับ 1 รับได้" in reasons


# -- floors nothing here can reach -----------------------------------------------------------------
def test_warning_when_no_method_here_reaches_the_floors(gateway):
    low = register(gateway)  # IAL 1.1 / AAL 1
    verified = register(gateway, policy={"proofing_impacts": {**questionnaire_impacts(), "financial": "moderate"}})
    strong = register(gateway, policy={"min_aal": "3"})
    admin = make_admin(gateway)
    enable_second_factor(gateway, admin, factor="hwk_uv")
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        signed_in_admin(gateway, http, admin)
        assert warning(http.get(gateway.url + f"/admin/services/{low.client_id}")) is None
        page = http.get(gateway.url + f"/admin/services/{verified.client_id}")
        assert warning(page) == (
            "คำเตือน: ยังไม่มีวิธีเข้าสู่ระบบที่ตั้งค่าไว้ในระบบนี้ที่ให้ได้ถึง IAL 2.1 (ที่ทำได้สูงสุดตอนนี้: IAL 1.1, AAL 2.2) "
            "ประชาชนจะเข้าใช้บริการนี้ไม่ได้ จนกว่าจะตั้งค่าแหล่งยืนยันตัวตนที่ให้ระดับนี้ (เช่น ThaiD หรือ NDID) "
            "และบริการนี้ยอมรับ หรือจนกว่าจะปรับนโยบาย")
        en = http.get(gateway.url + f"/admin/services/{strong.client_id}?lang=en")
        assert warning(en).startswith("Warning: no sign-in method configured here reaches AAL 3 (the highest "
                                      "reachable now: IAL 1.1, AAL 2.2).")
        # the warning follows what the form proposes: computing lower floors clears it, higher ones raise it
        page = form_post(http, en, action="compute", **questionnaire())
        assert warning(page) is None
        page = form_post(http, page, action="compute", min_ial="2.2", min_aal="3", **questionnaire())
        assert "reaches IAL 2.2 and AAL 3" in warning(page)


def questionnaire_impacts() -> dict:
    return {k.removeprefix("p_"): v for k, v in questionnaire().items() if k.startswith("p_")}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_upstreams_and_attested_keys_count_and_a_services_restriction_too(database_url, tmp_path):
    path = tmp_path / "providers.yaml"
    path.write_text(yaml.safe_dump({"providers": [THAID]}, allow_unicode=True), encoding="utf-8")
    gateway = start_gateway(database_url, providers_file=str(path), aal3_aaguids="2fc0579f-8113-47ea-b116-bb5a8db9202a")
    try:
        impacts = {**questionnaire_impacts(), "financial": "moderate"}
        anywhere = register(gateway, policy={"proofing_impacts": impacts, "min_aal": "3"})
        ndid_only = register(gateway, policy={"proofing_impacts": impacts, "allowed_providers": ["ndid"]})
        admin = make_admin(gateway)
        enable_second_factor(gateway, admin, factor="hwk_uv")
        with httpx.Client(follow_redirects=True, timeout=20) as http:
            signed_in_admin(gateway, http, admin)
            # ThaiD offers IAL 2.3 and attested keys AAL 3: nothing to warn about
            assert warning(http.get(gateway.url + f"/admin/services/{anywhere.client_id}")) is None
            # a service that accepts only NDID, which is not configured here: ThaiD does not count
            page = http.get(gateway.url + f"/admin/services/{ndid_only.client_id}")
            assert "IAL 2.1 (ที่ทำได้สูงสุดตอนนี้: IAL 1.1, AAL 3)" in warning(page)
            # saving keeps the service's restriction (the page edits the floors only), and the warning
            page = form_post(http, page, action="save", **questionnaire(financial="moderate"))
            assert page.status_code == 200 and "IAL 2.1" in warning(page)
        set_policy(gateway, ndid_only.client_id, proofing_impacts=impacts, allowed_providers=["thaid"])
        with httpx.Client(follow_redirects=True, timeout=20) as http:
            signed_in_admin(gateway, http, admin)
            assert warning(http.get(gateway.url + f"/admin/services/{ndid_only.client_id}")) is None
    finally:
        gateway.stop()
        gateway.gw.engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_justification_rule_in_chromium(browser, gateway):
    """A person sees the rule under the field, and the browser itself stops a short justification
    (minlength) before the server would; the page passes the accessibility check with the warning."""
    reg = register(gateway, policy={"proofing_impacts": {**questionnaire_impacts(), "financial": "moderate"}})
    admin = make_admin(gateway)
    enable_second_factor(gateway, admin, factor="hwk_uv")
    context = a11y_context(browser, locale="th")
    page = context.new_page()
    page.goto(gateway.url + f"/admin/services/{reg.client_id}")
    page.get_by_label("ชื่อผู้ใช้").fill(admin)
    page.get_by_label("รหัสผ่าน").fill(PASSWORD)
    page.get_by_role("button", name="เข้าสู่ระบบ", exact=True).click()
    page.get_by_label("รหัส 6 หลัก").fill(FIXTURE_CODE)
    page.get_by_role("button", name="ดำเนินการต่อ").click()
    field = page.get_by_label("เหตุผล (จำเป็นหากกำหนดต่ำกว่าผลประเมิน)")
    field.wait_for()
    assert "อย่างน้อย 20 ตัวอักษร" in page.locator("#justification-help").inner_text()
    assert field.get_attribute("aria-describedby") == "justification-help"
    assert "IAL 2.1" in page.get_by_role("alert").inner_text()  # the unreachable floors
    check_a11y(page, context="policy page with a warning, th")
    page.get_by_label("AAL ขั้นต่ำ").select_option("1")
    field.fill("สั้นเกินไป")
    page.get_by_role("button", name="บันทึกนโยบาย").click()
    assert field.evaluate("el => el.validity.tooShort") is True  # the browser kept the form
    with gateway.db() as db:
        assert len(db.scalars(select(AuditEvent).where(AuditEvent.name == "policy.changed")).all()) == 1
    field.fill("ผู้ใช้เป็นเจ้าหน้าที่ภายใน มีมาตรการชดเชยตามบันทึกที่ 12/2569")
    page.get_by_role("button", name="บันทึกนโยบาย").click()
    # below the computed floor: it waits for a second admin (four eyes); the floor stays
    assert page.get_by_role("status").inner_text().startswith("ยังไม่มีผล: การกำหนดต่ำกว่าผลประเมินต้องรอผู้ดูแลระบบคนที่สอง")
    assert page.locator("#current-aal").inner_text() == "2.1"
    assert page.locator("#pending-change").is_visible()
    context.close()
