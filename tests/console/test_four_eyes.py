"""Four eyes: the decisions (idgw.console.four_eyes) called directly, the policy page's lowering of a
floor that waits for a second admin (idgw.console.policy_change), and the console's home and change
requests pages over HTTP (idgw.console.changes_pages)."""

from __future__ import annotations

import re
from contextlib import closing

import pytest
from sqlalchemy import select

from idgw.admin import add_user
from idgw.assurance import PolicyChangeError, PolicyInput, compute, current_row, history
from idgw.console import changes_pages, four_eyes, policy_change
from idgw.console.four_eyes import FourEyesError
from idgw.console.gate import FRESH
from idgw.storage.console import ChangeRequest
from idgw.storage.models import Account, AuditEvent, Client
from tests.console.world import PASSWORD, form_post, signed_in, staff_client
from tests.flow import NO_IMPACT, register, set_policy

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

MODERATE = {**NO_IMPACT, "financial": "moderate"}  # computed floors: IAL 2.1, AAL 2.1
REASON = "เจ้าหน้าที่ภายในเท่านั้น มีมาตรการชดเชยตามบันทึกที่ 12/2569"


def service(gateway) -> str:
    return register(gateway, policy={"proofing_impacts": dict(MODERATE), "authentication_impacts": dict(MODERATE)}
                    ).client_id


def accounts(gateway, *specs) -> list[Account]:
    """Accounts made directly (no sign-in): ``specs`` = (username, roles)."""
    made = []
    with gateway.db() as db:
        for username, roles in specs:
            made.append(add_user(db, username=username, password=PASSWORD, now=gateway.clock.now(), roles=roles))
        db.commit()
        return [db.get(Account, a.id) for a in made]


def lowered_input(db, client_id: str, *, min_aal: str = "1") -> tuple:
    data = PolicyInput(needs_verified_identity=True, proofing_impacts=dict(MODERATE),
                       authentication_impacts=dict(MODERATE), min_aal=min_aal, justification=REASON)
    assessment, policy = compute(data)
    return data, assessment, policy


def request_lowering(gateway, client_id: str, requester: Account) -> str:
    with gateway.db() as db:
        data, assessment, policy = lowered_input(db, client_id)
        done, row = policy_change.save(db, client=db.get(Client, client_id), data=data, assessment=assessment,
                                       policy=policy, admin=requester, now=gateway.clock.now(),
                                       ttl=gateway.gw.settings.four_eyes_ttl)
        db.commit()
        assert done == "requested"
        return row.id


def events(gateway, *names) -> list[AuditEvent]:
    with gateway.db() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.name.in_(names)).order_by(AuditEvent.id)))


def change(gateway, change_id: str) -> ChangeRequest:
    with gateway.db() as db:
        return db.get(ChangeRequest, change_id)


def floors(gateway, client_id: str) -> tuple[str, str, int]:
    with gateway.db() as db:
        row = current_row(db, client_id)
        return row.min_ial, row.min_aal, row.version


def refuse(gateway, code: str, fn, **kw) -> FourEyesError:
    with gateway.db() as db, pytest.raises(FourEyesError) as caught:
        fn(db, now=gateway.clock.now(), **kw)
    assert caught.value.code == code, caught.value
    return caught.value


# -- the decisions, called directly ----------------------------------------------------------------
def test_saving_at_or_above_the_computed_floors_applies_at_once_and_lowering_waits(gateway):
    client_id = service(gateway)
    (a,) = accounts(gateway, ("admin.a", ["admin"]))
    with gateway.db() as db:
        data = PolicyInput(needs_verified_identity=True, proofing_impacts=dict(MODERATE),
                           authentication_impacts=dict(MODERATE), min_aal="2.2")
        assessment, policy = compute(data)
        done, row = policy_change.save(db, client=db.get(Client, client_id), data=data, assessment=assessment,
                                       policy=policy, admin=a, now=gateway.clock.now(), ttl=60)
        db.commit()
        assert done == "saved" and row.min_aal == "2.2" and row.set_by == "admin.a"
    change_id = request_lowering(gateway, client_id, a)
    assert floors(gateway, client_id)[:2] == ("2.1", "2.2")  # nothing applied yet
    row = change(gateway, change_id)
    assert (row.kind, row.target, row.status, row.reason) == ("policy.lower", client_id, "pending", REASON)
    assert row.expires_at == row.requested_at + gateway.gw.settings.four_eyes_ttl
    assert four_eyes.describe(row, "en") == ("Lower the floors of “บริการทดสอบ Test service” "
                                             f"({client_id}) below its assessment: IAL 2.1 (unchanged), AAL 2.2 → 1 "
                                             "(computed: IAL 2.1, AAL 2.1)")
    thai = four_eyes.describe(row, "th")
    assert "ลดระดับขั้นต่ำของบริการ" in thai and "IAL 2.1 (ไม่เปลี่ยน), AAL 2.2 → 1" in thai
    (requested,) = events(gateway, "change.requested")
    assert requested.actor == "admin.a" and requested.detail["change_id"] == change_id
    assert requested.detail["reason"] == REASON and requested.detail["kind"] == "policy.lower"


def test_own_request_non_admin_and_duplicate_are_refused(gateway):
    client_id = service(gateway)
    a, auditor = accounts(gateway, ("admin.a", ["admin"]), ("auditor.c", ["auditor"]))
    change_id = request_lowering(gateway, client_id, a)
    assert refuse(gateway, "own_request", four_eyes.approve, request_id=change_id, approver=a).status == 403
    assert refuse(gateway, "own_request", four_eyes.reject, request_id=change_id, approver=a).status == 403
    assert refuse(gateway, "not_admin", four_eyes.approve, request_id=change_id, approver=auditor).status == 403
    assert refuse(gateway, "not_admin", four_eyes.cancel, request_id=change_id, requester=auditor).status == 403
    assert refuse(gateway, "not_found", four_eyes.approve, request_id="no-such-id", approver=auditor).status == 404
    with pytest.raises(FourEyesError) as caught:
        request_lowering(gateway, client_id, a)
    assert caught.value.code == "duplicate" and caught.value.status == 409
    assert change(gateway, change_id).status == "pending" and floors(gateway, client_id)[1] == "2.1"
    assert len(events(gateway, "change.requested")) == 1
    assert events(gateway, "change.approved", "change.rejected", "change.cancelled") == []
    assert [e.actor for e in events(gateway, "policy.changed")] == ["test-admin"]  # the service's first policy


def test_an_approval_applies_once_as_the_approver_naming_the_requester(gateway):
    client_id = service(gateway)
    a, b, c = accounts(gateway, ("admin.a", ["admin"]), ("admin.b", ["admin"]), ("admin.c", ["admin"]))
    change_id = request_lowering(gateway, client_id, a)
    _, _, version = floors(gateway, client_id)
    with gateway.db() as db:
        four_eyes.approve(db, request_id=change_id, approver=b, now=gateway.clock.now())
        db.commit()
    refuse(gateway, "not_pending", four_eyes.approve, request_id=change_id, approver=c)
    refuse(gateway, "not_pending", four_eyes.reject, request_id=change_id, approver=c)
    assert floors(gateway, client_id) == ("2.1", "1", version + 1)  # applied once
    with gateway.db() as db:
        latest = history(db, client_id)[0]
        assert latest.set_by == "admin.b" and latest.justification == REASON
    row = change(gateway, change_id)
    assert (row.status, row.decided_by_name) == ("approved", "admin.b")
    (approved,) = events(gateway, "change.approved")
    assert approved.actor == "admin.b" and approved.detail["requested_by"] == "admin.a"
    changed = events(gateway, "policy.changed")[-1]
    assert changed.actor == "admin.b" and changed.detail["requested_by"] == "admin.a"
    assert changed.detail["change_id"] == change_id
    assert changed.detail["before"]["min_aal"] == "2.1" and changed.detail["after"]["min_aal"] == "1"


def test_an_expired_request_is_refused_and_marked_expired(gateway):
    client_id = service(gateway)
    a, b = accounts(gateway, ("admin.a", ["admin"]), ("admin.b", ["admin"]))
    change_id = request_lowering(gateway, client_id, a)
    later = gateway.clock.now() + gateway.gw.settings.four_eyes_ttl
    with gateway.db() as db:
        with pytest.raises(FourEyesError) as caught:
            four_eyes.approve(db, request_id=change_id, approver=b, now=later)
        db.commit()  # what the page does: the refusal keeps the expiry
    assert caught.value.code == "expired"
    assert change(gateway, change_id).status == "expired" and floors(gateway, client_id)[1] == "2.1"
    (expired,) = events(gateway, "change.expired")
    assert expired.actor == "system" and expired.detail["requested_by"] == "admin.a"
    assert events(gateway, "change.approved") == []


def test_reject_and_cancel_are_audited_with_who(gateway):
    client_id = service(gateway)
    a, b = accounts(gateway, ("admin.a", ["admin"]), ("admin.b", ["admin"]))
    first = request_lowering(gateway, client_id, a)
    with gateway.db() as db:
        changes_pages.decide(db, action="reject", change_id=first, admin=b, now=gateway.clock.now(),
                             note="ต้องมีบันทึกอนุมัติจากผู้อำนวยการก่อน")
        db.commit()
    row = change(gateway, first)
    assert (row.status, row.decided_by_name, row.decision_note) == ("rejected", "admin.b",
                                                                    "ต้องมีบันทึกอนุมัติจากผู้อำนวยการก่อน")
    second = request_lowering(gateway, client_id, a)  # a decided request no longer blocks a new one
    refuse(gateway, "not_admin", four_eyes.cancel, request_id=second, requester=b)  # only the requester
    with gateway.db() as db:
        changes_pages.decide(db, action="cancel", change_id=second, admin=a, now=gateway.clock.now())
        db.commit()
    assert change(gateway, second).status == "cancelled"
    refuse(gateway, "not_pending", four_eyes.approve, request_id=second, approver=b)
    (rejected,) = events(gateway, "change.rejected")
    assert rejected.actor == "admin.b" and rejected.detail["note"] == "ต้องมีบันทึกอนุมัติจากผู้อำนวยการก่อน"
    (cancelled,) = events(gateway, "change.cancelled")
    assert cancelled.actor == "admin.a" and cancelled.detail["change_id"] == second
    assert floors(gateway, client_id)[1] == "2.1"


def test_a_request_made_against_an_older_policy_is_not_applied(gateway):
    client_id = service(gateway)
    a, b = accounts(gateway, ("admin.a", ["admin"]), ("admin.b", ["admin"]))
    change_id = request_lowering(gateway, client_id, a)
    set_policy(gateway, client_id, proofing_impacts=dict(MODERATE), authentication_impacts=dict(MODERATE),
               min_aal="3")  # someone raised the floor meanwhile
    with gateway.db() as db, pytest.raises(PolicyChangeError) as caught:
        four_eyes.approve(db, request_id=change_id, approver=b, now=gateway.clock.now())
    assert caught.value.code == "changed_since"
    assert change(gateway, change_id).status == "pending" and floors(gateway, client_id)[1] == "3"


# -- over HTTP -------------------------------------------------------------------------------------
def lower_on_the_policy_page(gateway, http, client_id: str):
    page = http.get(gateway.url + f"/admin/services/{client_id}?lang=en")
    answers = {f"{p}_{c}": v for c, v in MODERATE.items() for p in ("p", "a")}
    return form_post(http, page, "/admin/services/", action="save", min_aal="1", justification=REASON,
                     needs_verified_identity="1", **answers)


def pending_id(page) -> str:
    return re.search(r'id="change-([0-9a-f-]{36})"', page.text).group(1)


def test_lowering_waits_for_a_second_admin_who_approves_it(gateway):
    client_id = service(gateway)
    with closing(staff_client(gateway, "admin.a")) as a, closing(staff_client(gateway, "admin.b")) as b:
        page = lower_on_the_policy_page(gateway, a, client_id)
        assert page.status_code == 200, page.text[:500]
        assert re.search(r'id="policy-message">Not applied yet: a floor below the assessment is waiting for a '
                         r"second admin", page.text)
        assert 'id="current-aal">2.1<' in page.text  # unchanged
        assert "Waiting for a second admin" in page.text and 'href="/admin/changes#change-' in page.text
        # the policy page shows the pending request to anyone who opens it, in Thai too
        other = b.get(gateway.url + f"/admin/services/{client_id}?lang=th")
        assert "รอผู้ดูแลระบบคนที่สองอนุมัติ" in other.text and "admin.a ขอเมื่อ" in other.text
        # a second request for the same service is refused, what was typed kept
        again = lower_on_the_policy_page(gateway, b, client_id)
        assert again.status_code == 409 and "already waiting" in again.text and REASON in again.text
        # the console's home counts it
        home = b.get(gateway.url + "/admin?lang=en")
        assert home.status_code == 200 and 'id="changes-waiting">(waiting: 1)' in home.text
        for href in ("/admin/services", "/admin/upstreams", "/admin/keys", "/admin/staff", "/admin/audit",
                     "/admin/changes"):
            assert f'href="{href}"' in home.text
        assert "คอนโซลผู้ดูแลระบบ" in b.get(gateway.url + "/admin?lang=th").text
        # the requester sees Withdraw, not Approve; approving anyway is refused
        mine = a.get(gateway.url + "/admin/changes?lang=en")
        change_id = pending_id(mine)
        assert f"/admin/changes/{change_id}/cancel" in mine.text and f"/{change_id}/approve" not in mine.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', mine.text).group(1)
        own = a.post(gateway.url + f"/admin/changes/{change_id}/approve?lang=en", data={"csrf_token": token})
        assert own.status_code == 403 and "You made this request" in own.text
        assert floors(gateway, client_id)[1] == "2.1"
        # admin B sees what, on what, by whom, the time left and the reason, and approves
        theirs = b.get(gateway.url + "/admin/changes?lang=en")
        block = re.search(rf'id="change-{change_id}">(.*?)</li>', theirs.text, re.S).group(1)
        assert f"({client_id})" in block and "AAL 2.1 → 1" in block and "admin.a" in block
        assert re.search(r"(23 h 59|24 h 0) min \(until", block) and REASON in block and "/reject" in block
        done = form_post(b, theirs, f"/{change_id}/approve")
        assert done.url.path == "/admin/changes" and "Approved: the change has taken effect." in done.text
        assert f'id="decided-{change_id}"' in done.text and 'id="pending-none"' in done.text
        page = b.get(gateway.url + f"/admin/services/{client_id}")
        assert 'id="current-aal">1<' in page.text and 'id="pending-change"' not in page.text
        assert "(waiting: 0)" in b.get(gateway.url + "/admin?lang=en").text
    (requested,), (approved,) = events(gateway, "change.requested"), events(gateway, "change.approved")
    assert (requested.actor, approved.actor) == ("admin.a", "admin.b")
    changed = events(gateway, "policy.changed")[-1]
    assert changed.actor == "admin.b" and changed.detail["requested_by"] == "admin.a"


def test_approval_after_the_time_limit_is_refused(gateway):
    client_id = service(gateway)
    with closing(staff_client(gateway, "admin.a")) as a, closing(staff_client(gateway, "admin.b")) as b:
        lower_on_the_policy_page(gateway, a, client_id)
        theirs = b.get(gateway.url + "/admin/changes?lang=en")  # B opens the page in time ...
        change_id = pending_id(theirs)
        gateway.clock.advance(gateway.gw.settings.four_eyes_ttl + 1)
        signed_in(gateway, b, "admin.b")  # ... signs in again (the session ran out) and approves too late
        late = form_post(b, theirs, f"/{change_id}/approve")
        assert late.status_code == 409 and "passed its time limit" in late.text
        assert floors(gateway, client_id)[1] == "2.1" and change(gateway, change_id).status == "expired"
        page = b.get(gateway.url + "/admin/changes?lang=en")
        assert 'id="pending-none"' in page.text and "Expired" in page.text
    assert events(gateway, "change.approved") == [] and len(events(gateway, "change.expired")) == 1


def test_csrf_stale_sessions_and_who_may_open_the_pages(gateway):
    client_id = service(gateway)
    with closing(staff_client(gateway, "admin.a")) as a, closing(staff_client(gateway, "admin.b")) as b:
        lower_on_the_policy_page(gateway, a, client_id)
        theirs = b.get(gateway.url + "/admin/changes")
        change_id = pending_id(theirs)
        # no CSRF token, or another request's: refused, nothing changed
        for data in ({}, {"csrf_token": "0" * 64}):
            r = b.post(gateway.url + f"/admin/changes/{change_id}/approve", data=data)
            assert r.status_code == 403
        assert change(gateway, change_id).status == "pending"
        # the requester withdraws it; B's rejection a moment later is refused: already decided
        r = form_post(a, a.get(gateway.url + "/admin/changes?lang=th"), "/cancel")
        assert r.status_code == 200 and "ถอนคำขอแล้ว" in r.text and change(gateway, change_id).status == "cancelled"
        late = form_post(b, theirs, f"/{change_id}/reject", note="ยังไม่ได้ตรวจบันทึก")
        assert late.status_code == 409 and "คำขอนี้ถูกตัดสินไปแล้ว" in late.text
        # a stale session (signed in more than 15 minutes ago) is sent to sign in again
        lower_on_the_policy_page(gateway, a, client_id)
        theirs = b.get(gateway.url + "/admin/changes")
        change_id = pending_id(theirs)
        gateway.clock.advance(FRESH + 60)
        b.follow_redirects = False
        r = form_post(b, theirs, f"/{change_id}/approve")
        assert r.status_code == 303 and r.headers["location"] == "/signin?next=/admin/changes"
        assert change(gateway, change_id).status == "pending"
        # ... and so is a stale save of the policy page
        page = a.get(gateway.url + f"/admin/services/{client_id}")
        a.follow_redirects = False
        r = form_post(a, page, "/admin/services/", action="save")
        assert r.status_code == 303 and r.headers["location"] == f"/signin?next=/admin/services/{client_id}"
    # not signed in: sent to sign in; an officer: refused; an auditor: the home shows the audit log only
    with closing(staff_client(gateway, "officer.d", roles=("officer",), path="/officer")) as officer:
        assert officer.get(gateway.url + "/admin/changes").status_code == 403
        assert officer.get(gateway.url + "/admin").status_code == 403
    with closing(staff_client(gateway, "auditor.e", roles=("auditor",), path="/admin")) as auditor:
        home = auditor.get(gateway.url + "/admin?lang=en")
        assert 'href="/admin/audit"' in home.text and 'href="/admin/services"' not in home.text
        assert "changes-waiting" not in home.text and auditor.get(gateway.url + "/admin/changes").status_code == 403
    with closing(staff_client(gateway, "admin.f")) as fresh:
        fresh.cookies.clear()
        fresh.follow_redirects = False
        for path in ("/admin", "/admin/changes"):
            r = fresh.get(gateway.url + path)
            assert r.status_code == 303 and r.headers["location"] == f"/signin?next={path}"
