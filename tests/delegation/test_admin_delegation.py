"""A service's delegation settings page, on SQLite and PostgreSQL: an admin (AAL 2.2) sets the rule
and adds and retires acts through the real forms, each change audited; refusals are worded and keep
what was typed; non-admins, anonymous visitors and forms without their CSRF token are refused."""

from __future__ import annotations

import contextlib
import re

import httpx
from sqlalchemy import select

from idgw.delegation import catalogue
from idgw.storage.models import AuditEvent
from tests.delegation.world import delegable_service
from tests.flow import PASSWORD
from tests.stepup import enable_second_factor
from tests.test_admin_pages import form_post, make_admin, signed_in_admin


@contextlib.contextmanager
def _admin(gateway, username="admin.malai"):
    """An admin's browser, signed in at AAL 2.2 (password and a passkey stand-in)."""
    make_admin(gateway, username=username)
    enable_second_factor(gateway, username, factor="hwk_uv")
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        signed_in_admin(gateway, http, username)
        yield http


def _token(page: httpx.Response) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def _rules(gateway, client_id):
    with gateway.db() as db:
        return catalogue.rules_for(db, client_id)


def _codes(gateway, client_id):
    with gateway.db() as db:
        return [a.code for a in catalogue.acts_of(db, client_id)]


def test_admin_sets_the_rule_and_adds_and_retires_acts(gateway):
    service = delegable_service(gateway)
    base = f"{gateway.url}/admin/services/{service.client_id}/delegation"
    with _admin(gateway) as http:
        policy_page = http.get(f"{gateway.url}/admin/services/{service.client_id}")
        assert f'href="/admin/services/{service.client_id}/delegation"' in policy_page.text
        page = http.get(base)
        assert page.status_code == 200 and 'id="policy-allows" class="ok"' in page.text
        assert "vat_filing" in page.text and "ขอคืนภาษี" in page.text
        token = _token(page)
        # the rule
        page = http.post(base + "/rules", data={"csrf_token": token, "sign_ial": "2.3", "sign_aal": "2.2",
                                                "any_act": "1", "max_depth": "2"})
        assert page.status_code == 200 and page.url.path.endswith("/delegation") and "บันทึกเงื่อนไขแล้ว" in page.text
        rules = _rules(gateway, service.client_id)
        assert (rules.sign_ial.value, rules.sign_aal.value, rules.any_act_allowed, rules.stamp_duty_required,
                rules.max_depth) == ("2.3", "2.2", True, False, 2)
        assert "<option selected>2.3</option>" in page.text and "<option selected>2</option>" in page.text
        # an act added, another retired
        page = http.post(base + "/acts", data={"csrf_token": token, "code": "vat_amend",
                                               "name_th": "ยื่นแบบเพิ่มเติม", "name_en": "File an amended return"})
        assert page.status_code == 200 and "เพิ่มเรื่องแล้ว" in page.text and "ยื่นแบบเพิ่มเติม" in page.text
        page = http.post(base + "/acts/retire", data={"csrf_token": token, "code": "tax_refund"})
        assert page.status_code == 200 and "เลิกใช้เรื่องนี้แล้ว" in page.text and "ขอคืนภาษี" not in page.text
        assert _codes(gateway, service.client_id) == ["vat_amend", "vat_filing"]
        with gateway.db() as db:
            assert catalogue.act_names(db, service.client_id)["tax_refund"]["en"] == "Claim a tax refund"
            events = list(db.scalars(select(AuditEvent).where(AuditEvent.name == "delegation.rules_changed",
                                                              AuditEvent.actor == "admin.malai")))
        assert len(events) == 3
        assert events[0].detail["after"]["sign_ial"] == "2.3" and events[0].detail["before"]["sign_ial"] == "2.1"
        assert {e.detail.get("act_added") for e in events} >= {"vat_amend"}
        assert {e.detail.get("act_retired") for e in events} >= {"tax_refund"}
        # the retire button says which act, for a screen reader
        assert '<span class="visually-hidden"> vat_amend</span>' in page.text


def test_refusals_are_worded_and_keep_what_was_typed(gateway):
    service = delegable_service(gateway)
    base = f"{gateway.url}/admin/services/{service.client_id}/delegation"
    with _admin(gateway) as http:
        token = _token(http.get(base))
        page = http.post(base + "/rules", data={"csrf_token": token, "sign_ial": "1.1", "sign_aal": "2.2",
                                                "stamp_required": "1", "max_depth": "0"})
        assert page.status_code == 400 and "ระดับการลงนามต้องไม่ต่ำกว่า IAL 2.1 / AAL 2.1" in page.text
        assert 'id="rules-error"' in page.text and 'name="stamp_required" value="1" checked' in page.text
        assert "<option selected>0</option>" in page.text and "<option selected>2.2</option>" in page.text
        page = http.post(base + "/rules", data={"csrf_token": token, "sign_ial": "2.1", "sign_aal": "2.5",
                                                "max_depth": "1"})
        assert page.status_code == 400 and "ระดับที่ระบุไม่ถูกต้อง" in page.text
        page = http.post(base + "/acts", data={"csrf_token": token, "code": "VAT Filing", "name_th": "ภาษี",
                                               "name_en": "Tax"})
        assert page.status_code == 400 and "รหัสเรื่องต้องขึ้นต้นด้วยตัวอักษรภาษาอังกฤษตัวเล็ก" in page.text
        assert 'value="VAT Filing"' in page.text and 'value="ภาษี"' in page.text and 'id="add-error"' in page.text
        page = http.post(base + "/acts", data={"csrf_token": token, "code": "vat_filing", "name_th": "ซ้ำ",
                                               "name_en": "Again"})
        assert page.status_code == 409 and "มีเรื่อง vat_filing ในรายการแล้ว" in page.text
        page = http.post(base + "/acts", data={"csrf_token": token, "code": "new_act", "name_th": "ใหม่"})
        assert page.status_code == 400 and "โปรดตั้งชื่อเรื่องทั้งภาษาไทยและภาษาอังกฤษ" in page.text
        page = http.post(base + "/rules?lang=en", data={"csrf_token": token, "sign_ial": "2.1", "sign_aal": "2.1",
                                                         "max_depth": "7"})
        assert page.status_code == 400 and "The sub-delegation depth must be between 0 and 3." in page.text
        page = http.post(base + "/acts/retire?lang=en", data={"csrf_token": token, "code": "no_such"})
        assert page.status_code == 404 and "There is no act no_such in the catalogue." in page.text
        assert _codes(gateway, service.client_id) == ["tax_refund", "vat_filing"]
        assert _rules(gateway, service.client_id) == catalogue.Rules()  # as delegable_service set it
        assert http.get(f"{gateway.url}/admin/services/nosuchclient/delegation").status_code == 404


def test_non_admins_anonymous_and_forms_without_their_token_are_refused(gateway):
    service = delegable_service(gateway)
    path = f"/admin/services/{service.client_id}/delegation"
    with httpx.Client(base_url=gateway.url, follow_redirects=False, timeout=20) as http:
        answer = http.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == f"/signin?next={path}"
        assert http.post(path + "/rules", data={"sign_ial": "3"}).status_code == 303
    clerk = make_admin(gateway, username="clerk.dao", roles=())
    enable_second_factor(gateway, clerk, factor="hwk_uv")
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        page = http.get(gateway.url + path)
        page = form_post(http, page, username=clerk, password=PASSWORD)
        assert page.status_code == 403 and page.url.path == path  # no role: refused whatever the factors
        answer = http.post(gateway.url + path + "/acts", data={"code": "x_act", "name_th": "ก", "name_en": "A"})
        assert answer.status_code == 403
    with _admin(gateway) as http:
        policy_token = _token(http.get(f"{gateway.url}/admin/services/{service.client_id}"))
        for data in ({}, {"csrf_token": "0" * 64}, {"csrf_token": policy_token}):  # none, forged, another form's
            assert http.post(gateway.url + path + "/rules", data={**data, "sign_ial": "3", "sign_aal": "3",
                                                                  "max_depth": "0"}).status_code == 403
            assert http.post(gateway.url + path + "/acts", data={**data, "code": "x_act", "name_th": "ก",
                                                                 "name_en": "A"}).status_code == 403
            assert http.post(gateway.url + path + "/acts/retire", data={**data, "code": "vat_filing"}
                             ).status_code == 403
    assert _rules(gateway, service.client_id) == catalogue.Rules()
    assert _codes(gateway, service.client_id) == ["tax_refund", "vat_filing"]


def test_admin_stops_and_allows_delegation_as_a_policy_version(gateway):
    from idgw.assurance import current_policy
    from tests.delegation.world import SOMCHAI, SOMYING, citizen, person_mandate, sign_in_acting

    service = delegable_service(gateway)
    a, b = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    person_mandate(gateway, a, b, client_id=service.client_id)
    base = f"{gateway.url}/admin/services/{service.client_id}/delegation"
    with _admin(gateway) as http:
        page = http.post(base + "/allowed", data={"csrf_token": _token(http.get(base)), "allowed": "0"})
        assert page.status_code == 200 and 'id="policy-allows" class="error"' in page.text
        with gateway.db() as db:
            assert current_policy(db, service.client_id).delegation_allowed is False
            assert db.query(AuditEvent).filter(AuditEvent.name == "policy.changed",
                                               AuditEvent.actor == "admin.malai").count() == 1
        sign_in_acting(gateway, service, b, choice=None)  # stopped: nobody is offered to act for another
        refused = http.post(base + "/allowed", data={"allowed": "1"})  # no CSRF token
        assert refused.status_code == 403
        page = http.post(base + "/allowed", data={"csrf_token": _token(http.get(base)), "allowed": "1"})
        assert 'id="policy-allows" class="ok"' in page.text
    sign_in_acting(gateway, service, b, choice="self")  # allowed again: the choice is back
