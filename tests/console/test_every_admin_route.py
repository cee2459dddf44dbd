"""Every admin route, found from the application itself (so a route added later is covered
without anyone remembering to), answers an outsider, a staff member without the role, a stale
admin session and a form without its CSRF token with a refusal — never the page or the change —
and nothing is changed: no audit event is written by a refused POST (every console change is
audited in the transaction that makes it)."""

from __future__ import annotations

import re
from contextlib import closing

import httpx
import pytest
from sqlalchemy import func, select

from idgw.console import four_eyes
from idgw.storage.models import Account, AuditEvent, Client, SigningKey
from tests.console.world import account_id, make_staff, staff_client
from tests.flow import register

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

AUDITOR_PAGES = {"/admin", "/admin/audit", "/admin/audit/export"}


def admin_routes(gateway) -> list[tuple[str, str]]:
    found = []
    for included in gateway.app.routes:
        for route in getattr(getattr(included, "original_router", None), "routes", []):
            path = getattr(route, "path", "")
            if path == "/admin" or path.startswith("/admin/"):
                found += [(method, path) for method in sorted(route.methods or []) if method in ("GET", "POST")]
    return found


@pytest.fixture
def world(gateway):
    client_id = register(gateway, policy=False).client_id
    make_staff(gateway, "admin.a")
    make_staff(gateway, "admin.b")
    make_staff(gateway, "citizen.c", roles=())
    requester_id, citizen_id = account_id(gateway, "admin.b"), account_id(gateway, "citizen.c")
    with gateway.db() as db:
        gateway.gw.keys.rotate(db, actor="test")  # a retired key, for /admin/keys/{kid}/...
        db.commit()
        kid = db.scalar(select(SigningKey.kid).where(SigningKey.retired_at.is_not(None)).limit(1))
        requester = db.get(Account, requester_id)
        change = four_eyes.request_change(db, kind="service.delete", target=client_id, payload={},
                                          requester=requester, now=gateway.clock.now(), ttl=3600)
        db.commit()
        change_id = change.id
    values = {"client_id": client_id, "account_id": citizen_id, "change_id": change_id,
              "kid": kid}
    routes = admin_routes(gateway)
    assert len(routes) >= 39, routes  # the console, the policy pages, accounts, delegation settings
    return values, routes


def url(gateway, path: str, values: dict) -> str:
    query = "?format=jsonl" if path.endswith("/export") else ""
    return gateway.url + re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path) + query


def audit_count(gateway) -> int:
    with gateway.db() as db:
        return db.scalar(select(func.max(AuditEvent.id))) or 0


def events_since(gateway, last: int) -> set[str]:
    with gateway.db() as db:
        return set(db.scalars(select(AuditEvent.name).where(AuditEvent.id > last)))


SIGN_IN = {"account.created", "authenticator.added", "session.created", "session.stepped_up", "login.failed",
           "recovery_codes.generated"}


def refused(answer: httpx.Response) -> bool:
    if answer.status_code in (401, 403):
        return True
    return answer.status_code in (302, 303) and answer.headers["location"].startswith("/signin")


def test_outsiders_and_staff_without_the_role_are_refused_everywhere(gateway, world):
    values, routes = world
    before = audit_count(gateway)
    with httpx.Client(follow_redirects=False, timeout=20) as anonymous, \
            closing(staff_client(gateway, "officer.o", roles=("officer",), path="/officer")) as officer, \
            closing(staff_client(gateway, "citizen.d", roles=(), path="/account")) as citizen:
        officer.follow_redirects = citizen.follow_redirects = False
        for method, path in routes:
            target = url(gateway, path, values)
            answer = anonymous.request(method, target, data={"x": "1"} if method == "POST" else None)
            assert refused(answer), (method, path, answer.status_code, answer.headers.get("location"))
            for who, http in (("officer", officer), ("citizen", citizen)):
                answer = http.request(method, target, data={"x": "1"} if method == "POST" else None)
                assert answer.status_code == 403 or refused(answer), (who, method, path, answer.status_code)
                assert answer.status_code != 500
    assert events_since(gateway, before) <= SIGN_IN  # the two staff accounts signing in; no change


def test_an_auditor_reads_the_audit_log_and_nothing_else(gateway, world):
    values, routes = world
    with closing(staff_client(gateway, "auditor.u", roles=("auditor",), path="/admin/audit")) as auditor:
        auditor.follow_redirects = False
        for method, path in routes:
            answer = auditor.request(method, url(gateway, path, values), data={"x": "1"} if method == "POST" else None)
            if method == "GET" and path in AUDITOR_PAGES:
                assert answer.status_code == 200, (path, answer.status_code)
            else:
                assert answer.status_code == 403 or refused(answer), (method, path, answer.status_code)


def test_an_admin_post_without_its_csrf_token_or_with_a_stale_session_changes_nothing(gateway, world):
    values, routes = world
    posts = [path for method, path in routes if method == "POST"]
    with closing(staff_client(gateway, "admin.fresh")) as admin:
        admin.follow_redirects = False
        before = audit_count(gateway)
        for path in posts:
            answer = admin.post(url(gateway, path, values), data={"csrf_token": "forged", "reason": "x"})
            assert answer.status_code in (400, 403), (path, answer.status_code, answer.text[:200])
        assert audit_count(gateway) == before
        with gateway.db() as db:
            assert db.get(Client, values["client_id"]).disabled_at is None
        gateway.clock.advance(16 * 60)  # the sign-in is now older than a change allows
        for path in posts:
            page_path = path.rsplit("/", 1)[0] if not path.endswith("/settings") else path
            answer = admin.post(url(gateway, path, values), data={"csrf_token": "forged"})
            assert refused(answer) or answer.status_code in (400, 403), (path, answer.status_code)
            if answer.status_code in (302, 303):
                assert answer.headers["location"].startswith("/signin"), (path, page_path)
        assert audit_count(gateway) == before


ODD = ["²", "٣", "9" * 40, "-1", "0", "\u202e", "%", "a" * 5000, "２０２６-01-01", "2569-02-30", "[]", "{\"a\":1}"]


def test_odd_query_values_never_break_an_admin_page(gateway, world):
    """Every admin GET, asked with every query parameter a console page reads set to odd values
    (digits that int() refuses, huge numbers, bidi marks, long strings): an answer, never a 500."""
    values, routes = world
    names = ["before", "from", "to", "recent", "event", "actor", "service", "account", "q", "format", "done",
             "kids", "lang"]
    with closing(staff_client(gateway, "admin.odd")) as admin:
        admin.follow_redirects = False
        for method, path in routes:
            if method != "GET":
                continue
            for odd in ODD:
                answer = admin.get(url(gateway, path, values).split("?")[0], params={n: odd for n in names})
                assert answer.status_code < 500, (path, odd, answer.status_code)
