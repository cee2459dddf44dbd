"""The admin accounts page (issue 12, "Lost device and recovery"): find a person by username,
e-mail address or citizen ID, see why they cannot sign in, and unlock them. Same gate as the
other staff pages (admin role, AAL 2.2), CSRF on the unlock, audited with the admin as actor;
Thai and English; a person clicking through it in Chromium."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from sqlalchemy import select

from idgw.login.password import LOCKED_FOREVER, authenticate_password
from idgw.storage.models import Account, AuditEvent
from tests.a11y import PHONE_WIDTH, a11y_context, check_a11y
from tests.flow import PASSWORD, register
from tests.stepup import FIXTURE_CODE, enable_second_factor
from tests.test_admin_pages import form_post, make_admin

CITIZEN_ID = "1345951597671"


def lock(gateway, username: str) -> None:
    """Lock ``username`` the way it happens: 100 consecutive failures (their waits in the past)."""
    settings = gateway.gw.settings
    now = gateway.clock.now() - 10**6
    with gateway.db() as db:
        for i in range(400):
            out = authenticate_password(db, username=username, password="wrong", ip=f"10.4.{i // 40}.{i % 40}",
                                        now=now, settings=settings)
            if out.error == "locked":
                break
            now += out.retry_after
        db.commit()
        account = db.scalar(select(Account).where(Account.username == username))
        assert account.locked_until == LOCKED_FOREVER and account.failed_logins == 100


def signed_in_admin(gateway, http, username, *, start="/admin/accounts"):
    page = http.get(gateway.url + start)
    assert page.url.path == "/signin"
    page = form_post(http, page, username=username, password=PASSWORD)
    assert page.url.path.startswith("/signin/factor/"), page.url  # AAL 1 is not enough: step up
    page = form_post(http, page, code=FIXTURE_CODE)
    assert page.url.path == start, (page.url, page.text[:300])
    return page


def unlock_form(page) -> tuple[str, dict]:
    action = re.search(r'<form method="post" action="([^"]+/unlock)"', page.text).group(1)
    token = re.search(r'<form method="post" action="[^"]+/unlock">\s*<input type="hidden" name="csrf_token" '
                      r'value="([^"]+)"', page.text).group(1)
    return action, {"csrf_token": token}


def audit(gateway, name):
    with gateway.db() as db:
        events = db.scalars(select(AuditEvent).where(AuditEvent.name == name))
        return [(e.actor, e.on_behalf_of, e.detail) for e in events]


def test_an_admin_finds_a_locked_citizen_and_unlocks_them(gateway):
    citizen = register(gateway, username="somsri.r", citizen_id=CITIZEN_ID)
    other = register(gateway, username="anan.k")
    lock(gateway, citizen.username)
    admin = make_admin(gateway)
    enable_second_factor(gateway, admin, factor="hwk_uv")
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        page = signed_in_admin(gateway, http, admin)
        # with nothing searched: the accounts that cannot sign in now
        assert page.status_code == 200 and "บัญชีที่เข้าสู่ระบบไม่ได้ในขณะนี้" in page.text
        assert "somsri.r" in page.text and "anan.k" not in page.text and "ถูกระงับ" in page.text
        # search by part of the username, the e-mail address (any case), the citizen ID as written on a card
        for q in ("somsri", "SOMSRI.R@EXAMPLE", "1-3459-51597-67-1", CITIZEN_ID):
            found = http.get(gateway.url + "/admin/accounts", params={"q": q})
            assert "somsri.r" in found.text and "anan.k" not in found.text, q
        # no wildcards: % and _ are only characters
        for q in ("%%%", "_._", "1345951597670"):
            found = http.get(gateway.url + "/admin/accounts", params={"q": q})
            assert "somsri.r" not in found.text and "ไม่พบบัญชีที่ตรงกับ" in found.text, q
        # fewer than three characters are not searched (no index serves them: every account would
        # be read); the page asks for more, in Thai and in English
        for q, words in (("so", "พิมพ์อย่างน้อย 3 ตัวอักษร"), ("%", "พิมพ์อย่างน้อย 3 ตัวอักษร"),
                         (" s ", "พิมพ์อย่างน้อย 3 ตัวอักษร")):
            short = http.get(gateway.url + "/admin/accounts", params={"q": q})
            assert short.status_code == 200 and words in short.text and "somsri.r" not in short.text, q
        english = http.get(gateway.url + "/admin/accounts", params={"q": "so", "lang": "en"})
        assert "Type at least 3 characters, or a 13-digit citizen ID, to search." in english.text
        http.get(gateway.url + "/admin/accounts", params={"lang": "th"})  # back to Thai for the rest
        both = http.get(gateway.url + "/admin/accounts", params={"q": "example.test"})
        assert "somsri.r" in both.text and "anan.k" in both.text
        # the account: status in words, the citizen ID masked
        link = re.search(r'<a href="(/admin/accounts/[^"]+)">somsri.r</a>', both.text).group(1)
        page = http.get(gateway.url + link)
        assert "ถูกระงับ: เข้าสู่ระบบไม่ได้จนกว่าผู้ดูแลระบบจะปลดล็อก" in page.text
        assert "พยายามเข้าสู่ระบบไม่สำเร็จติดต่อกัน 100 ครั้ง" in page.text
        assert CITIZEN_ID not in page.text and "•••••••••7671" in page.text
        en = http.get(gateway.url + link + "?lang=en")
        assert "Locked: cannot sign in until an administrator unlocks it" in en.text
        assert "Unlock this account" in en.text
        http.get(gateway.url + link + "?lang=th")
        # unlocking needs the form's CSRF token: without it nothing changes
        action, fields = unlock_form(page)
        refused = http.post(gateway.url + action, data={"csrf_token": "forged"})
        assert refused.status_code == 403
        refused = http.post(gateway.url + action, data={})
        assert refused.status_code == 403
        assert audit(gateway, "account.unlocked") == []
        with gateway.db() as db:
            assert db.get(Account, citizen.account_id).locked_until == LOCKED_FOREVER
        done = http.post(gateway.url + action, data=fields, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"].endswith("?done=unlocked")
        page = http.get(gateway.url + done.headers["location"])
        assert "ปลดล็อกแล้ว บัญชีนี้เข้าสู่ระบบได้" in page.text and "เข้าสู่ระบบได้" in page.text
        assert "ปลดล็อกบัญชีนี้" not in page.text  # nothing left to unlock
        assert audit(gateway, "account.unlocked") == [(admin, citizen.account_id, {"was": "locked", "failures": 100})]
        # the same form posted again (a second click): nothing to do, nothing recorded
        again = http.post(gateway.url + action, data=fields)
        assert again.status_code == 200 and "ไม่ได้ถูกระงับ จึงไม่มีอะไรต้องปลดล็อก" in again.text
        assert len(audit(gateway, "account.unlocked")) == 1
        # an account that does not exist
        assert http.get(gateway.url + "/admin/accounts/no-such-account").status_code == 404
        assert http.post(gateway.url + "/admin/accounts/no-such-account/unlock",
                         data={"csrf_token": "x"}).status_code == 403  # CSRF first: the token names the account
    # the citizen can sign in again
    with httpx.Client(follow_redirects=False, timeout=20) as http:
        page = http.get(gateway.url + "/signin?next=/account")
        answer = form_post(http, page, username=citizen.username, password=PASSWORD)
        assert answer.status_code == 303
    assert other.username  # untouched by any of it


def test_a_slowed_down_account_shows_until_when_and_the_list_in_english(gateway):
    citizen = register(gateway, username="preecha.s")
    settings = gateway.gw.settings
    with gateway.db() as db:  # 10 failures, the last 30 s ago: it must wait 32 s from then
        started = gateway.clock.now()  # read once: a slow machine may tick seconds before the check
        at, i = started - 30, 0
        while db.get(Account, citizen.account_id).failed_logins < 10:
            out = authenticate_password(db, username=citizen.username, password="x", ip=f"10.3.0.{i}", now=at,
                                        settings=settings)
            at, i = at + out.retry_after, i + 1
        db.commit()
        until = db.get(Account, citizen.account_id).locked_until
        assert until == started + 32
    admin = make_admin(gateway)
    enable_second_factor(gateway, admin, factor="hwk_uv")
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        page = signed_in_admin(gateway, http, admin)
        be_year = str(time.gmtime(until + 7 * 3600).tm_year + 543)
        assert "ต้องรอถึง" in page.text and be_year in page.text and "preecha.s" in page.text
        en = http.get(gateway.url + "/admin/accounts?lang=en")
        assert "Accounts that cannot sign in now" in en.text and "Must wait until" in en.text
        assert str(time.gmtime(until + 7 * 3600).tm_year) in en.text
        link = re.search(r'<a href="(/admin/accounts/[^"]+)">preecha.s</a>', en.text).group(1)
        page = http.get(gateway.url + link)
        assert "Consecutive failed attempts: 10" in page.text
        action, fields = unlock_form(page)
        page = http.post(gateway.url + action, data=fields)
        assert "Unlocked: this account can sign in." in page.text and "Can sign in" in page.text
        nothing = http.get(gateway.url + "/admin/accounts")
        assert "No account is locked or waiting." in nothing.text
    assert audit(gateway, "account.unlocked") == [(admin, citizen.account_id, {"was": "waiting", "failures": 10})]


def test_the_accounts_pages_are_gated_like_the_other_staff_pages(gateway):
    citizen = register(gateway, username="wichai.t")
    lock(gateway, citizen.username)
    with httpx.Client(follow_redirects=False, timeout=20) as http:
        r = http.get(gateway.url + "/admin/accounts?q=wichai")
        assert r.status_code == 303 and r.headers["location"] == "/signin?next=/admin/accounts"
        r = http.get(gateway.url + f"/admin/accounts/{citizen.account_id}")
        assert r.status_code == 303 and r.headers["location"] == f"/signin?next=/admin/accounts/{citizen.account_id}"
        # a POST from someone not signed in is sent to sign in, back to the account's page
        r = http.post(gateway.url + f"/admin/accounts/{citizen.account_id}/unlock", data={})
        assert r.status_code == 303 and r.headers["location"] == f"/signin?next=/admin/accounts/{citizen.account_id}"
    # signed in without the admin role (at AAL 2.2): refused
    clerk = make_admin(gateway, username="clerk", roles=())
    enable_second_factor(gateway, clerk, factor="hwk_uv")
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        page = http.get(gateway.url + "/admin/accounts")
        page = form_post(http, page, username=clerk, password=PASSWORD)
        assert page.status_code == 403 and "wichai.t" not in page.text
        r = http.post(gateway.url + f"/admin/accounts/{citizen.account_id}/unlock", data={})
        assert r.status_code == 403
    # an admin whose strongest factor gives AAL 2.1: refused, told it takes AAL 2.2
    weak = make_admin(gateway, username="admin.otp-only")
    enable_second_factor(gateway, weak)
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        page = http.get(gateway.url + "/admin/accounts")
        page = form_post(http, page, username=weak, password=PASSWORD)
        assert page.status_code == 403 and "AAL 2.2" in page.text and "wichai.t" not in page.text
    with gateway.db() as db:
        assert db.get(Account, citizen.account_id).locked_until == LOCKED_FOREVER
    assert audit(gateway, "account.unlocked") == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_admin_unlocks_a_citizen_in_chromium(browser, gateway):
    citizen = register(gateway, username="malee.s", citizen_id=CITIZEN_ID)
    lock(gateway, citizen.username)
    admin = make_admin(gateway)
    enable_second_factor(gateway, admin, factor="hwk_uv")
    for locale, width in (("th", None), ("en", PHONE_WIDTH)):
        context = a11y_context(browser, locale=locale, width=width)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m, seen=problems: seen.append(m.text) if m.type in ("error", "warning") else None)
        th = locale == "th"
        page.goto(gateway.url + "/admin/accounts")
        page.get_by_label("ชื่อผู้ใช้" if th else "Username").fill(admin)
        page.get_by_label("รหัสผ่าน" if th else "Password").fill(PASSWORD)
        page.get_by_role("button", name="เข้าสู่ระบบ" if th else "Sign in", exact=True).click()
        page.get_by_label("รหัส 6 หลัก" if th else "6-digit code").fill(FIXTURE_CODE)
        page.get_by_role("button", name="ดำเนินการต่อ" if th else "Continue").click()
        page.get_by_role("heading", name="บัญชีผู้ใช้" if th else "Accounts", level=1).wait_for()
        check_a11y(page, context=f"accounts, {locale}")
        page.get_by_label("ค้นหาด้วยชื่อผู้ใช้" if th else "Search by username").fill("1-3459-51597-67-1")
        page.get_by_role("button", name="ค้นหา" if th else "Search", exact=True).click()
        page.get_by_role("link", name="malee.s").click()
        page.get_by_role("heading", name="malee.s", level=1).wait_for()
        if th:
            assert "ถูกระงับ" in page.locator("#account-status").inner_text()
            check_a11y(page, context=f"account, locked, {locale}")
            page.get_by_role("button", name="ปลดล็อกบัญชีนี้").click()
            assert page.get_by_role("status").inner_text() == "ปลดล็อกแล้ว บัญชีนี้เข้าสู่ระบบได้"
            assert page.locator("#account-status").inner_text().strip() == "เข้าสู่ระบบได้"
        else:  # already unlocked in Thai: nothing to unlock, no button
            assert page.locator("#account-status").inner_text().strip() == "Can sign in"
            assert page.get_by_role("button", name="Unlock this account").count() == 0
        check_a11y(page, context=f"account, unlocked, {locale}")
        # the other admin page is one click away
        page.get_by_role("navigation", name="เมนูผู้ดูแลระบบ" if th else "Administration").get_by_role(
            "link", name="บริการที่ลงทะเบียน" if th else "Registered e-services").click()
        page.get_by_role("heading", name="บริการที่ลงทะเบียน" if th else "Registered e-services", level=1).wait_for()
        check_a11y(page, context=f"services, {locale}")
        assert not problems, problems
        context.close()
    assert len(audit(gateway, "account.unlocked")) == 1
