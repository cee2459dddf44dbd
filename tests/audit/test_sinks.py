"""Audit events go to the configured sinks as they are committed: a JSON-lines file and syslog
(RFC 5424 over UDP, and over TCP with octet counting); a rolled-back event is never sent; a
collector that is down loses nothing in the database and does not stop the gateway."""

from __future__ import annotations

import json
import re
import socket
import threading

import pytest

from idgw import audit
from idgw.audit import chain, sinks
from idgw.settings import Settings
from tests.audit.world import make_world
from tests.conftest import free_port

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def world(database_url):
    return make_world(database_url)


def attach(world, settings) -> sinks.Dispatcher:
    dispatcher = sinks.build(settings)
    sinks.attach(world.sessionmaker.kw["bind"], dispatcher)
    return dispatcher


@SQLITE
def test_committed_events_reach_the_file_and_rolled_back_ones_do_not(world, tmp_path):
    path = tmp_path / "siem" / "audit.jsonl"
    dispatcher = attach(world, Settings(audit_file=str(path)))
    with world.db() as db:
        audit.record(db, "login.failed", at=1_800_000_000, actor="somchai", reason="bad_password")
        db.commit()
    with world.db() as db:
        audit.record(db, "account.locked", at=1_800_000_001, actor="somchai")
        db.rollback()
    with world.db() as db:
        audit.record(db, "account.unlocked", at=1_800_000_002, actor="admin")
        audit.record(db, "login.failed", at=1_800_000_003, actor="somying")
        db.commit()
    dispatcher.flush()
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [x["name"] for x in lines] == ["login.failed", "account.unlocked", "login.failed"]
    stored = {r.hash for r in world.rows(lines[0]["chain"])} | {r.hash for r in world.rows(lines[1]["chain"])}
    assert lines[0]["hash"] in stored and lines[0]["detail"] == {"reason": "bad_password"}
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    dispatcher.close()


@SQLITE
def test_syslog_over_udp_is_rfc5424(world):
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(5)
    dispatcher = attach(world, Settings(audit_syslog=f"udp://127.0.0.1:{server.getsockname()[1]}"))
    with world.db() as db:
        audit.record(db, "token.reused", at=1_800_000_000, actor="somchai", client_id="svc")
        db.commit()
    message = server.recv(65536)
    head, _, body = message.partition(b"\xef\xbb\xbf")
    m = re.match(rb'<110>1 2027-01-15T08:00:00Z (\S+) idgw (\d+) token.reused \[idgw@32473 chain="(\d+)" '
                 rb'seq="(\d+)" hash="([0-9a-f]{64})"\] $', head)
    assert m, head
    event = json.loads(body)
    assert event["name"] == "token.reused" and event["client_id"] == "svc" and event["hash"] == m.group(5).decode()
    dispatcher.close()
    server.close()


@SQLITE
def test_syslog_over_tcp_uses_octet_counting_and_survives_a_collector_that_is_down(world):
    port = free_port()  # nobody listens yet: the events stay in the database, the sink counts a failure
    dispatcher = attach(world, Settings(audit_syslog=f"tcp://127.0.0.1:{port}"))
    with world.db() as db:
        audit.record(db, "login.failed", at=1_800_000_000, actor="lost.copy")
        db.commit()
    dispatcher.flush()
    assert dispatcher.failed == 1
    assert any(r.actor == "lost.copy" for c in range(chain.CHAINS) for r in world.rows(str(c)))
    listener = socket.create_server(("127.0.0.1", port))
    received = []

    def accept():
        conn, _ = listener.accept()
        conn.settimeout(5)
        data = b""
        while b"login.failed" not in data:
            data += conn.recv(65536)
        received.append(data)
        conn.close()

    thread = threading.Thread(target=accept)
    thread.start()
    with world.db() as db:
        audit.record(db, "login.failed", at=1_800_000_001, actor="somying")
        db.commit()
    thread.join(10)
    length, _, message = received[0].partition(b" ")
    assert int(length) == len(message) and message.startswith(b"<110>1 ")
    dispatcher.close()
    listener.close()


def test_a_bad_syslog_address_is_a_clear_error():
    with pytest.raises(ValueError, match="udp://host:port or tcp://host:port"):
        sinks.Syslog("syslog.example:514")


def test_a_full_queue_drops_copies_and_counts_them():
    class Slow:
        def __init__(self):
            self.gate = threading.Event()

        def write(self, rows):
            self.gate.wait(5)

        def close(self):
            pass

    slow = Slow()
    dispatcher = sinks.Dispatcher([slow], capacity=2)
    for i in range(6):
        dispatcher.send([{"name": "x", "seq": i}])
    assert dispatcher.dropped >= 3
    slow.gate.set()
    dispatcher.close()


@SQLITE
def test_an_event_inside_a_savepoint_is_refused(world):
    # A rolled-back savepoint would not take a pending event with it: refuse rather than mislead.
    with world.db() as db:
        db.begin()
        with db.begin_nested(), pytest.raises(RuntimeError, match="savepoint"):
            audit.record(db, "login.failed", at=1_800_000_000, actor="x")
