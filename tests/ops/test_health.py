"""/healthz, /readyz and the database-outage answers, on a gateway served in this process (real
HTTP, real SQLite files and the test run's PostgreSQL); ``wait_for_schema`` and the recognition
of database failures called directly."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time

import httpx
import psycopg
import pytest
from sqlalchemy import create_engine, event, exc, text
from starlette.requests import Request

from idgw.health import Health, wait_for_schema
from idgw.storage.db import alembic_config, make_engine, make_sessionmaker, upgrade
from idgw.storage.probe import DatabaseStartError, log_failure, unavailable
from idgw.web.errors import unexpected
from tests import flow
from tests.conftest import free_port, start_gateway


@pytest.fixture
def sqlite_gateway(tmp_path):
    running = start_gateway(f"sqlite:///{tmp_path}/idgw.db")
    yield running
    running.stop()
    running.gw.engine.dispose()


def _ready_within(url: str, expected: int, until=lambda checks: True, within: float = 10.0) -> dict:
    deadline = time.monotonic() + within
    while True:
        r = httpx.get(url + "/readyz")
        if (r.status_code == expected and until(r.json()["checks"])) or time.monotonic() > deadline:
            assert r.status_code == expected and until(r.json()["checks"]), r.text
            return r.json()
        time.sleep(0.05)


def test_healthz_is_alive_and_readyz_names_each_check(sqlite_gateway):
    assert httpx.get(sqlite_gateway.url + "/healthz").json() == {"status": "ok"}
    r = httpx.get(sqlite_gateway.url + "/readyz")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store" and "retry-after" not in r.headers
    assert r.json() == {"status": "ready", "checks": {"database": "ok", "schema": "ok", "keys": "ok",
                                                      "upstreams": "ok"}}
    assert httpx.head(sqlite_gateway.url + "/readyz").status_code == 200  # load balancers that probe with HEAD
    assert httpx.head(sqlite_gateway.url + "/healthz").status_code == 200


def test_readiness_is_probed_once_per_second_whatever_the_polling(sqlite_gateway):
    health = sqlite_gateway.gw.health
    probes = []
    check = health.check

    def counted():
        probes.append(threading.get_ident())
        time.sleep(0.2)  # a slow database: callers arriving meanwhile wait for this probe
        return check()

    health.check = counted
    health.cache_seconds = 60  # "a second" made long enough that a slow test machine cannot cross it
    health._answer = None  # nothing kept from start_gateway's own probes

    async def poll():
        async with httpx.AsyncClient(base_url=sqlite_gateway.url) as client:
            answers = await asyncio.gather(*(client.get("/readyz") for _ in range(30)))
            return [a.status_code for a in answers]

    assert asyncio.run(poll()) == [200] * 30
    assert len(probes) == 1
    for _ in range(5):  # polled again and again: the answer is kept
        assert httpx.get(sqlite_gateway.url + "/readyz").status_code == 200
    assert len(probes) == 1
    kept_at, status, body = health._answer
    health._answer = (kept_at - health.cache_seconds, status, body)  # the kept answer has aged out
    assert httpx.get(sqlite_gateway.url + "/readyz").status_code == 200
    assert len(probes) == 2


def test_sqlite_that_turns_read_only_answers_503_then_recovers(sqlite_gateway, caplog):
    gw = sqlite_gateway.gw
    reg = flow.register(sqlite_gateway)
    rp = flow.rp_client(sqlite_gateway, reg)
    browser = flow.Browser(sqlite_gateway)
    url, state, _nonce, verifier = flow.authorize_url(sqlite_gateway, rp)
    page = browser.follow(browser.get(url))
    assert httpx.get(sqlite_gateway.url + "/readyz").status_code == 200  # makes the probe's engine

    def read_only(dbapi_conn, _record):  # as a file system remounted read-only does to SQLite
        dbapi_conn.execute("PRAGMA query_only = 1")

    engines = [gw.engine, gw.health._engine]
    for engine in engines:
        event.listen(engine, "connect", read_only)
        engine.dispose()
    caplog.set_level(logging.INFO, logger="idgw.health")
    try:
        action, hidden = flow.form_fields(page.text)
        sent = browser.http.post(action, data={**hidden, "username": reg.username, "password": flow.PASSWORD})
        assert sent.status_code == 503 and sent.headers["retry-after"].isdigit()
        assert "ระบบขัดข้องชั่วคราว" in sent.text and "Temporarily unavailable" in sent.text
        assert 'lang="en"' in sent.text  # the other language marked as such
        api = httpx.post(sqlite_gateway.url + "/token", data={"grant_type": "authorization_code", "code": "x",
                                                              "redirect_uri": flow.REDIRECT_URI,
                                                              "code_verifier": "v" * 43},
                         auth=(reg.client_id, reg.client_secret))
        assert api.status_code == 503 and api.json()["error"] == "temporarily_unavailable"
        assert api.headers["cache-control"] == "no-store" and api.headers["retry-after"].isdigit()
        body = _ready_within(sqlite_gateway.url, 503, lambda checks: checks["database"] == "read_only")
        assert body["status"] == "not_ready"
    finally:
        for engine in engines:
            event.remove(engine, "connect", read_only)
            engine.dispose()
    _ready_within(sqlite_gateway.url, 200)
    done = browser.submit(page, username=reg.username, password=flow.PASSWORD)
    if 'value="allow"' in done.text:
        done = browser.consent(done)
    params = flow.callback_params(done)
    assert params["state"] == state and "access_token" in flow.exchange(sqlite_gateway, rp, params["code"], verifier)
    lines = [r.getMessage() for r in caplog.records if r.name == "idgw.health"]
    assert sum("database unavailable (read_only" in line for line in lines) == 1, lines
    assert any("database answers again" in line for line in lines), lines
    assert not any(r.exc_info for r in caplog.records), "no traceback for an outage"


def test_broken_pooled_postgresql_connections_are_never_served(postgres):
    """What a PostgreSQL restart does to the pool: every pooled connection is cut. The checkout
    check (idgw.storage.db._still_connected) finds them and connects again; no request sees the
    broken ones."""
    running = start_gateway(postgres.create_database())
    try:
        reg = flow.register(running)
        flow.login_flow(running, reg)  # the pool holds connections now
        with psycopg.connect(running.gw.engine.url.render_as_string(hide_password=False)
                             .replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
            cut = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]
        assert cut >= 1
        params, _state, _nonce, verifier, rp, _browser = flow.login_flow(running, reg)
        assert "access_token" in flow.exchange(running, rp, params["code"], verifier)
        assert not running.gw.health.outage.active
    finally:
        running.stop()
        running.gw.engine.dispose()


def test_database_failures_are_told_from_programming_errors(tmp_path):
    path = tmp_path / "x.db"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    ro = create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    with ro.connect() as conn:
        with pytest.raises(exc.OperationalError) as read_only:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        with pytest.raises(exc.OperationalError) as no_table:
            conn.exec_driver_sql("SELECT * FROM missing")
    assert unavailable(read_only.value) == "read_only"
    assert unavailable(no_table.value) is None  # a mistake in the code: still a 500 with its traceback
    assert unavailable(read_only.value.orig) == "read_only"  # the driver's own error, unwrapped
    nobody = create_engine(f"postgresql+psycopg://idgw@127.0.0.1:{free_port()}/x",
                           connect_args={"connect_timeout": 2})
    with pytest.raises(exc.OperationalError) as refused:
        nobody.connect()
    assert unavailable(refused.value) == "unreachable"
    assert unavailable(ValueError("x")) is None
    try:
        raise RuntimeError("wrapped") from refused.value
    except RuntimeError as wrapped:
        assert unavailable(wrapped) == "unreachable"


def test_background_work_logs_an_outage_in_one_line_and_a_bug_with_its_traceback(caplog):
    nobody = create_engine(f"postgresql+psycopg://idgw@127.0.0.1:{free_port()}/x", connect_args={"connect_timeout": 2})
    with pytest.raises(exc.OperationalError) as refused:
        nobody.connect()
    caplog.set_level(logging.INFO, logger="idgw.test")
    logger = logging.getLogger("idgw.test")
    for _ in range(3):  # three rounds of a sender while the database is down: said once
        log_failure(logger, "sending notices failed", refused.value)
    log_failure(logger, "sending notices failed", KeyError("bug"))
    outage, bug = caplog.records
    assert outage.levelname == "WARNING" and outage.exc_info is None
    assert outage.getMessage() == "sending notices failed: database unavailable (OperationalError " \
                                  "(psycopg.OperationalError))"  # the class only: the message names the host
    assert bug.levelname == "ERROR" and bug.exc_info[0] is KeyError


def test_postgresql_statement_timeout_and_syntax_error(postgres):
    engine = create_engine(postgres.create_database())
    with engine.connect() as conn:
        conn.exec_driver_sql("SET statement_timeout = 50")
        with pytest.raises(exc.OperationalError) as cancelled:
            conn.exec_driver_sql("SELECT pg_sleep(1)")
        conn.rollback()
        with pytest.raises(exc.ProgrammingError) as syntax:
            conn.exec_driver_sql("SELEC 1")
    engine.dispose()
    assert unavailable(cancelled.value) == "timeout"
    assert unavailable(syntax.value) is None


def test_the_last_resort_handler_answers_503_for_the_database_and_500_otherwise(sqlite_gateway):
    handler = unexpected(sqlite_gateway.gw.pages)

    def request(path: str) -> Request:
        return Request({"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": [],
                        "app": sqlite_gateway.app})

    down = exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused"))
    answer = asyncio.run(handler(request("/token"), down))
    assert answer.status_code == 503 and b"temporarily_unavailable" in answer.body
    assert answer.headers["retry-after"].isdigit()
    page = asyncio.run(handler(request("/account"), down))
    assert page.status_code == 503 and "ระบบขัดข้องชั่วคราว".encode() in page.body
    # The page's "try again" link is the same address on this host, never another host's.
    for path, link in (("/account", 'href="/account"'), ("//evil.example/x", 'href="/"'),
                       ("/\\evil.example/x", 'href="/"')):
        body = asyncio.run(handler(request(path), down)).body.decode()
        assert link in body and 'href="//' not in body and 'href="/\\' not in body, path
    bug = exc.ProgrammingError("SELEC 1", {}, psycopg.errors.SyntaxError("syntax error"))
    assert asyncio.run(handler(request("/token"), bug)).status_code == 500
    assert asyncio.run(handler(request("/account"), KeyError("x"))).status_code == 500


def test_readiness_without_signing_keys_or_upstreams(tmp_path):
    from idgw.clock import Clock
    from idgw.oidc.keys import KeyStore
    from idgw.security import Sealer, derive_key

    url = f"sqlite:///{tmp_path}/idgw.db"
    upgrade(url)
    engine = make_engine(url)
    keys = KeyStore(sessionmaker=make_sessionmaker(engine), sealer=Sealer(derive_key("k" * 40, "jwk-at-rest")),
                    clock=Clock(), max_token_ttl=3600)
    # Not loaded yet (the first load at start-up failed, or has not happened): nothing to sign with.
    status, body = Health(database_url=url, keys=keys, upstreams={}).check()
    assert status == 503 and body["checks"]["keys"] == "no_signing_key" and body["checks"]["database"] == "ok"
    with make_sessionmaker(engine)() as db:
        keys.ensure(db)
        db.commit()
    keys.refresh(force=True)
    assert Health(database_url=url, keys=keys, upstreams={}).check()[0] == 200
    status, body = Health(database_url=url, keys=keys, upstreams=None).check()
    assert status == 503 and body["checks"]["upstreams"] == "invalid"
    engine.dispose()


def test_wait_for_schema_waits_for_the_migration_job(postgres):
    url = postgres.create_database()
    said: list[str] = []
    with pytest.raises(DatabaseStartError, match="no schema yet"):
        wait_for_schema(url, timeout=0.3, log=said.append, poll=0.1)
    assert said and "waiting for the database" in said[0]

    said.clear()
    migrating = threading.Timer(0.5, upgrade, args=(url,))  # the migration job, started a little later
    migrating.start()
    assert wait_for_schema(url, timeout=60, log=said.append, poll=0.1) == "head"
    migrating.join()
    assert said[-1] == "the database schema is ready (head)"

    from alembic import command

    command.downgrade(alembic_config(url), "-1")
    with pytest.raises(DatabaseStartError, match=r"the schema is at .*, this release needs"):
        wait_for_schema(url, timeout=0.2, log=said.append, poll=0.1)
    upgrade(url)
    with create_engine(url).begin() as conn:  # a newer release migrated it: start
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_newer'"))
    assert wait_for_schema(url, timeout=5, log=said.append) == "newer"


def test_wait_for_schema_when_the_database_is_not_there():
    said: list[str] = []
    url = f"postgresql://idgw@127.0.0.1:{free_port()}/nothing"
    with pytest.raises(DatabaseStartError, match="unreachable") as failed:
        wait_for_schema(url, timeout=0.3, log=said.append, poll=0.1)
    assert "idgw db upgrade" in str(failed.value) and "idgw@" not in str(failed.value)  # no DSN in the message
    assert said
