"""Faults with real processes: PostgreSQL stopped in the middle of a sign-in and started again, a
gateway process killed in the middle of a request, readiness while a migration runs or when the
schema is behind this release, a read-only SQLite file at start-up. Each test runs ``idgw serve``
as a subprocess; the PostgreSQL cluster is this module's own (the test stops it)."""

from __future__ import annotations

import threading
import time

import httpx
import psycopg
import pytest
from sqlalchemy import func, select

from idgw.audit.verify import verify_database
from idgw.oidc.keys import every_public_key
from idgw.storage.db import MIGRATION_LOCK, alembic_config, upgrade
from tests import flow
from tests.conftest import _pg_bin
from tests.ops.procs import Cluster, Site


@pytest.fixture(scope="module")
def cluster():
    if _pg_bin("initdb") is None or _pg_bin("pg_ctl") is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    server = Cluster()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def site(cluster, tmp_path):
    url = cluster.create_database()
    upgrade(url)  # what the migration job (idgw db upgrade) does before the instances start
    running = Site(url, tmp_path)
    yield running
    running.close()


def _readiness(url: str, expected: int, *, until=lambda checks: True, within: float = 15.0) -> dict:
    """Poll /readyz (its answer is kept for a second) until it answers ``expected`` with checks
    for which ``until`` holds; its body."""
    deadline = time.monotonic() + within
    while True:
        r = httpx.get(url + "/readyz", timeout=10)
        if (r.status_code == expected and until(r.json()["checks"])) or time.monotonic() > deadline:
            assert r.status_code == expected, r.text
            assert until(r.json()["checks"]), r.text
            if expected != 200:
                assert r.headers["retry-after"].isdigit()
            return r.json()
        time.sleep(0.1)


def _introspect(site, reg, token: str) -> dict:
    r = httpx.post(site.url + "/introspect", data={"token": token}, auth=(reg.client_id, reg.client_secret))
    assert r.status_code == 200, r.text
    return r.json()


def test_postgresql_stopped_mid_sign_in_then_started_again(cluster, site):
    served = site.serve("--no-migrate")
    reg = flow.register(site)
    before, _state, _nonce, before_verifier, rp, _browser = flow.login_flow(site, reg)  # one finished before...
    issued = flow.exchange(site, rp, before["code"], before_verifier)
    # ...and one in progress: the password page of an interaction.
    browser = flow.Browser(site)
    url, state, _nonce, verifier = flow.authorize_url(site, rp)
    page = browser.follow(browser.get(url))
    assert 'name="password"' in page.text

    cluster.halt()
    try:
        again = browser.get(page.url.raw_path.decode())  # the person reloads the page
        assert again.status_code == 503 and again.headers["retry-after"].isdigit()
        assert again.headers["content-type"].startswith("text/html")
        assert "ระบบขัดข้องชั่วคราว" in again.text and "Temporarily unavailable" in again.text
        action, hidden = flow.form_fields(page.text)
        sent = browser.http.post(action, data={**hidden, "username": reg.username, "password": flow.PASSWORD})
        assert sent.status_code == 503 and "ระบบขัดข้องชั่วคราว" in sent.text
        refreshed = httpx.post(site.url + "/token", data={"grant_type": "refresh_token",
                                                          "refresh_token": issued["refresh_token"]},
                               auth=(reg.client_id, reg.client_secret))
        assert refreshed.status_code == 503, refreshed.text
        assert refreshed.headers["content-type"] == "application/json"
        assert refreshed.headers["cache-control"] == "no-store" and refreshed.headers["retry-after"].isdigit()
        assert refreshed.json()["error"] == "temporarily_unavailable"
        userinfo = httpx.get(site.url + "/userinfo", headers={"Authorization": "Bearer " + issued["access_token"]})
        assert userinfo.status_code == 503 and userinfo.json()["error"] == "temporarily_unavailable"
        body = _readiness(site.url, 503, until=lambda checks: checks["database"] == "unreachable")
        assert body["status"] == "not_ready"
        assert httpx.get(site.url + "/healthz").status_code == 200  # alive: no reason to restart it
    finally:
        cluster.resume()

    _readiness(site.url, 200)
    # The same sign-in finishes: the password page's form is sent again.
    done = browser.submit(page, username=reg.username, password=flow.PASSWORD)
    if 'value="allow"' in done.text:
        done = browser.consent(done)
    params = flow.callback_params(done)
    assert params["state"] == state
    tokens = flow.exchange(site, rp, params["code"], verifier)
    replay = httpx.post(site.url + "/token", data={"grant_type": "authorization_code", "code": params["code"],
                                                   "redirect_uri": flow.REDIRECT_URI, "code_verifier": verifier},
                        auth=(reg.client_id, reg.client_secret))
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"  # redeemed once...
    assert _introspect(site, reg, tokens["access_token"])["active"] is False  # ...and replay revokes (§4.1.2)
    # Nothing committed before the outage was lost.
    assert _introspect(site, reg, issued["access_token"])["active"] is True
    rotated = httpx.post(site.url + "/token", data={"grant_type": "refresh_token",
                                                    "refresh_token": issued["refresh_token"]},
                         auth=(reg.client_id, reg.client_secret))
    assert rotated.status_code == 200, rotated.text

    log = served.output()
    assert log.count("database unavailable (unreachable") == 1, log[-3000:]  # one line per outage
    assert "database answers again" in log
    assert "Exception in ASGI application" not in log, log[-3000:]  # no traceback per request


def test_a_process_killed_mid_request_leaves_nothing_half_written(site):
    from idgw.storage.models import AuthorizationCode, Interaction

    served = site.serve("--no-migrate")
    reg = flow.register(site)
    before, _state, _nonce, before_verifier, rp, _browser = flow.login_flow(site, reg)
    committed = flow.exchange(site, rp, before["code"], before_verifier)  # committed before the kill
    browser = flow.Browser(site)
    url, *_ = flow.authorize_url(site, rp)
    page = browser.follow(browser.get(url))
    action, hidden = flow.form_fields(page.text)
    answers: list = []

    def send_password():
        try:
            answers.append(browser.http.post(action, data={**hidden, "username": reg.username,
                                                           "password": flow.PASSWORD}))
        except httpx.HTTPError as exc:  # the process died under it
            answers.append(exc)

    sending = threading.Thread(target=send_password)
    sending.start()
    time.sleep(0.03)  # the password is being checked (argon2id) or the session written
    served.kill()
    sending.join(timeout=30)
    assert answers  # a broken connection, or (on a fast machine) the answer that came first: either way a
    # sign-in interrupted at that point must be possible again from the start

    site.serve("--no-migrate")  # the platform restarts it
    params, _state, _nonce, verifier, rp, _browser = flow.login_flow(site, reg, browser=flow.Browser(site))
    assert "access_token" in flow.exchange(site, rp, params["code"], verifier)
    assert _introspect(site, reg, committed["access_token"])["active"] is True  # no committed state lost
    with site.db() as db:  # what `idgw audit verify` runs: every chain intact
        report = verify_database(db, keys=every_public_key(db))
    assert report.ok, report.problems
    with site.db() as db:  # every finished interaction has its code, and no code is without one
        finished = db.scalar(select(func.count()).select_from(Interaction).where(
            Interaction.client_id == reg.client_id, Interaction.completed_at.is_not(None)))
        codes = db.scalar(select(func.count()).select_from(AuthorizationCode).where(
            AuthorizationCode.client_id == reg.client_id))
    assert finished == codes >= 1


def test_readiness_while_migrating_and_with_the_schema_behind(site):
    from alembic import command
    from alembic.script import ScriptDirectory

    served = site.serve("--no-migrate")
    assert _readiness(served.url, 200)["checks"] == {"database": "ok", "schema": "ok", "keys": "ok",
                                                     "upstreams": "ok"}
    dsn = site.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as migration:  # holds the lock as idgw db upgrade does
        migration.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        _readiness(served.url, 503, until=lambda checks: checks["database"] == "migrating")
        migration.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
    _readiness(served.url, 200)

    config = alembic_config(site.database_url)
    head = ScriptDirectory.from_config(config).get_current_head()
    command.downgrade(config, "-1")  # one migration behind this release
    _readiness(served.url, 503, until=lambda checks: checks["schema"] == "behind" and checks["database"] == "ok")
    upgrade(site.database_url)  # the migration job (idgw db upgrade), while the instance runs
    _readiness(served.url, 200, until=lambda checks: checks["schema"] == "ok")  # no restart needed

    with site.db() as db:  # a newer release migrated already (expand-then-contract): still ready
        db.execute(alembic_version_set("9999_newer_release"))
        db.commit()
    _readiness(served.url, 200, until=lambda checks: checks["schema"] == "newer")
    with site.db() as db:
        db.execute(alembic_version_set(head))
        db.commit()


def alembic_version_set(revision: str):
    from sqlalchemy import text

    return text("UPDATE alembic_version SET version_num = :v").bindparams(v=revision)


def test_read_only_sqlite_file_stops_start_up_with_a_clear_error(tmp_path):
    path = tmp_path / "idgw.db"
    upgrade(f"sqlite:///{path}")
    # mode=ro: what a file the container's user cannot write, or a read-only volume, gives SQLite.
    site = Site(f"sqlite:///file:{path}?mode=ro&uri=true", tmp_path)
    try:
        served = site.serve(ready=None)
        code = served.proc.wait(timeout=60)
        out = served.output()
        assert code == 2, out[-3000:]
        assert f"{path} cannot be written" in out and "configuration error" in out
        assert "Traceback" not in out
    finally:
        site.close()
