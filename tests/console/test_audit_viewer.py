"""The audit viewer (issue 15): auditors and admins filter the audit log by time, event, actor,
service and account, page through it newest first by keyset, and export every matching event as
JSON lines or CSV (streamed in batches, itself audited). Events come from real sign-ins
(tests.flow) and from ``audit.record`` with chosen times; the filter query runs on SQLite and
PostgreSQL, the pages on SQLite."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from idgw import audit
from idgw.admin import add_user
from idgw.audit.chain import event_hash
from idgw.console import audit_view
from idgw.console.audit_texts import detail_items, event_time, mask_text
from idgw.storage.models import AuditEvent
from tests.a11y import PHONE_WIDTH, a11y_context, check_a11y
from tests.console.world import PASSWORD, form_post, make_staff, staff_client
from tests.flow import login_flow, register, wait_until

BANGKOK = timedelta(hours=7)
CITIZEN_ID = "1345951597671"


def at(day: str, hour: int = 12) -> int:
    """Epoch seconds of ``day`` (YYYY-MM-DD) at ``hour`` o'clock in Bangkok."""
    d = datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC) - BANGKOK
    return int(d.timestamp())


def record(gateway, *events: tuple) -> None:
    """Each ``(name, at, fields)`` recorded with ``audit.record``, in one transaction."""
    with gateway.db() as db:
        for name, when, fields in events:
            audit.record(db, name, at=when, **fields)
        db.commit()


def ids_where(gateway, **params) -> list[int]:
    """The ids the viewer's query finds for ``params`` (all pages), newest first."""
    with gateway.db() as db:
        asked = audit_view.read_filters(params, now=gateway.clock.now())
        assert not asked.errors, asked.errors
        where = audit_view.criteria(db, asked.filters).where
        return [e.id for e in audit_view.page(db, where, size=10_000).events]


def ids_of(gateway, predicate) -> list[int]:
    with gateway.db() as db:
        return [e.id for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())) if predicate(e)]


def signed_in_as(gateway, username: str, *, roles: tuple, path: str = "/admin/audit"):
    """A new account with ``roles``, signed in at AAL 2.2 by an httpx client (closed after the ``with``)."""
    return contextlib.closing(staff_client(gateway, username, roles, path=path))


def a_world(gateway) -> dict:
    """A staff member, a citizen and events naming them in each way the gateway does."""
    with gateway.db() as db:
        now = gateway.clock.now()
        staff = add_user(db, username="Auditor.Anan", password=PASSWORD, now=now, roles=["admin"])
        citizen = add_user(db, username="malee.s", password=PASSWORD, now=now)
        other = add_user(db, username="malee.ss", password=PASSWORD, now=now)
        db.commit()
    record(gateway,
           ("session.created", at("2025-03-01", 8), {"actor": citizen.id, "client_id": "svc-a", "ip": "10.0.0.1"}),
           ("token.issued", at("2025-03-01", 9), {"actor": citizen.id, "client_id": "svc-b"}),
           ("account.unlocked", at("2025-03-02"), {"actor": "Auditor.Anan", "on_behalf_of": citizen.id}),
           ("change.requested", at("2025-03-03"), {"actor": "Auditor.Anan", "target": citizen.id, "kind": "x"}),
           ("change.approved", at("2025-03-04"), {"actor": "someone", "requested_by": "malee.s"}),
           ("change.approved", at("2025-03-04", 13), {"actor": "someone", "requested_by": "malee.ss"}),
           ("delegation.created", at("2025-03-05"), {"actor": other.id, "on_behalf_of": "juristic:0105556000001"}),
           ("session.created", at("2025-03-06", 23), {"actor": other.id, "client_id": "svc-a"}),
           ("session.created", at("2025-03-07", 0), {"actor": other.id, "client_id": "svc-a"}))
    return {"staff": staff.id, "citizen": citizen.id, "other": other.id}


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_each_filter_narrows_and_pages_by_keyset(gateway):
    w = a_world(gateway)
    crafted = set(ids_of(gateway, lambda e: e.at < at("2025-04-01")))
    assert len(crafted) == 9
    in_march = set(ids_where(gateway, **{"from": "2025-03-01", "to": "2025-03-31"}))
    assert in_march == crafted
    # days are Bangkok days, both included; a Buddhist-era year means the same day
    assert {e for e in ids_where(gateway, **{"from": "2025-03-06", "to": "2025-03-06"})} == set(
        ids_of(gateway, lambda e: e.at == at("2025-03-06", 23)))
    assert ids_where(gateway, **{"from": "2568-03-06", "to": "2568-03-06"}) == ids_where(
        gateway, **{"from": "2025-03-06", "to": "2025-03-06"})
    assert len(ids_where(gateway, to="2025-03-01")) == 2
    since_7th = set(ids_where(gateway, **{"from": "2025-03-07"}))
    assert since_7th & crafted == set(ids_of(gateway, lambda e: e.at == at("2025-03-07", 0)))
    # relative: only what happened in the last day (the accounts made just now), none of March 2025
    recent = set(ids_where(gateway, last="24h"))
    assert recent and not recent & crafted
    approved = ids_where(gateway, event="change.approved")
    assert len(approved) == 2 and approved == ids_of(gateway, lambda e: e.name == "change.approved")
    assert set(ids_where(gateway, actor="Auditor.Anan")) == set(ids_of(gateway, lambda e: e.actor == "Auditor.Anan"))
    assert set(ids_where(gateway, service="svc-a")) == set(ids_of(gateway, lambda e: e.client_id == "svc-a"))
    assert len(ids_where(gateway, service="svc-a")) == 3
    # account: actor by id, on_behalf_of, a detail value holding the id or the username (not malee.ss's)
    citizen = set(ids_of(gateway, lambda e: w["citizen"] in (e.actor, e.on_behalf_of)
                         or w["citizen"] in json.dumps(e.detail) or e.detail.get("requested_by") == "malee.s"))
    for value in ("malee.s", "MALEE.S", w["citizen"]):
        assert set(ids_where(gateway, account=value)) == citizen, value
    assert len(citizen & crafted) == 5  # session.created, token.issued, unlocked, requested, approved
    # the staff member: as actor by username
    assert set(ids_where(gateway, account="auditor.anan")) >= set(ids_where(gateway, actor="Auditor.Anan"))
    # not an account: actor or on_behalf_of exactly
    assert len(ids_where(gateway, account="juristic:0105556000001")) == 1
    assert ids_where(gateway, account="nobody") == []
    # together
    assert len(ids_where(gateway, account="malee.ss", service="svc-a", **{"from": "2025-03-07"})) == 1
    # keyset pages of 2: every event once, newest first
    with gateway.db() as db:
        where = audit_view.criteria(db, audit_view.read_filters({"to": "2025-03-31"}, now=0).filters).where
        seen, before = [], None
        while True:
            found = audit_view.page(db, where, before=before, size=2)
            seen += [e.id for e in found.events]
            if found.next_before is None:
                break
            before = found.next_before
    assert seen == sorted(crafted, reverse=True)
    # the export's batches: oldest first, every event once, none after ``upto``
    upto = max(crafted) - 1
    got = [r["id"] for batch in audit_view.batches(gateway.gw.sessionmaker, where, upto=upto, size=2) for r in batch]
    assert got == sorted(crafted - {max(crafted)})


def test_filters_that_cannot_be_understood():
    def errors(**params):
        return audit_view.read_filters(params, now=1_700_000_000).errors

    assert errors() == []
    assert errors(**{"from": "2025-02-30"}) == [("from", "bad_date")]
    assert errors(to="10/03/2025") == [("to", "bad_date")]
    assert errors(**{"from": "2025-03-02", "to": "2025-03-01"}) == [("to", "from_after_to")]
    assert errors(event="token.stolen") == [("event", "unknown_event")]
    assert errors(last="1y") == [("last", "bad_last")]
    assert errors(last="7d", to="2025-03-01") == [("last", "last_and_days")]
    assert errors(actor="x" * 201) == [("actor", "too_long")]
    assert errors(before="12abc") == [("before", "bad_cursor")]
    asked = audit_view.read_filters({"last": "7d", "actor": " a "}, now=1_700_000_000)
    assert asked.filters.since == 1_700_000_000 - 7 * 86400 and asked.filters.actor == "a"


def test_how_an_event_reads():
    assert event_time(at("2025-03-01", 9), "th") == "1 มี.ค. 2568 09:00:00"
    assert event_time(at("2025-03-01", 9), "en") == "2025-03-01T09:00:00+07:00"
    assert mask_text(f"id {CITIZEN_ID}, 1-3459-51597-67-1") == "id •••••••••7671, •••••••••7671"
    assert mask_text("juristic:0105556000001 and 12345678901234") == "juristic:0105556000001 and 12345678901234"
    items = detail_items({"z": "x" * 500, "citizen_id": CITIZEN_ID, "scope": ["openid", "profile"]})
    assert [i["key"] for i in items] == ["citizen_id", "scope", "z"]
    assert items[0]["text"] == "•••••••••7671" and items[1]["text"] == '["openid", "profile"]'
    assert items[2]["shortened"] and len(items[2]["text"]) == 161


def table_ids(page: httpx.Response) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="event-(\d+)">', page.text)]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_auditor_reads_filters_and_pages_the_log(gateway):
    reg = register(gateway, username="somsri.r", citizen_id=CITIZEN_ID)
    login_flow(gateway, reg)  # a real sign-in: session.created, consent, authorization, ...
    record(gateway, *[("data.purged", at("2025-01-01") + i, {"actor": "system", "table": f"t{i}"}) for i in range(120)])
    record(gateway, ("proofing.decided", at("2025-02-01"), {"actor": reg.account_id, "citizen_id": CITIZEN_ID,
                                                            "note": "ยาว" * 100}))
    with signed_in_as(gateway, "auditor.a", roles=("auditor",), path="/admin/audit") as http:
        url = gateway.url + "/admin/audit"
        # the citizen's sign-in, found by username
        page = http.get(url, params={"account": "somsri.r", "lang": "en"})
        assert page.status_code == 200
        names = re.findall(r'<td class="nowrap"><code>([a-z_.]+)</code></td>', page.text)
        assert "session.created" in names and "proofing.decided" in names and "data.purged" not in names
        assert CITIZEN_ID not in page.text and "•••••••••7671" in page.text
        assert "2025-02-01T12:00:00+07:00" in page.text and "shortened: the export has it in full" in page.text
        with gateway.db() as db:
            decided = db.scalar(select(AuditEvent).where(AuditEvent.name == "proofing.decided"))
        row = re.search(rf'<tr id="event-{decided.id}">.*?</tr>', page.text, re.S).group(0)
        assert f"<code>{decided.chain}/{decided.seq}</code>" in row and f"<code>{decided.hash[:12]}</code>" in row
        assert "edited?" not in row
        # Thai: Buddhist-era dates, the period said in them
        page = http.get(url, params={"event": "proofing.decided", "from": "2025-02-01", "to": "2025-02-01",
                                     "lang": "th"})
        assert table_ids(page) == [decided.id] and "1 ก.พ. 2568 12:00:00" in page.text
        assert "ช่วงเวลา: 1 ก.พ. 2568 ถึง 1 ก.พ. 2568" in page.text
        # 120 events: pages of 50 by keyset, each event once, newest first
        page, seen = http.get(url, params={"event": "data.purged", "lang": "en"}), []
        while True:
            seen += table_ids(page)
            older = re.search(r'<a href="([^"]+)" id="page-older"', page.text)
            if not older:
                break
            assert 'id="page-newest"' in http.get(gateway.url + older.group(1).replace("&amp;", "&")).text
            page = http.get(gateway.url + older.group(1).replace("&amp;", "&"))
        assert len(seen) == 120 and len(set(seen)) == 120 and seen == sorted(seen, reverse=True)
        assert len(table_ids(http.get(url, params={"event": "data.purged"}))) == 50
        # a row edited in the database no longer matches its hash
        with gateway.db() as db:
            db.execute(update(AuditEvent).where(AuditEvent.id == decided.id).values(detail={"note": "nothing"}))
            db.commit()
        page = http.get(url, params={"event": "proofing.decided", "lang": "en"})
        assert "Content does not match its hash (edited?)" in page.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bad_filters_are_answered_400_with_the_form_kept(gateway):
    with signed_in_as(gateway, "auditor.b", roles=("auditor",), path="/admin/audit") as http:
        url = gateway.url + "/admin/audit"
        page = http.get(url, params={"from": "2025-02-30", "actor": "Auditor.Anan", "service": "svc-a", "lang": "en"})
        assert page.status_code == 400 and "From (day): not a valid day (YYYY-MM-DD)." in page.text
        assert 'value="Auditor.Anan"' in page.text and 'value="svc-a"' in page.text
        assert 'aria-invalid="true"' in page.text and 'id="audit-events"' not in page.text
        page = http.get(url, params={"from": "2025-03-02", "to": "2025-03-01", "event": "token.issued",
                                     "lang": "th"})
        assert page.status_code == 400 and "วันที่เริ่มอยู่หลังวันที่สิ้นสุด" in page.text
        assert '<option value="token.issued" selected>' in page.text
        page = http.get(url, params={"event": "token.stolen", "lang": "en"})
        assert page.status_code == 400 and "There is no event named “token.stolen”." in page.text
        page = http.get(url, params={"last": "7d", "to": "2025-03-01", "lang": "en"})
        assert page.status_code == 400 and "Choose either a recent period or days, not both." in page.text
        # the export: the same refusals, a format it does not know; nothing exported, nothing recorded
        for params in ({"event": "token.stolen", "format": "jsonl"}, {"format": "xlsx"}, {}):
            page = http.get(url + "/export", params={**params, "lang": "en"})
            assert page.status_code == 400 and "attachment" not in page.headers.get("content-disposition", "")
        assert "The export format must be jsonl or csv." in page.text
    assert ids_of(gateway, lambda e: e.name == "audit.exported") == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_export_streams_every_matching_event_and_is_audited(gateway):
    record(gateway, *[("data.purged", at("2025-01-01") + i, {"actor": "system", "n": i}) for i in range(1100)])
    record(gateway,
           ("client.updated", at("2025-01-02"), {"actor": "=HYPERLINK(\"http://evil\")", "client_id": "+svc",
                                                 "note": "@SUM(1)"}),
           ("client.updated", at("2025-01-03"), {"actor": "-2+3", "ip": "@10.0.0.1", "client_id": "svc"}))
    with gateway.db() as db:
        purged = db.scalar(select(AuditEvent.id).where(AuditEvent.name == "data.purged").order_by(AuditEvent.id))
    with signed_in_as(gateway, "auditor.c", roles=("auditor",), path="/admin/audit") as http:
        url = gateway.url + "/admin/audit/export"
        # JSON lines: every one of the 1,100 (more than a page, more than a batch), every column
        got = http.get(url, params={"event": "data.purged", "format": "jsonl"})
        assert got.status_code == 200 and got.headers["content-type"].startswith("application/x-ndjson")
        disposition = got.headers["content-disposition"]
        assert re.fullmatch(r'attachment; filename="idgw-audit-\d{8}T\d{6}Z\.jsonl"', disposition)
        lines = [json.loads(line) for line in got.text.splitlines()]
        assert len(lines) == 1100 and [x["detail"]["n"] for x in lines] == list(range(1100))
        assert lines[0]["id"] == purged and set(lines[0]) == set(audit_view.COLUMNS)
        for x in lines[:5]:  # the chain fields as stored: an auditor can recompute the hashes
            assert x["hash"] == event_hash(x, x["prev_hash"]) and x["chain"] and x["seq"] >= 1
        # CSV: the same columns, detail as JSON text, no cell a spreadsheet would run
        got = http.get(url, params={"event": "client.updated", "format": "csv"})
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(got.content.decode("utf-8-sig"))))
        assert len(rows) == 2 and list(rows[0]) == list(audit_view.COLUMNS)
        assert rows[0]["actor"] == "'=HYPERLINK(\"http://evil\")" and rows[0]["client_id"] == "'+svc"
        assert json.loads(rows[0]["detail"]) == {"note": "@SUM(1)"}
        assert rows[1]["actor"] == "'-2+3" and rows[1]["ip"] == "'@10.0.0.1" and rows[1]["client_id"] == "svc"
        assert len(rows[1]["hash"]) == 64 and len(rows[1]["prev_hash"]) == 64 and rows[1]["seq"].isdigit()
        # the page's export links carry its filters
        page = http.get(gateway.url + "/admin/audit", params={"event": "client.updated", "service": "svc"})
        link = re.search(r'<a href="([^"]+)" id="export-csv"', page.text).group(1).replace("&amp;", "&")
        rows = list(csv.DictReader(io.StringIO(http.get(gateway.url + link).content.decode("utf-8-sig"))))
        assert [r["client_id"] for r in rows] == ["svc"]
    # each export recorded (before it streamed) with who and which filters; none is in its own file
    with gateway.db() as db:
        exported = list(db.scalars(select(AuditEvent).where(AuditEvent.name == "audit.exported")
                                   .order_by(AuditEvent.id)))
    assert [(e.actor, e.detail["format"], e.detail["filters"]) for e in exported] == [
        ("auditor.c", "jsonl", {"event": "data.purged"}), ("auditor.c", "csv", {"event": "client.updated"}),
        ("auditor.c", "csv", {"event": "client.updated", "service": "svc"})]
    assert all(e.session_id and e.detail["through_id"] < e.id for e in exported)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_only_auditors_and_admins_see_the_log(gateway):
    with httpx.Client(timeout=20) as anonymous:
        for path in ("/admin/audit?event=token.issued", "/admin/audit/export?format=jsonl"):
            answer = anonymous.get(gateway.url + path)
            assert answer.status_code == 303 and answer.headers["location"].startswith("/signin?next=/admin/audit")
    with signed_in_as(gateway, "officer.a", roles=("officer",), path="/officer") as http:
        for path in ("/admin/audit", "/admin/audit/export?format=csv"):
            assert http.get(gateway.url + path).status_code == 403
    make_staff(gateway, "citizen.a", roles=(), passkey=False)  # no role: a citizen
    with httpx.Client(follow_redirects=True, timeout=20) as http:
        page = form_post(http, http.get(gateway.url + "/admin/audit"), username="citizen.a", password=PASSWORD)
        assert page.url.path == "/admin/audit" and page.status_code == 403
        assert http.get(gateway.url + "/admin/audit/export?format=jsonl").status_code == 403
    with signed_in_as(gateway, "admin.a", roles=("admin",), path="/admin/audit") as http:
        assert http.get(gateway.url + "/admin/audit").status_code == 200
        assert http.get(gateway.url + "/admin/audit/export?format=csv").status_code == 200
    assert len(ids_of(gateway, lambda e: e.name == "audit.exported")) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_audit_page_in_chromium(browser, gateway):
    reg = register(gateway, username="kanya.p")
    login_flow(gateway, reg)
    with signed_in_as(gateway, "auditor.d", roles=("auditor",), path="/admin/audit") as http:
        cookies = [{"name": c.name, "value": c.value, "url": gateway.url} for c in http.cookies.jar]
    for locale, width in (("th", None), ("en", PHONE_WIDTH)):
        context = a11y_context(browser, locale=locale, width=width)
        context.add_cookies(cookies)
        page = context.new_page()
        problems: list[str] = []
        page.on("console", lambda m, seen=problems: seen.append(m.text) if m.type in ("error", "warning") else None)
        th = locale == "th"
        page.goto(gateway.url + f"/admin/audit?lang={locale}")
        page.get_by_label("บัญชี (รหัสบัญชีหรือชื่อผู้ใช้)" if th else "Account (account id or username)").fill("kanya.p")
        page.get_by_label("เหตุการณ์" if th else "Event", exact=True).select_option("session.created")
        page.get_by_role("button", name="แสดงเหตุการณ์" if th else "Show events").click()
        page.locator("#audit-events").wait_for()
        assert page.locator("#audit-events tbody tr").count() == 1
        check_a11y(page, context=f"audit, {locale}")
        page.get_by_label("ตั้งแต่วันที่" if th else "From (day)").fill("2025-03-02")
        page.get_by_label("ถึงวันที่" if th else "To (day)").fill("2025-03-01")
        page.get_by_role("button", name="แสดงเหตุการณ์" if th else "Show events").click()
        page.locator("#error-summary").wait_for()
        assert wait_until(lambda p=page: p.evaluate("() => document.activeElement.id") == "error-summary")
        assert page.get_by_label("บัญชี (รหัสบัญชีหรือชื่อผู้ใช้)" if th else "Account (account id or username)"
                                 ).input_value() == "kanya.p"
        check_a11y(page, context=f"audit, refused, {locale}")
        assert [p for p in problems if "status of 400" not in p] == [], problems  # 400: the refusal itself
        context.close()
