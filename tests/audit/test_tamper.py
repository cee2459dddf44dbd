"""``idgw audit verify`` names the first edited, deleted, inserted, reordered or rewritten event
of a chain, on SQLite and PostgreSQL, and exits 1; an untouched log verifies (exit 0)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from idgw.audit.chain import GENESIS, event_hash
from idgw.storage.console import AuditCheckpoint, AuditHead
from idgw.storage.models import AuditEvent
from tests.audit.world import idgw, make_world, one_chain, report_of


@pytest.fixture
def world(database_url, monkeypatch):
    one_chain(monkeypatch)
    w = make_world(database_url)
    w.write(12, per_transaction=3)  # four commits of three events each
    w.write(6)
    return w  # 20 events: two keys.generated, then 18 sign-in failures


def verify(world):
    result = idgw(world.url, "audit", "verify", "--json")
    return result.exit_code, report_of(result)


def first_problem(world) -> dict:
    code, report = verify(world)
    assert code == 1, report
    assert not report["ok"] and len(report["problems"]) == 1
    return report["problems"][0]


def test_an_untouched_log_verifies_and_the_links_hold(world):
    rows = world.rows()
    assert [r.seq for r in rows] == list(range(1, 21))
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    code, report = verify(world)
    assert code == 0 and report["ok"]
    assert report["chains"]["0"]["events"] == 20 and report["chains"]["0"]["start"] == "genesis"
    with world.db() as db:
        head = db.get(AuditHead, "0")
        assert (head.seq, head.hash) == (20, rows[-1].hash)
    plain = idgw(world.url, "audit", "verify")
    assert plain.exit_code == 0 and "audit log intact" in plain.stdout and "chain 0: 20 events" in plain.stdout


def test_an_edited_event_is_named(world):
    victim = world.rows()[6]
    world.sql("UPDATE audit_events SET actor = 'someone.else' WHERE id = :id", id=victim.id)
    p = first_problem(world)
    assert (p["kind"], p["row_id"], p["seq"]) == ("edited", victim.id, 7)
    out = idgw(world.url, "audit", "verify")
    assert out.exit_code == 1 and f"event id {victim.id}" in out.stderr and "was edited" in out.stderr


def test_an_edited_detail_is_named(world):
    victim = world.rows()[2]
    with world.db() as db:
        row = db.get(AuditEvent, victim.id)
        row.detail = {**row.detail, "reason": "ok"}
        db.commit()
    assert first_problem(world)["kind"] == "edited"


def test_a_deleted_event_in_the_middle_is_named(world):
    victim = world.rows()[9]
    world.sql("DELETE FROM audit_events WHERE id = :id", id=victim.id)
    p = first_problem(world)
    assert p["kind"] == "deleted" and p["seq"] == 11 and "events 10..10" in p["message"]


def test_deleted_events_at_the_start_and_the_end_are_named(world):
    rows = world.rows()
    world.sql("DELETE FROM audit_events WHERE id = :id", id=rows[0].id)
    assert first_problem(world)["kind"] == "deleted"


def test_deleted_last_events_are_named_by_the_head(world):
    rows = world.rows()
    world.sql("DELETE FROM audit_events WHERE id IN (:a, :b)", a=rows[-1].id, b=rows[-2].id)
    p = first_problem(world)
    assert p["kind"] == "deleted" and "19..20" in p["message"]


def _forge(after: AuditEvent, seq: int) -> dict:
    row = {"chain": "0", "seq": seq, "at": after.at, "name": "account.unlocked", "actor": "intruder",
           "on_behalf_of": None, "client_id": None, "session_id": None, "ip": None, "detail": {},
           "prev_hash": after.hash}
    row["hash"] = event_hash(row, after.hash)
    return row


def _insert(world, row: dict) -> None:
    with world.db() as db:
        db.add(AuditEvent(**row))
        db.commit()


def test_an_inserted_event_with_renumbering_is_named(world):
    rows = world.rows()
    # The intruder makes room after seq 5 (from the end, so the unique (chain, seq) holds) and
    # puts in an event that links correctly to seq 5, with a correct hash of its own.
    for r in reversed(rows[5:]):
        world.sql("UPDATE audit_events SET seq = seq + 1 WHERE id = :id", id=r.id)
    _insert(world, _forge(rows[4], 6))
    p = first_problem(world)
    assert p["kind"] == "inserted" and p["seq"] == 6 and "events 6..6 were inserted" in p["message"]


def test_an_event_appended_beyond_the_head_is_named(world):
    _insert(world, _forge(world.rows()[-1], 21))
    p = first_problem(world)
    assert p["kind"] == "inserted" and "after seq 20" in p["message"]


def test_two_swapped_events_are_named_as_reordered(world):
    rows = world.rows()
    a, b = rows[7], rows[8]  # seq 8 and 9 trade places
    world.sql("UPDATE audit_events SET seq = -1 WHERE id = :id", id=a.id)
    world.sql("UPDATE audit_events SET seq = 8 WHERE id = :id", id=b.id)
    world.sql("UPDATE audit_events SET seq = 9 WHERE id = :id", id=a.id)
    p = first_problem(world)
    assert p["kind"] == "reordered" and p["row_id"] == b.id


def test_a_rewritten_chain_is_caught_by_the_signed_checkpoint(world):
    world.checkpoint()
    rows = world.rows()
    # Someone with write access edits seq 4 and recomputes every hash after it and the head:
    # every link holds again, but the checkpoint signed the old head.
    prev = rows[2].hash
    with world.db() as db:
        for r in rows[3:]:
            row = db.get(AuditEvent, r.id)
            if row.seq == 4:
                row.actor = "rewritten"
            fields = {c: getattr(row, c) for c in ("chain", "at", "name", "actor", "on_behalf_of", "client_id",
                                                   "session_id", "ip", "detail")}
            row.prev_hash, row.hash = prev, event_hash(fields, prev)
            prev = row.hash
        db.get(AuditHead, "0").hash = prev
        db.commit()
    p = first_problem(world)
    assert p["kind"] == "rewritten" and p["seq"] == 20


def test_a_forged_checkpoint_is_named(world):
    world.checkpoint()
    with world.db() as db:
        mark = db.scalar(select(AuditCheckpoint))
        mark.hash = "f" * 64
        db.commit()
    p = first_problem(world)
    assert p["kind"] == "checkpoint" and "differs from what was signed" in p["message"]


def test_a_checkpoint_signed_by_another_key_is_named(world, database_url, tmp_path):
    world.checkpoint()
    with world.db() as db:
        mark = db.scalar(select(AuditCheckpoint))
        header, payload, _sig = mark.jws.split(".")
        mark.jws = f"{header}.{payload}.{'A' * 86}"
        db.commit()
    assert first_problem(world)["kind"] == "checkpoint"


def test_the_report_lists_every_chain(database_url):
    w = make_world(database_url)  # several chains, as the gateway writes them
    w.write(40)
    code, report = verify(w)
    assert code == 0
    with w.db() as db:
        assert sum(c["events"] for c in report["chains"].values()) == db.scalar(select(func.count(AuditEvent.id)))
    assert json.dumps(report)  # serialisable


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_database_without_signing_keys_still_verifies(database_url):
    from idgw import audit
    from idgw.storage.db import make_engine, make_sessionmaker
    from tests.conftest import migrated

    migrated(database_url)  # no gateway ever started here: no signing key, no checkpoint
    with make_sessionmaker(make_engine(database_url))() as db:
        audit.record(db, "account.created", at=1_800_000_000, actor="cli")
        db.commit()
    code, report = verify(type("W", (), {"url": database_url})())
    assert code == 0 and report["ok"]
