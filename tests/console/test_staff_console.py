"""The console's staff pages (/admin/staff): the list of people with roles, granting officer and
auditor at once and admin only through four eyes, removing roles (never the last admin's own),
disabling an account (its sessions and tokens end; no sign-in method works) and enabling it
again, unlocking; every refusal (non-admin, not signed in, self-grant, stale session, CSRF) and the
audit rows with actor and before/after roles."""

from __future__ import annotations

import re
from contextlib import closing

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError
from sqlalchemy import select

from idgw.console import four_eyes, staff
from idgw.storage.console import ChangeRequest
from idgw.storage.models import Account, AuditEvent, LoginSession
from tests.console.world import PASSWORD, account_id, form_post, make_staff, staff_client
from tests.flow import Browser, authorize_url, exchange, login_flow, register
from tests.test_admin_accounts import lock

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

DISABLED_TH = "บัญชีนี้ถูกปิดใช้งานโดยผู้ดูแลระบบ"
DISABLED_EN = "This account has been disabled by an administrator"


def roles(gateway, username: str) -> list[str]:
    with gateway.db() as db:
        return list(db.scalar(select(Account.roles).where(Account.username == username)))


def audit(gateway, name: str) -> list[AuditEvent]:
    with gateway.db() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.name == name).order_by(AuditEvent.id)))


def person(gateway, http: httpx.Client, username: str, **params) -> httpx.Response:
    page = http.get(f"{gateway.url}/admin/staff/{account_id(gateway, username)}", params=params)
    assert page.status_code == 200, page.text[:400]
    return page


@SQLITE
def test_the_staff_list_and_granting_and_removing_roles_at_once(gateway):
    make_staff(gateway, "officer.anan", ("officer",), passkey=False)
    make_staff(gateway, "auditor.malee", ("auditor",), passkey=False)
    make_staff(gateway, "citizen.somsri", (), passkey=False)
    with closing(staff_client(gateway, "admin.somsak", path="/admin/staff")) as http:
        page = http.get(gateway.url + "/admin/staff")
        assert page.status_code == 200 and "เจ้าหน้าที่และบทบาท" in page.text
        for name in ("admin.somsak", "officer.anan", "auditor.malee"):
            assert name in page.text
        assert "citizen.somsri" not in page.text and "ยังไม่เคย" in page.text  # officer never signed in
        english = http.get(gateway.url + "/admin/staff", params={"lang": "en", "q": "somsri"})
        assert "Staff and roles" in english.text and "citizen.somsri" in english.text
        assert 'id="found"' in english.text
        none = http.get(gateway.url + "/admin/staff", params={"q": "nobody-like-this"})
        assert 'id="found-none"' in none.text
        # two characters are not searched (they would read every account): the page asks for three
        short = http.get(gateway.url + "/admin/staff", params={"q": "so", "lang": "en"})
        assert short.status_code == 200 and 'id="too-short"' in short.text and "citizen.somsri" not in short.text
        assert "Type at least 3 characters" in short.text

        page = person(gateway, http, "citizen.somsri", lang="en")
        done = form_post(http, page, "/grant", role="auditor")
        assert done.status_code == 200 and "?done=granted" in str(done.url) and "Role granted." in done.text
        assert roles(gateway, "citizen.somsri") == ["auditor"]
        granted = audit(gateway, "role.granted")[-1]
        assert granted.actor == "admin.somsak" and granted.on_behalf_of == account_id(gateway, "citizen.somsri")
        assert granted.detail["before"] == {"roles": []} and granted.detail["after"] == {"roles": ["auditor"]}

        done = form_post(http, done, "/grant", role="officer")
        assert roles(gateway, "citizen.somsri") == ["auditor", "officer"]
        again = form_post(http, done, "/grant", role="officer")
        assert again.status_code == 409 and "already has the officer role" in again.text
        bad = form_post(http, done, "/grant", role="superuser")
        assert bad.status_code == 400 and "There is no role" in bad.text

        done = form_post(http, done, "/remove", role="auditor")
        assert "?done=removed" in str(done.url) and roles(gateway, "citizen.somsri") == ["officer"]
        removed = audit(gateway, "role.removed")[-1]
        assert removed.actor == "admin.somsak" and removed.detail["role"] == "auditor"
        assert removed.detail["before"] == {"roles": ["auditor", "officer"]}
        assert removed.detail["after"] == {"roles": ["officer"]}
        # now on the staff list, with the sign-in of the admin shown as a date
        listed = http.get(gateway.url + "/admin/staff")
        assert "citizen.somsri" in listed.text


@SQLITE
def test_the_admin_role_takes_effect_only_when_a_second_admin_approves(gateway):
    make_staff(gateway, "prasert.k", (), passkey=False)
    make_staff(gateway, "admin.second", ("admin",), passkey=False)
    with closing(staff_client(gateway, "admin.somsak", path="/admin/staff")) as http:
        page = person(gateway, http, "prasert.k", lang="en")
        asked = form_post(http, page, "/grant", role="admin", reason="Runs the night shift")
        assert asked.status_code == 200 and "?done=requested" in str(asked.url)
        assert "/admin/changes" in asked.text and 'id="pending-admin"' in asked.text
        assert roles(gateway, "prasert.k") == []  # not applied without a second admin
        again = form_post(http, asked, "/grant", role="admin")
        assert again.status_code == 409 and "already waiting" in again.text
    target = account_id(gateway, "prasert.k")
    with gateway.db() as db:
        request = db.scalar(select(ChangeRequest).where(ChangeRequest.kind == staff.GRANT_ADMIN))
        assert request.status == "pending" and request.target == target
        assert request.reason == "Runs the night shift"
        assert "prasert.k" in four_eyes.describe(request, "en")
        requester = db.scalar(select(Account).where(Account.username == "admin.somsak"))
        with pytest.raises(four_eyes.FourEyesError) as own:
            four_eyes.approve(db, request_id=request.id, approver=requester, now=gateway.clock.now())
        assert own.value.code == "own_request"
        db.rollback()
        second = db.scalar(select(Account).where(Account.username == "admin.second"))
        four_eyes.approve(db, request_id=request.id, approver=second, now=gateway.clock.now())
        db.commit()
    assert roles(gateway, "prasert.k") == ["admin"]
    granted = audit(gateway, "role.granted")[-1]
    assert granted.actor == "admin.second" and granted.detail["requested_by"] == "admin.somsak"
    assert granted.detail["before"] == {"roles": []} and granted.detail["after"] == {"roles": ["admin"]}
    assert [e.detail["kind"] for e in audit(gateway, "change.requested")] == [staff.GRANT_ADMIN]


@SQLITE
def test_refusals_change_nothing(gateway):
    make_staff(gateway, "officer.anan", ("officer",))
    target = make_staff(gateway, "citizen.somsri", (), passkey=False)
    target_page = f"{gateway.url}/admin/staff/{account_id(gateway, target)}"
    # not signed in: sent to sign in
    with httpx.Client(timeout=20) as anonymous:
        assert anonymous.get(gateway.url + "/admin/staff").headers["location"].startswith("/signin?next=")
    # a non-admin: 403 on the list, a person and a change
    with closing(staff_client(gateway, "officer.two", ("officer",), path="/account")) as officer:
        assert officer.get(gateway.url + "/admin/staff").status_code == 403
        assert officer.get(target_page).status_code == 403
        assert officer.post(target_page + "/grant", data={"role": "officer"}).status_code == 403
    with closing(staff_client(gateway, "admin.somsak", path="/admin/staff")) as http:
        me = person(gateway, http, "admin.somsak", lang="en")
        assert 'id="own-account"' in me.text and 'id="grant-form"' not in me.text
        # granting oneself a role (the form is not offered; a crafted post is refused)
        own = form_post(http, me, "/remove", role="officer")  # the token of the own page, another action
        assert own.status_code == 409  # has no officer role
        mine = form_post(http, me, "/remove", role="admin")
        assert mine.status_code == 409 and "last admin" in mine.text  # the last admin keeps the role
        assert roles(gateway, "admin.somsak") == ["admin"]
        token = re.search(r'name="csrf_token" value="([^"]+)"', me.text).group(1)
        for role in ("officer", "admin"):
            self_grant = http.post(str(me.url).split("?")[0] + "/grant", data={"csrf_token": token, "role": role})
            assert self_grant.status_code == 403 and "cannot grant yourself" in self_grant.text
        assert roles(gateway, "admin.somsak") == ["admin"]
        disable_me = http.post(str(me.url).split("?")[0] + "/disable", data={"csrf_token": token})
        assert disable_me.status_code == 403 and "cannot disable your own account" in disable_me.text
        # a missing or wrong CSRF token
        page = person(gateway, http, target)
        assert http.post(target_page + "/grant", data={"role": "officer"}).status_code == 403
        assert http.post(target_page + "/grant", data={"role": "officer", "csrf_token": token}).status_code == 403
        assert http.post(target_page + "/disable", data={"csrf_token": "x" * 64}).status_code == 403
        # an unknown account
        assert http.get(gateway.url + "/admin/staff/no-such-account").status_code == 404
        # a stale session (signed in more than 15 minutes ago) is sent to sign in again on a change
        gateway.clock.advance(16 * 60)
        assert http.get(target_page).status_code == 200  # reading still works
        stale = form_post(http, page, "/grant", role="officer")
        assert stale.url.path == "/signin" and f"next=/admin/staff/{account_id(gateway, target)}" in str(stale.url)
    assert roles(gateway, target) == [] and audit(gateway, "role.granted") == []
    assert audit(gateway, "account.disabled") == []


@SQLITE
def test_disabling_ends_sessions_and_refuses_every_sign_in_until_enabled(gateway):
    reg = register(gateway, username="somchai.j")
    # the citizen is signed in at an e-service and holds a refresh token
    params, _state, _nonce, verifier, rp, browser = login_flow(gateway, reg)
    tokens = exchange(gateway, rp, params["code"], verifier)
    assert browser.get("/account").status_code == 200
    with closing(staff_client(gateway, "admin.somsak", path="/admin/staff")) as http:
        page = person(gateway, http, "somchai.j", lang="en")
        done = form_post(http, page, "/disable")
        assert "?done=disabled" in str(done.url) and "all its sessions have ended" in done.text
        assert 'action="/admin/staff/' in done.text and "/enable" in done.text
        with gateway.db() as db:
            assert db.scalar(select(Account.disabled_at).where(Account.username == "somchai.j")) is not None
            sessions = list(db.scalars(select(LoginSession).where(LoginSession.account_id == reg.account_id)))
            assert sessions and all(s.ended_at is not None for s in sessions)
        event = audit(gateway, "account.disabled")[-1]
        assert event.actor == "admin.somsak" and event.on_behalf_of == reg.account_id
        assert event.detail["before"] == {"disabled_at": None} and event.detail["sessions_ended"] >= 1
        assert event.detail["tokens_revoked"] >= 1
        # the session cookie no longer works; the refresh token was revoked
        assert browser.get("/account").headers["location"].startswith("/signin")
        with pytest.raises(OAuthError):
            rp.refresh_token(gateway.url + "/token", refresh_token=tokens["refresh_token"])
        # a password sign-in, at the gateway's pages and at an e-service, is refused with a clear message
        with httpx.Client(follow_redirects=True, timeout=20) as other:
            signin = other.get(gateway.url + "/signin?next=/account")
            refused = form_post(other, signin, username="somchai.j", password=PASSWORD)
            assert refused.status_code == 403 and DISABLED_TH in refused.text
        citizen = Browser(gateway)
        url, *_ = authorize_url(gateway, rp)
        refused = citizen.login(citizen.follow(citizen.get(url)), reg.username)
        assert refused.status_code == 403 and DISABLED_TH in refused.text
        # the account page answers the refusal in English too
        with httpx.Client(follow_redirects=True, timeout=20, cookies={"idgw_lang": "en"}) as other:
            signin = other.get(gateway.url + "/signin?next=/account")
            refused = form_post(other, signin, username="somchai.j", password=PASSWORD)
            assert refused.status_code == 403 and DISABLED_EN in refused.text
        # enabled again: signing in works
        page = person(gateway, http, "somchai.j")
        done = form_post(http, page, "/enable")
        assert "?done=enabled" in str(done.url)
        enabled = audit(gateway, "account.enabled")[-1]
        assert enabled.actor == "admin.somsak" and enabled.detail["after"] == {"disabled_at": None}
        twice = form_post(http, done, "/disable")
        assert twice.status_code == 200
        assert form_post(http, person(gateway, http, "somchai.j"), "/enable").status_code == 200
    params, *_ = login_flow(gateway, reg)
    assert "code" in params


@SQLITE
def test_unlocking_from_the_staff_page(gateway):
    make_staff(gateway, "officer.anan", ("officer",), passkey=False)
    lock(gateway, "officer.anan")
    with closing(staff_client(gateway, "admin.somsak", path="/admin/staff")) as http:
        listed = http.get(gateway.url + "/admin/staff")
        assert "ถูกระงับ" in listed.text
        page = person(gateway, http, "officer.anan", lang="en")
        done = form_post(http, page, "/unlock")
        assert "?done=unlocked" in str(done.url)
        nothing = form_post(http, done, "/unlock") if "/unlock" in done.text else None
        assert nothing is None  # nothing left to unlock: the form is gone
    event = audit(gateway, "account.unlocked")[-1]
    assert event.actor == "admin.somsak" and event.detail["was"] == "locked"


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_an_admin_may_give_up_the_role_while_another_admin_remains(gateway):
    """The decisions themselves, on both databases (the staff list reads roles from JSON as text;
    the last-admin check locks the admins' rows)."""
    make_staff(gateway, "admin.second", ("admin",), passkey=False)
    make_staff(gateway, "admin.somsak", ("admin", "auditor"), passkey=False)
    make_staff(gateway, "citizen.somsri", (), passkey=False)
    make_staff(gateway, "admins.fan", ("administrator",), passkey=False)  # not a staff role
    with gateway.db() as db:
        listed = staff.staff(db, now=gateway.clock.now())
        assert [(m.username, m.roles) for m in listed] == [("admin.second", ("admin",)),
                                                           ("admin.somsak", ("admin", "auditor"))]
        me = db.scalar(select(Account).where(Account.username == "admin.somsak"))
        second = db.scalar(select(Account).where(Account.username == "admin.second"))
        staff.disable(db, account=second, actor=me, now=gateway.clock.now(), ip=None)
        # the other admin is disabled: they cannot run the console, so mine is the last role
        with pytest.raises(staff.StaffError) as last:
            staff.remove(db, account=me, role="admin", actor=me, now=gateway.clock.now())
        assert last.value.code == "last_admin"
        staff.enable(db, account=second, actor=me, now=gateway.clock.now(), ip=None)
        staff.remove(db, account=me, role="admin", actor=me, now=gateway.clock.now())
        assert me.roles == ["auditor"]
        db.commit()
