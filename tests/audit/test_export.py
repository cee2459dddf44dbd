"""``idgw audit export`` streams the log as JSON lines that verify offline (``idgw audit verify
--file``) against the gateway's keys; an edited, removed or re-signed line is caught; ``--since``
exports a chain's tail, anchored by a checkpoint when there is one. The retention rule removes a
chain's start behind a signed cut, and the rest still verifies."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from idgw.audit import retention
from idgw.cli_audit import parse_since
from idgw.settings import Settings
from idgw.storage.console import AuditCheckpoint
from idgw.storage.models import AuditEvent
from tests.audit.world import ISSUER, idgw, make_world, one_chain, report_of

NOW = 1_800_000_000


@pytest.fixture
def world(database_url, monkeypatch):
    one_chain(monkeypatch)
    w = make_world(database_url)
    w.write(30, at=NOW - 3000)
    return w


def export(world, tmp_path, *args) -> tuple[object, list[dict]]:
    out = tmp_path / "audit.jsonl"
    result = idgw(world.url, "audit", "export", "--output", str(out), *args)
    assert result.exit_code == 0, result.output
    return out, [json.loads(line) for line in out.read_text().splitlines()]


def verify_file(world, path, *args):
    result = idgw(world.url, "audit", "verify", "--file", str(path), "--json", *args)
    return result.exit_code, report_of(result)


def test_an_export_verifies_offline_and_ends_at_a_signed_checkpoint(world, tmp_path):
    path, items = export(world, tmp_path)
    kinds = [i["type"] for i in items]
    assert kinds[0] == "header" and kinds[-1] == "end" and "checkpoint" in kinds
    header = items[0]
    assert header["format"] == "idgw-audit-export/1" and header["issuer"] == ISSUER and header["keys"]["keys"]
    events = [i for i in items if i["type"] == "event"]
    assert items[-1]["events"] == len(events) == 33  # 2 keys.generated + 30 + audit.exported
    assert {"chain", "seq", "prev_hash", "hash", "detail"} <= set(events[0])
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(world.jwks()))
    code, report = verify_file(world, path, "--keys", str(keys))
    assert code == 0, report
    assert report["chains"]["0"]["anchored_to"] == 33 and report["chains"]["0"]["start"] == "genesis"
    # the export itself is audited
    with world.db() as db:
        assert db.scalar(select(func.count()).where(AuditEvent.name == "audit.exported")) == 1
    # keys that cannot be read are said to be so, not a traceback, and not ignored
    (tmp_path / "bad.json").write_text("{not json")
    for given in ("bad.json", "missing.json"):
        result = idgw(world.url, "audit", "verify", "--file", str(path), "--keys", str(tmp_path / given))
        assert result.exit_code == 2 and "cannot read the keys (--keys " in result.output, result.output
    # --keys checks an export's checkpoints: alone (the database's own check) it would be ignored
    result = idgw(world.url, "audit", "verify", "--keys", str(keys))
    assert result.exit_code == 2 and "give the export with --file" in result.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_edited_or_removed_line_is_caught(world, tmp_path):
    path, items = export(world, tmp_path)
    lines = path.read_text().splitlines()
    edited = [json.loads(x) for x in lines]
    edited[5]["actor"] = "nobody"
    path.write_text("\n".join(json.dumps(x) for x in edited) + "\n")
    code, report = verify_file(world, path)
    assert code == 1 and report["problems"][0]["kind"] == "edited"
    path.write_text("\n".join(lines[:5] + lines[6:]) + "\n")
    code, report = verify_file(world, path)
    assert code == 1 and report["problems"][0]["kind"] == "deleted"
    path.write_text("\n".join(lines[:-1]) + "\n")  # cut short: no end line
    code, report = verify_file(world, path)
    assert code == 1 and "cut short" in report["problems"][0]["message"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_checkpoints_are_checked_against_the_keys_given(world, tmp_path, database_url):
    path, _ = export(world, tmp_path)
    other = make_world(f"sqlite:///{tmp_path}/other.db")  # another gateway's keys
    keys = tmp_path / "other.json"
    keys.write_text(json.dumps(other.jwks()))
    code, report = verify_file(world, path, "--keys", str(keys))
    assert code == 1 and report["problems"][0]["kind"] == "checkpoint"
    # an unreadable file is a clear error, not a traceback
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    result = idgw(world.url, "audit", "verify", "--file", str(bad))
    assert result.exit_code == 2 and "line 1 is not JSON" in result.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_since_exports_the_tail_anchored_by_a_checkpoint(world, tmp_path):
    world.checkpoint()  # signs seq 32
    world.write(5, at=NOW + 100)
    path, items = export(world, tmp_path, "--since", str(NOW + 50))
    events = [i for i in items if i["type"] == "event"]
    assert [e["seq"] for e in events][:5] == [33, 34, 35, 36, 37]
    assert all(e["at"] >= NOW + 50 or e["name"] == "audit.exported" for e in events)
    code, report = verify_file(world, path)
    assert code == 0 and report["chains"]["0"]["start"] == "checkpoint at seq 32"


def test_since_accepts_relative_iso_and_epoch_times():
    assert parse_since("7d", now=NOW) == NOW - 7 * 86400
    assert parse_since("24h", now=NOW) == NOW - 86400
    assert parse_since("1700000000", now=NOW) == 1_700_000_000
    assert parse_since("2026-11-01T08:00:00+07:00", now=NOW) == 1_793_494_800
    assert parse_since(None, now=NOW) is None


@pytest.mark.parametrize("since", ["last tuesday", "²", "٣d"])
def test_a_bad_since_is_a_clear_error(world, since):
    result = idgw(world.url, "audit", "export", "--since", since)
    assert result.exit_code == 2 and "--since" in result.output


def test_retention_cuts_behind_a_signed_checkpoint_and_the_rest_verifies(world):
    world.write(10, at=NOW + 400 * 86400)  # recent events
    settings = Settings(issuer=ISSUER, audit_retention_days=365)
    removed = retention.apply(world.sessionmaker, now=NOW + 400 * 86400 + 10, settings=settings,
                              signer=world.keys.signer("ES256"))
    assert removed == {"audit_events": 32}
    with world.db() as db:
        cut = db.scalar(select(AuditCheckpoint).where(AuditCheckpoint.kind == "cut"))
        assert cut.seq == 32
        assert db.scalar(select(func.min(AuditEvent.seq))) == 33
    result = idgw(world.url, "audit", "verify", "--json")
    assert result.exit_code == 0, result.output
    assert report_of(result)["chains"]["0"]["start"] == "cut checkpoint at seq 32"
    # nothing more is due: a second run removes nothing
    assert retention.apply(world.sessionmaker, now=NOW + 400 * 86400 + 20, settings=settings,
                           signer=world.keys.signer("ES256")) == {"audit_events": 0}
    # removing the first event left is still caught
    with world.db() as db:
        first = db.scalar(select(AuditEvent).order_by(AuditEvent.seq).limit(1))
        db.delete(first)
        db.commit()
    result = idgw(world.url, "audit", "verify", "--json")
    assert result.exit_code == 1 and report_of(result)["problems"][0]["kind"] == "deleted"
