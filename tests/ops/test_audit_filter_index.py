"""The audit viewer's actor, account and service filters on PostgreSQL read through indexes
(migration 0016), not the whole audit log, which is the largest table at national scale (several events per
sign-in, kept for years). Measured before them on 1,000,000 events: a page of the actor filter
104-142 ms, of the account filter 390 ms, of a service with no events 97 ms, growing with the log
(docs/operations.md).

On a table of a few rows the planner may read anything, so this test gives it 60,000 events
shaped like the real ones (mostly token and session events of many citizens, a few
administrators' changes), asks PostgreSQL for the plan of the page the viewer reads, and checks
what the filters find."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from idgw.console import audit_view
from idgw.storage.db import make_engine, make_sessionmaker, upgrade
from tests.ops import plans

EVENTS = 60_000


@pytest.fixture(scope="module")
def big_log(postgres):
    url = postgres.create_database()
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO accounts (id, username, username_key, email_verified, ial, roles, failed_logins,"
            " locked_until, created_at) VALUES ('acc-42', 'Malee.S', 'malee.s', false, '1.1', '[]', 0, 0, 1),"
            " ('acc-7', 'anan.admin', 'anan.admin', false, '1.1', '[\"admin\"]', 0, 0, 1)"))
        # citizens acc-0 .. acc-2999 sign in and get tokens; every 500th event is an administrator's
        # change naming its requester in the detail; every 200th acts for someone (on_behalf_of).
        conn.execute(text(
            "INSERT INTO audit_events (at, name, actor, on_behalf_of, client_id, detail, chain, seq, prev_hash, hash)"
            " SELECT i, CASE WHEN i % 500 = 0 THEN 'change.approved' WHEN i % 2 = 0 THEN 'token.issued'"
            " ELSE 'session.created' END,"
            " CASE WHEN i % 500 = 0 THEN 'anan.admin' ELSE 'acc-' || (i % 3000) END,"
            " CASE WHEN i % 200 = 0 THEN 'acc-' || (i % 2999) END, 'svc-' || (i % 20),"
            " CASE WHEN i % 500 = 0 THEN json_build_object('requested_by', CASE WHEN i % 1000 = 0 THEN 'Malee.S'"
            " ELSE 'someone' END, 'change_id', i) ELSE '{}'::json END,"
            " '0', i, repeat('0', 64), repeat('0', 64) FROM generate_series(1, :n) i"), {"n": EVENTS})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE audit_events"))
    yield engine
    engine.dispose()


def _where(engine, **params) -> list:
    with make_sessionmaker(engine)() as db:
        asked = audit_view.read_filters(params, now=0)
        assert not asked.errors, asked.errors
        return audit_view.criteria(db, asked.filters).where


@pytest.mark.parametrize(("params", "indexes"), [
    ({"actor": "acc-42"}, {"ix_audit_actor"}),
    ({"account": "malee.s"}, {"ix_audit_actor", "ix_audit_on_behalf", "ix_audit_name_at"}),
    ({"account": "acc-42"}, {"ix_audit_actor", "ix_audit_on_behalf", "ix_audit_name_at"}),
    ({"account": "juristic:0105556000001"}, {"ix_audit_actor", "ix_audit_on_behalf"}),
    ({"service": "svc-dormant"}, {"ix_audit_client"}),
])
def test_the_filters_read_through_indexes(big_log, params, indexes):
    # (a busy service's page is found walking the newest events: a twentieth of them match, so
    # PostgreSQL rightly stops after ~1,000; a service with no events must not walk them all)
    nodes = list(plans.nodes(plans.explain(big_log, audit_view.page_statement(_where(big_log, **params)))))
    assert indexes <= {node.get("Index Name") for node in nodes}, json.dumps(nodes, indent=1)
    assert not [n for n in nodes if n.get("Node Type") == "Seq Scan"], json.dumps(nodes, indent=1)
    # and no walk of the whole log newest first, filtering as it goes
    assert not [n for n in nodes if n.get("Relation Name") == "audit_events" and "Index Cond" not in n
                and n.get("Node Type") in ("Index Scan", "Index Only Scan")], json.dumps(nodes, indent=1)


def test_a_persons_data_export_reads_their_events_through_them(big_log):
    # "Download my data" (idgw.account.export) read the whole log for every click before 0016
    from idgw.account.export import events_of

    nodes = list(plans.nodes(plans.explain(big_log, events_of("acc-42"))))
    assert {"ix_audit_actor", "ix_audit_on_behalf"} <= {n.get("Index Name") for n in nodes}, json.dumps(nodes)
    assert not [n for n in nodes if n.get("Node Type") == "Seq Scan"]
    with make_sessionmaker(big_log)() as db:
        events = list(db.scalars(events_of("acc-42")))
    assert len(events) == EVENTS // 3000 + len([i for i in range(200, EVENTS + 1, 200) if i % 2999 == 42])


def test_what_the_filters_find_through_them(big_log):
    with make_sessionmaker(big_log)() as db:
        def found(**params):
            return audit_view.page(db, _where(big_log, **params), size=10_000).events

        by_actor = found(actor="acc-42")
        assert len(by_actor) == EVENTS // 3000 and {e.actor for e in by_actor} == {"acc-42"}
        assert [e.id for e in by_actor] == sorted((e.id for e in by_actor), reverse=True)
        malee = found(account="malee.s")
        # as actor (acc-42), as on_behalf_of (i % 200 == 0 and i % 2999 == 42) and as the requester of changes
        assert {e.actor for e in malee if e.name == "change.approved"} == {"anan.admin"}
        assert len([e for e in malee if e.name == "change.approved"]) == EVENTS // 1000
        assert {e.id for e in malee} >= {e.id for e in by_actor}
        assert all("acc-42" in (e.actor, e.on_behalf_of) or e.detail.get("requested_by") == "Malee.S" for e in malee)
        assert [e.id for e in found(account="MALEE.S")] == [e.id for e in malee]  # a username in any case
