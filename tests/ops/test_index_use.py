"""Every statement a sign-in, a token and the calls around them run on PostgreSQL reads its rows
through an index, so none of them slows down as the tables grow to national size (millions of
accounts, tens of millions of tokens).

PostgreSQL itself is asked: auto_explain logs the plan of every statement the gateway runs on a
database of its own, with sequential scans priced out (``enable_seqscan = off``), so the planner
takes any index that can serve and falls back to a full scan only where none can. A plan node
that reads a whole table (a Seq Scan, or an index scan with no index condition) on a table that
grows is a failure naming the statement. (lower(username) = :typed, which no index served, was
one such full scan per password sign-in until migration 0011.)"""

from __future__ import annotations

import json
import re

import httpx
import psycopg
import pytest

from tests.conftest import migrated, start_gateway
from tests.flow import Browser, exchange, login_flow, register, rp_client

# Tables that stay small whatever the number of citizens: read whole by design.
SMALL = {
    "signing_keys": "the key store re-reads the handful of keys it signs with",
    "instance_secrets": "one row per secret of the installation",
    "alembic_version": "one row: the schema's revision (readiness)",
    "audit_heads": "one row per audit chain",
    "clients": "the e-services administrators registered (hundreds), listed whole on the services page",
}


def _plans(log: str):
    """(query text, plan tree) of each auto_explain entry (JSON format) in ``log``."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"plan:\s*", log):
        try:
            entry, _end = decoder.raw_decode(log, match.end())
        except ValueError:
            continue
        yield entry.get("Query Text", ""), entry.get("Plan", {})


def _whole_table_reads(plan: dict, *, under_limit: bool = False):
    """Tables a plan reads whole: Seq Scans, and index scans without an index condition, except
    an index scan in order under a LIMIT (the latest N rows: it stops after N)."""
    node = plan.get("Node Type", "")
    table = plan.get("Relation Name")
    walks_index = node in ("Index Scan", "Index Only Scan") and "Index Cond" not in plan
    if table and (node == "Seq Scan" or (walks_index and not under_limit)):
        yield table, node
    for child in plan.get("Plans", []):
        yield from _whole_table_reads(child, under_limit=node == "Limit")


def _where(query: str) -> str:
    """The part of a statement that says which rows (its column list can be long)."""
    query = " ".join(query.split())
    return (query[:60] + " ... " + query[query.find(" FROM "):])[:400] if " FROM " in query else query[:400]


@pytest.fixture
def explained(postgres):
    url = migrated_url = postgres.create_database()
    migrated(migrated_url)
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(f"host=127.0.0.1 port={postgres.port} user=idgw dbname=postgres", autocommit=True) as c:
        for setting, value in (("session_preload_libraries", "auto_explain"),
                               ("auto_explain.log_min_duration", "0"), ("auto_explain.log_format", "json"),
                               ("auto_explain.log_nested_statements", "on"), ("enable_seqscan", "off")):
            c.execute(f'ALTER DATABASE "{name}" SET {setting} = \'{value}\'')
    log = postgres.dir / "log"
    gateway = start_gateway(url)
    start = log.stat().st_size
    yield gateway, lambda: log.read_bytes()[start:].decode(errors="replace")
    gateway.stop()
    gateway.gw.engine.dispose()


def test_sign_in_and_token_calls_read_no_growing_table_whole(explained):
    gateway, read_log = explained
    reg = register(gateway)
    # a wrong password first (the throttles), then a password sign-in, consent, the code
    rp = rp_client(gateway, reg)
    browser = Browser(gateway)
    url = rp.create_authorization_url(gateway.url + "/authorize", code_verifier="v" * 48, nonce="n" * 16)[0]
    page = browser.follow(browser.get(url))
    assert "รหัสผ่าน" in browser.login(page, reg.username, password="wrong password here").text
    assert "รหัสผ่าน" in browser.login(browser.follow(browser.get(url)), "no-such-user", password="whatever-1").text
    params, _state, _nonce, verifier, rp, browser = login_flow(gateway, reg, browser=browser)
    tokens = exchange(gateway, rp, params["code"], verifier)
    # the calls an e-service makes with them
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert httpx.get(gateway.url + "/userinfo", headers=bearer).is_success
    assert httpx.post(gateway.url + "/introspect", auth=(reg.client_id, reg.client_secret),
                      data={"token": tokens["access_token"]}).json()["active"] is True
    refreshed = rp.refresh_token(gateway.url + "/token", refresh_token=tokens["refresh_token"])
    # a second sign-in on the same session (no password), then the refresh token revoked
    params, *_ = login_flow(gateway, reg, browser=browser, prompt="consent")
    assert params["code"]
    assert httpx.post(gateway.url + "/revoke", auth=(reg.client_id, reg.client_secret),
                      data={"token": refreshed["refresh_token"]}).status_code == 200
    # logout: RP-initiated, with the ID token as hint
    out = browser.http.get("/logout", params={"id_token_hint": refreshed["id_token"], "client_id": reg.client_id})
    assert out.status_code in (200, 302, 303)

    # the purge's pass a day later (every expired row it removes is found by an index too)
    from idgw.purge import purge

    purge(gateway.gw.sessionmaker, now=gateway.clock.now() + 86400, settings=gateway.gw.settings)

    log = read_log()
    plans = list(_plans(log))
    assert len(plans) > 40, "auto_explain logged no plans: is it installed with the server?"
    pass  # the sign-in's lookup was seen
    found = [(table, node, _where(query)) for query, plan in plans
             for table, node in _whole_table_reads(plan) if table not in SMALL]
    assert not found, "\n".join(f"{table}: {node} in {query}" for table, node, query in found)


def _reads_of(read_log):
    log = read_log()
    plans = list(_plans(log))
    return plans, [(table, node, _where(query)) for query, plan in plans
                   for table, node in _whole_table_reads(plan) if table not in SMALL]


def test_the_officer_and_admin_consoles_read_no_growing_table_whole(explained):
    """The proofing queue an officer works from, a case, and the admin console's pages."""
    from tests.proofing.world import make_case, officer_client
    from tests.test_admin_pages import make_admin, signed_in_admin

    gateway, read_log = explained
    first = make_case(gateway)
    make_case(gateway)
    officer = officer_client(gateway, "officer.index")
    assert officer.get("/officer/queue.json").is_success
    officer.post(f"/officer/case/{first.case_id}/claim", data={})
    officer.get(f"/officer/case/{first.case_id}")
    officer.get(f"/officer/case/{first.case_id}/state.json")
    make_admin(gateway, username="admin.index", roles=("admin",))
    enable = __import__("tests.stepup", fromlist=["enable_second_factor"]).enable_second_factor
    enable(gateway, "admin.index", factor="hwk_uv")
    admin = httpx.Client(base_url=gateway.url, follow_redirects=True, timeout=20)
    signed_in_admin(gateway, admin, "admin.index")
    for path in ("/admin/services", "/admin/audit", "/admin/accounts", "/admin/keys", "/admin/changes"):
        assert admin.get(path).status_code < 500, path
    plans, found = _reads_of(read_log)
    assert len(plans) > 40
    assert not found, "\n".join(f"{table}: {node} in {query}" for table, node, query in found)


def test_acting_for_another_reads_no_growing_table_whole(explained):
    """Delegation: a mandate made and signed, the delegate offered it at sign-in and acting under
    it, userinfo and a refresh under it, and the principal's revocation."""
    from idgw.delegation import mandates
    from tests.delegation.world import SOMCHAI, SOMYING, citizen, delegable_service, person_mandate, sign_in_acting

    gateway, read_log = explained
    service = delegable_service(gateway)
    a, b = citizen(gateway, SOMCHAI), citizen(gateway, SOMYING)
    mandate_id = person_mandate(gateway, a, b, client_id=service.client_id)
    tokens, rp, _ = sign_in_acting(gateway, service, b, choice=mandate_id)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert httpx.get(gateway.url + "/userinfo", headers=bearer).json()["act"]
    rp.refresh_token(gateway.url + "/token", refresh_token=tokens["refresh_token"])
    from idgw.storage.delegation import Mandate
    from idgw.storage.models import Account

    with gateway.db() as db:
        mandates.revoke(db, row=db.get(Mandate, mandate_id), account=db.get(Account, a.account_id),
                        now=gateway.clock.now())
        db.commit()
    plans, found = _reads_of(read_log)
    assert any("mandates" in query for query, _ in plans)
    assert not found, "\n".join(f"{table}: {node} in {query}" for table, node, query in found)
