"""Proofing events between instances (idgw.proofing.signals): what the payload may carry; on a real
PostgreSQL a listener hears a signal only once its transaction commits (never after a rollback)
and comes back by itself when its connection is terminated; on SQLite the signal is delivered in
this process after the commit; a signal's delivery to the rooms (send, then close, then media);
the sockets of cases that ended while the listener was away are closed when it returns; and end
to end, two gateways on one PostgreSQL: an officer's decision made through B reaches the citizen's
call socket held by A, B's sweeper closes a signed-out citizen's socket held by A, and a citizen's
Cancel through B reaches the officer's socket held by A."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from types import SimpleNamespace

import psycopg
import pytest
from sqlalchemy import text

from idgw.login.sessions import sign_out
from idgw.proofing import call, cases, signals
from idgw.storage.db import make_engine, make_sessionmaker
from idgw.storage.models import LoginSession
from idgw.storage.proofing import ProofingCase
from tests.conftest import migrated, start_gateway
from tests.proofing.test_call_lifecycle import claim, closed, connect, cookies_of, receive
from tests.proofing.world import case_row, citizen_browser, make_case, officer_client
from tests.stepup import enable_second_factor

CASE = "case-0123456789"


# -- fakes of this process's rooms and media hub --------------------------------------------------------
class FakeRooms:
    def __init__(self, held=()) -> None:
        self.calls: list[tuple] = []
        self.held = {case_id for case_id, _role in held}

    def cases(self):
        return set(self.held)

    async def send(self, case_id, role, message):
        self.calls.append(("send", case_id, role, message))
        return True

    async def broadcast(self, case_id, message):
        self.calls.append(("broadcast", case_id, message))
        return 2

    async def close(self, case_id, role=None, **_kw):
        self.calls.append(("close", case_id, role))


class FakeHub:
    def __init__(self) -> None:
        self.closed: list[str] = []

    async def close(self, case_id):
        self.closed.append(case_id)


# -- the payload ------------------------------------------------------------------------------------------
def test_the_payload_carries_ids_and_names_only():
    body = json.loads(signals.payload(CASE, "expired", to="officer", close=("citizen",), drop_media=True,
                                      data={"state": "expired"}))
    assert body == {"case": CASE, "name": "expired", "to": "officer", "close": ["citizen"], "drop_media": True,
                    "data": {"state": "expired"}}
    refused = [
        dict(case_id="", name="x"), dict(case_id="../etc", name="x"), dict(case_id=None, name="x"),
        dict(case_id=CASE, name="Bad Name"), dict(case_id=CASE, name="x", to="admin"),
        dict(case_id=CASE, name="x", close=("everyone",)),
        dict(case_id=CASE, name="x", data={"card": {"citizen_id": "1345951597671"}}),  # a document
        dict(case_id=CASE, name="x", data={"photo": "A" * 101}),  # not an id or a name
        dict(case_id=CASE, name="x", data={"type": "answer"}),  # cannot pose as another message
        dict(case_id=CASE, name="x", data={f"k{i}": "v" * 100 for i in range(80)}),  # over 8000 bytes
    ]
    for kwargs in refused:
        with pytest.raises(ValueError):
            signals.payload(**kwargs)


def test_delivery_sends_then_closes_then_drops_the_media():
    rooms, hub = FakeRooms(), FakeHub()
    runtime = SimpleNamespace(rooms=rooms, hub=hub)
    asyncio.run(signals.deliver(runtime, signals.payload(CASE, "expired", to="officer", close=("citizen",),
                                                         drop_media=True)))
    assert rooms.calls == [("send", CASE, "officer", {"type": "event", "name": "expired"}),
                           ("close", CASE, "citizen")]
    assert hub.closed == [CASE]
    rooms.calls.clear()
    asyncio.run(signals.deliver(runtime, signals.payload(CASE, "decided", data={"state": "rejected"})))
    assert rooms.calls == [("broadcast", CASE, {"state": "rejected", "type": "event", "name": "decided"})]
    assert hub.closed == [CASE]  # not asked to
    rooms.calls.clear()
    asyncio.run(signals.deliver(runtime, "not json"))  # another program's NOTIFY on the channel: ignored
    asyncio.run(signals.deliver(runtime, '{"no": "case"}'))
    assert rooms.calls == []


# -- PostgreSQL: NOTIFY on commit, LISTEN that comes back ---------------------------------------------------
def _listeners(dsn: str) -> int:
    """How many proofing listeners are LISTENing on this database (their last statement: the LISTEN,
    or a liveness ping)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                            "AND datname = current_database() AND (query ILIKE 'LISTEN%%' OR query = 'SELECT 1')",
                            (signals.APPLICATION_NAME,)).fetchone()[0]


async def _until(predicate, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.02)


def test_a_listener_hears_a_signal_only_after_commit_and_returns_after_its_backend_is_killed(postgres, caplog):
    url = postgres.create_database()
    dsn = signals.conninfo(make_engine(url).url)
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    heard: list[str] = []
    connects: list[float] = []

    async def on_signal(payload: str) -> None:
        heard.append(json.loads(payload)["name"])

    async def on_connect() -> None:
        connects.append(time.monotonic())

    def publish(name: str, *, commit: bool) -> None:
        with sessionmaker() as db:
            db.execute(text("SELECT 1"))
            signals.publish(db, CASE, name)
            db.commit() if commit else db.rollback()

    async def scenario():
        listener = asyncio.create_task(signals.listen(dsn, on_signal, on_connect=on_connect, ping_every=1.0))
        await _until(lambda: connects)
        # Rolled back: never heard. Pending: not heard until the commit.
        await asyncio.to_thread(publish, "rolled_back", commit=False)
        with sessionmaker() as db:
            signals.publish(db, CASE, "committed")
            await asyncio.sleep(0.3)
            assert heard == []
            await asyncio.to_thread(db.commit)
        await _until(lambda: heard == ["committed"])
        # The listener's backend is terminated (a database restart, an operator): it comes back.
        caplog.clear()
        with psycopg.connect(dsn, autocommit=True) as conn:
            killed = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                  "WHERE application_name = %s AND datname = current_database()",
                                  (signals.APPLICATION_NAME,)).fetchall()
        assert killed == [(True,)]
        await _until(lambda: len(connects) == 2)
        await asyncio.to_thread(publish, "after_reconnect", commit=True)
        await _until(lambda: heard == ["committed", "after_reconnect"])
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener

    with caplog.at_level(logging.INFO, logger="idgw.proofing.signals"):
        asyncio.run(scenario())
    said = [r.getMessage() for r in caplog.records if r.name == "idgw.proofing.signals"]
    assert len([m for m in said if "lost the PostgreSQL listener" in m]) == 1, said
    assert len([m for m in said if "listening on PostgreSQL again" in m]) == 1, said
    engine.dispose()


# -- SQLite: in this process, after the commit -----------------------------------------------------------------
def test_on_sqlite_a_signal_is_delivered_in_this_process_after_commit(tmp_path):
    url = f"sqlite:///{tmp_path}/idgw.db"
    migrated(url)
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    rooms, hub = FakeRooms(), FakeHub()
    gw = SimpleNamespace(engine=engine, proofing=SimpleNamespace(rooms=rooms, hub=hub))

    def publish(name: str, *, commit: bool) -> None:
        with sessionmaker() as db:
            db.execute(text("SELECT 1"))
            signals.publish(db, CASE, name, to="citizen")
            db.commit() if commit else db.rollback()

    async def scenario():
        listener = asyncio.create_task(signals.run(gw))
        await asyncio.sleep(0)
        await asyncio.to_thread(publish, "rolled_back", commit=False)
        with sessionmaker() as db:
            signals.publish(db, CASE, "unfinished")  # closed without a commit: dropped
        await asyncio.to_thread(publish, "committed", commit=True)
        await _until(lambda: rooms.calls)
        await asyncio.sleep(0.1)
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener

    asyncio.run(scenario())
    assert rooms.calls == [("send", CASE, "citizen", {"type": "event", "name": "committed"})]
    assert engine not in signals._local  # the listener's registration ends with it
    publish("nobody_listens", commit=True)  # a command-line process: nothing to deliver to, no error
    engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sockets_of_cases_that_ended_meanwhile_are_closed(gateway):
    live, ended = make_case(gateway), make_case(gateway)
    with gateway.db() as db:
        cases.cancel(db, db.get(ProofingCase, ended.case_id), now=gateway.clock.now())
        db.commit()
    rooms, hub = FakeRooms(held=[(live.case_id, "citizen"), (ended.case_id, "citizen")]), FakeHub()
    gw = SimpleNamespace(sessionmaker=gateway.gw.sessionmaker, proofing=SimpleNamespace(rooms=rooms, hub=hub))
    assert asyncio.run(signals.close_ended(gw)) == [ended.case_id]
    assert rooms.calls == [("close", ended.case_id, None)] and hub.closed == [ended.case_id]
    assert asyncio.run(signals.close_ended(SimpleNamespace(proofing=SimpleNamespace(rooms=FakeRooms())))) == []


# -- end to end: two gateways on one PostgreSQL ----------------------------------------------------------------
@pytest.fixture
def two_gateways(postgres, monkeypatch):
    """Two gateways (own engines, rooms, media hubs and listeners) on one database, with one issuer;
    no background sweeper (the test runs B's sweep itself)."""
    monkeypatch.setattr(call, "SWEEP_EVERY", 3600.0)
    url = postgres.create_database()
    a = start_gateway(url)
    b = start_gateway(url, issuer=a.url)
    dsn = signals.conninfo(a.gw.engine.url)
    deadline = time.monotonic() + 10
    while _listeners(dsn) < 2:
        assert time.monotonic() < deadline, "the two listeners did not start"
        time.sleep(0.05)
    yield a, b
    for g in (a, b):
        g.stop()
        g.gw.engine.dispose()


def test_a_decision_made_through_b_reaches_the_citizens_socket_on_a(two_gateways):
    a, b = two_gateways
    assert a.gw.settings.origin == b.gw.settings.origin
    decided, signed_out, cancelled = make_case(a), make_case(a), make_case(a)
    # The officer signs in through B; redirects name the issuer (A), so A knows the test's factor too.
    enable_second_factor(a, "officer.signals", factor="hwk_uv")
    officer = officer_client(b, "officer.signals")
    claim(b, officer, decided.case_id)

    async def scenario():
        citizen_cookie = f"{a.gw.settings.cookie_name}={decided.cookie}"
        async with connect(a, decided.case_id, citizen_cookie) as sock:
            assert (await receive(sock))["type"] == "config"
            assert a.gw.proofing.rooms.connected(decided.case_id, "citizen")
            assert not b.gw.proofing.rooms.connected(decided.case_id, "citizen")
            version = case_row(b, decided.case_id).version
            token = b.gw.pages.csrf_token(next(c.value for c in officer.cookies.jar if c.name == "idgw_browser"),
                                          f"officer:{decided.case_id}")
            answer = await asyncio.to_thread(
                officer.post, f"/officer/case/{decided.case_id}/decision", headers={"Accept": "application/json"},
                data={"csrf_token": token, "outcome": "reject", "reason": "poor_quality", "note": "",
                      "version": str(version)})
            assert answer.status_code == 200 and answer.json()["ok"], answer.text
            event = await receive(sock, "decided")
            assert event == {"type": "event", "name": "decided", "state": "rejected"}

        # B's sweeper ends a case whose sign-in was signed out; its citizen's socket on A closes.
        cookie = f"{a.gw.settings.cookie_name}={signed_out.cookie}"
        async with connect(a, signed_out.case_id, cookie) as sock:
            assert (await receive(sock))["type"] == "config"
            with a.db() as db:
                sign_out(db, session=db.get(LoginSession, signed_out.session_id), now=a.clock.now(), ip=None,
                         reason="test")
                db.commit()
            assert await asyncio.to_thread(lambda: asyncio.run(call.sweep_once(b.gw))) == [signed_out.case_id]
            assert await closed(sock) == 1000

        # The citizen cancels through B while the officer's socket is held by A: the officer hears it.
        await asyncio.to_thread(claim, b, officer, cancelled.case_id)
        async with connect(a, cancelled.case_id, cookies_of(officer)) as sock:
            assert (await receive(sock))["role"] == "officer"
            citizen = citizen_browser(b, cancelled)
            page = await asyncio.to_thread(citizen.get, f"/proofing/case/{cancelled.case_id}")
            token = re.search(r'action="/proofing/case/[^"]+/cancel">\s*<input type="hidden" name="csrf_token" '
                              r'value="([^"]+)"', page.text)
            assert token, page.text[:500]
            await asyncio.to_thread(citizen.post, f"/proofing/case/{cancelled.case_id}/cancel",
                                    data={"csrf_token": token.group(1)})
            assert await receive(sock, "cancelled") == {"type": "event", "name": "cancelled"}

    asyncio.run(scenario())
    assert case_row(a, cancelled.case_id).state == "cancelled"
    assert case_row(a, decided.case_id).state == "rejected"
    assert case_row(a, signed_out.case_id).state == "expired"
