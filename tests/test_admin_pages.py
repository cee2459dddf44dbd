"""The admin page for a service's policy: admin role at AAL 2.2+, questionnaire, computed
floors with reasons, current policy and history; saving is audited; lowering needs a reason."""

import re

import httpx
import pytest
from sqlalchemy import select

from idgw.admin import add_user
from idgw.storage.models import AuditEvent
from tests.flow import PASSWORD, register
from tests.stepup import FIXTURE_CODE, enable_second_factor

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def make_admin(gateway, username="admin.somsak", roles=("admin",)):
    with gateway.db() as db:
        add_user(db, username=username, password=PASSWORD, now=gateway.clock.now(), roles=list(roles))
        db.commit()
    return username


def form_post(http, page, **fields):
    action = re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1).replace("&amp;", "&")
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    return http.post(httpx.URL(str(page.url)).join(action), data={**hidden, **fields})


def signed_in_admin(gateway, http, username):
    page = http.get(gateway.url + "/admin/services")
    assert page.url.path == "/signin"
    page = form_post(http, page, username=username, password=PASSWORD)
    assert page.url.path.startswith("/signin/factor/"), page.url  # AAL 1 is not enough: step up
    page = form_post(http, page, code=FIXTURE_CODE)
    assert page.url.path == "/admin/services", page.text[:300]
    return page


def questionnaire(**impacts):
    data = {}
    for c in ("reputation", "financial", "programmes", "sensitive_information", "personal_safety", "civil_criminal"):
        data[f"p_{c}"] = impacts.get(c, "none")
        data[f"a_{c}"] = impacts.get(c, "none")
    data["needs_verified_identity"] = "1"
    return data


def test_admin_reaches_the_policy_page_only_after_step_up_and_saves_a_policy(gateway):
    reg = register(gateway, policy=False)
    admin = make_admin(gateway)
    enable_second_factor(gateway, admin, factor="hwk_uv")
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        listing = signed_in_admin(gateway, http, admin)
        assert reg.client_id in listing.text
        page = http.get(gateway.url + f"/admin/services/{reg.client_id}")
        assert page.status_code == 200 and "ยังไม่มีนโยบาย" in page.text
        assert "ความสูญเสียทางการเงินหรือความรับผิดของหน่วยงาน" in page.text  # the Thai questionnaire
        # compute only: shows floors and reasons, stores nothing
        page = form_post(http, page, action="compute", **questionnaire(financial="moderate"))
        assert re.search(r'id="computed-ial">2.1<', page.text)
        assert "IAL 2 เพราะผลกระทบด้าน “ความสูญเสียทางการเงินหรือความรับผิดของหน่วยงาน” อยู่ในระดับปานกลาง" in page.text
        with gateway.db() as db:
            assert not db.scalars(select(AuditEvent).where(AuditEvent.name == "policy.changed")).all()
        # lowering below the computed floor without a justification: refused, nothing saved
        page = form_post(http, page, action="save", min_aal="1", **questionnaire(financial="moderate"))
        assert page.status_code == 400 and "justification" in page.text
        # saving at the computed floors
        page = form_post(http, page, action="save", **questionnaire(financial="moderate"))
        assert page.status_code == 200 and 'id="current-aal">2.1<' in page.text
        assert "admin.somsak" in page.text  # history shows who
        # raise AAL above the computed value; the page keeps it selected afterwards
        page = form_post(http, page, action="save", min_aal="2.2", **questionnaire(financial="moderate"))
        page = http.get(gateway.url + f"/admin/services/{reg.client_id}")
        assert 'id="current-aal">2.2<' in page.text and "<option selected>2.2</option>" in page.text
        en = http.get(gateway.url + f"/admin/services/{reg.client_id}?lang=en")
        assert "Financial loss or agency liability" in en.text and "History" in en.text
    with gateway.db() as db:
        changes = list(db.scalars(select(AuditEvent).where(AuditEvent.name == "policy.changed")))
        assert len(changes) == 2 and changes[0].actor == admin and changes[0].detail["after"]["min_aal"] == "2.1"
        assert changes[1].detail["before"]["min_aal"] == "2.1" and changes[1].detail["after"]["min_aal"] == "2.2"


def test_non_admin_and_csrf_and_weak_sessions(gateway):
    reg = register(gateway)
    clerk = make_admin(gateway, username="clerk", roles=())
    enable_second_factor(gateway, clerk)
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        page = http.get(gateway.url + "/admin/services")
        page = form_post(http, page, username=clerk, password=PASSWORD)
        assert page.status_code == 403
    # an admin with only a one-time-code app (AAL 2.1) cannot reach the AAL 2.2 staff floor
    admin = make_admin(gateway, username="admin.otp-only")
    enable_second_factor(gateway, admin)
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        page = http.get(gateway.url + "/admin/services")
        page = form_post(http, page, username=admin, password=PASSWORD)
        assert page.status_code == 403 and "AAL 2.2" in page.text
    # a stepped-up admin still needs the CSRF token to save
    admin2 = make_admin(gateway, username="admin.two")
    enable_second_factor(gateway, admin2, factor="hwk_uv")
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        signed_in_admin(gateway, http, admin2)
        r = http.post(gateway.url + f"/admin/services/{reg.client_id}", data={"action": "save", **questionnaire()})
        assert r.status_code == 403


def test_signin_refuses_open_redirects(gateway):
    admin = make_admin(gateway)
    enable_second_factor(gateway, admin, factor="hwk_uv")
    with httpx.Client(follow_redirects=False, timeout=20) as http:
        page = http.get(gateway.url + "/signin?next=//evil.example/x")
        assert 'action="/signin?next=/admin/services"' in page.text


def test_an_admin_without_a_phishing_resistant_factor_is_told_to_add_a_passkey(gateway):
    """A password-only admin cannot reach AAL 2.2 with anything they have: not a bare refusal but
    the way forward, a link to the account page where a passkey is added."""
    make_admin(gateway, "admin.nopasskey")
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        page = http.get(gateway.url + "/admin/services")
        page = form_post(http, page, username="admin.nopasskey", password=PASSWORD)
        assert page.status_code == 403 and page.url.path == "/signin/stepup"
        assert 'href="/account"' in page.text and "พาสคีย์" in page.text
        assert "questionnaire" not in page.text.lower()
